package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/methods/scope"
)

// groupRenameFixture: a pilot group named by a Conditional Access policy
// (included) and by the registration campaign of the methods policy.
func groupRenameFixture(t *testing.T, inst *instance) {
	t.Helper()
	inst.createUser(t, "alice", false)
	inst.ensureMember(t, "pilot", "alice")
	inst.ensureMember(t, "sales", "alice")
	inst.putPolicy(t, access.Policy{Name: "pilot passkeys", State: access.StateReportOnly,
		Users: access.Users{IncludeGroups: []string{"pilot"}}, Apps: access.Apps{All: true},
		Grant: access.Grant{Strength: access.StrengthPasswordlessMFA}})
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Campaign.Enabled, p.Campaign.Scope = true, scope.Groups("pilot")
	})
}

// policyGroups is every group the stored policies name.
func policyGroups(t *testing.T, inst *instance) []string {
	t.Helper()
	ctx := context.Background()
	p, err := inst.App.Policies.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := p.ReferencedGroups()
	doc, err := inst.App.Access.Document(ctx)
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

// TestBrowserGroupRename: an admin renames a group in the console; the
// policies that name it follow. A taken name is refused on the page and
// changes nothing.
func TestBrowserGroupRename(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	root := inst.createUser(t, "root", true)
	pass := inst.issueTAP(t, root, 0, false)
	groupRenameFixture(t, inst)

	ctx := newTab(t)
	browserSignInWithTAP(t, ctx, inst.URL, "root", pass)
	navigate(t, ctx, inst.URL+"/admin")
	waitPage(t, ctx, "/admin")
	id := groupID(t, inst, "pilot")

	// A taken name: the page says so, nothing changes.
	setValue(t, ctx, "#rename-"+id, "sales")
	click(t, ctx, `tr[data-group="pilot"] button.rename-group`)
	waitFor(t, ctx, `!!document.querySelector("#rename-group-error") && document.readyState === "complete"`)
	if msg := text(t, ctx, "#rename-group-error"); !strings.Contains(msg, "already exists") {
		t.Errorf("refusal shown as %q", msg)
	}
	if got := policyGroups(t, inst); !slices.Equal(got, []string{"pilot"}) {
		t.Fatalf("a refused rename changed the policies: %v", got)
	}

	setValue(t, ctx, "#rename-"+id, "wave-1")
	click(t, ctx, `tr[data-group="pilot"] button.rename-group`)
	waitFor(t, ctx, `location.search.includes("notice=group_renamed") && document.readyState === "complete"`)
	if !exists(t, ctx, `tr[data-group="wave-1"]`) || exists(t, ctx, `tr[data-group="pilot"]`) {
		t.Errorf("the group list after the rename:\n%s", pageSummary(ctx))
	}
	if got := policyGroups(t, inst); !slices.Equal(got, []string{"wave-1"}) {
		t.Errorf("the policies name %v after the rename, want [wave-1]", got)
	}
	// Alice is still in it, and the policy still applies to her.
	w, err := inst.App.Access.WhatIf(context.Background(), nil, access.WhatIfRequest{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(w.Context.Groups, "wave-1") {
		t.Errorf("alice's groups after the rename: %v", w.Context.Groups)
	}
	applied := false
	for _, r := range w.Decision.Results {
		applied = applied || (r.Policy == "pilot passkeys" && r.Outcome != access.OutcomeNotApplied)
	}
	if !applied {
		t.Errorf("the renamed group's policy no longer applies to its member: %+v", w.Decision.Results)
	}
	for _, a := range []string{"group.rename", "access.group.rename", "policy.methods.group_rename"} {
		if e, ok := inst.lastAudit(t, a); !ok || e.Actor != "root" {
			t.Errorf("audit of %s: %+v %v", a, e, ok)
		}
	}
}

// TestGroupRenameAPI: POST /api/admin/groups/{name}/rename over HTTP,
// with its refusals.
func TestGroupRenameAPI(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	groupRenameFixture(t, inst)
	admin := inst.adminClient(t, "root")
	post := func(c *client, group, body string) response {
		return c.do(t, http.MethodPost, "/api/admin/groups/"+group+"/rename", "application/json", []byte(body))
	}
	expectRefusal(t, post(admin, "pilot", `{"name": "sales"}`), http.StatusConflict, "group_exists")
	expectRefusal(t, post(admin, "pilot", `{"name": "  "}`), http.StatusBadRequest, "bad_request")
	expectRefusal(t, post(admin, "nope", `{"name": "x"}`), http.StatusNotFound, "unknown_group")
	expectRefusal(t, post(admin, "pilot", `[1]`), http.StatusBadRequest, "bad_request")
	user := inst.newClient(t)
	alice := inst.user(t, "alice")
	user.signInWithTAP(t, "alice", inst.issueTAP(t, alice, 0, false))
	expectRefusal(t, post(user, "pilot", `{"name": "x"}`), http.StatusForbidden, "not_admin")
	if got := policyGroups(t, inst); !slices.Equal(got, []string{"pilot"}) {
		t.Fatalf("refused renames changed the policies: %v", got)
	}

	r := post(admin, "pilot", `{"name": "wave-1"}`)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"name":"wave-1"`) {
		t.Fatalf("rename: %s", r)
	}
	if got := policyGroups(t, inst); !slices.Equal(got, []string{"wave-1"}) {
		t.Errorf("the policies name %v after the rename", got)
	}
}

func groupID(t *testing.T, inst *instance, name string) string {
	t.Helper()
	g, err := inst.App.Store.GetGroupByName(context.Background(), name)
	if err != nil {
		t.Fatal(fmt.Errorf("group %s: %w", name, err))
	}
	return g.ID
}
