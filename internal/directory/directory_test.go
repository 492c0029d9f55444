package directory

import "testing"

func TestNormalizeUsername(t *testing.T) {
	good := map[string]string{"Alice": "alice", " bob.smith ": "bob.smith", "c@example.com": "c@example.com", "x_1-2": "x_1-2"}
	for in, want := range good {
		got, err := NormalizeUsername(in)
		if err != nil || got != want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", ".alice", "-x", "a b", "ålice", "a/b", "a\x00", string(make([]byte, 65))} {
		if got, err := NormalizeUsername(in); err == nil {
			t.Errorf("NormalizeUsername(%q) = %q, want error", in, got)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	if got, err := NormalizeEmail(" Alice@Example.COM "); err != nil || got != "alice@example.com" {
		t.Errorf("got %q %v", got, err)
	}
	if got, err := NormalizeEmail(""); err != nil || got != "" {
		t.Errorf("empty email must be allowed: %q %v", got, err)
	}
	for _, in := range []string{"alice", "Alice <a@b.c>", "a@", "@b"} {
		if _, err := NormalizeEmail(in); err == nil {
			t.Errorf("NormalizeEmail(%q) should fail", in)
		}
	}
}
