package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
)

// passkeyView is a passkey as people read it.
type passkeyView struct {
	ID, Name, Model, AAGUID, Type, TypeLabel string
	Created, LastUsed                        time.Time
	Attestation                              string
	Transports                               []string
	// NonCompliant: the methods policy no longer accepts this passkey; it
	// cannot sign in (and is kept). ComplianceMessage is for its owner,
	// ComplianceReason (which profile refused it and why) for admins.
	NonCompliant      bool
	ComplianceCode    string
	ComplianceMessage string
	ComplianceReason  string
}

// withCompliance marks the views of passkeys the policy no longer accepts.
func withCompliance(views []passkeyView, c map[string]signin.Compliance) []passkeyView {
	for i := range views {
		if v, ok := c[views[i].ID]; ok && !v.OK {
			views[i].NonCompliant = true
			views[i].ComplianceCode, views[i].ComplianceMessage, views[i].ComplianceReason = v.Code, v.Message, v.Reason
		}
	}
	return views
}

// standing is a user's passkeys under the policy in force.
type standing struct {
	Policy     methods.Policy
	Groups     []string
	Creds      []store.Credential
	Compliance map[string]signin.Compliance
	Compliant  []store.Credential // the passkeys that can sign in
	Risk       methods.Risk
}

func (s *Server) standingOf(ctx context.Context, u store.User) (standing, error) {
	var st standing
	var err error
	if st.Policy, err = s.SignIn.Policy(ctx); err != nil {
		return st, err
	}
	if st.Groups, err = s.SignIn.Groups(ctx, u.ID); err != nil {
		return st, err
	}
	if st.Creds, err = s.Store.ListCredentials(ctx, u.ID); err != nil {
		return st, err
	}
	st.Compliance = signin.ComplianceOf(st.Policy, st.Groups, st.Creds)
	st.Compliant = signin.CompliantOnly(st.Policy, st.Groups, st.Creds)
	st.Risk = methods.LockoutRisk(st.Compliant, u.Admin)
	return st, nil
}

// userAdvice says, in passkey words, what a user should do about their
// lock-out risk ("" when nothing).
func userAdvice(st standing) string {
	if len(st.Compliant) == 0 && len(st.Creds) > 0 {
		return "None of your passkeys can be used to sign in any more: your organisation's passkey rules changed. Add a passkey that your organisation accepts."
	}
	if !st.Risk.AtRisk {
		return ""
	}
	return resilienceAdvice(st.Compliant)
}

// securityKeyNudge asks an administrator for a roaming security key.
func securityKeyNudge(st standing, admin bool) string {
	if !admin || !st.Risk.SuggestSecurityKey {
		return ""
	}
	return "You are an administrator: add a roaming security key (one that plugs in by USB or works by NFC) and keep it in a safe place, so that you can always sign in to fix things for others."
}

func viewPasskeys(creds []store.Credential) []passkeyView {
	out := make([]passkeyView, 0, len(creds))
	for _, c := range creds {
		k := passkey.Classify(c.BackupEligible, c.BackupState)
		out = append(out, passkeyView{
			ID: c.ID, Name: c.Name, Model: passkey.ModelName(c.AAGUID), AAGUID: passkey.FormatAAGUID(c.AAGUID),
			Type: string(k), TypeLabel: typeDetail(k, c.BackupState), Created: c.CreatedAt, LastUsed: c.LastUsedAt,
			Attestation: c.AttestationFormat, Transports: c.Transports,
		})
	}
	return out
}

// typeDetail is the longer description in the passkey's tooltip: a synced
// passkey whose last sign-in said it is not backed up yet is still treated
// as synced (it may be copied at any time), but people should know its
// backup state, which follows the BS flag of every sign-in.
func typeDetail(k passkey.Kind, backedUp bool) string {
	if k == passkey.KindSynced && !backedUp {
		return k.Label() + " (not backed up yet)"
	}
	if k == passkey.KindSynced {
		return k.Label() + " (backed up)"
	}
	return k.Label()
}

// resilienceAdvice explains, in passkey words, when an account is one lost
// device away from a lock-out.
func resilienceAdvice(creds []store.Credential) string {
	switch {
	case len(creds) == 0:
		return "You have no passkey yet. Add one now: you will use it to sign in."
	case len(creds) == 1:
		return "You have only one passkey. Add a second one (for example on your phone, or a security key) so that losing a device does not lock you out."
	}
	for _, c := range creds {
		if passkey.Classify(c.BackupEligible, c.BackupState) == passkey.KindSynced {
			return ""
		}
	}
	models := map[string]bool{}
	for _, c := range creds {
		models[passkey.FormatAAGUID(c.AAGUID)] = true
	}
	if len(models) == 1 {
		return "All your passkeys are device-bound passkeys of the same kind of authenticator. Add one on another device or a security key so that losing one device does not lock you out."
	}
	return ""
}

func (s *Server) myPage(w http.ResponseWriter, r *http.Request) {
	s.renderMy(w, r, http.StatusOK, nil)
}

// renderMy shows My security info; extra carries a form's error when a
// form is shown again.
func (s *Server) renderMy(w http.ResponseWriter, r *http.Request, status int, extra map[string]any) {
	ctx := r.Context()
	u, sess := currentUser(r), currentSession(r)
	st, err := s.standingOf(ctx, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	signins, err := s.Store.ListSignIns(ctx, store.SignInFilter{UserID: u.ID, Limit: 20})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var tap *store.TAP
	if t, err := s.Store.GetTAP(ctx, u.ID); err == nil && s.Now().Before(t.ExpiresAt) {
		tap = &t
	}
	rs, err := s.SignIn.RegistrationStateFor(ctx, sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	legacy, err := s.legacyViewOf(r, u, &sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var sessionEnds time.Time
	if viaPass(sess) {
		sessionEnds = sess.ExpiresAt
	}
	data := map[string]any{
		"Title":       "My security info",
		"User":        u,
		"Session":     sess,
		"Passkeys":    withCompliance(viewPasskeys(st.Creds), st.Compliance),
		"Advice":      userAdvice(st),
		"KeyNudge":    securityKeyNudge(st, u.Admin),
		"SignIns":     signins,
		"TAP":         tap,
		"SessionEnds": sessionEnds,
		"CanRegister": rs.Allowed,
		"Needs":       rs.Needs,
		"Legacy":      legacy,
		"Welcome":     r.URL.Query().Get("welcome"),
		"Notice":      r.URL.Query().Get("notice"),
		"NoticeText":  myNotices[r.URL.Query().Get("notice")],
		"Confirm":     r.URL.Query().Get("confirm"),
		"CurrentID":   sess.CredentialID,
	}
	for k, v := range extra {
		data[k] = v
	}
	s.renderStatus(w, r, status, "my", data)
}

// viaPass: the session was made with a temporary access pass, so it ends
// early (when the pass does, or soon after a one-time pass's use).
func viaPass(sess store.Session) bool {
	return slices.Contains(sess.Methods, string(methods.MethodTAP))
}

var myNotices = map[string]string{
	"added":        "Passkey added. You can use it to sign in from now on.",
	"renamed":      "Passkey renamed.",
	"removed":      "Passkey removed. It no longer works for signing in, even if your device still offers it.",
	"tap_deleted":  "Your temporary access pass is deleted: it no longer works.",
	"password_set": "Password saved.",
	"totp_added":   "Authenticator app added. You will be asked for a code from it after your password.",
	"totp_removed": "Authenticator app removed.",
}

// deleteOwnTAP lets users delete their temporary access pass once they no
// longer need it (they added a passkey, or never asked for one).
func (s *Server) deleteOwnTAP(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	if err := s.Store.DeleteTAP(r.Context(), u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	audit.Log(r.Context(), s.Store, s.Now(), audit.Actor(u.Username), "tap.delete", u.Username, nil)
	http.Redirect(w, r, "/my?notice=tap_deleted", http.StatusSeeOther)
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	u, sess := currentUser(r), currentSession(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": u.ID, "username": u.Username, "email": u.Email, "name": u.DisplayName, "admin": u.Admin,
		"methods": sess.Methods, "auth_time": sess.AuthTime.UTC().Format(time.RFC3339),
	})
}

func (s *Server) registerBegin(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := readJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.checkSecurityInfo(r); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.SignIn.BeginRegistration(r.Context(), currentSession(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) registerFinish(w http.ResponseWriter, r *http.Request) {
	var req finishRequest
	if err := readJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.SignIn.FinishRegistration(r.Context(), currentSession(r), req.Ceremony, req.Credential, req.Name, meta(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Source == "campaign" {
		s.SignIn.RecordCampaign(r.Context(), currentUser(r), "registered", map[string]any{"passkey": c.ID})
	}
	// The passkey is stored whatever happens next; a one-time pass session
	// now goes on as a session of it.
	if res, ok, err := s.SignIn.ContinueAsPasskey(r.Context(), currentSession(r), currentUser(r), c, meta(r)); err != nil {
		s.Log.ErrorContext(r.Context(), "continuing the pass session with the new passkey failed", "user", currentUser(r).Username, "err", err)
	} else if ok {
		s.setSessionCookie(w, res)
	}
	v := viewPasskeys([]store.Credential{c})[0]
	writeJSON(w, http.StatusOK, map[string]any{"id": v.ID, "name": v.Name, "model": v.Model, "type": v.Type})
}

func (s *Server) renamePasskey(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	u := currentUser(r)
	if err := s.SignIn.RenamePasskey(r.Context(), audit.Actor(u.Username), u.ID, r.PathValue("id"), r.PostForm.Get("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/my?notice=renamed", http.StatusSeeOther)
}

var errConfirmLast = problem.New(http.StatusConflict, "confirm_last_passkey", "This is your last passkey. Confirm to remove it.")

func (s *Server) deletePasskey(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	u := currentUser(r)
	id := r.PathValue("id")
	c, err := s.SignIn.OwnedPasskey(r.Context(), u.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	creds, err := s.Store.ListCredentials(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Removing the last passkey leaves the user unable to sign in: ask, and
	// say what it means, before doing it.
	if len(creds) == 1 && r.PostForm.Get("confirm") != "yes" {
		s.renderStatus(w, r, http.StatusConflict, "confirm_delete", map[string]any{"Title": "Remove your last passkey?", "Passkey": viewPasskeys([]store.Credential{c})[0]})
		return
	}
	if _, err := s.SignIn.RemovePasskey(r.Context(), audit.Actor(u.Username), u.ID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if currentSession(r).CredentialID == id {
		// This session was made with the passkey just removed, and is gone.
		s.clearCookie(w)
		http.Redirect(w, r, "/signin?notice=session_ended", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/my?notice=removed", http.StatusSeeOther)
}
