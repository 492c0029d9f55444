package methods

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// The services are tested on the real SQLite store.

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustUser(t *testing.T, st store.Store, name string, groups ...string) store.User {
	t.Helper()
	ctx := context.Background()
	u := store.User{ID: store.NewID(), Username: name, DisplayName: name, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		grp, err := st.GetGroupByName(ctx, g)
		if errors.Is(err, store.ErrNotFound) {
			grp = store.Group{ID: store.NewID(), Name: g, CreatedAt: time.Now()}
			err = st.CreateGroup(ctx, grp)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddMember(ctx, grp.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func TestPoliciesSaveLoad(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	ps := &Policies{Store: st, Now: clk.Now}

	p, err := ps.Load(ctx)
	if err != nil || p.Revision != 0 || !p.Passkey.Enabled {
		t.Fatalf("nothing stored: %+v %v", p, err)
	}

	p = legacyPolicy()
	_, err = ps.Save(ctx, "alice", p)
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Code != "unknown_groups" || !strings.Contains(pe.Message, "legacy-erp") {
		t.Fatalf("unknown groups: %v", err)
	}
	mustUser(t, st, "bob", "legacy-erp", "admins", "kiosk", "contractors")

	bad := p
	bad.TAP.Policy.Length = 100
	if _, err := ps.Save(ctx, "alice", bad); !errors.As(err, &pe) || pe.Status != 400 || !strings.Contains(pe.Message, "length") {
		t.Fatalf("invalid policy: %v", err)
	}

	saved, err := ps.Save(ctx, "alice", p)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Revision != 1 || saved.UpdatedBy != "alice" || !saved.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("saved %+v", saved)
	}
	got, err := ps.Load(ctx)
	if err != nil || got.Revision != 1 || !got.Password.Enabled {
		t.Fatalf("load after save: %+v %v", got, err)
	}

	// A copy edited from revision 1 saves; a second edit of the same copy is stale.
	got.Campaign.Enabled = true
	if _, err := ps.Save(ctx, "alice", got); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Save(ctx, "carol", got); !errors.As(err, &pe) || pe.Code != "policy_changed" {
		t.Fatalf("stale save: %v", err)
	}
	got.Revision = 2 // what a forced save does: take the stored revision
	if s, err := ps.Save(ctx, "carol", got); err != nil || s.Revision != 3 {
		t.Fatalf("forced save: %+v %v", s, err)
	}

	events, err := st.ListAudit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, e := range events {
		if e.Action != "policy.methods.update" {
			continue
		}
		n++
		var d struct{ Before, After Policy }
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			t.Fatal(err)
		}
		if d.After.Revision != d.Before.Revision+1 {
			t.Errorf("audit before/after revisions %d -> %d", d.Before.Revision, d.After.Revision)
		}
	}
	if n != 3 {
		t.Errorf("%d audit records of policy changes, want 3", n)
	}

	// A document from a newer Sesame is not half understood.
	if err := st.PutSetting(ctx, MethodsPolicyKey, []byte(`{"schema": 9}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Load(ctx); err == nil || !strings.Contains(err.Error(), "upgrade") {
		t.Errorf("future schema: %v", err)
	}
}

func TestStrengthsSaveLoad(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	ss := &Strengths{Store: st, Now: time.Now}
	d, err := ss.Load(ctx)
	if err != nil || len(d.Strengths) != 0 {
		t.Fatalf("empty: %+v %v", d, err)
	}
	d.Strengths = []Strength{{ID: "legacy-app", Name: "Legacy", Combinations: []Combination{{MethodPassword, MethodTOTP}}}}
	saved, err := ss.Save(ctx, audit.CLI, d)
	if err != nil || saved.Revision != 1 {
		t.Fatalf("save: %+v %v", saved, err)
	}
	d.Strengths[0].ID = "mfa"
	if _, err := ss.Save(ctx, audit.CLI, saved); err == nil {
		t.Error("stale revision accepted")
	}
	saved.Strengths = []Strength{{ID: "mfa", Name: "x", Combinations: []Combination{{MethodTAP}}}}
	if _, err := ss.Save(ctx, audit.CLI, saved); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("built-in id: %v", err)
	}
	back, _ := ss.Load(ctx)
	if s, ok := StrengthForACR("legacy-app", back.Strengths); !ok || !Satisfies(s, []Method{MethodPassword, MethodTOTP}, nil) {
		t.Errorf("stored strength not usable: %+v", back)
	}
}

func TestTAPsUnderPolicy(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	ps := &Policies{Store: st, Now: clk.Now}
	taps := &TAPs{Store: st, Key: make([]byte, 32), Policy: DefaultTAPPolicy, Now: clk.Now, Policies: ps}
	alice := mustUser(t, st, "alice", "staff")
	carl := mustUser(t, st, "carl", "contractors")

	p := DefaultPolicy()
	p.TAP.Scope = scope.Scope{AllUsers: true, Exclude: []string{"contractors"}}
	p.TAP.Policy.OneTimeOnly = true
	p.TAP.Policy.Length = 20
	if _, err := ps.Save(ctx, audit.CLI, p); err != nil {
		t.Fatal(err)
	}
	iss, err := taps.IssueWith(ctx, audit.CLI, alice, TAPRequest{StartsAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !iss.TAP.OneTime || len(iss.Pass) != 20 || !iss.TAP.StartsAt.Equal(clk.Now().Add(time.Hour)) || !iss.TAP.ExpiresAt.Equal(clk.Now().Add(2*time.Hour)) {
		t.Errorf("issued %+v (pass length %d)", iss.TAP, len(iss.Pass))
	}
	if _, err := taps.Verify(ctx, "alice", &alice, iss.Pass, "192.0.2.1"); !errors.Is(err, ErrTAPNotStarted) {
		t.Errorf("before its start: %v", err)
	}
	clk.Add(time.Hour)
	if _, err := taps.Verify(ctx, "alice", &alice, iss.Pass, "192.0.2.1"); err != nil {
		t.Errorf("after its start: %v", err)
	}
	if _, err := taps.Issue(ctx, audit.CLI, carl, 0, false); !errors.Is(err, ErrTAPNotAllowed) && (err == nil || !strings.Contains(err.Error(), "tap_not_allowed")) {
		t.Errorf("excluded user: %v", err)
	}

	// A pass issued before the exclusion stops working once excluded.
	p, _ = ps.Load(ctx)
	p.TAP.Scope = scope.All()
	if p, err = ps.Save(ctx, audit.CLI, p); err != nil {
		t.Fatal(err)
	}
	iss, err = taps.Issue(ctx, audit.CLI, carl, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	p.TAP.Scope = scope.Scope{AllUsers: true, Exclude: []string{"contractors"}}
	if _, err := ps.Save(ctx, audit.CLI, p); err != nil {
		t.Fatal(err)
	}
	if _, err := taps.Verify(ctx, "carl", &carl, iss.Pass, "192.0.2.1"); err == nil || !strings.Contains(err.Error(), "tap_not_allowed") {
		t.Errorf("excluded after issue: %v", err)
	}
}

func newLegacy(t *testing.T) (*Legacy, store.Store, *clock) {
	st := newStore(t)
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 10, 0, time.UTC)}
	return &Legacy{Store: st, Params: testArgon2, TOTPKey: make([]byte, 32), Issuer: "Example", Now: clk.Now}, st, clk
}

func TestLegacyPasswords(t *testing.T) {
	ctx := context.Background()
	l, st, _ := newLegacy(t)
	u := mustUser(t, st, "erp-user", "legacy-erp")
	if err := l.SetPassword(ctx, audit.CLI, u, "short"); err == nil {
		t.Error("short password accepted")
	}
	if err := l.SetPassword(ctx, audit.CLI, u, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := l.VerifyPassword(ctx, u.Username, &u, "correct horse", "192.0.2.1"); err != nil {
		t.Errorf("right password: %v", err)
	}
	for _, tc := range []struct {
		user *store.User
		pw   string
	}{{&u, "wrong horse"}, {nil, "correct horse"}} {
		err := l.VerifyPassword(ctx, "x", tc.user, tc.pw, "192.0.2.1")
		var pe *problem.Error
		if !errors.As(err, &pe) || pe.Code != "password_invalid" {
			t.Errorf("wrong password / unknown user: %v", err)
		}
	}

	// A change of parameters upgrades the hash at the next sign-in.
	l.Params.Iterations = 2
	if err := l.VerifyPassword(ctx, u.Username, &u, "correct horse", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	h, _ := st.GetSetting(ctx, passwordKey(u.ID))
	if NeedsRehash(string(h), l.Params) {
		t.Errorf("hash not upgraded: %s", h)
	}

	st0, _ := l.State(ctx, u.ID)
	if !st0.HasPassword || st0.PasswordlessOnly {
		t.Errorf("state %+v", st0)
	}
	if err := l.SetPasswordlessOnly(ctx, audit.CLI, u, true); err != nil {
		t.Fatal(err)
	}
	if err := l.VerifyPassword(ctx, u.Username, &u, "correct horse", "192.0.2.1"); err == nil {
		t.Error("a passwordless-only user signed in with a password")
	}
	if err := l.SetPassword(ctx, audit.CLI, u, "another horse"); !errors.Is(err, ErrPasswordlessOnly) {
		t.Errorf("password set for passwordless-only user: %v", err)
	}
	st1, _ := l.State(ctx, u.ID)
	if st1.HasPassword || !st1.PasswordlessOnly {
		t.Errorf("state %+v", st1)
	}
	if ok, _ := PasswordAllowed(legacyPolicy(), []string{"legacy-erp"}, st1, true); ok {
		t.Error("policy allows a password to a passwordless-only user")
	}
}

// Parallel wrong passwords never get more tries than the limit, because
// the count is taken atomically before anything is checked.
func TestParallelWrongPasswordsNeverExceedLimit(t *testing.T) {
	ctx := context.Background()
	l, st, _ := newLegacy(t)
	u := mustUser(t, st, "target")
	if err := l.SetPassword(ctx, audit.CLI, u, "correct horse"); err != nil {
		t.Fatal(err)
	}
	var checked, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.VerifyPassword(ctx, u.Username, &u, "wrong guess", "198.51.100."+string(rune('0'+i%10)))
			var pe *problem.Error
			switch {
			case errors.As(err, &pe) && pe.Code == "rate_limited":
				limited.Add(1)
			case errors.As(err, &pe) && pe.Code == "password_invalid":
				checked.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if checked.Load() != PasswordUserLimit || limited.Load() != 40-PasswordUserLimit {
		t.Errorf("%d passwords checked, %d limited; want %d checked", checked.Load(), limited.Load(), PasswordUserLimit)
	}
	if err := l.VerifyPassword(ctx, u.Username, &u, "correct horse", "203.0.113.9"); err == nil {
		t.Error("the right password still works while the account is limited")
	}
}

func TestLegacyTOTP(t *testing.T) {
	ctx := context.Background()
	l, st, clk := newLegacy(t)
	u := mustUser(t, st, "erp-user")
	if err := l.VerifyTOTP(ctx, u, "123456", "192.0.2.1"); !errors.Is(err, ErrTOTPNotEnrolled) {
		t.Errorf("not enrolled: %v", err)
	}
	e, err := l.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := st.GetSetting(ctx, totpKey(u.ID))
	if strings.Contains(string(raw), e.Secret) {
		t.Fatal("TOTP secret stored in plain text")
	}
	if err := l.VerifyTOTP(ctx, u, code(t, e.Secret, clk.Now()), "192.0.2.1"); !errors.Is(err, ErrTOTPNotEnrolled) {
		t.Errorf("unconfirmed enrolment used for sign-in: %v", err)
	}
	if err := l.ConfirmTOTP(ctx, audit.CLI, u, "000000", "192.0.2.1"); err == nil {
		t.Error("confirmed with a wrong code")
	}
	if err := l.ConfirmTOTP(ctx, audit.CLI, u, code(t, e.Secret, clk.Now()), "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if s, _ := l.State(ctx, u.ID); !s.TOTPEnrolled {
		t.Error("not enrolled after confirmation")
	}
	// The code used to confirm cannot sign in.
	if err := l.VerifyTOTP(ctx, u, code(t, e.Secret, clk.Now()), "192.0.2.1"); !errors.Is(err, ErrTOTPInvalid) && (err == nil || !strings.Contains(err.Error(), "totp_invalid")) {
		t.Errorf("replayed confirmation code: %v", err)
	}
	clk.Add(30 * time.Second)
	next, _ := totp.GenerateCodeCustom(e.Secret, clk.Now(), totpOpts)

	// Of parallel uses of one fresh code exactly one succeeds.
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.VerifyTOTP(ctx, u, next, "192.0.2.1") == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d parallel uses of one code succeeded, want 1", ok.Load())
	}
	// Re-enrolling keeps the old secret working until the new one is confirmed.
	clk.Add(30 * time.Second)
	e2, err := l.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.VerifyTOTP(ctx, u, code(t, e.Secret, clk.Now()), "192.0.2.1"); err != nil {
		t.Errorf("old secret during re-enrolment: %v", err)
	}
	clk.Add(30 * time.Second)
	if err := l.ConfirmTOTP(ctx, audit.CLI, u, code(t, e2.Secret, clk.Now()), "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	clk.Add(30 * time.Second)
	if err := l.VerifyTOTP(ctx, u, code(t, e.Secret, clk.Now()), "192.0.2.1"); err == nil {
		t.Error("the replaced secret still works")
	}
	if err := l.RemoveTOTP(ctx, audit.CLI, u); err != nil {
		t.Fatal(err)
	}
	if s, _ := l.State(ctx, u.ID); s.TOTPEnrolled {
		t.Error("still enrolled after removal")
	}
}

// slipStore runs slip once just before the next compare-and-set, as a
// save on another instance landing between a save's read and its write.
type slipStore struct {
	store.Store
	slip func()
}

func (s *slipStore) SwapSetting(ctx context.Context, key string, old, value []byte) error {
	if f := s.slip; f != nil {
		s.slip = nil
		f()
	}
	return s.Store.SwapSetting(ctx, key, old, value)
}

// TestSavesCompareAndSet: a save whose stored document was replaced
// between its read and its write is refused with a conflict, and the
// other save stays; the check is the store's compare-and-set, not only
// the revision number.
func TestSavesCompareAndSet(t *testing.T) {
	ctx := context.Background()
	st := &slipStore{Store: newStore(t)}
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	ps := &Policies{Store: st, Now: clk.Now}
	other := &Policies{Store: st.Store, Now: clk.Now}

	for _, first := range []bool{true, false} { // creating the document, then replacing it
		p, err := ps.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var theirs Policy
		st.slip = func() {
			q := p
			q.Campaign.Enabled = !p.Campaign.Enabled
			if theirs, err = other.Save(ctx, "bob", q); err != nil {
				t.Fatal(err)
			}
		}
		mine := p
		mine.TAP.Policy.Length = p.TAP.Policy.Length + 1
		_, err = ps.Save(ctx, "alice", mine)
		var pe *problem.Error
		if !errors.As(err, &pe) || pe.Status != 409 || pe.Code != "policy_changed" || !strings.Contains(pe.Message, "reload and try again") {
			t.Fatalf("first=%v: save over a concurrent one: %v", first, err)
		}
		got, err := ps.Load(ctx)
		if err != nil || got.Revision != theirs.Revision || got.UpdatedBy != "bob" || got.TAP.Policy.Length != p.TAP.Policy.Length {
			t.Fatalf("first=%v: the concurrent save was overwritten: %+v %v", first, got, err)
		}
	}

	ss := &Strengths{Store: st, Now: clk.Now}
	st.slip = func() {
		if _, err := (&Strengths{Store: st.Store, Now: clk.Now}).Save(ctx, "bob", StrengthsDoc{}); err != nil {
			t.Fatal(err)
		}
	}
	var pe *problem.Error
	if _, err := ss.Save(ctx, "alice", StrengthsDoc{}); !errors.As(err, &pe) || pe.Code != "policy_changed" {
		t.Fatalf("strengths save over a concurrent one: %v", err)
	}
	if d, err := ss.Load(ctx); err != nil || d.UpdatedBy != "bob" || d.Revision != 1 {
		t.Fatalf("strengths after the conflict: %+v %v", d, err)
	}
}

// TestPoliciesRenameGroup: the rewrite that follows a directory rename is
// one audited revision, skips a policy that does not name the group, and
// is made again on top of a save that lands meanwhile.
func TestPoliciesRenameGroup(t *testing.T) {
	ctx := context.Background()
	st := &slipStore{Store: newStore(t)}
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	ps := &Policies{Store: st, Now: clk.Now}
	mustUser(t, st.Store, "bob", "legacy-erp", "admins", "kiosk", "contractors")
	if _, err := ps.Save(ctx, "alice", legacyPolicy()); err != nil {
		t.Fatal(err)
	}
	if changed, err := ps.RenameGroup(ctx, "alice", "sales", "revenue"); changed || err != nil {
		t.Fatalf("a group the policy does not name: %v %v", changed, err)
	}
	st.slip = func() {
		p, _ := ps.Load(ctx)
		p.Campaign.Enabled = true
		if _, err := ps.Save(ctx, "carol", p); err != nil {
			t.Fatal(err)
		}
	}
	if changed, err := ps.RenameGroup(ctx, "alice", "legacy-erp", "erp"); !changed || err != nil {
		t.Fatalf("rename: %v %v", changed, err)
	}
	p, err := ps.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Campaign.Enabled || p.Revision != 3 || !slices.Equal(p.ReferencedGroups(), []string{"admins", "contractors", "erp", "kiosk"}) {
		t.Errorf("after the rename and the concurrent save: revision %d, campaign %v, groups %v", p.Revision, p.Campaign.Enabled, p.ReferencedGroups())
	}
}
