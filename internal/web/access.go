package web

// Conditional Access in the admin console and the admin API: policies
// (list, create from a template in report-only, switch state, delete, or
// replace all as one document), named locations, what-if, report-only
// impact, replay of a draft, and the sign-in log with filters, export and
// retention. Every change goes through access.Service, which validates it
// against the directory and writes the audit log; bad input is answered
// with 400 and a message and changes nothing. Also here: "trust this
// device" on My security info, which sets the device cookie the policies'
// device condition reads.

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

var errNoAccess = problem.New(http.StatusServiceUnavailable, "access_unavailable", "Conditional Access is not available on this server.")

func (s *Server) accessRoutes(mux *http.ServeMux) {
	// Every Conditional Access page and API call needs the service; the
	// sign-in log and the device page work without it.
	ca := func(h http.HandlerFunc) http.Handler {
		return s.admin(func(w http.ResponseWriter, r *http.Request) {
			if s.Access == nil {
				s.fail(w, r, errNoAccess)
				return
			}
			h(w, r)
		})
	}
	mux.Handle("GET /admin/access", ca(s.adminAccess))
	mux.Handle("POST /admin/access/policies", ca(s.adminAccessFromTemplate))
	mux.Handle("POST /admin/access/policies/{name}/state", ca(s.adminAccessState))
	mux.Handle("POST /admin/access/policies/{name}/delete", ca(s.adminAccessDelete))
	mux.Handle("POST /admin/access/locations", ca(s.adminAccessAddLocation))
	mux.Handle("POST /admin/access/locations/{name}/delete", ca(s.adminAccessDeleteLocation))
	mux.Handle("GET /admin/access/whatif", ca(s.adminWhatIf))
	mux.Handle("GET /admin/access/replay", ca(s.adminReplay))
	mux.Handle("POST /admin/access/replay", ca(s.adminReplay))
	mux.Handle("GET /admin/signins", s.admin(s.adminSignIns))
	mux.Handle("POST /admin/signins/retention", ca(s.adminRetention))

	mux.Handle("GET /api/admin/access/policies", ca(s.apiGetAccess))
	mux.Handle("PUT /api/admin/access/policies", ca(s.apiPutAccess))
	mux.Handle("GET /api/admin/access/policies/{name}", ca(s.apiGetPolicy))
	mux.Handle("PUT /api/admin/access/policies/{name}", ca(s.apiPutPolicy))
	mux.Handle("DELETE /api/admin/access/policies/{name}", ca(s.apiDeletePolicy))
	mux.Handle("POST /api/admin/access/whatif", ca(s.apiWhatIf))
	mux.Handle("POST /api/admin/access/replay", ca(s.apiReplay))
	mux.Handle("GET /api/admin/access/impact", ca(s.apiImpact))
	mux.Handle("GET /api/admin/signins", s.admin(s.apiSignIns))

	mux.Handle("GET /my/device", s.user(s.myDevice))
	mux.Handle("POST /my/device", s.user(s.myDeviceSet))
}

// --------------------------------------------------------------- policies page

// policyRow is one line of the policy list.
type policyRow struct {
	access.Policy
	Grant   string
	Impacts []access.Impact
}

var accessNotices = map[string]string{
	"created":          "Policy created in report-only: watch its impact below before switching it on.",
	"state":            "Policy state changed.",
	"deleted":          "Policy deleted.",
	"location_added":   "Named location added.",
	"location_deleted": "Named location deleted.",
}

func (s *Server) adminAccess(w http.ResponseWriter, r *http.Request) {
	s.renderAccess(w, r, http.StatusOK, nil)
}

func (s *Server) renderAccess(w http.ResponseWriter, r *http.Request, status int, extra map[string]any) {
	ctx := r.Context()
	set, err := s.Access.Policies(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	doc := set.Document()
	now := s.Now()
	ws := access.StandardWindows(now)
	recs, err := s.recorded(r, ws[len(ws)-1].Since)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]policyRow, 0, len(doc.Policies))
	for _, p := range doc.Policies {
		row := policyRow{Policy: p, Grant: grantText(p)}
		if p.State != access.StateOff {
			for _, w := range ws {
				row.Impacts = append(row.Impacts, access.ImpactOf(set, p.Name, recs, w))
			}
		}
		rows = append(rows, row)
	}
	data := map[string]any{
		"Title": "Conditional Access", "Doc": doc, "Policies": rows, "Templates": access.Templates(),
		"States":     []access.State{access.StateReportOnly, access.StateOn, access.StateOff},
		"NoticeText": accessNotices[r.URL.Query().Get("notice")],
		"Form":       url.Values{},
	}
	for k, v := range extra {
		data[k] = v
	}
	s.renderStatus(w, r, status, "admin_access", data)
}

// grantText says what a policy demands, in a few words.
func grantText(p access.Policy) string {
	var parts []string
	switch {
	case p.Grant.Block:
		parts = append(parts, "block")
	case p.Grant.RequiredStrength() != "":
		parts = append(parts, "require "+access.StrengthLabel(p.Grant.RequiredStrength()))
	}
	if f := p.Session.SignInFrequency; f != nil {
		parts = append(parts, "sign in "+f.String())
	}
	return strings.Join(parts, "; ")
}

// accessFormError shows the policies page again with the error next to the
// form that caused it.
func (s *Server) accessFormError(w http.ResponseWriter, r *http.Request, key string, err error) {
	p := problem.As(err)
	if p.Status >= 500 {
		s.fail(w, r, err)
		return
	}
	s.renderAccess(w, r, p.Status, map[string]any{key: p.Message, "Form": r.PostForm})
}

func (s *Server) adminAccessFromTemplate(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	f := r.PostForm
	p, err := access.FromTemplate(f.Get("template"), f.Get("name"), access.BreakGlass{Users: splitList(f.Get("exclude_users")), Groups: splitList(f.Get("exclude_groups"))})
	if err == nil {
		_, err = s.Access.PutPolicy(r.Context(), adminActor(r), p, false)
	}
	if err != nil {
		s.accessFormError(w, r, "TemplateError", err)
		return
	}
	http.Redirect(w, r, "/admin/access?notice=created", http.StatusSeeOther)
}

func (s *Server) adminAccessState(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	state := access.State(r.PostForm.Get("state"))
	var err error
	if state != access.StateOn && state != access.StateOff && state != access.StateReportOnly {
		err = problem.BadRequest(fmt.Sprintf("%q is not a policy state: use on, off or report-only.", state))
	} else {
		_, err = s.Access.SetState(r.Context(), adminActor(r), r.PathValue("name"), state)
	}
	if err != nil {
		s.accessFormError(w, r, "PolicyError", err)
		return
	}
	http.Redirect(w, r, "/admin/access?notice=state", http.StatusSeeOther)
}

func (s *Server) adminAccessDelete(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Access.DeletePolicy(r.Context(), adminActor(r), r.PathValue("name")); err != nil {
		s.accessFormError(w, r, "PolicyError", err)
		return
	}
	http.Redirect(w, r, "/admin/access?notice=deleted", http.StatusSeeOther)
}

func (s *Server) adminAccessAddLocation(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	f := r.PostForm
	l := access.Location{Name: strings.TrimSpace(f.Get("name")), Ranges: splitList(f.Get("ranges")), Trusted: f.Get("trusted") == "on",
		Countries: splitList(strings.ToUpper(f.Get("countries"))), IncludeUnknown: f.Get("include_unknown") == "on"}
	if _, err := s.Access.PutLocation(r.Context(), adminActor(r), l, false); err != nil {
		s.accessFormError(w, r, "LocationError", err)
		return
	}
	http.Redirect(w, r, "/admin/access?notice=location_added", http.StatusSeeOther)
}

func (s *Server) adminAccessDeleteLocation(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Access.DeleteLocation(r.Context(), adminActor(r), r.PathValue("name")); err != nil {
		s.accessFormError(w, r, "LocationError", err)
		return
	}
	http.Redirect(w, r, "/admin/access?notice=location_deleted", http.StatusSeeOther)
}

// splitList reads a list typed into one field: separated by commas,
// spaces or new lines.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// --------------------------------------------------------------- what-if

// whatIfInput is the JSON of a what-if question.
type whatIfInput struct {
	Username  string        `json:"username"`
	App       string        `json:"app,omitempty"`
	Action    string        `json:"action,omitempty"`
	IP        string        `json:"ip,omitempty"`
	Country   string        `json:"country,omitempty"`
	Client    string        `json:"client,omitempty"`
	Device    access.Device `json:"device,omitzero"`
	Satisfies []string      `json:"satisfies,omitempty"`
	AuthAge   string        `json:"auth_age,omitempty"` // "0", "2h", "3d"
}

func (in whatIfInput) request() (access.WhatIfRequest, error) {
	req := access.WhatIfRequest{Username: in.Username, App: strings.TrimSpace(in.App), Action: in.Action, IP: in.IP,
		Country: in.Country, Client: access.ClientType(in.Client), Device: in.Device, Satisfies: in.Satisfies}
	if strings.TrimSpace(in.Username) == "" {
		return req, problem.BadRequest("Say which user signs in (username).")
	}
	if a := strings.TrimSpace(in.AuthAge); a != "" && a != "0" {
		d, err := access.ParseAge(a)
		if err != nil {
			return req, problem.BadRequest(fmt.Sprintf("auth_age %q is not an age such as 30m, 2h or 3d.", a))
		}
		req.AuthAge = d
	}
	return req, nil
}

// whatIfResult is one policy's answer, as the API and the page show it.
type whatIfResult struct {
	access.Result
	Applies    bool   `json:"applies"`
	Label      string `json:"label"`
	ReasonText string `json:"reason_text,omitempty"`
}

// whatIfAnswer is the API's answer.
type whatIfAnswer struct {
	Access    access.Access  `json:"access"`
	BlockedBy string         `json:"blocked_by,omitempty"`
	Strengths []string       `json:"strengths,omitempty"`
	Unmet     []string       `json:"unmet,omitempty"`
	Reauth    bool           `json:"reauth,omitempty"`
	Country   string         `json:"country,omitempty"`
	Summary   string         `json:"summary"`
	Results   []whatIfResult `json:"results"`
}

func answerOf(wi access.WhatIf) whatIfAnswer {
	d := wi.Decision
	a := whatIfAnswer{Access: d.Access, BlockedBy: d.BlockedBy, Strengths: d.Strengths, Unmet: d.Unmet, Reauth: d.Reauth,
		Country: wi.Context.Country, Results: []whatIfResult{}}
	for _, r := range d.Results {
		x := whatIfResult{Result: r, Applies: r.Applied(), Label: r.Label()}
		if !r.Applied() {
			x.ReasonText = r.Reason.String()
		}
		a.Results = append(a.Results, x)
	}
	switch d.Access {
	case access.AccessBlock:
		a.Summary = "Blocked by " + d.BlockedBy + "."
	case access.AccessStepUp:
		var needs []string
		for _, u := range d.Unmet {
			needs = append(needs, access.StrengthLabel(u))
		}
		if d.Reauth {
			needs = append(needs, "a fresh sign-in")
		}
		a.Summary = "Allowed with " + strings.Join(needs, " and ") + "."
	default:
		a.Summary = "Allowed."
		if len(d.Strengths) > 0 {
			var met []string
			for _, u := range d.Strengths {
				met = append(met, access.StrengthLabel(u))
			}
			a.Summary = "Allowed: " + strings.Join(met, ", ") + " met."
		}
	}
	return a
}

func (s *Server) apiWhatIf(w http.ResponseWriter, r *http.Request) {
	var in whatIfInput
	if err := readStrictJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := in.request()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wi, err := s.Access.WhatIf(r.Context(), nil, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, answerOf(wi))
}

func (s *Server) adminWhatIf(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := map[string]any{"Title": "What if", "Form": q}
	status := http.StatusOK
	if q.Get("user") != "" {
		in := whatIfInput{Username: q.Get("user"), App: q.Get("app"), IP: q.Get("ip"), Country: q.Get("country"), Client: q.Get("client"),
			Device: access.Device{Trusted: q.Get("trusted") == "on", BoundPasskey: q.Get("bound") == "on"}, Satisfies: splitList(q.Get("satisfies")),
			AuthAge: q.Get("age")}
		req, err := in.request()
		var wi access.WhatIf
		if err == nil {
			wi, err = s.Access.WhatIf(r.Context(), nil, req)
		}
		if err != nil {
			p := problem.As(err)
			if p.Status >= 500 {
				s.fail(w, r, err)
				return
			}
			data["Error"], status = p.Message, p.Status
		} else {
			a := answerOf(wi)
			data["Answer"] = a
		}
	}
	s.renderStatus(w, r, status, "admin_access_whatif", data)
}

// --------------------------------------------------------------- impact and replay

// recorded loads the successful sign-ins since a time for impact and
// replay, with what each one's method satisfied.
func (s *Server) recorded(r *http.Request, since time.Time) ([]access.Recorded, error) {
	ctx := r.Context()
	evs, err := s.Store.ListSignIns(ctx, store.SignInFilter{Since: since, Result: store.ResultSuccess, Limit: 1 << 30})
	if err != nil {
		return nil, err
	}
	var custom []methods.Strength
	if s.Strengths != nil {
		doc, err := s.Strengths.Load(ctx)
		if err != nil {
			return nil, err
		}
		custom = doc.Strengths
	}
	return s.Access.Recorded(ctx, evs, func(ev store.SignInEvent, id string) bool {
		st, ok := methods.StrengthByID(id, custom)
		if !ok {
			return false
		}
		var used []methods.Method
		for _, m := range strings.FieldsFunc(ev.Method, func(r rune) bool { return r == '+' || r == ',' || r == ' ' }) {
			used = append(used, methods.Method(m))
		}
		var pk *passkey.Facts
		if ev.PasskeyType != "" {
			aaguid, _ := hex.DecodeString(strings.ReplaceAll(ev.AAGUID, "-", ""))
			pk = &passkey.Facts{AAGUID: aaguid, BackupEligible: ev.PasskeyType == string(passkey.KindSynced)}
		}
		return methods.Satisfies(st, used, pk)
	})
}

// impactJSON is one period's impact in the API.
type impactJSON struct {
	Policy       string    `json:"policy"`
	Period       string    `json:"period"`
	Since        time.Time `json:"since"`
	Until        time.Time `json:"until"`
	SignIns      int       `json:"sign_ins"`
	Users        int       `json:"users"`
	Applied      int       `json:"applied"`
	AppliedUsers int       `json:"applied_users"`
	Blocked      int       `json:"blocked"`
	BlockedUsers int       `json:"blocked_users"`
	StepUp       int       `json:"step_up"`
	StepUpUsers  int       `json:"step_up_users"`
	Replayed     int       `json:"replayed"`
	Summary      string    `json:"summary"`
}

func impactsJSON(ims []access.Impact) []impactJSON {
	out := make([]impactJSON, 0, len(ims))
	for _, i := range ims {
		out = append(out, impactJSON{Policy: i.Policy, Period: i.Window.Name, Since: i.Window.Since.UTC(), Until: i.Window.Until.UTC(),
			SignIns: i.SignIns, Users: i.Users, Applied: i.Applied, AppliedUsers: i.AppliedUsers, Blocked: i.Blocked,
			BlockedUsers: i.BlockedUsers, StepUp: i.StepUp, StepUpUsers: i.StepUpUsers, Replayed: i.Replayed, Summary: i.Summary()})
	}
	return out
}

func (s *Server) apiImpact(w http.ResponseWriter, r *http.Request) {
	set, err := s.Access.Policies(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	doc := set.Document()
	names := r.URL.Query()["policy"]
	if len(names) == 0 {
		for _, p := range doc.Policies {
			if p.State == access.StateReportOnly {
				names = append(names, p.Name)
			}
		}
	}
	ws := access.StandardWindows(s.Now())
	recs, err := s.recorded(r, ws[len(ws)-1].Since)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []impactJSON{}
	for _, n := range names {
		p, ok := doc.Policy(n)
		if !ok {
			s.fail(w, r, access.ErrUnknownPolicy.WithDetail("%q", n))
			return
		}
		var ims []access.Impact
		for _, w := range ws {
			ims = append(ims, access.ImpactOf(set, p.Name, recs, w))
		}
		out = append(out, impactsJSON(ims)...)
	}
	writeJSON(w, http.StatusOK, out)
}

// replayInput is a replay question: a draft policy file (YAML), or the
// name of a stored policy, or both (the name picks one of the file's).
type replayInput struct {
	YAML   string `json:"yaml,omitempty"`
	Policy string `json:"policy,omitempty"`
}

// replay runs a draft or stored policy, as if on, against the recorded
// sign-ins of the standard periods.
func (s *Server) replay(r *http.Request, in replayInput) (access.Policy, []access.Impact, error) {
	ctx := r.Context()
	cur, err := s.Access.Document(ctx)
	if err != nil {
		return access.Policy{}, nil, err
	}
	doc, name := cur, strings.TrimSpace(in.Policy)
	if strings.TrimSpace(in.YAML) != "" {
		if len(in.YAML) > access.MaxFileSize {
			return access.Policy{}, nil, problem.BadRequest("The draft is too large.")
		}
		known, err := s.Access.Known(ctx)
		if err != nil {
			return access.Policy{}, nil, err
		}
		draft, _, err := access.ImportDraftYAML([]byte(in.YAML), known, cur.Locations)
		if err != nil {
			return access.Policy{}, nil, problem.BadRequest("The draft is not a valid policy file: " + err.Error())
		}
		switch {
		case name == "" && len(draft.Policies) == 1:
			name = draft.Policies[0].Name
		case name == "":
			return access.Policy{}, nil, problem.BadRequest(fmt.Sprintf("The draft has %d policies: say which one to replay.", len(draft.Policies)))
		}
		doc = draft
	} else if name == "" {
		return access.Policy{}, nil, problem.BadRequest("Paste a draft policy, or pick a policy to replay.")
	}
	p, ok := doc.Policy(name)
	if !ok {
		return access.Policy{}, nil, access.ErrUnknownPolicy.WithDetail("%q", name)
	}
	set, err := access.Compile(access.Document{Locations: doc.Locations, Policies: []access.Policy{*p}})
	if err != nil {
		return access.Policy{}, nil, problem.BadRequest("The policy does not compile: " + err.Error())
	}
	ws := access.StandardWindows(s.Now())
	recs, err := s.recorded(r, ws[len(ws)-1].Since)
	if err != nil {
		return access.Policy{}, nil, err
	}
	var ims []access.Impact
	for _, w := range ws {
		ims = append(ims, access.Replay(set, p.Name, recs, w))
	}
	return *p, ims, nil
}

func (s *Server) apiReplay(w http.ResponseWriter, r *http.Request) {
	var in replayInput
	if err := readStrictJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	_, ims, err := s.replay(r, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, impactsJSON(ims))
}

func (s *Server) adminReplay(w http.ResponseWriter, r *http.Request) {
	doc, err := s.Access.Document(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := map[string]any{"Title": "Replay a policy", "Doc": doc}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, access.MaxFileSize+maxFormBody)
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, problem.BadRequest("The form could not be read."))
			return
		}
		in := replayInput{YAML: r.PostForm.Get("yaml"), Policy: r.PostForm.Get("policy")}
		data["Input"] = in
		p, ims, err := s.replay(r, in)
		if err != nil {
			pr := problem.As(err)
			if pr.Status >= 500 {
				s.fail(w, r, err)
				return
			}
			data["Error"], status = pr.Message, pr.Status
		} else {
			data["Policy"], data["Grant"], data["Impacts"] = p, grantText(p), ims
		}
	}
	s.renderStatus(w, r, status, "admin_access_replay", data)
}

// --------------------------------------------------------------- policies API

func (s *Server) apiGetAccess(w http.ResponseWriter, r *http.Request) {
	doc, err := s.Access.Document(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "yaml") {
		b, err := access.ExportYAML(doc)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(b)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// changeAnswer is the API's answer to a saved change.
type changeAnswer struct {
	Document access.Document `json:"document"`
	Warnings []string        `json:"warnings,omitempty"`
}

// apiPutAccess replaces all named locations and policies, all or nothing:
// a JSON document whose version must be the current one (so two admins
// cannot overwrite each other), or a YAML policy file (Content-Type
// application/yaml), imported as `sesame policy import` does.
func (s *Server) apiPutAccess(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ct := r.Header.Get("Content-Type")
	var ch access.Change
	var err error
	if strings.Contains(ct, "yaml") {
		b, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, access.MaxFileSize))
		if rerr != nil {
			s.fail(w, r, problem.New(http.StatusRequestEntityTooLarge, "body_too_large", "The policy file is too large."))
			return
		}
		doc, perr := access.ParseYAML(b)
		if perr != nil {
			s.fail(w, r, &problem.Error{Status: http.StatusBadRequest, Code: "invalid_policy", Message: perr.Error(), Err: perr})
			return
		}
		ch, err = s.Access.Import(ctx, adminActor(r), doc)
	} else {
		var in access.Document
		if err := readStrictJSON(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		ch, err = s.Access.Update(ctx, adminActor(r), in.Version, func(d *access.Document) (access.Audit, error) {
			before := access.Document{Locations: d.Locations, Policies: d.Policies}
			d.Locations, d.Policies = in.Locations, in.Policies
			return access.Audit{Action: "access.import", Before: before, After: access.Document{Locations: in.Locations, Policies: in.Policies}}, nil
		})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, changeAnswer{Document: ch.Document, Warnings: ch.Warnings})
}

func (s *Server) apiGetPolicy(w http.ResponseWriter, r *http.Request) {
	doc, err := s.Access.Document(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, ok := doc.Policy(r.PathValue("name"))
	if !ok {
		s.fail(w, r, access.ErrUnknownPolicy)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// apiPutPolicy creates or replaces one policy; its name is the path's.
func (s *Server) apiPutPolicy(w http.ResponseWriter, r *http.Request) {
	var p access.Policy
	if err := readStrictJSON(w, r, &p); err != nil {
		s.fail(w, r, err)
		return
	}
	if p.Name == "" {
		p.Name = r.PathValue("name")
	}
	if p.Name != r.PathValue("name") {
		s.fail(w, r, problem.BadRequest("The policy's name must be the one in the address; rename by deleting and creating."))
		return
	}
	ch, err := s.Access.PutPolicy(r.Context(), adminActor(r), p, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, changeAnswer{Document: ch.Document, Warnings: ch.Warnings})
}

func (s *Server) apiDeletePolicy(w http.ResponseWriter, r *http.Request) {
	ch, err := s.Access.DeletePolicy(r.Context(), adminActor(r), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, changeAnswer{Document: ch.Document, Warnings: ch.Warnings})
}

// readStrictJSON is readJSON refusing unknown fields, so a misspelt field
// in a policy is an error rather than silently ignored.
func readStrictJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return problem.New(http.StatusUnsupportedMediaType, "bad_content_type", "Requests must be sent as JSON.")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, access.MaxFileSize))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem.New(http.StatusRequestEntityTooLarge, "body_too_large", "The request is too large.")
		}
		return problem.BadRequest("The request could not be read: "+jsonProblem(err)).WithDetail("%v", err)
	}
	return nil
}

// jsonProblem says what is wrong with a JSON body in words an admin can
// act on (the field, not a Go type).
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type (%s).", te.Field, te.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f + "."
	}
	return "it is not valid JSON of the expected shape."
}

// --------------------------------------------------------------- sign-in log

// logQuery reads the sign-in log filters from a query string.
func (s *Server) logQuery(r *http.Request, defaultLimit int) (access.LogFilter, error) {
	q := r.URL.Query()
	now := s.Now()
	f := access.LogFilter{User: strings.ToLower(strings.TrimSpace(q.Get("user"))), App: strings.TrimSpace(q.Get("app")),
		Result: q.Get("result"), Policy: strings.TrimSpace(q.Get("policy")), Limit: defaultLimit}
	if f.Result != "" && f.Result != store.ResultSuccess && f.Result != store.ResultFailure {
		return f, problem.BadRequest(fmt.Sprintf("result %q is not success or failure.", f.Result))
	}
	var err error
	if f.Since, err = parseWhen(q.Get("since"), now); err != nil {
		return f, problem.BadRequest("since: " + err.Error())
	}
	if f.Until, err = parseWhen(q.Get("until"), now); err != nil {
		return f, problem.BadRequest("until: " + err.Error())
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, problem.BadRequest("since must be before until.")
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100_000 {
			return f, problem.BadRequest("limit is a number from 1 to 100000.")
		}
		f.Limit = n
	}
	if f.User != "" {
		if u, err := s.Store.GetUserByUsername(r.Context(), f.User); err == nil {
			f.UserID = u.ID
		} else if !errors.Is(err, store.ErrNotFound) {
			return f, err
		}
	}
	return f, nil
}

// parseWhen reads a time as admins type it: RFC 3339, a date (UTC
// midnight), or an age before now ("24h", "7d"); "" is no bound.
func parseWhen(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", v); err == nil { // <input type="datetime-local">
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	if d, err := access.ParseAge(v); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use 2025-01-31, an RFC 3339 time, or an age such as 24h or 7d", v)
}

// signIns reads the log with a filter. The store applies what it can; the
// policy filter and usernames of deleted users are matched here, so those
// read more rows first.
func (s *Server) signIns(r *http.Request, f access.LogFilter) ([]store.SignInEvent, error) {
	sf := f.StoreFilter()
	if f.Policy != "" || (f.User != "" && f.UserID == "") {
		sf.Limit = 1 << 30
	}
	evs, err := s.Store.ListSignIns(r.Context(), sf)
	if err != nil {
		return nil, err
	}
	evs = f.Filter(evs)
	if f.Limit > 0 && len(evs) > f.Limit {
		evs = evs[:f.Limit]
	}
	return evs, nil
}

func (s *Server) apiSignIns(w http.ResponseWriter, r *http.Request) {
	f, err := s.logQuery(r, 1000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "jsonl" && format != "csv" {
		s.fail(w, r, problem.BadRequest(fmt.Sprintf("format %q is not json, jsonl or csv.", format)))
		return
	}
	evs, err := s.signIns(r, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := "sesame-signins-" + s.Now().UTC().Format("20060102-150405")
	switch format {
	case "jsonl":
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.jsonl"`)
		access.WriteJSONLines(w, evs)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		access.WriteCSV(w, evs)
	default:
		lines := make([]access.LogLine, 0, len(evs))
		for _, ev := range evs {
			lines = append(lines, access.Line(ev))
		}
		writeJSON(w, http.StatusOK, lines)
	}
}

// logRow is one line of the sign-in log page.
type logRow struct {
	store.SignInEvent
	Results []access.Result
}

func (s *Server) adminSignIns(w http.ResponseWriter, r *http.Request) {
	data := map[string]any{"Title": "Sign-in log", "Form": r.URL.Query()}
	status := http.StatusOK
	f, err := s.logQuery(r, 200)
	var evs []store.SignInEvent
	if err == nil {
		evs, err = s.signIns(r, f)
	}
	if err != nil {
		p := problem.As(err)
		if p.Status >= 500 {
			s.fail(w, r, err)
			return
		}
		data["Error"], status = p.Message, p.Status
	}
	rows := make([]logRow, 0, len(evs))
	for _, ev := range evs {
		rows = append(rows, logRow{SignInEvent: ev, Results: access.EventResults(ev)})
	}
	data["Rows"] = rows
	q := r.URL.Query()
	q.Del("format")
	q.Set("format", "jsonl")
	data["JSONL"] = "/api/admin/signins?" + q.Encode()
	q.Set("format", "csv")
	data["CSV"] = "/api/admin/signins?" + q.Encode()
	if s.Access != nil {
		days, err := s.Access.Retention(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		data["Retention"] = days
		if doc, err := s.Access.Document(r.Context()); err == nil {
			data["Doc"] = doc
		}
	}
	switch r.URL.Query().Get("notice") {
	case "retention":
		data["NoticeText"] = "Retention saved. Older records are deleted within a minute."
	}
	s.renderStatus(w, r, status, "admin_signins", data)
}

func (s *Server) adminRetention(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	days, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("days")))
	if err != nil {
		days = -1
	}
	if err := s.Access.SetRetention(r.Context(), adminActor(r), days); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/signins?notice=retention", http.StatusSeeOther)
}

// --------------------------------------------------------------- trusted device

func (s *Server) deviceSigner() access.DeviceSigner { return access.DeviceSigner{Key: s.DeviceKey} }

// currentDevice is the device signal this browser carries for the user.
func (s *Server) currentDevice(r *http.Request, u store.User) access.Device {
	c, err := r.Cookie(access.DeviceCookieName)
	if err != nil {
		return access.Device{}
	}
	return s.deviceSigner().Decode(c.Value, u.ID)
}

func (s *Server) myDevice(w http.ResponseWriter, r *http.Request) {
	d := s.currentDevice(r, currentUser(r))
	data := map[string]any{"Title": "This device", "Device": d, "Available": len(s.DeviceKey) > 0}
	switch r.URL.Query().Get("notice") {
	case "trusted":
		data["NoticeText"] = "This browser is now a trusted device for you."
	case "untrusted":
		data["NoticeText"] = "This browser is no longer a trusted device."
	}
	s.render(w, r, "my_device", data)
}

// myDeviceSet marks this browser trusted (or not) for the signed-in user,
// keeping the device-bound passkey mark. Audited: a trusted device can
// relax Conditional Access.
func (s *Server) myDeviceSet(w http.ResponseWriter, r *http.Request) {
	if len(s.DeviceKey) == 0 {
		s.fail(w, r, errNoAccess)
		return
	}
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	u := currentUser(r)
	d := s.currentDevice(r, u)
	d.Trusted = r.PostForm.Get("trusted") == "on"
	now := s.Now()
	c := &http.Cookie{Name: access.DeviceCookieName, Value: s.deviceSigner().Encode(u.ID, d, now), Path: "/", HttpOnly: true,
		Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(access.DeviceCookieMaxAge.Seconds())}
	if d == (access.Device{}) {
		c.Value, c.MaxAge = "", -1
	}
	http.SetCookie(w, c)
	action, notice := "device.trust", "trusted"
	if !d.Trusted {
		action, notice = "device.untrust", "untrusted"
	}
	audit.Log(r.Context(), s.Store, now, audit.Actor(u.Username), action, u.Username, map[string]string{"ip": clientIP(r), "user_agent": truncateUA(r.UserAgent())})
	http.Redirect(w, r, "/my/device?notice="+notice, http.StatusSeeOther)
}

func truncateUA(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}
