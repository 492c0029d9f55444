package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/report"
	"github.com/sesame-idp/sesame/internal/store"
)

func rolloutPageCases() []struct {
	name, page string
	user       *store.User
	data       map[string]any
	want       []string
	notWant    []string
} {
	admin := sampleUser(true)
	days := []report.Day{{Day: testNow.Add(-24 * time.Hour), SyncedRegistered: 2, DeviceBoundRegistered: 1, Passkey: 3, SignIns: 4}, {Day: testNow}}
	st := report.Stats{Users: 4, NoPasskey: 2, OnePasskey: 1, TwoOrMore: 1, AtRisk: 3, AtRiskUsers: []string{"a", "b"},
		SignIns: []report.Window{{Days: 1, Passkey: 3, TAP: 1, PasskeyShare: 0.75}}}
	g := report.GroupReport{Name: "pilot", Stats: st, Phase: report.PhaseReportOnly, Next: "2 users would be blocked", MovePolicy: "Require passkeys",
		WouldBlock: []string{"a"}}
	rep := report.Report{Overall: st, Groups: []report.GroupReport{g}, Days: days,
		Policies: []report.PolicyReport{{Name: "Require passkeys", State: access.StateReportOnly, Groups: []string{"pilot"},
			Windows: []report.PolicyWindow{{Days: 1, Blocked: 2}}, BlockUsers: []string{"a"}, Blocked: 1}}}
	return []struct {
		name, page string
		user       *store.User
		data       map[string]any
		want       []string
		notWant    []string
	}{
		{name: "admin rollout", page: "admin_rollout", user: &admin, data: map[string]any{
			"Title": "Passkey roll-out", "Report": rep, "Version": 7, "StatsRows": statsRows(rep), "NoticeText": "moved",
			"RegistrationsChart": registrationsChart(days), "ShareChart": shareChart(days)},
			want: []string{`data-group="pilot" data-phase="report-only"`, "2 users would be blocked",
				`href="/admin/rollout/move?group=pilot&amp;policy=Require%20passkeys&amp;version=7"`,
				`<td class="no-passkey">2</td>`, "75%", `id="chart-registrations"`, `id="chart-share"`,
				`data-policy="Require passkeys" data-state="report-only" data-blocked-users="1"`, `id="notice"`}},
		{name: "admin rollout move", page: "admin_rollout_move", user: &admin, data: map[string]any{
			"Group": g, "Policy": "Require passkeys", "Version": 7, "Summary": []string{"Would be blocked: a."}},
			want: []string{`id="move-form"`, `name="version" value="7"`, `name="group" value="pilot"`, "Would be blocked: a."}},
	}
}

func TestCharts(t *testing.T) {
	days := []report.Day{{Day: testNow, SyncedRegistered: 3, DeviceBoundRegistered: 1, Passkey: 1, SignIns: 2}, {Day: testNow.Add(24 * time.Hour)}}
	reg := string(registrationsChart(days))
	if !strings.HasPrefix(reg, `<svg id="chart-registrations"`) || !strings.Contains(reg, "3 synced") || !strings.Contains(reg, "1 device-bound") || !strings.HasSuffix(reg, "</svg>") {
		t.Errorf("registrations chart: %s", reg)
	}
	share := string(shareChart(days))
	if !strings.Contains(share, "50% of 2 sign-ins") || !strings.Contains(share, "0% of 0 sign-ins") {
		t.Errorf("share chart: %s", share)
	}
	if strings.Contains(reg+share, "style=") {
		t.Error("charts must not use style attributes (CSP)")
	}
}

// rolloutEnv is a test server with Conditional Access and the report.
func rolloutEnv(t *testing.T) *testEnv {
	e := newTestEnv(t)
	e.srv.Access = &access.Service{Store: e.st, Now: e.srv.Now}
	e.srv.Rollout = &report.Source{Store: e.st, Reports: e.st, Access: e.srv.Access}
	e.h = e.srv.Handler()
	ctx := context.Background()
	g := store.Group{ID: store.NewID(), Name: "pilot", CreatedAt: testNow}
	if err := e.st.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddMember(ctx, g.ID, e.bob.ID); err != nil {
		t.Fatal(err)
	}
	p := access.Policy{Name: "Require passkeys", State: access.StateReportOnly, Users: access.Users{IncludeGroups: []string{"pilot"}},
		Apps: access.Apps{All: true}, Grant: access.Grant{Strength: access.StrengthPasswordlessMFA}}
	if _, err := e.srv.Access.PutPolicy(ctx, "test", p, false); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRolloutAPI(t *testing.T) {
	e := rolloutEnv(t)
	w := e.do("GET", "/api/admin/rollout?group=pilot", e.rootTok, nil)
	var rep report.Report
	if err := json.Unmarshal([]byte(expect(t, w, http.StatusOK)), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Groups) != 1 || rep.Groups[0].Phase != report.PhaseReportOnly || rep.Groups[0].MovePolicy != "Require passkeys" || rep.Overall.Users != 1 {
		t.Errorf("report: %+v", rep)
	}
	expect(t, e.do("GET", "/api/admin/rollout?group=nobody", e.rootTok, nil), http.StatusNotFound, "unknown_group")
	expect(t, e.do("GET", "/api/admin/rollout?grup=pilot", e.rootTok, nil), http.StatusBadRequest, "Unknown parameter")
	expect(t, e.do("GET", "/api/admin/rollout?group=a&group=b", e.rootTok, nil), http.StatusBadRequest, "at most once")
	expect(t, e.do("GET", "/api/admin/rollout", e.bobTok, nil), http.StatusForbidden)
	expect(t, e.do("GET", "/admin/rollout", e.rootTok, nil), http.StatusOK, `data-group="pilot"`, "Move to enforced")
}

func TestRolloutMove(t *testing.T) {
	e := rolloutEnv(t)
	ctx := context.Background()
	state := func() access.State {
		doc, err := e.srv.Access.Document(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := doc.Policy("Require passkeys")
		return p.State
	}
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"group":"pilot","policy":"Require passkeys","version":0}`, http.StatusBadRequest, "version"},
		{`{"group":"pilot","policy":"Require passkeys","version":"1"}`, http.StatusBadRequest, ""},
		{`{"group":"pilot","policy":"Require passkeys","version":1,"extra":true}`, http.StatusBadRequest, ""},
		{`{"group":"nobody","policy":"Require passkeys","version":1}`, http.StatusNotFound, "unknown_group"},
		{`{"group":"pilot","policy":"Nope","version":1}`, http.StatusNotFound, "unknown_policy"},
		{`{"group":"pilot","policy":"Require passkeys","version":2}`, http.StatusConflict, "policies_changed"},
	} {
		expect(t, e.doJSON("POST", "/api/admin/rollout/move", e.rootTok, tc.body), tc.status, tc.want)
		if s := state(); s != access.StateReportOnly {
			t.Fatalf("%s changed the state to %s", tc.body, s)
		}
	}
	// The confirmation page shows the what-if summary for the version.
	expect(t, e.do("GET", "/admin/rollout/move?group=pilot&policy=Require+passkeys&version=1", e.rootTok, nil), http.StatusOK,
		`name="version" value="1"`, "from report-only to enforced")
	expect(t, e.do("GET", "/admin/rollout/move?group=pilot&policy=Require+passkeys&version=x", e.rootTok, nil), http.StatusBadRequest)
	w := e.doJSON("POST", "/api/admin/rollout/move", e.rootTok, `{"group":"pilot","policy":"Require passkeys","version":1}`)
	expect(t, w, http.StatusOK, `"version":2`)
	if s := state(); s != access.StateOn {
		t.Fatalf("state after the move = %s", s)
	}
	// The same confirm again is stale now, and a policy that is on is not movable.
	expect(t, e.doJSON("POST", "/api/admin/rollout/move", e.rootTok, `{"group":"pilot","policy":"Require passkeys","version":1}`), http.StatusConflict)
	expect(t, e.doJSON("POST", "/api/admin/rollout/move", e.rootTok, `{"group":"pilot","policy":"Require passkeys","version":2}`), http.StatusConflict, "not_movable")
	found := false
	for _, a := range e.auditActions() {
		found = found || a == "root rollout.move Require passkeys"
	}
	if !found {
		t.Errorf("no rollout.move in the audit log: %v", e.auditActions())
	}
}
