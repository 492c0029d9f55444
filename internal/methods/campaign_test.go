package methods

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

func TestShouldPrompt(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	on := Campaign{Enabled: true, Scope: scope.Scope{AllUsers: true, Exclude: []string{"kiosk"}}, SnoozeDays: 1, SnoozesAllowed: 3}
	tests := []struct {
		name       string
		c          Campaign
		groups     []string
		hasPasskey bool
		state      SnoozeState
		want       Prompt
		reason     string
	}{
		{"campaign off", DefaultCampaign(), nil, false, SnoozeState{}, Prompt{}, "off"},
		{"first time", on, nil, false, SnoozeState{}, Prompt{Show: true, CanSnooze: true, SnoozesLeft: 3}, "without a usable passkey"},
		{"has a passkey", on, nil, true, SnoozeState{}, Prompt{}, "usable passkey"},
		{"excluded group", on, []string{"kiosk"}, false, SnoozeState{}, Prompt{}, "excluded"},
		{"not in named scope", Campaign{Enabled: true, Scope: scope.Groups("pilot"), SnoozesAllowed: 3}, []string{"staff"}, false, SnoozeState{}, Prompt{}, "not a member"},
		{"snoozed", on, nil, false, SnoozeState{Count: 1, Until: now.Add(time.Hour)}, Prompt{}, "snoozed until"},
		{"snooze over", on, nil, false, SnoozeState{Count: 1, Until: now}, Prompt{Show: true, CanSnooze: true, SnoozesLeft: 2}, ""},
		{"snoozes used up", on, nil, false, SnoozeState{Count: 3, Until: now.Add(-time.Hour)}, Prompt{Show: true}, "registration required"},
		{"no snoozes allowed", Campaign{Enabled: true, Scope: scope.All()}, nil, false, SnoozeState{}, Prompt{Show: true}, "registration required"},
	}
	for _, tt := range tests {
		got := ShouldPrompt(tt.c, tt.groups, tt.hasPasskey, tt.state, now)
		reason := got.Reason
		got.Reason = ""
		if got != tt.want || !strings.Contains(reason, tt.reason) {
			t.Errorf("%s: ShouldPrompt = %+v (%q); want %+v containing %q", tt.name, got, reason, tt.want, tt.reason)
		}
	}
}

func TestSnooze(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c := Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 2, SnoozesAllowed: 2}
	s, err := Snooze(c, SnoozeState{}, now)
	if err != nil || s.Count != 1 || !s.Until.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("first snooze: %+v %v", s, err)
	}
	if p := ShouldPrompt(c, nil, false, s, now.Add(47*time.Hour)); p.Show {
		t.Error("prompt shown while snoozed")
	}
	s, err = Snooze(c, s, now.Add(48*time.Hour))
	if err != nil || s.Count != 2 {
		t.Fatalf("second snooze: %+v %v", s, err)
	}
	if p := ShouldPrompt(c, nil, false, s, now.Add(96*time.Hour)); !p.Show || p.CanSnooze {
		t.Errorf("after the last snooze: %+v", p)
	}
	if _, err := Snooze(c, s, now.Add(96*time.Hour)); !errors.Is(err, ErrNoSnoozesLeft) {
		t.Errorf("third snooze: %v", err)
	}
	zero := Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 0, SnoozesAllowed: 3}
	s, _ = Snooze(zero, SnoozeState{}, now)
	if p := ShouldPrompt(zero, nil, false, s, now); !p.Show {
		t.Error("a 0-day snooze hides the prompt only until the next sign-in")
	}
}

func TestSnoozeIfPrompted(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	on := Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 2}
	day := SnoozeState{Count: 1, Until: now.Add(24 * time.Hour)}
	for _, tt := range []struct {
		name    string
		c       Campaign
		usable  bool
		state   SnoozeState
		want    SnoozeState
		snoozed bool
		refused bool
	}{
		{"first", on, false, SnoozeState{}, day, true, false},
		{"campaign off", DefaultCampaign(), false, SnoozeState{}, SnoozeState{}, false, false},
		{"has a passkey", on, true, SnoozeState{}, SnoozeState{}, false, false},
		{"already snoozed: a second Not now sent at once", on, false, day, day, false, false},
		{"snooze over", on, false, SnoozeState{Count: 1, Until: now}, SnoozeState{Count: 2, Until: now.Add(24 * time.Hour)}, true, false},
		{"used up", on, false, SnoozeState{Count: 2, Until: now}, SnoozeState{Count: 2, Until: now}, false, true},
		{"over the limit after the policy was lowered", on, false, SnoozeState{Count: 5}, SnoozeState{Count: 5}, false, true},
	} {
		got, snoozed, err := SnoozeIfPrompted(tt.c, nil, tt.usable, tt.state, now)
		if got != tt.want || snoozed != tt.snoozed || errors.Is(err, ErrNoSnoozesLeft) != tt.refused || err != nil && !tt.refused {
			t.Errorf("%s: SnoozeIfPrompted = %+v %v %v; want %+v %v refused=%v", tt.name, got, snoozed, err, tt.want, tt.snoozed, tt.refused)
		}
	}
}

func TestCampaignValidate(t *testing.T) {
	for _, tt := range []struct {
		c   Campaign
		err string
	}{
		{DefaultCampaign(), ""},
		{Campaign{SnoozeDays: 14, SnoozesAllowed: 0}, ""},
		{Campaign{SnoozeDays: -1}, "between 0 and 14"},
		{Campaign{SnoozeDays: 15}, "between 0 and 14"},
		{Campaign{SnoozesAllowed: -1}, "snoozes_allowed"},
	} {
		err := tt.c.Validate()
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Validate(%+v) = %v want %q", tt.c, err, tt.err)
		}
	}
}

func TestHasUsablePasskey(t *testing.T) {
	p := DefaultPolicy()
	p.Passkey.Profiles[0].Types = passkey.TypesDeviceBound
	synced := store.Credential{BackupEligible: true, AAGUID: make([]byte, 16)}
	bound := store.Credential{AAGUID: make([]byte, 16)}
	if HasUsablePasskey(p, nil, []store.Credential{synced}) {
		t.Error("a non-compliant passkey is not usable")
	}
	if !HasUsablePasskey(p, nil, []store.Credential{synced, bound}) {
		t.Error("the device-bound passkey is usable")
	}
	if HasUsablePasskey(p, nil, nil) {
		t.Error("no passkeys")
	}
}
