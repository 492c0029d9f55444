package methods

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

const day = 24 * time.Hour

func TestTAPPolicyValidate(t *testing.T) {
	with := func(f func(*TAPPolicy)) TAPPolicy { p := DefaultTAPPolicy; f(&p); return p }
	tests := []struct {
		name string
		p    TAPPolicy
		err  string
	}{
		{"default", DefaultTAPPolicy, ""},
		{"widest", with(func(p *TAPPolicy) {
			p.MinLifetime, p.MaxLifetime, p.Length, p.MaxStartDelay = 10*time.Minute, 30*day, 48, 0
		}), ""},
		{"narrow", with(func(p *TAPPolicy) {
			p.MinLifetime, p.MaxLifetime, p.DefaultLifetime, p.Length = time.Hour, time.Hour, time.Hour, 8
		}), ""},
		{"min below 10m", with(func(p *TAPPolicy) { p.MinLifetime = 9 * time.Minute }), "minimum lifetime must be between 10m and 30d"},
		{"max above 30d", with(func(p *TAPPolicy) { p.MaxLifetime = 31 * day }), "maximum lifetime must be between 10m and 30d, not 31d"},
		{"min above max", with(func(p *TAPPolicy) { p.MinLifetime, p.MaxLifetime = 2*day, day }), "longer than the maximum"},
		{"default outside", with(func(p *TAPPolicy) { p.MinLifetime = 2 * time.Hour }), "default lifetime 1h is outside"},
		{"too short", with(func(p *TAPPolicy) { p.Length = 7 }), "between 8 and 48"},
		{"too long", with(func(p *TAPPolicy) { p.Length = 49 }), "between 8 and 48"},
		{"start delay too long", with(func(p *TAPPolicy) { p.MaxStartDelay = 91 * day }), "start delay"},
		{"negative start delay", with(func(p *TAPPolicy) { p.MaxStartDelay = -time.Second }), "start delay"},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: Validate = %v; want error containing %q", tt.name, err, tt.err)
		}
	}
}

func TestTAPPlan(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	oneTimeOnly := DefaultTAPPolicy
	oneTimeOnly.OneTimeOnly = true
	noDelay := DefaultTAPPolicy
	noDelay.MaxStartDelay = 0
	tests := []struct {
		name string
		p    TAPPolicy
		req  TAPRequest
		want TAPPlan
		err  string
	}{
		{"defaults", DefaultTAPPolicy, TAPRequest{}, TAPPlan{StartsAt: now, ExpiresAt: now.Add(time.Hour)}, ""},
		{"one-time asked", DefaultTAPPolicy, TAPRequest{OneTime: true, Lifetime: 8 * time.Hour}, TAPPlan{StartsAt: now, ExpiresAt: now.Add(8 * time.Hour), OneTime: true}, ""},
		{"one-time only policy", oneTimeOnly, TAPRequest{}, TAPPlan{StartsAt: now, ExpiresAt: now.Add(time.Hour), OneTime: true}, ""},
		{"delayed start", DefaultTAPPolicy, TAPRequest{StartsAt: now.Add(3 * day), Lifetime: day}, TAPPlan{StartsAt: now.Add(3 * day), ExpiresAt: now.Add(4 * day)}, ""},
		{"start a few seconds ago means now", DefaultTAPPolicy, TAPRequest{StartsAt: now.Add(-5 * time.Second)}, TAPPlan{StartsAt: now, ExpiresAt: now.Add(time.Hour)}, ""},
		{"start in the past", DefaultTAPPolicy, TAPRequest{StartsAt: now.Add(-time.Hour)}, TAPPlan{}, "in the past"},
		{"start too late", DefaultTAPPolicy, TAPRequest{StartsAt: now.Add(31 * day)}, TAPPlan{}, "at most 30d after"},
		{"delay not allowed", noDelay, TAPRequest{StartsAt: now.Add(time.Hour)}, TAPPlan{}, "does not allow a delayed start"},
		{"lifetime out of range", DefaultTAPPolicy, TAPRequest{Lifetime: 5 * time.Minute}, TAPPlan{}, "between 10m and 30d"},
	}
	for _, tt := range tests {
		got, err := tt.p.Plan(tt.req, now)
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) || got != tt.want {
			t.Errorf("%s: Plan = %+v, %v; want %+v, error containing %q", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestTAPSessionEnd(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	proposed := now.Add(12 * time.Hour)
	tests := []struct {
		name string
		tap  store.TAP
		want time.Time
	}{
		{"multi-use pass outlives the session", store.TAP{ExpiresAt: now.Add(day), UsedAt: now}, proposed},
		{"session ends with the pass", store.TAP{ExpiresAt: now.Add(time.Hour), UsedAt: now}, now.Add(time.Hour)},
		{"one-time: 10 minutes to register", store.TAP{OneTime: true, ExpiresAt: now.Add(day), UsedAt: now}, now.Add(10 * time.Minute)},
		{"one-time expiring sooner", store.TAP{OneTime: true, ExpiresAt: now.Add(5 * time.Minute), UsedAt: now}, now.Add(5 * time.Minute)},
	}
	for _, tt := range tests {
		if got := TAPSessionEnd(tt.tap, proposed); !got.Equal(tt.want) {
			t.Errorf("%s: %s want %s", tt.name, got, tt.want)
		}
	}
}

func TestTAPPolicyJSON(t *testing.T) {
	p := TAPPolicy{MinLifetime: 30 * time.Minute, MaxLifetime: 7 * day, DefaultLifetime: 8 * time.Hour, Length: 16, OneTimeOnly: true, MaxStartDelay: 0}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"min_lifetime":"30m","max_lifetime":"7d","default_lifetime":"8h","length":16,"one_time_only":true,"max_start_delay":"0m"}`
	if string(b) != want {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
	var back TAPPolicy
	if err := json.Unmarshal(b, &back); err != nil || back != p {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestTAPSessionContinues(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	oneTime := store.TAP{OneTime: true, ExpiresAt: now.Add(day), UsedAt: now}
	tests := []struct {
		name    string
		methods []string
		auth    time.Time
		tap     store.TAP
		want    bool
	}{
		{"one-time pass session", []string{"tap"}, now, oneTime, true},
		{"session begun after the use (same instant)", []string{"tap"}, now.Add(time.Millisecond), oneTime, true},
		{"multi-use pass session", []string{"tap"}, now, store.TAP{ExpiresAt: now.Add(day), UsedAt: now}, false},
		{"pass used again later: another pass, replaced", []string{"tap"}, now.Add(-time.Minute), oneTime, false},
		{"pass replaced and not used", []string{"tap"}, now, store.TAP{OneTime: true, ExpiresAt: now.Add(day)}, false},
		{"passkey session", []string{"passkey"}, now, oneTime, false},
		{"setup session", []string{"setup"}, now, oneTime, false},
		{"password session", []string{"password", "totp"}, now, oneTime, false},
	}
	for _, tt := range tests {
		if got := TAPSessionContinues(tt.methods, tt.auth, tt.tap); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
