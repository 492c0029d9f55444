package web

// The legacy exception on the web: signing in with a password (then an
// authenticator app code), setting a password and enrolling an
// authenticator app on My security info, and the admin's
// passwordless-only switch. Offered only where the methods policy allows.

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
)

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request) {
	if !s.SignIn.PasswordsOffered(r.Context()) {
		s.fail(w, r, signin.ErrPasswordsOff)
		return
	}
	s.render(w, r, "password", map[string]any{
		"Title":    "Sign in with a password",
		"Username": r.URL.Query().Get("username"),
		"ReturnTo": safeReturn(r.URL.Query().Get("return_to")),
	})
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	username, pw := r.PostForm.Get("username"), r.PostForm.Get("password")
	returnTo := safeReturn(r.PostForm.Get("return_to"))
	out, err := s.SignIn.SignInWithPassword(r.Context(), username, pw, meta(r))
	if err != nil {
		p := problem.As(err)
		if p.Status >= 500 {
			s.fail(w, r, err)
			return
		}
		s.renderStatus(w, r, p.Status, "password", map[string]any{"Title": "Sign in with a password", "Username": username, "ReturnTo": returnTo, "Error": p.Message, "Code": p.Code})
		return
	}
	s.passwordOutcome(w, r, out, returnTo)
}

// passwordOutcome signs the browser in, or asks for the code.
func (s *Server) passwordOutcome(w http.ResponseWriter, r *http.Request, out signin.PasswordOutcome, returnTo string) {
	if out.Result == nil {
		s.render(w, r, "totp", map[string]any{"Title": "Enter your code", "Step": out.Step, "ReturnTo": returnTo})
		return
	}
	s.setSessionCookie(w, *out.Result)
	s.redirectAfterForm(w, r, s.afterSignIn(r.Context(), signinResult{User: out.Result.User, Session: out.Result.Session}, returnTo))
}

func (s *Server) totpSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	returnTo := safeReturn(r.PostForm.Get("return_to"))
	out, err := s.SignIn.SignInWithTOTP(r.Context(), r.PostForm.Get("step"), r.PostForm.Get("code"), meta(r))
	if err != nil {
		p := problem.As(err)
		switch {
		case p.Status >= 500:
			s.fail(w, r, err)
		case out.Step != "":
			// A wrong code: try again in the same sign-in.
			s.renderStatus(w, r, p.Status, "totp", map[string]any{"Title": "Enter your code", "Step": out.Step, "ReturnTo": returnTo, "Error": p.Message, "Code": p.Code})
		default:
			// The sign-in cannot go on (expired, too many attempts, policy
			// changed): start again from the password.
			s.renderStatus(w, r, p.Status, "password", map[string]any{"Title": "Sign in with a password", "ReturnTo": returnTo, "Error": p.Message, "Code": p.Code})
		}
		return
	}
	s.passwordOutcome(w, r, out, returnTo)
}

// legacyView is what My security info and the admin page show of a user's
// password and authenticator app.
type legacyView struct {
	PasswordAllowed bool // the password method applies to the user
	TOTPAllowed     bool // the TOTP method applies to the user
	methods.LegacyState
	// NeedCurrent: changing the password asks for the current one (the
	// session was made with it, so it proves nothing more).
	NeedCurrent bool
}

// Show reports whether there is anything to show.
func (v legacyView) Show() bool {
	return v.PasswordAllowed || v.TOTPAllowed || v.HasPassword || v.TOTPEnrolled
}

func (s *Server) legacyViewOf(r *http.Request, u store.User, sess *store.Session) (legacyView, error) {
	var v legacyView
	if s.Legacy == nil {
		return v, nil
	}
	ctx := r.Context()
	p, err := s.SignIn.Policy(ctx)
	if err != nil {
		return v, err
	}
	groups, err := s.SignIn.Groups(ctx, u.ID)
	if err != nil {
		return v, err
	}
	if v.LegacyState, err = s.Legacy.State(ctx, u.ID); err != nil {
		return v, err
	}
	if !v.PasswordlessOnly {
		v.PasswordAllowed, _ = methods.MethodAllowed(p, methods.MethodPassword, groups)
		v.TOTPAllowed, _ = methods.MethodAllowed(p, methods.MethodTOTP, groups)
	}
	if sess != nil {
		v.NeedCurrent = v.HasPassword && !strongSession(*sess)
	}
	return v, nil
}

// strongSession: the session was made with a passkey or a pass, either of
// which proves more than the password does.
func strongSession(sess store.Session) bool {
	for _, m := range sess.Methods {
		if m == string(methods.MethodPasskey) || m == string(methods.MethodTAP) || m == "setup" {
			return true
		}
	}
	return false
}

var errPasswordMethodOff = problem.New(http.StatusForbidden, "password_not_allowed",
	"Your organisation does not use passwords for your account, so you cannot set one.")

var errTOTPMethodOff = problem.New(http.StatusForbidden, "totp_not_allowed",
	"Your organisation does not use authenticator app codes for your account.")

func (s *Server) setOwnPassword(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	u, sess := currentUser(r), currentSession(r)
	v, err := s.legacyViewOf(r, u, &sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	formErr := func(p *problem.Error) {
		s.renderMy(w, r, p.Status, map[string]any{"PasswordError": p.Message})
	}
	if !v.PasswordAllowed {
		formErr(errPasswordMethodOff)
		return
	}
	pw, confirm := r.PostForm.Get("new_password"), r.PostForm.Get("confirm_password")
	if pw != confirm {
		formErr(problem.BadRequest("The two passwords are not the same. Type the new password twice."))
		return
	}
	if v.NeedCurrent {
		if err := s.Legacy.VerifyPassword(r.Context(), u.Username, &u, r.PostForm.Get("current_password"), clientIP(r)); err != nil {
			p := problem.As(err)
			if p.Status >= 500 {
				s.fail(w, r, err)
				return
			}
			if p.Code == methods.ErrPasswordInvalid.Code {
				p = problem.New(http.StatusUnauthorized, p.Code, "Your current password is not right.")
			}
			formErr(p)
			return
		}
	}
	if err := s.Legacy.SetPassword(r.Context(), audit.Actor(u.Username), u, pw); err != nil {
		if p := problem.As(err); p.Status < 500 {
			formErr(p)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/my?notice=password_set", http.StatusSeeOther)
}

func (s *Server) totpBegin(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	v, err := s.legacyViewOf(r, u, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !v.TOTPAllowed {
		s.renderMy(w, r, http.StatusForbidden, map[string]any{"TOTPError": errTOTPMethodOff.Message})
		return
	}
	e, err := s.Legacy.BeginTOTP(r.Context(), u)
	if err != nil {
		if p := problem.As(err); p.Status < 500 {
			s.renderMy(w, r, p.Status, map[string]any{"TOTPError": p.Message})
			return
		}
		s.fail(w, r, err)
		return
	}
	// The otpauth: link and the QR code's data: URL are Sesame's own, so
	// they are marked safe for the template (which allows only web links).
	data := map[string]any{"Title": "Set up an authenticator app", "Secret": e.Secret, "URL": template.URL(e.URL)}
	if png, err := methods.TOTPQRCode(e.URL, 240); err == nil {
		data["QR"] = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	}
	s.render(w, r, "my_totp", data)
}

func (s *Server) totpConfirm(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	u := currentUser(r)
	v, err := s.legacyViewOf(r, u, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !v.TOTPAllowed {
		s.renderMy(w, r, http.StatusForbidden, map[string]any{"TOTPError": errTOTPMethodOff.Message})
		return
	}
	code := r.PostForm.Get("code")
	if len(code) > 32 {
		code = code[:32]
	}
	if err := s.Legacy.ConfirmTOTP(r.Context(), audit.Actor(u.Username), u, code, clientIP(r)); err != nil {
		if p := problem.As(err); p.Status < 500 {
			s.renderStatus(w, r, p.Status, "my_totp", map[string]any{"Title": "Set up an authenticator app", "Error": p.Message})
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/my?notice=totp_added", http.StatusSeeOther)
}

func (s *Server) totpRemove(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	if s.Legacy == nil {
		s.fail(w, r, errTOTPMethodOff)
		return
	}
	if err := s.Legacy.RemoveTOTP(r.Context(), audit.Actor(u.Username), u); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/my?notice=totp_removed", http.StatusSeeOther)
}

// adminPasswordlessOnly turns a user's passwordless-only mark on or off.
func (s *Server) adminPasswordlessOnly(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.Dir.User(r.Context(), r.PathValue("username"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Legacy == nil {
		s.fail(w, r, problem.New(http.StatusServiceUnavailable, "legacy_off", "Passwords are not configured on this server."))
		return
	}
	var on bool
	switch r.PostForm.Get("passwordless_only") {
	case "on":
		on = true
	case "off":
	default:
		s.renderAdminUser(w, r, http.StatusBadRequest, u, map[string]any{"LegacyError": "Choose whether to turn passwordless-only on or off."})
		return
	}
	if err := s.Legacy.SetPasswordlessOnly(r.Context(), adminActor(r), u, on); err != nil {
		s.fail(w, r, err)
		return
	}
	notice := "passwordless_off"
	if on {
		notice = "passwordless_on"
	}
	http.Redirect(w, r, userURL(u.Username)+"?notice="+url.QueryEscape(notice), http.StatusSeeOther)
}
