package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// layoutFile holds the page frame (head, nav, footer) every page shares.
// Each other file in templates/ is one page: it defines "content" and,
// when it needs a script, "scripts".
const layoutFile = "layout.html"

// pages are the parsed templates, one complete set per page.
type pages struct {
	byName map[string]*template.Template
}

// loadPages parses the embedded templates once at start. The templates are
// compiled into the binary, so an error here is a programming error and
// panics rather than surfacing on the first request.
func loadPages() *pages {
	p, err := parsePages(templateFS)
	if err != nil {
		panic("web: " + err.Error())
	}
	return p
}

func parsePages(fsys fs.FS) (*pages, error) {
	layout, err := template.New(layoutFile).Funcs(templateFuncs).ParseFS(fsys, "templates/"+layoutFile)
	if err != nil {
		return nil, fmt.Errorf("parsing layout: %w", err)
	}
	files, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		base := path.Base(f)
		if base == layoutFile {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", base, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("%s does not define \"content\"", base)
		}
		p.byName[strings.TrimSuffix(base, ".html")] = t
	}
	return p, nil
}

// names lists the pages (for tests).
func (p *pages) names() []string {
	out := make([]string, 0, len(p.byName))
	for n := range p.byName {
		out = append(out, n)
	}
	return out
}

var templateFuncs = template.FuncMap{
	"when":        formatTime,
	"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"duration":    methods.HumanDuration,
	"pathEscape":  url.PathEscape,
	"queryEscape": url.QueryEscape,
	"join":        strings.Join,
	"typeLabel":   typeLabel,
	"methodLabel": methodLabel,
	"resultLabel": resultLabel,
	"reasonText":  reasonText,
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
}

// formatTime shows times the same way on every page, in UTC so that an
// admin and a user talking on the phone read the same thing.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// typeLabel turns a stored passkey kind ("synced", "device-bound") into
// the short label pages show.
func typeLabel(kind string) string {
	switch passkey.Kind(kind) {
	case passkey.KindSynced:
		return "Synced"
	case passkey.KindDeviceBound:
		return "Device-bound"
	}
	return ""
}

func methodLabel(m string) string {
	switch m {
	case "passkey":
		return "Passkey"
	case "tap":
		return "Temporary access pass"
	case "setup":
		return "Setup link"
	case "password":
		return "Password"
	case "password+totp":
		return "Password and authenticator app"
	}
	return m
}

func resultLabel(r string) string {
	switch r {
	case store.ResultSuccess:
		return "Succeeded"
	case store.ResultFailure:
		return "Failed"
	}
	return r
}

// reasonText explains a sign-in failure code in a few words; unknown codes
// are shown as they are, which is still better than nothing for an admin.
func reasonText(code string) string {
	switch code {
	case "":
		return ""
	case "tap_invalid":
		return "Wrong username or pass"
	case "tap_expired":
		return "Pass expired"
	case "tap_used":
		return "Pass already used"
	case "tap_not_started":
		return "Pass not valid yet"
	case "rate_limited":
		return "Too many attempts"
	case "user_disabled":
		return "Account disabled"
	case "unknown_credential":
		return "Unknown or removed passkey"
	case "origin_mismatch", "rp_id_mismatch":
		return "Wrong site (possible phishing)"
	case "challenge_unknown":
		return "Request reused or replaced"
	case "challenge_expired":
		return "Request expired"
	case "counter_regression":
		return "Passkey counter went back (possible clone)"
	case "malformed_response":
		return "Malformed response"
	case "user_not_verified":
		return "User not verified"
	case "user_handle_mismatch":
		return "Passkey of another account"
	case "verification_failed":
		return "Signature not valid"
	case "wrong_ceremony":
		return "Wrong kind of request"
	case "passkey_model_blocked":
		return "Passkey model blocked by policy"
	case "passkey_model_not_allowed":
		return "Passkey model not on the allow list"
	case "passkey_type_not_allowed":
		return "Passkey type not allowed by policy"
	case "no_passkey_profile", "method_not_allowed":
		return "Passkeys not allowed for this user"
	case "password_invalid":
		return "Wrong username or password"
	case "password_not_allowed":
		return "Password not allowed by policy"
	case "totp_invalid":
		return "Wrong or reused authenticator code"
	case "totp_not_enrolled":
		return "No authenticator app set up"
	}
	return code
}

// render writes page name with data and status 200.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data map[string]any) {
	s.renderStatus(w, r, http.StatusOK, name, data)
}

// renderStatus writes page name with data. Every page also gets the
// signed-in user (when there is one) for the navigation. The page is
// rendered to a buffer first so a template failure never sends half a page.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	t, ok := s.pages.byName[name]
	if !ok {
		s.Log.Error("unknown page", "page", name, "path", r.URL.Path)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	if u, ok := r.Context().Value(userKey).(store.User); ok {
		data["CurrentUser"] = u
	}
	if _, ok := data["Page"]; !ok {
		data["Page"] = name
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, layoutFile, data); err != nil {
		s.Log.Error("rendering page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
