package methods

// Lock-out risk: users who would be locked out by losing one device.

import (
	"fmt"

	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// Risk is a user's lock-out risk.
type Risk struct {
	AtRisk  bool
	Reasons []string // for the admin list and My security info
	// SuggestSecurityKey: nudge towards a roaming security key (always for
	// a privileged user at risk or without one).
	SuggestSecurityKey bool
}

// LockoutRisk assesses the passkeys a user has (only compliant ones should
// be passed: a passkey that cannot sign in does not protect anyone).
// A user is at risk with fewer than two passkeys, or when every passkey is
// device-bound and sits on one authenticator model (likely one device, or
// identical keys lost together). admin marks a privileged user, who is
// nudged to add a roaming security key unless they have a device-bound
// passkey that travels by USB, NFC or Bluetooth.
func LockoutRisk(creds []store.Credential, admin bool) Risk {
	var r Risk
	switch len(creds) {
	case 0:
		r.AtRisk = true
		r.Reasons = append(r.Reasons, "no passkey: signing in needs a temporary access pass")
	case 1:
		r.AtRisk = true
		r.Reasons = append(r.Reasons, "only one passkey: losing that device locks the user out")
	default:
		allDeviceBound := true
		models := map[string]bool{}
		for _, c := range creds {
			if passkey.Classify(c.BackupEligible, c.BackupState) != passkey.KindDeviceBound {
				allDeviceBound = false
			}
			models[passkey.FormatAAGUID(c.AAGUID)] = true
		}
		if allDeviceBound && len(models) == 1 {
			var model string
			for m := range models {
				model = m
			}
			name := passkey.UnknownModelName
			if b, err := passkey.ParseAAGUID(model); err == nil {
				name = passkey.ModelName(b)
			}
			r.AtRisk = true
			r.Reasons = append(r.Reasons, fmt.Sprintf("every passkey is device-bound on one authenticator model (%s): losing that device may lock the user out", name))
		}
	}
	if admin && (r.AtRisk || !hasRoamingKey(creds)) {
		r.SuggestSecurityKey = true
		r.Reasons = append(r.Reasons, "privileged account: add a roaming FIDO2 security key kept in a safe place")
	} else if r.AtRisk {
		r.SuggestSecurityKey = len(creds) > 0
	}
	return r
}

// hasRoamingKey reports a device-bound passkey on a roaming authenticator.
func hasRoamingKey(creds []store.Credential) bool {
	for _, c := range creds {
		if c.BackupEligible {
			continue
		}
		for _, t := range c.Transports {
			if t == "usb" || t == "nfc" || t == "ble" {
				return true
			}
		}
	}
	return false
}
