package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/problem"
)

func openSQLite(t *testing.T) *app.App {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	a, err := app.Open(context.Background(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// renameFixture: groups pilot, break-glass and sales; the methods policy
// names pilot in a method scope, a passkey profile and the campaign; two
// Conditional Access policies include or exclude it.
func renameFixture(t *testing.T, a *app.App) {
	t.Helper()
	ctx := context.Background()
	for _, g := range []string{"pilot", "break-glass", "sales"} {
		if _, err := a.Dir.CreateGroup(ctx, audit.CLI, g, ""); err != nil {
			t.Fatal(err)
		}
	}
	p, err := a.Policies.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.TAP.Scope = scope.Scope{AllUsers: true, Exclude: []string{"pilot"}}
	p.Passkey.Profiles[0].Scope = scope.Scope{AllUsers: true, Exclude: []string{"pilot"}}
	pilotProfile := p.Passkey.Profiles[0]
	pilotProfile.Name, pilotProfile.Scope = "pilot", scope.Groups("pilot")
	p.Passkey.Profiles = append(p.Passkey.Profiles, pilotProfile)
	p.Campaign.Enabled, p.Campaign.Scope = true, scope.Groups("pilot", "sales")
	if _, err := a.Policies.Save(ctx, audit.CLI, p); err != nil {
		t.Fatal(err)
	}
	for _, pol := range []access.Policy{
		{Name: "pilot passkeys", State: access.StateReportOnly, Users: access.Users{IncludeGroups: []string{"pilot"}, ExcludeGroups: []string{"break-glass"}},
			Apps: access.Apps{All: true}, Grant: access.Grant{Strength: access.StrengthPasswordlessMFA}},
		{Name: "everyone else", State: access.StateOff, Users: access.Users{All: true, ExcludeGroups: []string{"pilot", "break-glass"}},
			Apps: access.Apps{All: true}, Grant: access.Grant{Strength: access.StrengthMFA}},
	} {
		if _, err := a.Access.PutPolicy(ctx, audit.CLI, pol, false); err != nil {
			t.Fatal(err)
		}
	}
}

// groupNames is every group name the documents use.
func groupNames(t *testing.T, a *app.App) []string {
	t.Helper()
	ctx := context.Background()
	p, err := a.Policies.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := p.ReferencedGroups()
	doc, err := a.Access.Document(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range doc.Policies {
		out = append(out, pol.Users.IncludeGroups...)
		out = append(out, pol.Users.ExcludeGroups...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestRenameGroupRewritesPolicies(t *testing.T) {
	ctx := context.Background()
	a := openSQLite(t)
	renameFixture(t, a)
	mp, _ := a.Policies.Load(ctx)
	doc, _ := a.Access.Document(ctx)

	g, err := a.Dir.RenameGroup(ctx, "root", "pilot", "  wave-1 ")
	if err != nil || g.Name != "wave-1" {
		t.Fatalf("rename: %+v %v", g, err)
	}
	if got, want := groupNames(t, a), []string{"break-glass", "sales", "wave-1"}; !slices.Equal(got, want) {
		t.Errorf("documents name %v, want %v", got, want)
	}
	mp2, _ := a.Policies.Load(ctx)
	doc2, _ := a.Access.Document(ctx)
	if mp2.Revision != mp.Revision+1 || doc2.Version != doc.Version+1 {
		t.Errorf("revisions %d -> %d, versions %d -> %d: want one save each", mp.Revision, mp2.Revision, doc.Version, doc2.Version)
	}
	if !slices.Equal(mp2.Campaign.Scope.Groups, []string{"wave-1", "sales"}) {
		t.Errorf("campaign scope %v", mp2.Campaign.Scope.Groups)
	}
	if p, ok := doc2.Policy("pilot passkeys"); !ok || p.State != access.StateReportOnly {
		t.Errorf("the rename changed more than the group name: %+v", doc2.Policies)
	}
	events, _ := a.Store.ListAudit(ctx, 10)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Actor+" "+e.Action+" "+e.Target)
	}
	for _, want := range []string{"root group.rename wave-1", "root policy.methods.group_rename methods", "root access.group.rename wave-1"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit lacks %q: %v", want, actions)
		}
	}
	// The policies in force still compile with the new name.
	if _, err := a.Access.Policies(ctx); err != nil {
		t.Fatal(err)
	}

	// A group no document names is renamed without a policy save.
	if _, err := a.Dir.CreateGroup(ctx, audit.CLI, "unused", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Dir.RenameGroup(ctx, "root", "unused", "spare"); err != nil {
		t.Fatal(err)
	}
	if mp3, _ := a.Policies.Load(ctx); mp3.Revision != mp2.Revision {
		t.Error("renaming an unused group saved the methods policy")
	}
}

func TestRenameGroupRefusals(t *testing.T) {
	ctx := context.Background()
	a := openSQLite(t)
	renameFixture(t, a)
	before := groupNames(t, a)
	audits, _ := a.Store.ListAudit(ctx, 1000)
	for _, tc := range []struct {
		name, from, to string
		status         int
		msg            string
	}{
		{"name taken", "pilot", "sales", 409, "already exists"},
		{"empty name", "pilot", "   ", 400, "1 to 64 characters"},
		{"too long", "pilot", strings.Repeat("x", 65), 400, "1 to 64 characters"},
		{"control character", "pilot", "pi\nlot", 400, "control characters"},
		{"unknown group", "nope", "other", 404, "no group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Dir.RenameGroup(ctx, "root", tc.from, tc.to)
			p := problem.As(err)
			if err == nil || p.Status != tc.status || !strings.Contains(p.Message, tc.msg) {
				t.Fatalf("got %v (status %d), want %d %q", err, p.Status, tc.status, tc.msg)
			}
		})
	}
	if got := groupNames(t, a); !slices.Equal(got, before) {
		t.Errorf("a refused rename changed the documents: %v", got)
	}
	if _, err := a.Dir.Group(ctx, "pilot"); err != nil {
		t.Errorf("a refused rename changed the group: %v", err)
	}
	if after, _ := a.Store.ListAudit(ctx, 1000); len(after) != len(audits) {
		t.Errorf("refusals were audited as changes: %d new records", len(after)-len(audits))
	}
}

// TestRenameGroupUndoneWhenAPolicyCannotBeRewritten: when the Conditional
// Access policies cannot be rewritten (here: damaged), the methods policy
// rewritten a moment before is put back and the group keeps its name, so
// no document names a group that does not exist.
func TestRenameGroupUndoneWhenAPolicyCannotBeRewritten(t *testing.T) {
	ctx := context.Background()
	a := openSQLite(t)
	renameFixture(t, a)
	mp, _ := a.Policies.Load(ctx)
	if err := a.Store.PutSetting(ctx, access.SettingKey, []byte("{damaged")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Dir.RenameGroup(ctx, "root", "pilot", "wave-1"); err == nil {
		t.Fatal("the rename succeeded over a damaged policy document")
	}
	if _, err := a.Dir.Group(ctx, "pilot"); err != nil {
		t.Errorf("the group rename was not undone: %v", err)
	}
	mp2, err := a.Policies.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mp2.ReferencedGroups(), mp.ReferencedGroups()) {
		t.Errorf("the methods policy names %v after the undo, want %v", mp2.ReferencedGroups(), mp.ReferencedGroups())
	}
}
