package passkey

import (
	"bytes"
	"errors"
	"testing"
)

func mustParse(t *testing.T, s string) []byte {
	t.Helper()
	b, err := ParseAAGUID(s)
	if err != nil {
		t.Fatalf("ParseAAGUID(%q): %v", s, err)
	}
	return b
}

func TestModelName(t *testing.T) {
	tests := []struct {
		name   string
		aaguid []byte
		want   string
	}{
		{"iCloud Keychain", mustParse(t, "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"), "iCloud Keychain"},
		{"Google Password Manager", mustParse(t, "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"), "Google Password Manager"},
		{"Windows Hello first", mustParse(t, "08987058-cadc-4b81-b6e1-30de50dcbe96"), "Windows Hello"},
		{"Windows Hello second", mustParse(t, "9ddd1817-af5a-4672-a2b9-3e3dd95000a9"), "Windows Hello"},
		{"Windows Hello third", mustParse(t, "6028b017-b1d4-4c02-b4b3-afcdafc96bb2"), "Windows Hello"},
		{"1Password", mustParse(t, "bada5566-a7aa-401f-bd96-45619a55120d"), "1Password"},
		{"Bitwarden", mustParse(t, "d548826e-79b4-db40-a3d8-11116f7e8349"), "Bitwarden"},
		{"YubiKey 5 NFC", mustParse(t, "2fc0579f-8113-47ea-b116-bb5a8db9202a"), "YubiKey 5 Series with NFC"},
		{"YubiKey Bio", mustParse(t, "d8522d9f-575b-4866-88a9-ba99fa02f35b"), "YubiKey Bio Series"},
		{"Titan", mustParse(t, "42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3"), "Google Titan Security Key v2"},
		{"parsed from upper case", mustParse(t, "CB69481E-8FF7-4039-93EC-0A2729A154A8"), "YubiKey 5 Series"},
		{"all zero (virtual authenticator, undisclosed model)", make([]byte, 16), UnknownModelName},
		{"unknown", mustParse(t, "01234567-89ab-cdef-0123-456789abcdef"), UnknownModelName},
		{"nil", nil, UnknownModelName},
		{"empty", []byte{}, UnknownModelName},
		{"15 bytes", make([]byte, 15), UnknownModelName},
		{"17 bytes", append(mustParse(t, "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"), 0), UnknownModelName},
		{"known prefix of 32 bytes", append(mustParse(t, "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"), make([]byte, 16)...), UnknownModelName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ModelName(tt.aaguid); got != tt.want {
				t.Errorf("ModelName(%x) = %q, want %q", tt.aaguid, got, tt.want)
			}
		})
	}
}

func TestFormatAAGUID(t *testing.T) {
	tests := []struct {
		name   string
		aaguid []byte
		want   string
	}{
		{"zero", make([]byte, 16), "00000000-0000-0000-0000-000000000000"},
		{"all ones", bytes.Repeat([]byte{0xff}, 16), "ffffffff-ffff-ffff-ffff-ffffffffffff"},
		{"byte order", []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f},
			"00010203-0405-0607-0809-0a0b0c0d0e0f"},
		{"Proton Pass", []byte("ProtonPassProton"), "50726f74-6f6e-5061-7373-50726f746f6e"},
		{"nil", nil, ""},
		{"short", make([]byte, 4), ""},
		{"long", make([]byte, 32), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatAAGUID(tt.aaguid); got != tt.want {
				t.Errorf("FormatAAGUID(%x) = %q, want %q", tt.aaguid, got, tt.want)
			}
		})
	}
}

func TestParseAAGUID(t *testing.T) {
	valid := []struct {
		in   string
		want []byte
	}{
		{"00000000-0000-0000-0000-000000000000", make([]byte, 16)},
		{"00010203-0405-0607-0809-0a0b0c0d0e0f", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		{"00010203-0405-0607-0809-0A0B0C0D0E0F", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		{"50726F74-6f6E-5061-7373-50726f746F6E", []byte("ProtonPassProton")},
	}
	for _, tt := range valid {
		got, err := ParseAAGUID(tt.in)
		if err != nil {
			t.Errorf("ParseAAGUID(%q): unexpected error %v", tt.in, err)
			continue
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("ParseAAGUID(%q) = %x, want %x", tt.in, got, tt.want)
		}
	}

	malformed := []string{
		"",
		"fbfc3007",
		"fbfc3007154e4ecc8c0b6e020557d7bd",       // no hyphens
		"{fbfc3007-154e-4ecc-8c0b-6e020557d7bd}", // braces
		"urn:uuid:fbfc3007-154e-4ecc-8c0b-6e020557d7bd",
		" fbfc3007-154e-4ecc-8c0b-6e020557d7bd",
		"fbfc3007-154e-4ecc-8c0b-6e020557d7bd ",
		"fbfc3007-154e-4ecc-8c0b-6e020557d7b",   // one digit short
		"fbfc3007-154e-4ecc-8c0b-6e020557d7bdd", // one digit long
		"fbfc3007-154e-4ecc-8c0b-6e020557d7bg",  // not hex
		"fbfc3007_154e_4ecc_8c0b_6e020557d7bd",  // wrong separator
		"fbfc300-7154e-4ecc-8c0b-6e020557d7bd",  // hyphen misplaced
		"fbfc3007-154e-4ecc-8c0b6-e020557d7bd",  // hyphen misplaced
		"fbfc3007--54e-4ecc-8c0b-6e020557d7bd",  // extra hyphen in a group
		"+bfc3007-154e-4ecc-8c0b-6e020557d7bd",
		"fbfc3007-154e-4ecc-8c0b-6e020557d7\u00e9", // non-ASCII, 36 bytes
		"fbfc3007-154e-4ecc-8c0b-6e020557d\u00e9",  // non-ASCII, 35 bytes
		"fbfc3007-154e-4ecc-8c0b-6e020557d7b\x00",
	}
	for _, in := range malformed {
		got, err := ParseAAGUID(in)
		if err == nil {
			t.Errorf("ParseAAGUID(%q) = %x, want an error", in, got)
			continue
		}
		if !errors.Is(err, ErrMalformedAAGUID) {
			t.Errorf("ParseAAGUID(%q) error %v does not wrap ErrMalformedAAGUID", in, err)
		}
		if got != nil {
			t.Errorf("ParseAAGUID(%q) returned %x along with an error", in, got)
		}
	}
}

func TestParseFormatRoundTrip(t *testing.T) {
	for _, s := range []string{
		"00000000-0000-0000-0000-000000000000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff",
		"01234567-89ab-cdef-0123-456789abcdef",
	} {
		if got := FormatAAGUID(mustParse(t, s)); got != s {
			t.Errorf("FormatAAGUID(ParseAAGUID(%q)) = %q", s, got)
		}
	}
}

func TestKnownModelsTable(t *testing.T) {
	models := KnownModels()
	if len(models) < 30 {
		t.Errorf("KnownModels has %d entries, want at least 30", len(models))
	}
	names := map[string]bool{}
	for key, name := range models {
		b, err := ParseAAGUID(key)
		if err != nil {
			t.Errorf("key %q: %v", key, err)
			continue
		}
		if got := FormatAAGUID(b); got != key {
			t.Errorf("key %q is not canonical; canonical form is %q", key, got)
		}
		if bytes.Equal(b, make([]byte, 16)) {
			t.Errorf("the all-zero AAGUID must not be a known model, got %q", name)
		}
		if name == "" || name == UnknownModelName {
			t.Errorf("key %q has name %q", key, name)
		}
		if got := ModelName(b); got != name {
			t.Errorf("ModelName(%s) = %q, table says %q", key, got, name)
		}
		names[name] = true
	}
	if len(names) < 20 {
		t.Errorf("KnownModels has %d distinct names, want at least 20", len(names))
	}
}

func TestKnownModelsIsACopy(t *testing.T) {
	const icloud = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"
	m := KnownModels()
	m[icloud] = "changed"
	delete(m, "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")
	m["01234567-89ab-cdef-0123-456789abcdef"] = "added"

	if got := ModelName(mustParse(t, icloud)); got != "iCloud Keychain" {
		t.Errorf("changing the returned map changed ModelName: %q", got)
	}
	if got := KnownModels(); got[icloud] != "iCloud Keychain" || len(got) != len(knownModels) {
		t.Errorf("changing the returned map changed the table")
	}
	if got := ModelName(mustParse(t, "01234567-89ab-cdef-0123-456789abcdef")); got != UnknownModelName {
		t.Errorf("adding to the returned map changed ModelName: %q", got)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		be, bs   bool
		want     Kind
		wantText string
	}{
		{"single-device credential", false, false, KindDeviceBound, "Device-bound passkey"},
		{"multi-device, backed up", true, true, KindSynced, "Synced passkey"},
		// Eligible but not yet backed up: it may be synced at any moment, so it
		// is not device-bound.
		{"multi-device, not backed up yet", true, false, KindSynced, "Synced passkey"},
		// Invalid per spec (BS without BE); eligibility decides.
		{"backup state without eligibility", false, true, KindDeviceBound, "Device-bound passkey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.be, tt.bs)
			if got != tt.want {
				t.Errorf("Classify(BE=%v, BS=%v) = %q, want %q", tt.be, tt.bs, got, tt.want)
			}
			if got.Label() != tt.wantText {
				t.Errorf("Label() = %q, want %q", got.Label(), tt.wantText)
			}
		})
	}
}

func TestKindValues(t *testing.T) {
	// These strings are stored and appear in policies and the admin API.
	if KindSynced != "synced" || KindDeviceBound != "device-bound" {
		t.Errorf("kind values changed: %q, %q", KindSynced, KindDeviceBound)
	}
	if got := Kind("").Label(); got != UnknownModelName {
		t.Errorf(`Kind("").Label() = %q`, got)
	}
}
