package web

// The methods policy and authentication strengths in the admin console
// ("Sign-in methods") and the admin JSON API. Both go through
// methods.Policies and methods.Strengths, which validate, refuse a save
// made from an outdated copy (the document's revision) and write the
// audit log. Bad input is shown next to what caused it and changes nothing.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
)

// maxPolicyBody bounds a policy document sent to the console or the API
// (long AAGUID lists included).
const maxPolicyBody = 1 << 20

var errPolicyReadOnly = problem.New(http.StatusServiceUnavailable, "policy_unavailable",
	"Policies cannot be changed on this server right now.")

// methodRow is one method in the console's overview.
type methodRow struct {
	Method  methods.Method
	Label   string
	Enabled bool
	Scope   string
}

// profileRow is one passkey profile in the overview.
type profileRow struct {
	passkey.Profile
	ScopeText   string
	Restriction string
}

// scopeText says in words whom a scope selects.
func scopeText(sc scope.Scope) string {
	var b strings.Builder
	switch {
	case sc.AllUsers:
		b.WriteString("All users")
	case len(sc.Groups) > 0:
		b.WriteString("Groups: " + strings.Join(sc.Groups, ", "))
	default:
		b.WriteString("Nobody")
	}
	if len(sc.Exclude) > 0 {
		b.WriteString(", except groups: " + strings.Join(sc.Exclude, ", "))
	}
	return b.String()
}

func restrictionText(k passkey.KeyRestriction) string {
	switch k.Mode {
	case passkey.RestrictAllow:
		return "Only these models: " + modelList(k.AAGUIDs)
	case passkey.RestrictBlock:
		return "Any model but: " + modelList(k.AAGUIDs)
	}
	return "Any model"
}

func modelList(aaguids []string) string {
	out := make([]string, 0, len(aaguids))
	for _, a := range aaguids {
		name := passkey.UnknownModelName
		if b, err := passkey.ParseAAGUID(a); err == nil {
			name = passkey.ModelName(b)
		}
		if name == passkey.UnknownModelName {
			out = append(out, a)
		} else {
			out = append(out, fmt.Sprintf("%s (%s)", name, a))
		}
	}
	return strings.Join(out, ", ")
}

func (s *Server) adminMethods(w http.ResponseWriter, r *http.Request) {
	s.renderMethods(w, r, http.StatusOK, map[string]any{"NoticeText": methodsNotices[r.URL.Query().Get("notice")]})
}

var methodsNotices = map[string]string{
	"policy_saved":    "Methods policy saved. It applies from the next sign-in or registration.",
	"strengths_saved": "Authentication strengths saved.",
}

// renderMethods shows the Sign-in methods page; extra carries a form's
// submitted text and error when it is shown again.
func (s *Server) renderMethods(w http.ResponseWriter, r *http.Request, status int, extra map[string]any) {
	ctx := r.Context()
	p, err := s.SignIn.Policy(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	policyJSON, err := methods.EncodePolicy(p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	strengths := methods.StrengthsDoc{Schema: methods.StrengthsSchema}
	if s.Strengths != nil {
		if strengths, err = s.Strengths.Load(ctx); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	strengthsJSON, err := json.MarshalIndent(strengths, "", "  ")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var md *passkey.Metadata
	if s.Metadata != nil {
		if md, err = s.Metadata.Load(ctx); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var rows []methodRow
	for _, m := range methods.Methods {
		set, _ := p.Setting(m)
		rows = append(rows, methodRow{Method: m, Label: m.Label(), Enabled: set.Enabled, Scope: scopeText(set.Scope)})
	}
	var profiles []profileRow
	for _, pr := range p.Passkey.Profiles {
		profiles = append(profiles, profileRow{Profile: pr, ScopeText: scopeText(pr.Scope), Restriction: restrictionText(pr.KeyRestriction)})
	}
	data := map[string]any{
		"Title":         "Sign-in methods · Admin",
		"Policy":        p,
		"Methods":       rows,
		"Profiles":      profiles,
		"CampaignScope": scopeText(p.Campaign.Scope),
		"Warnings":      p.Warnings(),
		"PolicyJSON":    string(policyJSON),
		"BuiltIn":       methods.BuiltInStrengths(),
		"Custom":        strengths.Strengths,
		"StrengthsJSON": string(strengthsJSON) + "\n",
		"Metadata":      md,
		"ReadOnly":      s.Policies == nil,
	}
	for k, v := range extra {
		data[k] = v
	}
	s.renderStatus(w, r, status, "admin_methods", data)
}

// adminSavePolicy saves the policy edited as JSON.
func (s *Server) adminSavePolicy(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPolicyBody+maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, problem.New(http.StatusRequestEntityTooLarge, "body_too_large", "The policy is too large."))
		return
	}
	text := r.PostForm.Get("policy")
	again := func(p *problem.Error) {
		s.renderMethods(w, r, p.Status, map[string]any{"PolicyJSON": text, "PolicyError": p.Message})
	}
	if s.Policies == nil {
		again(errPolicyReadOnly)
		return
	}
	p, err := methods.DecodePolicy(strings.NewReader(text))
	if err != nil {
		again(problem.BadRequest("The policy is not valid: " + err.Error() + "."))
		return
	}
	if _, err := s.Policies.Save(r.Context(), adminActor(r), p); err != nil {
		if pe := problem.As(err); pe.Status < 500 {
			again(pe)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/methods?notice=policy_saved", http.StatusSeeOther)
}

// adminPolicyToggles turns methods, self-service registration and the
// campaign on or off, keeping everything else.
func (s *Server) adminPolicyToggles(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	again := func(p *problem.Error) {
		s.renderMethods(w, r, p.Status, map[string]any{"TogglesError": p.Message})
	}
	if s.Policies == nil {
		again(errPolicyReadOnly)
		return
	}
	p, err := s.Policies.Load(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rev, err := strconv.Atoi(r.PostForm.Get("revision"))
	if err != nil {
		again(problem.BadRequest("The form is missing the policy's revision. Reload the page and try again."))
		return
	}
	p.Revision = rev
	on := func(name string) bool { return r.PostForm.Get(name) == "on" }
	p.Passkey.Enabled = on("method_passkey")
	p.TAP.Enabled = on("method_tap")
	p.Password.Enabled = on("method_password")
	p.TOTP.Enabled = on("method_totp")
	p.Passkey.SelfServiceRegistration = on("self_service")
	p.Campaign.Enabled = on("campaign")
	if _, err := s.Policies.Save(r.Context(), adminActor(r), p); err != nil {
		if pe := problem.As(err); pe.Status < 500 {
			again(pe)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/methods?notice=policy_saved", http.StatusSeeOther)
}

// adminSaveStrengths saves the custom strengths edited as JSON.
func (s *Server) adminSaveStrengths(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPolicyBody+maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, problem.New(http.StatusRequestEntityTooLarge, "body_too_large", "The strengths document is too large."))
		return
	}
	text := r.PostForm.Get("strengths")
	again := func(p *problem.Error) {
		s.renderMethods(w, r, p.Status, map[string]any{"StrengthsJSON": text, "StrengthsError": p.Message})
	}
	if s.Strengths == nil {
		again(errPolicyReadOnly)
		return
	}
	d, err := decodeStrengths(strings.NewReader(text))
	if err != nil {
		again(problem.As(err))
		return
	}
	if _, err := s.Strengths.Save(r.Context(), adminActor(r), d); err != nil {
		if pe := problem.As(err); pe.Status < 500 {
			again(pe)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/methods?notice=strengths_saved", http.StatusSeeOther)
}

// decodeStrengths reads a strengths document strictly: unknown fields and
// trailing data are refused, so a typo is an error, not a silently
// ignored setting.
func decodeStrengths(r io.Reader) (methods.StrengthsDoc, error) {
	var d methods.StrengthsDoc
	dec := json.NewDecoder(io.LimitReader(r, maxPolicyBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return d, problem.BadRequest("The strengths document is empty.")
		}
		return d, problem.BadRequest("The strengths document is not valid: " + strings.TrimPrefix(err.Error(), "json: ") + ".")
	}
	if dec.More() {
		return d, problem.BadRequest("The strengths document holds more than one JSON document.")
	}
	return d, nil
}

// ---------------------------------------------------------------- API

// readPolicyBody reads a JSON document of at most maxPolicyBody bytes.
func readPolicyBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, problem.New(http.StatusUnsupportedMediaType, "bad_content_type", "Send the document as JSON (Content-Type: application/json).")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPolicyBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, problem.New(http.StatusRequestEntityTooLarge, "body_too_large", "The document is too large.")
		}
		return nil, problem.BadRequest("The request could not be read.")
	}
	return b, nil
}

func writeDocument(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func (s *Server) apiGetMethodsPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := s.SignIn.Policy(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := methods.EncodePolicy(p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeDocument(w, b)
}

// apiPutMethodsPolicy replaces the methods policy. The document must carry
// the revision it was read at: an outdated one is refused with 409.
func (s *Server) apiPutMethodsPolicy(w http.ResponseWriter, r *http.Request) {
	if s.Policies == nil {
		s.fail(w, r, errPolicyReadOnly)
		return
	}
	b, err := readPolicyBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := methods.DecodePolicy(bytes.NewReader(b))
	if err != nil {
		s.fail(w, r, problem.BadRequest("The methods policy is not valid: "+err.Error()+"."))
		return
	}
	saved, err := s.Policies.Save(r.Context(), adminActor(r), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := methods.EncodePolicy(saved)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, warn := range saved.Warnings() {
		w.Header().Add("Sesame-Warning", warn)
	}
	writeDocument(w, out)
}

func (s *Server) apiGetStrengths(w http.ResponseWriter, r *http.Request) {
	d := methods.StrengthsDoc{Schema: methods.StrengthsSchema}
	if s.Strengths != nil {
		var err error
		if d, err = s.Strengths.Load(r.Context()); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if d.Strengths == nil {
		d.Strengths = []methods.Strength{}
	}
	writeJSON(w, http.StatusOK, d)
}

// apiPutStrengths replaces the custom strengths (revision as for the
// methods policy).
func (s *Server) apiPutStrengths(w http.ResponseWriter, r *http.Request) {
	if s.Strengths == nil {
		s.fail(w, r, errPolicyReadOnly)
		return
	}
	b, err := readPolicyBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := decodeStrengths(bytes.NewReader(b))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	saved, err := s.Strengths.Save(r.Context(), adminActor(r), d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if saved.Strengths == nil {
		saved.Strengths = []methods.Strength{}
	}
	writeJSON(w, http.StatusOK, saved)
}
