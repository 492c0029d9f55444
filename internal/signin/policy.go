package signin

// The methods policy in the flow: which passkeys may register and sign in,
// what a registration asks the authenticator for, and what a user's
// passkeys look like under the policy in force (compliance, lock-out
// risk). Decisions are methods' and passkey's pure functions; this file
// loads what they take.

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// ErrRegistrationNotAllowed: the policy does not let this user register a
// passkey now.
var ErrRegistrationNotAllowed = problem.New(http.StatusForbidden, "registration_not_allowed",
	"Your organisation does not let you add a passkey yourself right now. Ask your administrator for a temporary access pass, then add your passkey after signing in with it.")

// Policy returns the methods policy in force: the stored one, or the
// default when no policy service is configured (tests, tools).
func (s *Service) Policy(ctx context.Context) (methods.Policy, error) {
	if s.Policies == nil {
		return methods.DefaultPolicy(), nil
	}
	return s.Policies.Load(ctx)
}

// Groups lists the names of the user's groups, the form policy decisions
// take.
func (s *Service) Groups(ctx context.Context, userID string) ([]string, error) {
	return methods.GroupNames(ctx, s.Store, userID)
}

// viaTAP reports whether a session was begun with a temporary access pass
// or the first-admin setup link: both exist to register a passkey, so
// registration works in them even when self-service registration is off.
func viaTAP(sess store.Session) bool {
	return slices.Contains(sess.Methods, string(methods.MethodTAP)) || slices.Contains(sess.Methods, "setup")
}

// RegistrationState says whether the signed-in user may add a passkey now,
// and what the page should tell them beforehand.
type RegistrationState struct {
	Allowed bool
	Reason  string // why not (for logs and admins)
	Needs   passkey.RegistrationNeeds
}

// RegistrationStateFor decides registration for a session's user.
func (s *Service) RegistrationStateFor(ctx context.Context, sess store.Session) (RegistrationState, error) {
	p, err := s.Policy(ctx)
	if err != nil {
		return RegistrationState{}, err
	}
	groups, err := s.Groups(ctx, sess.UserID)
	if err != nil {
		return RegistrationState{}, err
	}
	ok, why := methods.PasskeyRegistrationAllowed(p, groups, viaTAP(sess))
	return RegistrationState{Allowed: ok, Reason: why, Needs: passkey.NeedsFor(p.Passkey.Profiles, groups)}, nil
}

// Compliance is a registered passkey's standing under the policy in force.
type Compliance struct {
	OK      bool
	Code    string // refusal code when not OK
	Reason  string // for admins: which profile refused it and why
	Message string // for the user
}

// ComplianceOf checks every passkey of a user (a member of groups) against
// policy p, keyed by Sesame credential ID.
func ComplianceOf(p methods.Policy, groups []string, creds []store.Credential) map[string]Compliance {
	out := make(map[string]Compliance, len(creds))
	for _, c := range creds {
		v := methods.PasskeyAllowed(p, groups, passkey.FactsOf(c))
		out[c.ID] = Compliance{OK: v.OK, Code: v.Code, Reason: v.Reason, Message: nonCompliantMessage(v)}
	}
	return out
}

// CompliantOnly keeps the passkeys that may sign in: a passkey that cannot
// sign in protects nobody from a lock-out.
func CompliantOnly(p methods.Policy, groups []string, creds []store.Credential) []store.Credential {
	var out []store.Credential
	for _, c := range creds {
		if methods.PasskeyAllowed(p, groups, passkey.FactsOf(c)).OK {
			out = append(out, c)
		}
	}
	return out
}

// nonCompliantMessage says, for the user, why a registered passkey no
// longer works and what to do.
func nonCompliantMessage(v passkey.Verdict) string {
	if v.OK {
		return ""
	}
	var why string
	switch v.Code {
	case methods.CodeMethodNotAllowed, passkey.CodeNoProfile:
		why = "your organisation no longer allows passkeys for your account."
	case passkey.CodeTypeNotAllowed:
		why = "your organisation no longer accepts this type of passkey for your account."
		if v.Message != "" {
			why = "your organisation no longer accepts this type of passkey for your account. " + v.Message
		}
	case passkey.CodeModelBlocked:
		why = "your organisation has blocked this passkey provider or security key model."
	case passkey.CodeModelNotAllowed:
		why = "this passkey provider or security key model is not on your organisation's list of accepted models."
	default:
		why = "it no longer meets your organisation's passkey rules."
	}
	return "This passkey can no longer be used to sign in: " + why + " Sign in with another passkey, or ask your administrator for a temporary access pass, then add a passkey that is accepted."
}

// signInRefusal is the refusal of a sign-in with a non-compliant passkey:
// the verdict's code (for the sign-in log and admins), a message that says
// the passkey stopped working and what to do.
func signInRefusal(v passkey.Verdict) *problem.Error {
	code := v.Code
	if code == "" {
		code = passkey.CodeNoProfile
	}
	return problem.New(http.StatusForbidden, code, nonCompliantMessage(v)).WithDetail("%s", v.Reason)
}

// attestationFacts fills in the attestation verdict of a registration
// response when an applicable profile enforces attestation. Enforcement
// fails closed: missing metadata, no attestation, self attestation or a
// broken chain all leave the passkey untrusted.
func (s *Service) attestationFacts(ctx context.Context, f *passkey.Facts, response []byte) error {
	af, err := passkey.AttestationFactsFromResponse(response)
	if err != nil {
		f.AttestationReason = "the attestation could not be read"
		return nil
	}
	var md *passkey.Metadata
	if s.Metadata != nil {
		if md, err = s.Metadata.Load(ctx); err != nil {
			return err
		}
	}
	res := passkey.CheckAttestation(af, md, s.Now())
	f.AttestationTrusted, f.AttestationReason = res.Trusted, res.Reason
	if !res.Trusted && f.AttestationReason == "" {
		f.AttestationReason = fmt.Sprintf("attestation format %q not trusted", af.Format)
	}
	return nil
}
