package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

var (
	ErrUnknownPasskey = problem.New(http.StatusNotFound, "unknown_passkey", "That passkey does not exist (it may already have been removed).")
	ErrBadPasskeyName = problem.BadRequest("A passkey name must be 1 to 64 characters, without control characters.")
)

// BeginRegistration starts registering a passkey for the signed-in user.
func (s *Service) BeginRegistration(ctx context.Context, sess store.Session) (Ceremony, error) {
	u, err := s.Store.GetUser(ctx, sess.UserID)
	if err != nil {
		return Ceremony{}, err
	}
	if u.Disabled {
		return Ceremony{}, ErrUserDisabled
	}
	rs, err := s.RegistrationStateFor(ctx, sess)
	if err != nil {
		return Ceremony{}, err
	}
	if !rs.Allowed {
		audit.Log(ctx, s.Store, s.Now(), audit.Actor(u.Username), "passkey.register_refused", u.Username,
			map[string]string{"reason": ErrRegistrationNotAllowed.Code, "detail": rs.Reason})
		return Ceremony{}, ErrRegistrationNotAllowed.WithDetail("%s", rs.Reason)
	}
	existing, err := s.Store.ListCredentials(ctx, u.ID)
	if err != nil {
		return Ceremony{}, err
	}
	// Attestation is requested only when a profile that applies enforces
	// it: asking for it otherwise makes some browsers show a privacy prompt
	// for nothing.
	opts, state, err := s.RP.BeginRegistrationWith(u, existing, passkey.RegistrationOptions{Attestation: rs.Needs.Attestation})
	if err != nil {
		return Ceremony{}, err
	}
	c := store.Challenge{ID: store.NewID(), Kind: "register", UserID: u.ID, Data: state, ExpiresAt: s.Now().Add(s.ChallengeTTL)}
	if err := s.Store.PutChallenge(ctx, c); err != nil {
		return Ceremony{}, err
	}
	return Ceremony{ID: c.ID, Options: opts}, nil
}

// FinishRegistration verifies the browser's response and stores the new
// passkey under a readable name (the model, unless the user gave one).
func (s *Service) FinishRegistration(ctx context.Context, sess store.Session, ceremonyID string, response []byte, name string, meta Meta) (store.Credential, error) {
	ch, err := s.takeChallenge(ctx, ceremonyID, "register")
	if err != nil {
		return store.Credential{}, err
	}
	if ch.UserID != sess.UserID {
		return store.Credential{}, ErrChallengeUnknown.WithDetail("registration ceremony belongs to another user")
	}
	u, err := s.Store.GetUser(ctx, sess.UserID)
	if err != nil {
		return store.Credential{}, err
	}
	if u.Disabled {
		return store.Credential{}, ErrUserDisabled
	}
	existing, err := s.Store.ListCredentials(ctx, u.ID)
	if err != nil {
		return store.Credential{}, err
	}
	// The policy is read again: a change since the ceremony began applies.
	rs, err := s.RegistrationStateFor(ctx, sess)
	if err != nil {
		return store.Credential{}, err
	}
	if !rs.Allowed {
		s.refuseRegistration(ctx, u, meta, ErrRegistrationNotAllowed.WithDetail("%s", rs.Reason), nil)
		return store.Credential{}, ErrRegistrationNotAllowed.WithDetail("%s", rs.Reason)
	}
	cred, err := s.RP.FinishRegistration(u, existing, ch.Data, response)
	if err != nil {
		p := problem.As(err)
		s.Log.Log(ctx, levelFor(p), "passkey registration refused", "user", u.Username, "reason", p.Code, "detail", p.Detail, "ip", meta.IP,
			"possible_phishing", p.Code == passkey.ErrOriginMismatch.Code || p.Code == passkey.ErrRPIDMismatch.Code)
		if p.Code == passkey.ErrOriginMismatch.Code || p.Code == passkey.ErrRPIDMismatch.Code {
			audit.Log(ctx, s.Store, s.Now(), audit.Actor(u.Username), "passkey.register_refused", u.Username, map[string]string{"reason": p.Code, "detail": p.Detail, "ip": meta.IP})
		}
		return store.Credential{}, err
	}
	// Only a response whose signature verified gets this far: now decide
	// whether the organisation accepts this passkey.
	accepted, err := s.checkNewPasskey(ctx, u, cred, response, meta)
	if err != nil {
		return store.Credential{}, err
	}
	if name = strings.TrimSpace(name); name != "" {
		if name, err = checkName(name); err != nil {
			return store.Credential{}, err
		}
	} else {
		name = uniqueName(passkey.ModelName(cred.AAGUID), existing)
	}
	now := s.Now()
	cred.Name, cred.CreatedAt = name, now
	if err := s.Store.CreateCredential(ctx, cred); errors.Is(err, store.ErrConflict) {
		return store.Credential{}, problem.New(http.StatusConflict, "already_registered", "This passkey is already registered.")
	} else if err != nil {
		return store.Credential{}, err
	}
	detail := map[string]string{
		"passkey": cred.ID, "name": cred.Name, "model": passkey.ModelName(cred.AAGUID), "aaguid": passkey.FormatAAGUID(cred.AAGUID),
		"type": string(passkey.Classify(cred.BackupEligible, cred.BackupState)), "attestation": cred.AttestationFormat,
	}
	for k, v := range accepted {
		detail[k] = v
	}
	audit.Log(ctx, s.Store, now, audit.Actor(u.Username), "passkey.register", u.Username, detail)
	return cred, nil
}

// checkNewPasskey applies the passkey profiles to a verified registration:
// type, model and, where a profile enforces it, attestation against the
// loaded FIDO metadata. A refusal is recorded in the audit log.
func (s *Service) checkNewPasskey(ctx context.Context, u store.User, cred store.Credential, response []byte, meta Meta) (map[string]string, error) {
	p, err := s.Policy(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := s.Groups(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	f := passkey.Facts{AAGUID: cred.AAGUID, BackupEligible: cred.BackupEligible, Registration: true}
	checked := passkey.NeedsFor(p.Passkey.Profiles, groups).Attestation
	if checked {
		if err := s.attestationFacts(ctx, &f, response); err != nil {
			return nil, err
		}
	}
	v := methods.PasskeyAllowed(p, groups, f)
	if !v.OK {
		refusal := v.Problem()
		s.refuseRegistration(ctx, u, meta, refusal, &cred)
		return nil, refusal
	}
	out := map[string]string{"profile": v.Profile}
	if checked {
		out["attestation_trusted"] = fmt.Sprint(f.AttestationTrusted)
		out["attestation_result"] = f.AttestationReason
	}
	return out, nil
}

// refuseRegistration logs a refused registration and records it in the
// audit log with the passkey's model and type when known.
func (s *Service) refuseRegistration(ctx context.Context, u store.User, meta Meta, p *problem.Error, cred *store.Credential) {
	s.Log.InfoContext(ctx, "passkey registration refused by policy", "user", u.Username, "reason", p.Code, "detail", p.Detail, "ip", meta.IP)
	d := map[string]string{"reason": p.Code, "detail": p.Detail, "ip": meta.IP}
	if cred != nil {
		d["model"], d["aaguid"] = passkey.ModelName(cred.AAGUID), passkey.FormatAAGUID(cred.AAGUID)
		d["type"] = string(passkey.Classify(cred.BackupEligible, cred.BackupState))
		d["attestation"] = cred.AttestationFormat
	}
	audit.Log(ctx, s.Store, s.Now(), audit.Actor(u.Username), "passkey.register_refused", u.Username, d)
}

func levelFor(p *problem.Error) slog.Level {
	if p.Code == "internal" {
		return slog.LevelError
	}
	return slog.LevelInfo
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 64 || strings.ContainsFunc(name, unicode.IsControl) {
		return "", ErrBadPasskeyName
	}
	return name, nil
}

// uniqueName avoids two passkeys called "iCloud Keychain" in one list.
func uniqueName(base string, existing []store.Credential) string {
	taken := map[string]bool{}
	for _, c := range existing {
		taken[c.Name] = true
	}
	if !taken[base] {
		return base
	}
	for i := 2; ; i++ {
		if n := fmt.Sprintf("%s (%d)", base, i); !taken[n] {
			return n
		}
	}
}

// OwnedPasskey returns the user's passkey with Sesame ID id; a passkey of
// another user is reported as unknown.
func (s *Service) OwnedPasskey(ctx context.Context, userID, id string) (store.Credential, error) {
	c, err := s.Store.GetCredential(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.UserID != userID) {
		return store.Credential{}, ErrUnknownPasskey
	}
	return c, err
}

// RenamePasskey renames one of the user's passkeys.
func (s *Service) RenamePasskey(ctx context.Context, actor audit.Actor, userID, id, name string) error {
	name, err := checkName(name)
	if err != nil {
		return err
	}
	c, err := s.OwnedPasskey(ctx, userID, id)
	if err != nil {
		return err
	}
	if err := s.Store.RenameCredential(ctx, c.ID, name); err != nil {
		return err
	}
	audit.Log(ctx, s.Store, s.Now(), actor, "passkey.rename", c.ID, map[string]string{"before": c.Name, "after": name})
	return nil
}

// RemovePasskey deletes (revokes) one of the user's passkeys. The sessions
// created with it end too, so a lost device's session cannot outlive it.
func (s *Service) RemovePasskey(ctx context.Context, actor audit.Actor, userID, id string) (store.Credential, error) {
	c, err := s.OwnedPasskey(ctx, userID, id)
	if err != nil {
		return c, err
	}
	if s.CheckPasskeyRevocation != nil {
		u, err := s.Store.GetUser(ctx, userID)
		if err != nil {
			return c, err
		}
		// Asked before anything is told or written: a refusal changes nothing.
		if err := s.CheckPasskeyRevocation(ctx, u, c); err != nil {
			return c, err
		}
	}
	// The apps signed in to with it are told first: deleting the passkey
	// deletes its sessions and the grants that name those apps.
	if s.OnSessionEnd != nil {
		s.OnSessionEnd(ctx, store.SessionEnd{UserID: userID, CredentialID: c.ID, Reason: "passkey_revoked"})
	}
	if err := s.Store.DeleteCredential(ctx, c.ID); err != nil {
		return c, err
	}
	audit.Log(ctx, s.Store, s.Now(), actor, "passkey.revoke", c.ID, map[string]string{"user": userID, "name": c.Name, "model": passkey.ModelName(c.AAGUID)})
	return c, nil
}

// ContinueAsPasskey turns the session of a one-time pass that has just
// registered cred into a session of that passkey (methods.TAPSessionContinues):
// a new session (a new token: the session's strength changes) with the
// normal lifetime, and the pass session is ended. ok is false, and nothing
// changes, for any other session.
func (s *Service) ContinueAsPasskey(ctx context.Context, sess store.Session, u store.User, cred store.Credential, meta Meta) (res Result, ok bool, err error) {
	if len(sess.Methods) != 1 || sess.Methods[0] != "tap" {
		return Result{}, false, nil
	}
	tap, err := s.Store.GetTAP(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, false, nil
	} else if err != nil {
		return Result{}, false, err
	}
	if !methods.TAPSessionContinues(sess.Methods, sess.AuthTime, tap) {
		return Result{}, false, nil
	}
	res, err = s.newSession(ctx, u, []string{"passkey"}, cred.ID, time.Time{}, meta)
	if err != nil {
		return Result{}, false, err
	}
	if err := s.Store.DeleteSession(ctx, sess.TokenHash); err != nil {
		return Result{}, false, err
	}
	res.Credential = &cred
	audit.Log(ctx, s.Store, s.Now(), audit.Actor(u.Username), "session.continue_with_passkey", u.Username, map[string]string{
		"passkey": cred.ID, "type": string(passkey.Classify(cred.BackupEligible, cred.BackupState)), "ip": meta.IP,
	})
	return res, true, nil
}
