package web

// The registration campaign's prompt, shown right after a sign-in to a
// user in scope who has no usable passkey: add one now, or "Not now" while
// snoozes remain. When none remain, registering is the way on (signing out
// stays possible).

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// promptPath is the prompt page.
const promptPath = "/my/add-passkey"

// afterSignIn is where a browser goes once signed in: the prompt when the
// campaign asks for it, otherwise where it was going. A failure to decide
// never stands in the way of a sign-in: it is logged and the prompt
// skipped.
func (s *Server) afterSignIn(ctx context.Context, res signinResult, returnTo string) string {
	if res.UsablePasskey {
		// methods.ShouldPrompt never prompts a user who has a usable
		// passkey: no need to load the policy to find that out again.
		return returnTo
	}
	prompt, err := s.SignIn.CampaignPrompt(ctx, res.User)
	if err != nil {
		s.Log.WarnContext(ctx, "registration campaign check failed", "user", res.User.Username, "err", err)
		return returnTo
	}
	if !prompt.Show {
		return returnTo
	}
	// A prompt the user cannot act on (self-service registration off
	// outside a pass session) would only be in the way.
	rs, err := s.SignIn.RegistrationStateFor(ctx, res.Session)
	if err != nil || !rs.Allowed {
		return returnTo
	}
	s.SignIn.RecordCampaign(ctx, res.User, "shown", map[string]any{
		"method": strings.Join(res.Session.Methods, "+"), "snoozes_left": prompt.SnoozesLeft, "can_snooze": prompt.CanSnooze,
	})
	return promptPath + "?return_to=" + url.QueryEscape(returnTo)
}

// signinResult is the part of a sign-in the campaign looks at.
type signinResult struct {
	User    store.User
	Session store.Session
	// UsablePasskey: the user signed in with a passkey the methods policy
	// allows (signin.FinishSignIn refuses any other), so they have one.
	UsablePasskey bool
}

// afterRegistering is where the prompt sends the browser once a passkey is
// added: where the user was going, with the "added" notice on /my.
func afterRegistering(returnTo string) string {
	if returnTo == "/my" || strings.HasPrefix(returnTo, "/my?") {
		return "/my?notice=added"
	}
	return returnTo
}

func (s *Server) promptPage(w http.ResponseWriter, r *http.Request) {
	s.renderPrompt(w, r, http.StatusOK, safeReturn(r.URL.Query().Get("return_to")), "")
}

func (s *Server) renderPrompt(w http.ResponseWriter, r *http.Request, status int, returnTo, errText string) {
	ctx := r.Context()
	u, sess := currentUser(r), currentSession(r)
	prompt, err := s.SignIn.CampaignPrompt(ctx, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rs, err := s.SignIn.RegistrationStateFor(ctx, sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !prompt.Show || !rs.Allowed {
		// Nothing to ask (a passkey was added meanwhile, snoozed, or the
		// policy changed): carry on.
		s.redirectAfterForm(w, r, returnTo)
		return
	}
	s.renderStatus(w, r, status, "prompt", map[string]any{
		"Title":       "Add a passkey",
		"User":        u,
		"ReturnTo":    returnTo,
		"Next":        afterRegistering(returnTo),
		"CanSnooze":   prompt.CanSnooze,
		"SnoozesLeft": prompt.SnoozesLeft,
		"Needs":       rs.Needs,
		"Error":       errText,
	})
}

func (s *Server) promptSnooze(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	returnTo := safeReturn(r.PostForm.Get("return_to"))
	if _, err := s.SignIn.SnoozeCampaign(r.Context(), currentUser(r)); err != nil {
		if p := problem.As(err); p.Status < 500 {
			s.renderPrompt(w, r, p.Status, returnTo, p.Message)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.redirectAfterForm(w, r, returnTo)
}

// CampaignGate puts the registration prompt in front of the OpenID
// provider's continue step (path), so a user the campaign requires to add
// a passkey cannot skip the prompt by opening the app's sign-in URL
// directly instead of following the redirect after signing in.
func (s *Server) CampaignGate(path string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == path {
			if c, err := r.Cookie(CookieName); err == nil {
				if sess, u, err := s.SignIn.Authenticate(r.Context(), c.Value); err == nil {
					here := r.URL.RequestURI()
					if to := s.afterSignIn(r.Context(), signinResult{User: u, Session: sess}, here); to != here {
						http.Redirect(w, r, to, http.StatusSeeOther)
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
