package access

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
)

func newService(st *memStore) *Service {
	return &Service{Store: st, Now: func() time.Time { return t0 }}
}

func directoryStore() *memStore {
	st := newMemStore()
	st.addUser("u1", "alice", false, "staff", "pilot")
	st.addUser("u2", "bob", true, "staff", "admins")
	st.addUser("u3", "breakglass", true, "break-glass")
	return st
}

func TestServiceChangesAreVersionedAndAudited(t *testing.T) {
	ctx := context.Background()
	st := directoryStore()
	s := newService(st)

	doc, err := s.Document(ctx)
	// A new deployment starts with the built-in admin console policy.
	if err != nil || doc.Version != 0 || len(doc.Policies) != 1 || doc.Policies[0].Name != BuiltinAdminPolicy || doc.Policies[0].State != StateReportOnly {
		t.Fatalf("fresh document: %+v, %v", doc, err)
	}
	set, err := s.Policies(ctx)
	if err != nil || set.Len() != 1 {
		t.Fatalf("fresh policies: %v", err)
	}

	if _, err := s.PutLocation(ctx, audit.CLI, Location{Name: "Office", Ranges: []string{"203.0.113.0/24"}, Trusted: true}, false); err != nil {
		t.Fatal(err)
	}
	p, err := FromTemplate("passkey-outside-trusted", "", BreakGlass{Users: []string{"breakglass"}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.PutPolicy(ctx, "admin-ann", p, false)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Document.Version != 2 || ch.Document.UpdatedBy != "admin-ann" || !ch.Document.UpdatedAt.Equal(t0) {
		t.Errorf("version %d by %q at %v", ch.Document.Version, ch.Document.UpdatedBy, ch.Document.UpdatedAt)
	}
	if _, err := s.PutPolicy(ctx, audit.CLI, p, false); !errors.Is(err, ErrPolicyExists) {
		t.Errorf("second create: %v", err)
	}
	if _, err := s.SetState(ctx, audit.CLI, strings.ToUpper(p.Name), StateOn); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, audit.CLI, "nope", StateOn); !errors.Is(err, ErrUnknownPolicy) {
		t.Errorf("unknown policy: %v", err)
	}
	if _, err := s.DeleteLocation(ctx, audit.CLI, "office"); err != nil {
		t.Errorf("deleting a location used only through the trusted keyword: %v", err)
	}

	doc, _ = s.Document(ctx)
	if doc.Version != 4 || doc.Policies[1].State != StateOn || len(doc.Locations) != 0 {
		t.Errorf("document: %+v", doc)
	}
	var actions []string
	for _, e := range st.audit {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "access.location.create access.policy.create access.policy.state access.location.delete" {
		t.Errorf("audit actions: %s", got)
	}
	var detail struct {
		Version int64
		Before  State
		After   State
	}
	if err := json.Unmarshal([]byte(st.audit[2].Detail), &detail); err != nil || detail.Before != StateReportOnly || detail.After != StateOn || detail.Version != 3 {
		t.Errorf("audit detail %s: %+v %v", st.audit[2].Detail, detail, err)
	}
	if st.audit[1].Actor != "admin-ann" || st.audit[1].Target != p.Name {
		t.Errorf("audit record: %+v", st.audit[1])
	}
}

func TestServiceRefusesBadChangesAndKeepsTheOld(t *testing.T) {
	ctx := context.Background()
	st := directoryStore()
	s := newService(st)
	if _, err := s.PutLocation(ctx, audit.CLI, Location{Name: "Branch", Ranges: []string{"198.51.100.0/24"}}, false); err != nil {
		t.Fatal(err)
	}
	p := basePolicy()
	p.Conditions.Locations.Exclude = []string{"Branch"}
	p.Users.Exclude = []string{"breakglass"}
	if _, err := s.PutPolicy(ctx, audit.CLI, p, false); err != nil {
		t.Fatal(err)
	}
	puts, audits := st.puts, len(st.audit)

	bad := []func() error{
		func() error {
			_, err := s.PutLocation(ctx, audit.CLI, Location{Name: "Bad", Ranges: []string{"10.0.0.0/33"}}, false)
			return err
		},
		func() error { _, err := s.DeleteLocation(ctx, audit.CLI, "Branch"); return err },
		func() error { _, err := s.DeleteLocation(ctx, audit.CLI, "Nowhere"); return err },
		func() error {
			q := basePolicy()
			q.Name, q.Users = "Q", Users{IncludeGroups: []string{"no-such-group"}}
			_, err := s.PutPolicy(ctx, audit.CLI, q, false)
			return err
		},
		func() error {
			_, err := s.Import(ctx, audit.CLI, Document{Policies: []Policy{basePolicy(), basePolicy()}})
			return err
		},
		func() error { _, err := s.SetState(ctx, audit.CLI, "P", "enabled"); return err },
		func() error {
			_, err := s.Update(ctx, audit.CLI, 1, func(*Document) (Audit, error) { return Audit{}, nil })
			return err
		},
	}
	wantCodes := []string{"invalid_policy", "location_in_use", "unknown_location", "invalid_policy", "invalid_policy", "invalid_policy", "policies_changed"}
	for i, f := range bad {
		err := f()
		if err == nil {
			t.Errorf("bad change %d accepted", i)
			continue
		}
		if p := problem.As(err); p.Code != wantCodes[i] {
			t.Errorf("bad change %d: code %s (%v), want %s", i, p.Code, err, wantCodes[i])
		}
	}
	if st.puts != puts || len(st.audit) != audits {
		t.Errorf("refused changes wrote something: %d puts, %d audits", st.puts-puts, len(st.audit)-audits)
	}
	if msg := problem.As(bad[0]()).Message; !strings.Contains(msg, "locations[1].ranges[0]") {
		t.Errorf("message does not name the field: %s", msg)
	}
}

func TestServiceApps(t *testing.T) {
	ctx := context.Background()
	s := newService(directoryStore())
	s.Apps = func(context.Context) ([]string, error) { return []string{"grafana"}, nil }
	p := basePolicy()
	p.Apps = Apps{Include: []string{"grafana", AppSesame}}
	if _, err := s.PutPolicy(ctx, audit.CLI, p, false); err != nil {
		t.Fatal(err)
	}
	p.Apps.Include = []string{"gitlab"}
	if _, err := s.PutPolicy(ctx, audit.CLI, p, true); err == nil || !strings.Contains(err.Error(), `no app with client ID "gitlab"`) {
		t.Errorf("unknown app: %v", err)
	}
	s.Strengths = func(context.Context) ([]StrengthName, error) { return []StrengthName{{"keys", "Security keys"}}, nil }
	p.Apps.Include = []string{"grafana"}
	p.Grant.Strength = "security KEYS"
	ch, err := s.PutPolicy(ctx, audit.CLI, p, true)
	if err != nil {
		t.Fatalf("custom strength: %v", err)
	}
	if got := ch.Document.Policies[len(ch.Document.Policies)-1].Grant.Strength; got != "keys" {
		t.Errorf("custom strength stored as %q, want its ID", got)
	}
}

// TestServiceSeesOtherInstances: two instances share a store; a change made
// through one is in force on the other within the cache lifetime.
func TestServiceSeesOtherInstances(t *testing.T) {
	ctx := context.Background()
	st := directoryStore()
	a, b := newService(st), newService(st)
	b.CacheTTL = 20 * time.Millisecond

	c := baseContext()
	c.Satisfies = satisfies(StrengthMFA)
	if d, err := b.Evaluate(ctx, c); err != nil || d.Access != AccessAllow {
		t.Fatalf("before: %v %v", d.Access, err)
	}
	p := basePolicy()
	p.Users.Exclude = []string{"breakglass"}
	if _, err := a.PutPolicy(ctx, audit.CLI, p, false); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Evaluate(ctx, c); d.Access != AccessStepUp {
		t.Errorf("the changing instance does not see its own change at once: %s", d.Access)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := b.Evaluate(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if d.Access == AccessStepUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other instance never saw the change")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if DefaultCacheTTL > time.Second {
		t.Errorf("default cache lifetime %v is over a second", DefaultCacheTTL)
	}
}

func TestServiceDamagedDocumentFailsClosed(t *testing.T) {
	ctx := context.Background()
	st := directoryStore()
	st.settings[SettingKey] = []byte("{not json")
	s := newService(st)
	if _, err := s.Evaluate(ctx, baseContext()); err == nil {
		t.Error("a damaged document evaluated")
	}
	st.settings[SettingKey] = []byte(`{"version":3,"policies":[{"name":"x","state":"sometimes"}]}`)
	s = newService(st)
	if _, err := s.Policies(ctx); err == nil || !strings.Contains(err.Error(), "do not compile") {
		t.Errorf("an invalid stored document: %v", err)
	}
	if _, err := s.PutLocation(ctx, audit.CLI, Location{Name: "x", Ranges: []string{"10.0.0.0/8"}}, false); err == nil {
		t.Error("a change on top of an invalid document was saved")
	}
}

func TestServiceImportReplacesAll(t *testing.T) {
	ctx := context.Background()
	st := directoryStore()
	s := newService(st)
	if _, err := s.PutPolicy(ctx, audit.CLI, func() Policy { p := basePolicy(); p.Name = "old"; return p }(), false); err != nil {
		t.Fatal(err)
	}
	doc, _, err := ImportYAML([]byte(sampleYAML), Known{})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Import(ctx, audit.CLI, doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Document.Policies) != 3 || ch.Document.Policies[0].Name != "Require a passkey outside trusted locations" {
		t.Errorf("imported: %+v", ch.Document.Policies)
	}
	last := st.audit[len(st.audit)-1]
	if last.Action != "access.import" || !strings.Contains(last.Detail, `"name":"old"`) || !strings.Contains(last.Detail, "Block legacy") {
		t.Errorf("import audit: %+v", last)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	st := directoryStore()
	s := newService(st)
	if d, err := s.Retention(ctx); err != nil || d != 0 {
		t.Fatalf("default retention %d, %v", d, err)
	}
	if err := s.SetRetention(ctx, audit.CLI, 90); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Retention(ctx); d != 90 {
		t.Errorf("retention %d", d)
	}
	for _, bad := range []int{-1, MaxRetentionDays + 1} {
		if err := s.SetRetention(ctx, audit.CLI, bad); err == nil {
			t.Errorf("retention %d accepted", bad)
		}
	}
	if last := st.audit[len(st.audit)-1]; last.Action != "log.retention" || last.Detail != `{"after":90,"before":0}` {
		t.Errorf("audit %+v", last)
	}
	if got := RetentionCutoff(t0, 30); !got.Equal(t0.AddDate(0, 0, -30)) {
		t.Errorf("cutoff %v", got)
	}
	if !RetentionCutoff(t0, 0).IsZero() {
		t.Error("retention 0 expires records")
	}
}

func TestWhatIf(t *testing.T) {
	ctx := context.Background()
	s := newService(directoryStore())
	doc, _, err := ImportYAML([]byte(sampleYAML), Known{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, audit.CLI, doc); err != nil {
		t.Fatal(err)
	}
	w, err := s.WhatIf(ctx, nil, WhatIfRequest{Username: "Alice", App: "grafana", IP: "192.0.2.1", Satisfies: []string{StrengthMFA}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Context.Username != "alice" || !slicesEqual(w.Context.Groups, []string{"staff", "pilot"}) || w.Context.Client != ClientBrowser {
		t.Errorf("context %+v", w.Context)
	}
	want := []string{"report-only: would require Passwordless MFA", "not applied", "off"}
	for i, r := range w.Decision.Results {
		if r.Label() != want[i] {
			t.Errorf("%s: %s, want %s", r.Policy, r.Label(), want[i])
		}
	}
	if w.Decision.Results[1].Reason.String() != "client type browser is not included" {
		t.Errorf("reason %s", w.Decision.Results[1].Reason)
	}

	w, err = s.WhatIf(ctx, nil, WhatIfRequest{Username: "bob", Client: ClientLegacy, AuthAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if w.Decision.Access != AccessBlock || w.Decision.BlockedBy != "Block legacy" || w.Context.Fresh || !w.Context.Admin {
		t.Errorf("bob legacy: %+v", w.Decision)
	}
	for _, bad := range []WhatIfRequest{
		{Username: "nobody"},
		{Username: "alice", IP: "not-an-ip"},
		{Username: "alice", Client: "imap"},
		{Username: "alice", Action: "login"},
		{Username: "alice", AuthAge: -time.Hour},
	} {
		if _, err := s.WhatIf(ctx, nil, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestServiceDanglingReferences: a group deleted after a policy named it
// does not stop the admin from switching the policy off; it is a warning.
// A new reference to something that does not exist is still refused, and
// so is an import that names it.
func TestServiceDanglingReferences(t *testing.T) {
	ctx := context.Background()
	st := directoryStore()
	s := newService(st)
	p := basePolicy()
	p.Users = Users{IncludeGroups: []string{"pilot"}, ExcludeGroups: []string{"break-glass"}}
	if _, err := s.PutPolicy(ctx, audit.CLI, p, false); err != nil {
		t.Fatal(err)
	}
	st.groups["u1"] = []string{"staff"} // pilot is gone
	ch, err := s.SetState(ctx, audit.CLI, "P", StateOff)
	if err != nil {
		t.Fatalf("switching off a policy naming a deleted group: %v", err)
	}
	if len(ch.Warnings) != 1 || ch.Warnings[0] != `group "pilot" no longer exists but is named by "P"` {
		t.Errorf("warnings %q", ch.Warnings)
	}
	q := basePolicy()
	q.Name, q.Users = "Q", Users{IncludeGroups: []string{"finance"}}
	if _, err := s.PutPolicy(ctx, audit.CLI, q, false); err == nil {
		t.Error("a new reference to a missing group was saved")
	}
	doc, _ := s.Document(ctx)
	if _, err := s.Import(ctx, audit.CLI, doc); err == nil || !strings.Contains(err.Error(), `no group "pilot"`) {
		t.Errorf("import naming a missing group: %v", err)
	}
}

// TestServiceSaveIsCompareAndSet: a save landing between another save's
// read and its write (another instance) is not overwritten: the later
// write is refused as stale and nothing of it is stored or audited.
func TestServiceSaveIsCompareAndSet(t *testing.T) {
	ctx := context.Background()
	st := directoryStore()
	a, b := newService(st), newService(st)
	for _, name := range []string{"first", "second"} { // creating the document, then replacing it
		st.beforeSwap = func() {
			p := basePolicy()
			p.Name = "theirs-" + name
			if _, err := b.PutPolicy(ctx, audit.CLI, p, false); err != nil {
				t.Fatal(err)
			}
		}
		audits := len(st.audit)
		p := basePolicy()
		p.Name = "mine-" + name
		_, err := a.PutPolicy(ctx, audit.CLI, p, false)
		var pe *problem.Error
		if !errors.As(err, &pe) || pe.Status != 409 || pe.Code != "policies_changed" || !strings.Contains(pe.Message, "reload and try again") {
			t.Fatalf("%s: save over a concurrent one: %v", name, err)
		}
		if len(st.audit) != audits+1 {
			t.Errorf("%s: %d audit records, want only the winner's", name, len(st.audit)-audits)
		}
		doc, err := a.Document(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := findPolicy(&doc, "theirs-"+name); !ok {
			t.Errorf("%s: the concurrent save was overwritten: %+v", name, doc.Policies)
		}
		if _, ok := findPolicy(&doc, "mine-"+name); ok {
			t.Errorf("%s: the stale save landed", name)
		}
	}
}

func TestRenameGroupIn(t *testing.T) {
	p1 := basePolicy()
	p1.Name, p1.Users = "pilot only", Users{IncludeGroups: []string{"pilot"}, ExcludeGroups: []string{"break-glass"}}
	p2 := basePolicy()
	p2.Name, p2.Users = "all but pilot", Users{All: true, ExcludeGroups: []string{"pilot", "contractors"}}
	p3 := basePolicy()
	p3.Name, p3.Users = "staff", Users{IncludeGroups: []string{"staff"}}
	doc := Document{Version: 4, Policies: []Policy{p1, p2, p3}}
	tests := []struct {
		name, from, to string
		changed        []string
	}{
		{"included and excluded", "pilot", "wave-1", []string{"pilot only", "all but pilot"}},
		{"one policy", "staff", "employees", []string{"staff"}},
		{"named nowhere", "sales", "revenue", nil},
		{"exact names only", "PILOT", "x", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := RenameGroupIn(doc, tc.from, tc.to)
			if !slices.Equal(changed, tc.changed) {
				t.Fatalf("changed %v, want %v", changed, tc.changed)
			}
			for i, p := range got.Policies {
				for _, g := range append(slices.Clone(p.Users.IncludeGroups), p.Users.ExcludeGroups...) {
					if g == tc.from {
						t.Errorf("policy %q still names %q", p.Name, g)
					}
				}
				if len(tc.changed) > 0 && slices.Contains(tc.changed, p.Name) {
					was := append(slices.Clone(doc.Policies[i].Users.IncludeGroups), doc.Policies[i].Users.ExcludeGroups...)
					if !slices.Contains(was, tc.from) {
						t.Errorf("policy %q reported changed but did not name %q", p.Name, tc.from)
					}
				}
			}
			if !slices.Equal(doc.Policies[0].Users.IncludeGroups, []string{"pilot"}) {
				t.Error("the original document was modified")
			}
		})
	}
}

// TestServiceRenameGroupRetriesAfterAConcurrentSave: a rename is a
// server-side rewrite, not an admin's stale copy: a policy save landing
// meanwhile is kept, and the rename is made on top of it.
func TestServiceRenameGroupRetriesAfterAConcurrentSave(t *testing.T) {
	ctx := context.Background()
	st := directoryStore()
	a, b := newService(st), newService(st)
	p := basePolicy()
	p.Users = Users{IncludeGroups: []string{"pilot"}}
	if _, err := a.PutPolicy(ctx, audit.CLI, p, false); err != nil {
		t.Fatal(err)
	}
	st.beforeSwap = func() {
		if _, err := b.SetState(ctx, audit.CLI, "P", StateReportOnly); err != nil {
			t.Fatal(err)
		}
	}
	st.addUser("u9", "dora", false, "wave-1") // the directory has the new name
	if _, err := a.RenameGroup(ctx, audit.CLI, "pilot", "wave-1"); err != nil {
		t.Fatal(err)
	}
	doc, _ := a.Document(ctx)
	got, ok := doc.Policy("P")
	if !ok {
		t.Fatal("policy P is gone")
	}
	if got.State != StateReportOnly || !slices.Equal(got.Users.IncludeGroups, []string{"wave-1"}) {
		t.Errorf("after the rename and the concurrent save: %+v", got)
	}
}
