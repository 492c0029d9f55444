package passkey

// Authenticator models (AAGUID -> name) and the synced / device-bound
// classification. Everything here is a pure function over plain values so the
// methods policy, key restrictions, reports and what-if can all share it.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
)

// UnknownModelName is shown for a passkey whose authenticator did not tell us
// its model: an AAGUID we do not know, the all-zero AAGUID, or a malformed one.
const UnknownModelName = "Passkey"

// knownModels maps an AAGUID in canonical lowercase 8-4-4-4-12 form to a model
// name people recognise.
//
// The values come from the community list passkeydeveloper/
// passkey-authenticator-aaguids (aaguid.json for passkey providers and
// combined_aaguid.json, which adds the FIDO Metadata Service entries for
// security keys). Names follow that list, shortened where it gives a
// technical description ("Solo Secp256R1 FIDO2 CTAP2 Authenticator" is
// "SoloKeys Solo") and kept where it names a product line, so that an admin
// can match it against the vendor's documentation. An AAGUID names a model
// (often one firmware line), not a device: several keys of a series share one,
// and one series has several.
//
// The all-zero AAGUID is deliberately absent: it is what authenticators send
// when they do not disclose their model (the Chromium DevTools virtual
// authenticator, U2F-era keys, some privacy-preserving providers), so it must
// never look like a known model, for display or for key restrictions.
var knownModels = map[string]string{
	// Platform authenticators and browsers.
	"fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
	"dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain (Managed)",
	"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
	"08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
	"9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
	"6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
	"adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
	"771b48fd-d3d4-4f74-9232-fc157ab0507a": "Edge on Mac",
	"b5397666-4885-aa6b-cebf-e52262a439a2": "Chromium Browser",
	"53414d53-554e-4700-0000-000000000000": "Samsung Pass",
	"90a3ccdf-635c-4729-a248-9b709135078f": "Microsoft Authenticator (iOS)",
	"de1e552d-db1d-4423-a619-566b625cdc84": "Microsoft Authenticator (Android)",

	// Password managers.
	"bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
	"d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
	"531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
	"0ea242b4-43c4-4a1b-8b17-dd6d0b6baec6": "Keeper",
	"b84e4048-15dc-4dd0-8640-f4f60813c8af": "NordPass",
	"f3809540-7f14-49c1-a8b3-8f813b225541": "Enpass",
	"50726f74-6f6e-5061-7373-50726f746f6e": "Proton Pass",
	"fdb141b2-5d84-443e-8a35-4698c205a502": "KeePassXC",
	"b78a0a55-6ef8-d246-a042-ba0f6d55050c": "LastPass",

	// Yubico. The "YubiKey 5 Series" AAGUIDs cover the USB-only keys
	// (5C, 5 Nano, 5C Nano) of successive firmware lines; "with NFC" covers
	// the 5 NFC and 5C NFC; the Lightning model is the 5Ci.
	"cb69481e-8ff7-4039-93ec-0a2729a154a8": "YubiKey 5 Series",
	"ee882879-721c-4913-9775-3dfcce97072a": "YubiKey 5 Series",
	"19083c3d-8383-4b18-bc03-8f1c9ab2fd1b": "YubiKey 5 Series",
	"fa2b99dc-9e39-4257-8f92-4a30d23c4118": "YubiKey 5 Series with NFC",
	"2fc0579f-8113-47ea-b116-bb5a8db9202a": "YubiKey 5 Series with NFC",
	"a25342c0-3cdc-4414-8e46-f4807fca511c": "YubiKey 5 Series with NFC",
	"c5ef55ff-ad9a-4b9f-b580-adebafe026d0": "YubiKey 5Ci (5 Series with Lightning)",
	"a02167b9-ae71-4ac7-9a07-06432ebb6f1c": "YubiKey 5Ci (5 Series with Lightning)",
	"73bb0cd4-e502-49b8-9c6f-b59445bf720b": "YubiKey 5 FIPS Series",
	"c1f9a0bc-1dd2-404a-b27f-8e29047a43fd": "YubiKey 5 FIPS Series with NFC",
	"d8522d9f-575b-4866-88a9-ba99fa02f35b": "YubiKey Bio Series",
	"dd86a2da-86a0-4cbe-b462-4bd31f57bc6f": "YubiKey Bio Series",
	"7d1351a6-e097-4852-b8bf-c9ac5c9ce4a3": "YubiKey Bio Series - Multi-protocol Edition",
	"90636e1f-ef82-43bf-bdcf-5255f139d12f": "YubiKey Bio Series - Multi-protocol Edition",
	"b92c3f9a-c014-4056-887f-140a2501163b": "Security Key by Yubico",
	"f8a011f3-8c0a-4d15-8006-17111f9edc7d": "Security Key by Yubico",
	"149a2021-8ef6-4133-96b8-81f8d5b7f1f5": "Security Key by Yubico with NFC",
	"6d44ba9b-f6ec-2e49-b930-0c8fe920cb73": "Security Key by Yubico with NFC",
	"a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa": "Security Key NFC by Yubico",
	"e77e3c64-05e3-428b-8824-0cbeb04b829d": "Security Key NFC by Yubico",

	// Other security keys.
	"42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3": "Google Titan Security Key v2",
	"833b721a-ff5f-4d00-bb2e-bdda3ec01e29": "Feitian ePass FIDO2",
	"ee041bce-25e5-4cdb-8f86-897fd6418464": "Feitian ePass FIDO2-NFC",
	"77010bd7-212a-4fc9-b236-d2ca5e9d4084": "Feitian BioPass FIDO2",
	"12ded745-4bed-47d4-abaa-e713f51d6393": "Feitian AllinOne FIDO2",
	"8876631b-d4a0-427f-5773-0ec71c9e0279": "SoloKeys Solo",
	"8976631b-d4a0-427f-5773-0ec71c9e0279": "SoloKeys Solo Tap",
	"2cd2f727-f6ca-44da-8f48-5c2e5da000a2": "Nitrokey 3 AM",
	"ab32f0c6-2239-afbb-c470-d2ef4e254db7": "TOKEN2 FIDO2 Security Key",
	"eabb46cc-e241-80bf-ae9e-96fa6d2975cf": "TOKEN2 PIN Plus Security Key",
	"2d3bec26-15ee-4f5d-88b2-53622490270b": "HID Crescendo Key V2",
}

// ModelName returns the human name of the authenticator model identified by
// aaguid, or UnknownModelName when the model is unknown, undisclosed
// (all-zero) or the AAGUID is not 16 bytes.
func ModelName(aaguid []byte) string {
	if name, ok := knownModels[FormatAAGUID(aaguid)]; ok {
		return name
	}
	return UnknownModelName
}

// FormatAAGUID renders aaguid in canonical lowercase 8-4-4-4-12 form, the form
// used as the key of KnownModels and in key restriction lists. It returns ""
// when aaguid is not exactly 16 bytes.
func FormatAAGUID(aaguid []byte) string {
	if len(aaguid) != 16 {
		return ""
	}
	var buf [36]byte
	hex.Encode(buf[0:8], aaguid[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], aaguid[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], aaguid[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], aaguid[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], aaguid[10:16])
	return string(buf[:])
}

// ErrMalformedAAGUID is returned (wrapped) by ParseAAGUID.
var ErrMalformedAAGUID = errors.New("malformed AAGUID")

// ParseAAGUID parses the canonical 8-4-4-4-12 form in either case. It accepts
// nothing else (no braces, no "urn:uuid:" prefix, no missing hyphens, no
// surrounding space): AAGUIDs arrive from admins' key restriction lists, and a
// lenient parser would let two spellings of one model disagree.
func ParseAAGUID(s string) ([]byte, error) {
	if len(s) != 36 {
		return nil, fmt.Errorf("%w: %q is not in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", ErrMalformedAAGUID, s)
	}
	var digits [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return nil, fmt.Errorf("%w: %q has no hyphen at position %d", ErrMalformedAAGUID, s, i+1)
			}
			continue
		}
		if !isHexDigit(c) {
			return nil, fmt.Errorf("%w: %q has a non-hexadecimal character at position %d", ErrMalformedAAGUID, s, i+1)
		}
		digits[n] = c
		n++
	}
	out := make([]byte, 16)
	if _, err := hex.Decode(out, digits[:]); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrMalformedAAGUID, s, err)
	}
	return out, nil
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// KnownModels returns a copy of the built-in AAGUID -> model name table, keyed
// by canonical AAGUID, for documentation and the admin console.
func KnownModels() map[string]string {
	return maps.Clone(knownModels)
}

// Kind says whether a passkey can leave the authenticator that made it.
type Kind string

const (
	// KindSynced is a multi-device credential: its private key may be copied
	// to other devices (a password manager or platform keychain).
	KindSynced Kind = "synced"
	// KindDeviceBound is a single-device credential: its private key never
	// leaves the authenticator (typically a security key).
	KindDeviceBound Kind = "device-bound"
)

// Classify decides the kind of a passkey from the authenticator data flags BE
// (backup eligible) and BS (backup state).
//
// WebAuthn Level 3 §6.1.3 "Credential Backup State": BE is fixed when the
// credential is created and says whether it is a multi-device credential,
// one the authenticator is allowed to back up or sync; BS says whether it is
// backed up right now, and may change during the credential's life. So:
//
//   - BE=0: single-device credential, device-bound. (BE=0 with BS=1 is an
//     invalid combination that the ceremony verification rejects before us;
//     BE alone decides here.)
//   - BE=1, BS=1: multi-device credential, backed up: synced.
//   - BE=1, BS=0: still synced. It is a multi-device credential that has not
//     been backed up yet (sync switched off for the moment, or not run yet)
//     and may be copied off the device at any time without the relying party
//     seeing a new registration. A policy that allows device-bound passkeys
//     only must not accept it.
func Classify(backupEligible, backupState bool) Kind {
	if backupEligible {
		return KindSynced
	}
	return KindDeviceBound
}

// Label is the kind in words for the user and admin pages.
func (k Kind) Label() string {
	switch k {
	case KindSynced:
		return "Synced passkey"
	case KindDeviceBound:
		return "Device-bound passkey"
	default:
		return UnknownModelName
	}
}
