package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/signin"
)

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		if _, _, err := s.SignIn.Authenticate(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, "/my", http.StatusSeeOther)
			return
		}
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "signin", map[string]any{
		"Title":     "Sign in",
		"ReturnTo":  safeReturn(r.URL.Query().Get("return_to")),
		"Username":  r.URL.Query().Get("username"),
		"Notice":    noticeText(r.URL.Query().Get("notice")),
		"Passwords": s.SignIn.PasswordsOffered(r.Context()),
	})
}

func noticeText(code string) string {
	switch code {
	case "signed_out":
		return "You are signed out."
	case "session_ended":
		return "Your session ended. Please sign in again."
	case "step_up":
		return "The app you are signing in to needs a stronger sign-in from here: sign in with a passkey."
	case "reauth":
		return "The app you are signing in to asks you to sign in again."
	}
	return ""
}

type beginRequest struct {
	Username string `json:"username"`
}

func (s *Server) passkeyBegin(w http.ResponseWriter, r *http.Request) {
	var req beginRequest
	if err := readJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(req.Username) > 254 {
		s.fail(w, r, problem.BadRequest("That username is too long."))
		return
	}
	c, err := s.SignIn.BeginSignIn(r.Context(), strings.TrimSpace(req.Username))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

type finishRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	ReturnTo   string          `json:"return_to,omitempty"`
	Name       string          `json:"name,omitempty"`
	// Source says which page registered a passkey ("campaign": the
	// registration prompt), for the audit log.
	Source string `json:"source,omitempty"`
}

func (s *Server) passkeyFinish(w http.ResponseWriter, r *http.Request) {
	var req finishRequest
	if err := readJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.SignIn.FinishSignIn(r.Context(), req.Ceremony, req.Credential, meta(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setSessionCookie(w, res)
	s.markBoundPasskeyDevice(w, r, res.User, res.Credential)
	next := s.afterSignIn(r.Context(), signinResult{User: res.User, Session: res.Session, UsablePasskey: true}, safeReturn(req.ReturnTo))
	writeJSON(w, http.StatusOK, map[string]string{"redirect": next, "user": res.User.Username})
}

func (s *Server) tapPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "tap", map[string]any{
		"Title":    "Use a temporary access pass",
		"Username": r.URL.Query().Get("username"),
		"ReturnTo": safeReturn(r.URL.Query().Get("return_to")),
	})
}

func (s *Server) tapSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	username, pass := r.PostForm.Get("username"), r.PostForm.Get("pass")
	returnTo := safeReturn(r.PostForm.Get("return_to"))
	res, err := s.SignIn.SignInWithTAP(r.Context(), username, pass, meta(r))
	if err != nil {
		p := problem.As(err)
		if p.Status >= 500 {
			s.fail(w, r, err)
			return
		}
		s.renderStatus(w, r, p.Status, "tap", map[string]any{"Title": "Use a temporary access pass", "Username": username, "ReturnTo": returnTo, "Error": p.Message})
		return
	}
	s.setSessionCookie(w, res)
	if returnTo == "/my" {
		returnTo = "/my?welcome=tap"
	}
	s.redirectAfterForm(w, r, s.afterSignIn(r.Context(), signinResult{User: res.User, Session: res.Session}, returnTo))
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		if err := s.SignIn.SignOut(r.Context(), c.Value); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.clearCookie(w)
	http.Redirect(w, r, "/signin?notice=signed_out", http.StatusSeeOther)
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !s.SignIn.SetupValid(r.Context(), token) {
		s.renderStatus(w, r, http.StatusForbidden, "error", map[string]any{"Title": "Setup link not valid", "Message": signin.ErrSetupInvalid.Message})
		return
	}
	s.render(w, r, "setup", map[string]any{"Title": "Set up Sesame", "Token": token})
}

func (s *Server) setupSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	f := r.PostForm
	in := directory.NewUser{Username: f.Get("username"), Email: f.Get("email"), DisplayName: f.Get("name")}
	res, err := s.SignIn.CompleteSetup(r.Context(), f.Get("token"), in, meta(r))
	if err != nil {
		p := problem.As(err)
		if p.Status >= 500 || p.Code == signin.ErrSetupInvalid.Code {
			s.fail(w, r, err)
			return
		}
		s.renderStatus(w, r, p.Status, "setup", map[string]any{"Title": "Set up Sesame", "Token": f.Get("token"), "Error": p.Message, "Form": in})
		return
	}
	s.setSessionCookie(w, res)
	http.Redirect(w, r, "/my?welcome=setup", http.StatusSeeOther)
}
