package access

import (
	"strings"
	"testing"
	"time"
)

func TestDeviceCookie(t *testing.T) {
	s := DeviceSigner{Key: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Unix(1_700_000_000, 0)
	for _, d := range []Device{{}, {Trusted: true}, {BoundPasskey: true}, {Trusted: true, BoundPasskey: true}} {
		v := s.Encode("user-1", d, now)
		if got := s.Decode(v, "user-1"); got != d {
			t.Errorf("round trip of %+v gave %+v", d, got)
		}
		if got := s.Decode(v, "user-2"); got != (Device{}) {
			t.Errorf("another user's cookie counted: %+v", got)
		}
	}
	v := s.Encode("user-1", Device{Trusted: true}, now)
	other := DeviceSigner{Key: []byte("another key of thirty-two bytes!")}
	for name, bad := range map[string]string{
		"other key": other.Encode("user-1", Device{Trusted: true}, now),
		"flipped":   strings.Replace(v, ".t.", ".bt.", 1),
		"truncated": v[:len(v)-3],
		"empty":     "",
		"garbage":   "not.a.cookie",
	} {
		if got := s.Decode(bad, "user-1"); got != (Device{}) {
			t.Errorf("%s: counted as %+v", name, got)
		}
	}
	if got := (DeviceSigner{}).Decode(v, "user-1"); got != (Device{}) {
		t.Errorf("no key: counted as %+v", got)
	}
}
