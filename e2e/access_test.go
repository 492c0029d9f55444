package e2e

// Conditional Access live: an app signs in through Sesame's OpenID
// provider and the policies decide, per address, device and session,
// whether it goes through, needs a passkey step-up or a fresh sign-in, or
// is refused with a page naming the policy; report-only policies are
// recorded and never enforced. The admin tools (what-if, replay, the
// sign-in log's filters and exports, retention) answer from the same
// records. Source addresses are real: a client can connect from 127.0.0.2
// while the trusted range is 127.0.0.1/32.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/store"
)

// newClientFrom is newClient connecting from another loopback address
// (Linux routes all of 127.0.0.0/8 to lo), so Sesame sees that address.
func (inst *instance) newClientFrom(t testing.TB, local string) *client {
	t.Helper()
	c := inst.newClient(t)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	c.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp4", inst.Config.Listen)
	}}
	return c
}

// legacyUser gives an existing user a password and an authenticator app,
// with the methods policy allowing both for the group legacy-app; it
// returns the TOTP secret.
func (inst *instance) legacyUser(t testing.TB, username, password string) string {
	t.Helper()
	ctx := context.Background()
	inst.ensureMember(t, "legacy-app", username)
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Password = methods.MethodSetting{Enabled: true, Scope: scope.Groups("legacy-app")}
		p.TOTP = methods.MethodSetting{Enabled: true, Scope: scope.Groups("legacy-app")}
	})
	u := inst.user(t, username)
	if err := inst.App.Legacy.SetPassword(ctx, audit.CLI, u, password); err != nil {
		t.Fatal(err)
	}
	e, err := inst.App.Legacy.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.App.Legacy.ConfirmTOTP(ctx, audit.CLI, u, totpCode(t, e.Secret, inst.clock.Now()), "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	inst.clock.Advance(methods.TOTPPeriod)
	return e.Secret
}

// signInWithPasswordAndCode signs c in with a password and a fresh code.
func (c *client) signInWithPasswordAndCode(t testing.TB, username, password, secret string) {
	t.Helper()
	c.inst.clock.Advance(methods.TOTPPeriod) // a code is good once
	r := c.submitCode(t, c.passwordStep(t, username, password), totpCode(t, secret, c.inst.clock.Now()))
	if r.Status != http.StatusSeeOther || !setsSessionCookie(r) {
		t.Fatalf("password and code sign-in: %s", r)
	}
}

// putPolicy stores a Conditional Access policy (replacing one of that name).
func (inst *instance) putPolicy(t testing.TB, p access.Policy) {
	t.Helper()
	if _, err := inst.App.Access.PutPolicy(context.Background(), audit.CLI, p, true); err != nil {
		t.Fatalf("storing policy %q: %v", p.Name, err)
	}
}

// authorizations are an app's sign-in records written by Conditional
// Access (not the token endpoint's), newest first.
func (inst *instance) authorizations(t testing.TB, app string) []store.SignInEvent {
	t.Helper()
	var out []store.SignInEvent
	for _, ev := range inst.appEvents(t, app) {
		if ev.Client == string(access.ClientBrowser) {
			out = append(out, ev)
		}
	}
	return out
}

// resultOf is the recorded result of one policy in a sign-in record.
func resultOf(t testing.TB, ev store.SignInEvent, policy string) access.Result {
	t.Helper()
	rs, err := access.UnmarshalResults(ev.Access)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Policy == policy {
			return r
		}
	}
	t.Fatalf("record %d (%s) has no result for %q: %s", ev.ID, ev.Detail, policy, ev.Access)
	return access.Result{}
}

const (
	passkeyOutside = "Passkey outside the office"
	pilotBlock     = "Pilot: block the wiki outside the office"
	blockPayroll   = "Block payroll for contractors"
	hourly         = "Sign in to reports every hour"
)

// accessSetup is a Sesame with bob (password + TOTP, and a device-bound
// passkey), an admin (root, the break-glass account), four apps and the
// policies of the scenario.
type accessSetup struct {
	inst                             *instance
	admin                            *client
	bob                              store.User
	pk                               *softPasskey
	secret                           string
	intranet, wiki, payroll, reports *relyingParty
}

const bobPassword = "bob's long password"

func newAccessSetup(t *testing.T) *accessSetup {
	inst := startSesame(t, sesameOptions{})
	s := &accessSetup{inst: inst, admin: inst.adminClient(t, "root")}
	_, s.pk = inst.onboard(t, "bob", softOptions{})
	s.bob = inst.user(t, "bob")
	s.secret = inst.legacyUser(t, "bob", bobPassword)
	inst.ensureMember(t, "contractors", "bob")
	s.intranet = newRelyingParty(t, inst, "intranet", rpOptions{})
	s.wiki = newRelyingParty(t, inst, "wiki", rpOptions{})
	s.payroll = newRelyingParty(t, inst, "payroll", rpOptions{})
	s.reports = newRelyingParty(t, inst, "reports", rpOptions{})
	ctx := context.Background()
	if _, err := inst.App.Access.PutLocation(ctx, audit.CLI, access.Location{Name: "Office", Ranges: []string{"127.0.0.1/32"}, Trusted: true}, false); err != nil {
		t.Fatal(err)
	}
	outsideOffice := access.Conditions{Locations: access.IncludeExclude{Include: []string{access.LocationAny}, Exclude: []string{access.LocationTrusted}}}
	everyoneBut := access.Users{All: true, Exclude: []string{"root"}}
	inst.putPolicy(t, access.Policy{Name: passkeyOutside, State: access.StateOn, Users: everyoneBut,
		Apps: access.Apps{Include: []string{"intranet"}}, Conditions: outsideOffice, Grant: access.Grant{Strength: access.StrengthPasswordlessMFA}})
	inst.putPolicy(t, access.Policy{Name: pilotBlock, State: access.StateReportOnly, Users: everyoneBut,
		Apps: access.Apps{Include: []string{"wiki"}}, Conditions: outsideOffice, Grant: access.Grant{Block: true}})
	inst.putPolicy(t, access.Policy{Name: blockPayroll, State: access.StateOn, Users: access.Users{IncludeGroups: []string{"contractors"}, Exclude: []string{"root"}},
		Apps: access.Apps{Include: []string{"payroll"}}, Grant: access.Grant{Block: true}})
	inst.putPolicy(t, access.Policy{Name: hourly, State: access.StateOn, Users: everyoneBut,
		Apps: access.Apps{Include: []string{"reports"}}, Session: access.Session{SignInFrequency: &access.Frequency{Hours: 1}}})
	return s
}

// The article's step three over HTTP: "passkey required outside the
// trusted network" lets bob in with password + TOTP from the office and
// sends him to a passkey step-up from elsewhere; a report-only block is
// recorded as "would block" and lets him in; a block shows a page naming
// the policy; a sign-in frequency asks for a fresh sign-in.
func TestConditionalAccessSignIn(t *testing.T) {
	s := newAccessSetup(t)
	inst := s.inst

	t.Run("office: password and code let in", func(t *testing.T) {
		c := inst.newClientFrom(t, "127.0.0.1")
		c.signInWithPasswordAndCode(t, "bob", bobPassword, s.secret)
		got := s.intranet.signIn(t, c)
		if got.claims.Subject != s.bob.ID {
			t.Errorf("signed in as %q", got.claims.Subject)
		}
		// The ID token says how: a password and an authenticator-app code.
		if !slices.Equal(got.claims.AMR, []string{"pwd", "otp", "mfa"}) || got.claims.ACR != "mfa" {
			t.Errorf("password + code: amr %v acr %q, want [pwd otp mfa] mfa", got.claims.AMR, got.claims.ACR)
		}
		ev := s.inst.authorizations(t, "intranet")[0]
		r := resultOf(t, ev, passkeyOutside)
		if ev.Result != store.ResultSuccess || ev.IP != "127.0.0.1" || ev.Method != "password+totp" ||
			r.Outcome != access.OutcomeNotApplied || r.Reason.Code != access.ReasonLocationExcluded {
			t.Errorf("record %+v, result %+v", ev, r)
		}
	})

	t.Run("elsewhere: passkey step-up", func(t *testing.T) {
		c := inst.newClientFrom(t, "127.0.0.2")
		c.signInWithPasswordAndCode(t, "bob", bobPassword, s.secret)
		start, f := s.intranet.authURL()
		away, last, at := c.follow(t, start)
		if away != nil || at == nil || at.Path != "/signin" {
			t.Fatalf("want the sign-in page for a step-up, got away=%v at=%v %s", away, at, last)
		}
		q := at.Query()
		if q.Get("notice") != "step_up" || q.Get("prompt") != "login" || !strings.HasPrefix(q.Get("return_to"), "/oauth2/continue?id=") || q.Get("username") != "bob" {
			t.Errorf("step-up address %s", at)
		}
		if !strings.Contains(string(last.Body), "sign in with a passkey") {
			t.Errorf("the sign-in page does not ask for a passkey: %s", last)
		}
		ev := inst.authorizations(t, "intranet")[0]
		if ev.Result != store.ResultFailure || ev.Reason != "access_step_up" || ev.IP != "127.0.0.2" || resultOf(t, ev, passkeyOutside).Outcome != access.OutcomeStepUp {
			t.Errorf("step-up record %+v", ev)
		}

		// The passkey, and back to the app.
		c.signInWithPasskey(t, s.pk, "bob")
		away, _, _ = c.follow(t, inst.URL+q.Get("return_to"))
		got := s.intranet.exchange(t, s.intranet.code(t, away, f), f)
		if !slices.Contains(got.claims.AMR, "hwk") {
			t.Errorf("amr after the step-up: %v", got.claims.AMR)
		}
		ev = inst.authorizations(t, "intranet")[0]
		r := resultOf(t, ev, passkeyOutside)
		if ev.Result != store.ResultSuccess || ev.Method != "passkey" || r.Outcome != access.OutcomeSatisfied || !ev.BoundPasskeyDevice {
			t.Errorf("after the step-up: record %+v, result %+v", ev, r)
		}

		// A password session that signs in again with a password is told
		// what is needed rather than sent round in circles.
		d := inst.newClientFrom(t, "127.0.0.2")
		d.signInWithPasswordAndCode(t, "bob", bobPassword, s.secret)
		start, _ = s.intranet.authURL()
		_, last, at = d.follow(t, start)
		if at == nil || at.Path != "/signin" {
			t.Fatalf("want the step-up sign-in page, at %v: %s", at, last)
		}
		d.signInWithPasswordAndCode(t, "bob", bobPassword, s.secret)
		away, last, _ = d.follow(t, inst.URL+at.Query().Get("return_to"))
		if away != nil || last.Status != http.StatusForbidden || !strings.Contains(string(last.Body), `data-code="access_step_up"`) ||
			!strings.Contains(string(last.Body), passkeyOutside) || !strings.Contains(string(last.Body), "use a passkey") {
			t.Errorf("a second password sign-in: %s", last)
		}
	})

	t.Run("report-only: would block, lets in", func(t *testing.T) {
		c := inst.newClientFrom(t, "127.0.0.2")
		c.signInWithPasswordAndCode(t, "bob", bobPassword, s.secret)
		s.wiki.signIn(t, c)
		ev := inst.authorizations(t, "wiki")[0]
		r := resultOf(t, ev, pilotBlock)
		if ev.Result != store.ResultSuccess || r.State != access.StateReportOnly || r.Outcome != access.OutcomeBlock || r.Label() != "report-only: would block" {
			t.Errorf("record %+v, result %+v", ev, r)
		}
	})

	t.Run("block: a page naming the policy", func(t *testing.T) {
		c := inst.newClientFrom(t, "127.0.0.1")
		c.signInWithPasskey(t, s.pk, "bob")
		start, f := s.payroll.authURL()
		away, last, _ := c.follow(t, start)
		body := string(last.Body)
		if away != nil || last.Status != http.StatusForbidden || !strings.Contains(body, `data-code="access_blocked"`) ||
			!strings.Contains(body, `id="blocked-policy">`+blockPayroll+`<`) {
			t.Fatalf("want the refusal page naming the policy, got away=%v %s", away, last)
		}
		ev := inst.authorizations(t, "payroll")[0]
		if ev.Result != store.ResultFailure || ev.Reason != "access_blocked" || !strings.Contains(ev.Detail, blockPayroll) {
			t.Errorf("record %+v", ev)
		}
		// With prompt=none no page can be shown: the app hears access_denied.
		start, f = s.payroll.authURL(oauth2Prompt("none"))
		away, _, _ = c.follow(t, start)
		s.payroll.appError(t, away, f, "access_denied")
	})

	t.Run("sign-in frequency: a fresh ceremony", func(t *testing.T) {
		c := inst.newClientFrom(t, "127.0.0.1")
		c.signInWithPasskey(t, s.pk, "bob")
		s.reports.signIn(t, c)
		inst.clock.Advance(90 * time.Minute)
		start, f := s.reports.authURL()
		away, _, at := c.follow(t, start)
		if away != nil || at == nil || at.Path != "/signin" || at.Query().Get("notice") != "reauth" {
			t.Fatalf("want a new sign-in after 90 minutes, got away=%v at=%v", away, at)
		}
		c.signInWithPasskey(t, s.pk, "bob")
		away, _, _ = c.follow(t, inst.URL+at.Query().Get("return_to"))
		s.reports.exchange(t, s.reports.code(t, away, f), f)
	})

	t.Run("policies unreadable: nobody gets in", func(t *testing.T) {
		c := inst.newClientFrom(t, "127.0.0.1")
		c.signInWithPasskey(t, s.pk, "bob")
		if err := inst.App.Store.PutSetting(context.Background(), access.SettingKey, []byte("{damaged")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // the policy cache's lifetime
		start, _ := s.wiki.authURL()
		away, last, _ := c.follow(t, start)
		if away != nil || last.Status != http.StatusServiceUnavailable || !strings.Contains(string(last.Body), "access_unavailable") {
			t.Errorf("damaged policies: want a refusal, got away=%v %s", away, last)
		}
	})
}

// oauth2Prompt sets the prompt parameter of an authorization request.
func oauth2Prompt(v string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("prompt", v) }

// The admin tools over the records the sign-ins left: what-if through the
// API agrees with what happened, replay of a draft counts the right
// sign-ins, the log filters and exports (JSON lines, CSV), bad input
// changes nothing, and retention removes only old records.
func TestConditionalAccessAdmin(t *testing.T) {
	s := newAccessSetup(t)
	inst, admin := s.inst, s.admin

	office, home := inst.newClientFrom(t, "127.0.0.1"), inst.newClientFrom(t, "127.0.0.2")
	office.signInWithPasswordAndCode(t, "bob", bobPassword, s.secret)
	s.intranet.signIn(t, office)
	home.signInWithPasskey(t, s.pk, "bob")
	s.intranet.signIn(t, home)
	s.wiki.signIn(t, home)
	start, _ := s.payroll.authURL()
	home.follow(t, start)

	t.Run("what-if", func(t *testing.T) {
		ask := func(body map[string]any) whatIfAnswerJSON {
			t.Helper()
			r := admin.postJSON(t, "/api/admin/access/whatif", body)
			if r.Status != http.StatusOK {
				t.Fatalf("what-if %v: %s", body, r)
			}
			var a whatIfAnswerJSON
			if err := json.Unmarshal(r.Body, &a); err != nil {
				t.Fatal(err)
			}
			return a
		}
		a := ask(map[string]any{"username": "bob", "app": "intranet", "ip": "127.0.0.2"})
		if a.Access != "step-up" || !slices.Equal(a.Unmet, []string{access.StrengthPasswordlessMFA}) || !a.result(passkeyOutside).Applies {
			t.Errorf("from elsewhere: %+v", a)
		}
		a = ask(map[string]any{"username": "bob", "app": "intranet", "ip": "127.0.0.1"})
		if r := a.result(passkeyOutside); a.Access != "allow" || r.Applies || r.Reason.Code != access.ReasonLocationExcluded || r.ReasonText != "trusted locations are excluded" {
			t.Errorf("from the office: %+v", a)
		}
		a = ask(map[string]any{"username": "bob", "app": "intranet", "ip": "127.0.0.2", "satisfies": []string{"Passwordless MFA"}})
		if a.Access != "allow" {
			t.Errorf("with a passkey: %+v", a)
		}
		a = ask(map[string]any{"username": "bob", "app": "payroll", "ip": "127.0.0.1"})
		if a.Access != "block" || a.BlockedBy != blockPayroll {
			t.Errorf("payroll: %+v", a)
		}
		a = ask(map[string]any{"username": "bob", "app": "wiki", "ip": "127.0.0.2"})
		if r := a.result(pilotBlock); a.Access != "allow" || r.Outcome != access.OutcomeBlock || r.Label != "report-only: would block" {
			t.Errorf("wiki: %+v", a)
		}
		expectRefusal(t, admin.postJSON(t, "/api/admin/access/whatif", map[string]any{"username": "nobody"}), http.StatusNotFound, "unknown_user")
		expectRefusal(t, admin.postJSON(t, "/api/admin/access/whatif", map[string]any{"username": "bob", "ip": "300.1.1.1"}), http.StatusBadRequest, "bad_request")
		expectRefusal(t, admin.postJSON(t, "/api/admin/access/whatif", map[string]any{"username": "bob", "colour": "red"}), http.StatusBadRequest, "bad_request")
		expectRefusal(t, inst.newClient(t).postJSON(t, "/api/admin/access/whatif", map[string]any{"username": "bob"}), http.StatusUnauthorized, "no_session")

		page := string(admin.get(t, "/admin/access/whatif?user=bob&app=intranet&ip=127.0.0.2").Body)
		if !strings.Contains(page, `data-access="step-up"`) || !strings.Contains(page, `data-policy="`+passkeyOutside+`" data-applies="true" data-outcome="step-up"`) {
			t.Errorf("what-if page:\n%s", page)
		}
	})

	t.Run("impact and replay", func(t *testing.T) {
		r := admin.get(t, "/api/admin/access/impact?policy="+url.QueryEscape(pilotBlock))
		var ims []impactJSONOut
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &ims) != nil || len(ims) != 3 {
			t.Fatalf("impact: %s", r)
		}
		if ims[0].Period != "24h" || ims[0].Blocked != 1 || ims[0].BlockedUsers != 1 || ims[0].Applied != 1 {
			t.Errorf("impact of the report-only block: %+v", ims[0])
		}
		draft := `
policies:
  - name: Draft - block the intranet outside the office
    state: off
    users: {all: true}
    apps: {include: [intranet]}
    conditions: {locations: {include: [any], exclude: [trusted]}}
    grant: {block: true}
`
		r = admin.postJSON(t, "/api/admin/access/replay", map[string]any{"yaml": draft})
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &ims) != nil || len(ims) != 3 {
			t.Fatalf("replay: %s", r)
		}
		// Two intranet sign-ins went through: from the office (the draft
		// does not apply) and from elsewhere (it would block).
		if im := ims[0]; im.Applied != 1 || im.Blocked != 1 || im.BlockedUsers != 1 || im.StepUp != 0 {
			t.Errorf("replay of the draft: %+v", im)
		}
		r = admin.postJSON(t, "/api/admin/access/replay", map[string]any{"policy": passkeyOutside})
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &ims) != nil || ims[0].Applied != 1 || ims[0].StepUp != 0 {
			t.Errorf("replay of a stored policy (the passkey sign-in satisfies it): %s", r)
		}
		expectRefusal(t, admin.postJSON(t, "/api/admin/access/replay", map[string]any{"yaml": "policies: [{name: x, state: sideways}]"}), http.StatusBadRequest, "bad_request")
		page := string(admin.postForm(t, "/admin/access/replay", url.Values{"yaml": {draft}}).Body)
		if !strings.Contains(page, `data-period="24h"`) || !strings.Contains(page, `data-blocked="1"`) {
			t.Errorf("replay page:\n%s", page)
		}
		page = string(admin.get(t, "/admin/access").Body)
		if !strings.Contains(page, `data-policy="`+pilotBlock+`" data-state="report-only"`) || !strings.Contains(page, `data-period="24h" data-blocked="1"`) {
			t.Errorf("policies page lacks the report-only impact:\n%s", page)
		}
	})

	t.Run("sign-in log", func(t *testing.T) {
		r := admin.get(t, "/api/admin/signins?app=intranet&result=success&format=jsonl")
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-ndjson") {
			t.Fatalf("JSONL export: %s", r)
		}
		var lines []access.LogLine
		sc := bufio.NewScanner(bytes.NewReader(r.Body))
		for sc.Scan() {
			var l access.LogLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			lines = append(lines, l)
		}
		browser := 0
		for _, l := range lines {
			if l.App != "intranet" || l.Result != "success" {
				t.Errorf("filter let through %+v", l)
			}
			if l.Client == "browser" {
				browser++
				if len(l.Access) == 0 {
					t.Errorf("no Conditional Access results in %+v", l)
				}
			}
		}
		if browser != 2 {
			t.Errorf("%d intranet sign-ins in the export, want 2", browser)
		}

		r = admin.get(t, "/api/admin/signins?policy="+url.QueryEscape(blockPayroll)+"&result=failure&format=csv")
		rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
		if r.Status != http.StatusOK || err != nil || len(rows) != 2 || !slices.Equal(rows[0], access.CSVHeader) {
			t.Fatalf("CSV export: %v %s", err, r)
		}
		col := func(name string) string { return rows[1][slices.Index(access.CSVHeader, name)] }
		if col("app") != "payroll" || col("reason") != "access_blocked" || !strings.Contains(col("access"), blockPayroll+": blocked") || col("ip") != "127.0.0.2" {
			t.Errorf("CSV row %q", rows[1])
		}

		r = admin.get(t, "/api/admin/signins?user=bob&app=wiki")
		if err := json.Unmarshal(r.Body, &lines); err != nil || r.Status != http.StatusOK || len(lines) == 0 {
			t.Fatalf("JSON: %s", r)
		}
		expectRefusal(t, admin.get(t, "/api/admin/signins?since=yesterday-ish"), http.StatusBadRequest, "bad_request")
		expectRefusal(t, admin.get(t, "/api/admin/signins?format=xml"), http.StatusBadRequest, "bad_request")
		expectRefusal(t, admin.get(t, "/api/admin/signins?result=maybe"), http.StatusBadRequest, "bad_request")
		expectRefusal(t, office.get(t, "/api/admin/signins"), http.StatusForbidden, "not_admin")

		page := string(admin.get(t, "/admin/signins?app=wiki&since=24h").Body)
		if !strings.Contains(page, `data-policy="`+pilotBlock+`" data-state="report-only" data-outcome="block"`) || !strings.Contains(page, "report-only: would block") ||
			!strings.Contains(page, `id="export-csv" href="/api/admin/signins?app=wiki&amp;format=csv&amp;since=24h"`) {
			t.Errorf("sign-in log page:\n%s", page)
		}
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		r := admin.get(t, "/api/admin/access/policies")
		var doc access.Document
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &doc) != nil || len(doc.Policies) != 5 { // four and the built-in one
			t.Fatalf("GET policies: %s", r)
		}
		before := inst.snapshot(t)
		bad := func(name string, edit func(d *access.Document)) {
			t.Helper()
			d := doc.Clone()
			edit(&d)
			r := admin.do(t, http.MethodPut, "/api/admin/access/policies", "application/json", mustJSON(t, d))
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s: want 400, got %s", name, r)
			}
			var e errorJSON
			json.Unmarshal(r.Body, &e)
			if e.Error == "" {
				t.Errorf("%s: no message", name)
			}
		}
		bad("invalid CIDR", func(d *access.Document) { d.Locations[0].Ranges = []string{"10.0.0.0/33"} })
		bad("unknown group", func(d *access.Document) { d.Policies[2].Users.IncludeGroups = []string{"no-such-group"} })
		bad("unknown app", func(d *access.Document) { d.Policies[0].Apps.Include = []string{"no-such-app"} })
		bad("overlapping ranges", func(d *access.Document) { d.Locations[0].Ranges = []string{"127.0.0.1/32", "127.0.0.0/8"} })
		r = admin.do(t, http.MethodPut, "/api/admin/access/policies", "application/json", []byte(`{"version":`+jsonInt(doc.Version)+`,"policies":[{"name":"x","stat":"on"}]}`))
		expectRefusal(t, r, http.StatusBadRequest, "bad_request")
		r = admin.do(t, http.MethodPut, "/api/admin/access/policies", "application/yaml", []byte("policies:\n  - name: x\n    state: on\n    users: {all: true}\n    apps: {all: tru}\n"))
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "apps.all") {
			t.Errorf("malformed YAML: %s", r)
		}
		r = admin.postForm(t, "/admin/access/locations", url.Values{"name": {"Bad"}, "ranges": {"10.1.2.3/99"}})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="location-error"`) {
			t.Errorf("console, invalid CIDR: %s", r)
		}
		r = admin.postForm(t, "/admin/access/policies", url.Values{"template": {"passkey-outside-trusted"}})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="template-error"`) {
			t.Errorf("console, template without break-glass: %s", r)
		}
		inst.assertUnchanged(t, before)

		// A stale version is refused too.
		stale := doc.Clone()
		stale.Version--
		expectRefusal(t, admin.do(t, http.MethodPut, "/api/admin/access/policies", "application/json", mustJSON(t, stale)), http.StatusConflict, "policies_changed")
	})

	t.Run("console changes are audited", func(t *testing.T) {
		r := admin.postForm(t, "/admin/access/policies", url.Values{"template": {"admins-phishing-resistant"}, "exclude_users": {"root"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("from template: %s", r)
		}
		doc, _ := inst.App.Access.Document(context.Background())
		p, ok := doc.Policy("Require phishing-resistant MFA for admins")
		if !ok || p.State != access.StateReportOnly || !slices.Equal(p.Users.Exclude, []string{"root"}) {
			t.Fatalf("created policy %+v", p)
		}
		path := "/admin/access/policies/" + url.PathEscape(p.Name)
		if r := admin.postForm(t, path+"/state", url.Values{"state": {"on"}}); r.Status != http.StatusSeeOther {
			t.Errorf("state: %s", r)
		}
		if r := admin.postForm(t, path+"/state", url.Values{"state": {"sideways"}}); r.Status != http.StatusBadRequest {
			t.Errorf("bad state: %s", r)
		}
		if r := admin.postForm(t, path+"/delete", nil); r.Status != http.StatusSeeOther {
			t.Errorf("delete: %s", r)
		}
		if r := admin.postForm(t, "/admin/access/locations", url.Values{"name": {"Branch"}, "ranges": {"198.51.100.0/24"}, "trusted": {"on"}}); r.Status != http.StatusSeeOther {
			t.Errorf("add location: %s", r)
		}
		acts := inst.auditActions(t)
		for _, want := range []string{"access.policy.create", "access.policy.state", "access.policy.delete", "access.location.create"} {
			if !slices.Contains(acts, want) {
				t.Errorf("%s not audited: %v", want, acts)
			}
		}
		if ev, ok := inst.lastAudit(t, "access.policy.state"); !ok || ev.Actor != "root" {
			t.Errorf("audit actor: %+v", ev)
		}
	})

	t.Run("retention removes only old records", func(t *testing.T) {
		ctx := context.Background()
		now := inst.clock.Now()
		for _, age := range []time.Duration{100 * 24 * time.Hour, 40 * 24 * time.Hour} {
			if _, err := inst.App.Store.AppendSignIn(ctx, store.SignInEvent{Time: now.Add(-age), Username: "old", Method: "passkey", Result: store.ResultSuccess}); err != nil {
				t.Fatal(err)
			}
		}
		total := len(inst.signIns(t, nil))
		if r := admin.postForm(t, "/admin/signins/retention", url.Values{"days": {"-3"}}); r.Status != http.StatusBadRequest {
			t.Errorf("negative retention: %s", r)
		}
		inst.App.Sweep(ctx) // retention 0: keeps everything
		if n := len(inst.signIns(t, nil)); n != total {
			t.Fatalf("with no retention, sweep removed %d records", total-n)
		}
		if r := admin.postForm(t, "/admin/signins/retention", url.Values{"days": {"30"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("retention: %s", r)
		}
		inst.App.Sweep(ctx)
		evs := inst.signIns(t, nil)
		if len(evs) != total-2 || containsEvent(evs, func(e store.SignInEvent) bool { return e.Username == "old" }) {
			t.Errorf("after retention: %d of %d records left", len(evs), total)
		}
		if _, ok := inst.lastAudit(t, "log.retention"); !ok {
			t.Error("retention change not audited")
		}
	})
}

// ---------------------------------------------------------------- JSON shapes

type whatIfResultJSON struct {
	Policy     string         `json:"policy"`
	State      access.State   `json:"state"`
	Outcome    access.Outcome `json:"outcome"`
	Reason     access.Reason  `json:"reason"`
	Applies    bool           `json:"applies"`
	Label      string         `json:"label"`
	ReasonText string         `json:"reason_text"`
}

type whatIfAnswerJSON struct {
	Access    string             `json:"access"`
	BlockedBy string             `json:"blocked_by"`
	Unmet     []string           `json:"unmet"`
	Results   []whatIfResultJSON `json:"results"`
}

func (a whatIfAnswerJSON) result(policy string) whatIfResultJSON {
	for _, r := range a.Results {
		if r.Policy == policy {
			return r
		}
	}
	return whatIfResultJSON{}
}

type impactJSONOut struct {
	Period       string `json:"period"`
	SignIns      int    `json:"sign_ins"`
	Applied      int    `json:"applied"`
	Blocked      int    `json:"blocked"`
	BlockedUsers int    `json:"blocked_users"`
	StepUp       int    `json:"step_up"`
}

type errorJSON struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
