package web

import (
	"net/url"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/store"
)

// accessPageCases are the render cases of the Conditional Access pages
// (access.go), run by TestRenderPages.
func accessPageCases() []struct {
	name, page string
	user       *store.User
	data       map[string]any
	want       []string
	notWant    []string
} {
	admin := sampleUser(true)
	plain := sampleUser(false)
	p := access.Policy{Name: "Passkey outside the office", State: access.StateReportOnly, Users: access.Users{All: true}, Apps: access.Apps{All: true},
		Grant: access.Grant{Strength: access.StrengthPasswordlessMFA}}
	doc := access.Document{Version: 3, UpdatedAt: testNow, UpdatedBy: "ada", Policies: []access.Policy{p},
		Locations: []access.Location{{Name: "Office", Ranges: []string{"203.0.113.0/24"}, Trusted: true}}}
	w := access.Window{Name: "24h", Since: testNow.Add(-24 * time.Hour), Until: testNow}
	impact := access.Impact{Policy: p.Name, Window: w, SignIns: 4, Users: 2, Applied: 3, AppliedUsers: 2, StepUp: 2, StepUpUsers: 1}
	results := []access.Result{{Policy: p.Name, State: access.StateReportOnly, Outcome: access.OutcomeStepUp, Strength: access.StrengthPasswordlessMFA, Unmet: true}}
	return []struct {
		name, page string
		user       *store.User
		data       map[string]any
		want       []string
		notWant    []string
	}{
		{name: "admin access", page: "admin_access", user: &admin, data: map[string]any{
			"Title": "Conditional Access", "Doc": doc, "Policies": []policyRow{{Policy: p, Grant: grantText(p), Impacts: []access.Impact{impact}}},
			"Templates": access.Templates(), "States": []access.State{access.StateReportOnly, access.StateOn, access.StateOff},
			"Form": url.Values{}, "NoticeText": "Policy created.", "TemplateError": "A break-glass exclusion is needed.", "LocationError": "bad CIDR"},
			want: []string{`data-policy="Passkey outside the office" data-state="report-only"`, `data-stepup="2"`, `id="template-error"`,
				`id="location-error"`, `data-location="Office" data-trusted="true"`, `action="/admin/access/policies/Passkey%20outside%20the%20office/state"`}},
		{name: "admin access empty", page: "admin_access", user: &admin, data: map[string]any{
			"Doc": access.Document{}, "Templates": access.Templates(), "Form": url.Values{}},
			want: []string{`No policies yet`, `No named locations`}},
		{name: "admin what-if", page: "admin_access_whatif", user: &admin, data: map[string]any{
			"Form": url.Values{"user": {"ada"}}, "Answer": answerOf(access.WhatIf{Decision: access.Decision{Access: access.AccessAllow, Results: results}})},
			want: []string{`id="whatif-summary" data-access="allow"`, `data-applies="true" data-outcome="step-up"`}},
		{name: "admin what-if error", page: "admin_access_whatif", user: &admin, data: map[string]any{"Form": url.Values{}, "Error": "There is no user \"x\"."},
			want: []string{`id="error"`}},
		{name: "admin replay", page: "admin_access_replay", user: &admin, data: map[string]any{
			"Doc": doc, "Input": replayInput{Policy: p.Name}, "Policy": p, "Grant": grantText(p), "Impacts": []access.Impact{impact}},
			want: []string{`data-period="24h" data-signins="4"`, `data-stepup="2"`}},
		{name: "admin replay error", page: "admin_access_replay", user: &admin, data: map[string]any{"Doc": doc, "Error": "The draft is not valid."},
			want: []string{`id="error"`}},
		{name: "admin sign-ins", page: "admin_signins", user: &admin, data: map[string]any{
			"Form": url.Values{"user": {"ada"}}, "Doc": doc, "Retention": 90, "JSONL": "/api/admin/signins?format=jsonl", "CSV": "/api/admin/signins?format=csv",
			"Rows": []logRow{{SignInEvent: store.SignInEvent{ID: 7, Time: testNow, Username: "ada", App: "grafana", Method: "password+totp", Result: store.ResultSuccess,
				IP: "192.0.2.1", Country: "DE", TrustedDevice: true}, Results: results}}},
			want: []string{`data-id="7"`, `data-policy="Passkey outside the office" data-state="report-only" data-outcome="step-up"`, `report-only: would require Passwordless MFA`,
				`href="/api/admin/signins?format=csv"`, `value="90"`}},
		{name: "admin sign-ins empty", page: "admin_signins", user: &admin, data: map[string]any{"Form": url.Values{}, "Error": "since: bad"},
			want: []string{`No sign-ins match`, `id="error"`}, notWant: []string{`id="retention-form"`}},
		{name: "my device", page: "my_device", user: &plain, data: map[string]any{"Device": access.Device{}, "Available": true},
			want: []string{`id="device-trust"`}},
		{name: "my device trusted", page: "my_device", user: &plain, data: map[string]any{"Device": access.Device{Trusted: true, BoundPasskey: true}, "Available": true, "NoticeText": "ok"},
			want: []string{`id="device-untrust"`, `data-trusted="true" data-bound="true"`}},
	}
}
