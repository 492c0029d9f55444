package methods

import (
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

func TestLockoutRisk(t *testing.T) {
	aa := func(s string) []byte { b, _ := passkey.ParseAAGUID(s); return b }
	yk := func(transports ...string) store.Credential {
		return store.Credential{AAGUID: aa(yubikey5), Transports: transports}
	}
	ic := store.Credential{AAGUID: aa(icloud), BackupEligible: true, BackupState: true, Transports: []string{"internal", "hybrid"}}
	hello := store.Credential{AAGUID: aa("08987058-cadc-4b81-b6e1-30de50dcbe96"), Transports: []string{"internal"}}
	tests := []struct {
		name   string
		creds  []store.Credential
		admin  bool
		risk   bool
		key    bool
		reason string
	}{
		{"none", nil, false, true, false, "no passkey"},
		{"one", []store.Credential{ic}, false, true, true, "only one passkey"},
		{"two synced", []store.Credential{ic, ic}, false, false, false, ""},
		{"two device-bound on one model", []store.Credential{hello, hello}, false, true, true, "one authenticator model (Windows Hello)"},
		{"two device-bound models", []store.Credential{hello, yk("usb")}, false, false, false, ""},
		{"synced and device-bound", []store.Credential{ic, hello}, false, false, false, ""},
		{"admin without security key", []store.Credential{ic, hello}, true, false, true, "privileged account"},
		{"admin with roaming key", []store.Credential{ic, yk("usb", "nfc")}, true, false, false, ""},
		{"admin at risk with roaming key", []store.Credential{yk("usb")}, true, true, true, "only one passkey"},
	}
	for _, tt := range tests {
		r := LockoutRisk(tt.creds, tt.admin)
		if r.AtRisk != tt.risk || r.SuggestSecurityKey != tt.key || !strings.Contains(strings.Join(r.Reasons, "; "), tt.reason) {
			t.Errorf("%s: %+v", tt.name, r)
		}
	}
}
