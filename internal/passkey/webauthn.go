package passkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Refusals of a passkey ceremony. Messages speak passkeys, never passwords,
// and never repeat library text; details go to the log.
var (
	ErrMalformed = problem.New(http.StatusBadRequest, "malformed_response",
		"Your browser sent a passkey response that could not be read. Please try again.")
	ErrOriginMismatch = problem.New(http.StatusBadRequest, "origin_mismatch",
		"This passkey response was made for a different website. Make sure you are on the real sign-in page and try again.")
	ErrRPIDMismatch = problem.New(http.StatusBadRequest, "rp_id_mismatch",
		"This passkey belongs to a different website. Make sure you are on the real sign-in page and try again.")
	ErrUserNotVerified = problem.New(http.StatusUnauthorized, "user_not_verified",
		"Your device did not confirm it was you (fingerprint, face or PIN). Please try again and complete that step.")
	ErrUnknownCredential = problem.New(http.StatusUnauthorized, "unknown_credential",
		"This passkey no longer works here: it was removed, or it was never registered with this organisation. Sign in with another passkey, or ask your administrator for a temporary access pass.")
	ErrUserHandleMismatch = problem.New(http.StatusUnauthorized, "user_handle_mismatch",
		"This passkey does not belong to that account. Sign in with another passkey.")
	ErrCounterRegression = problem.New(http.StatusUnauthorized, "counter_regression",
		"This passkey was refused because it may have been copied. Use another passkey and tell your administrator.")
	ErrVerificationFailed = problem.New(http.StatusUnauthorized, "verification_failed",
		"Your passkey could not be verified. Please try again.")
	ErrWrongCeremony = problem.New(http.StatusBadRequest, "wrong_ceremony",
		"This passkey response does not match the request. Please try again.")
)

// RP performs WebAuthn ceremonies for one relying party (one deployment).
type RP struct {
	web      *webauthn.WebAuthn
	cfg      config.RelyingParty
	rpIDHash [32]byte
}

// Algorithms Sesame accepts for new passkeys, in order of preference:
// ES256 (what nearly every authenticator makes), EdDSA, RS256 (Windows Hello
// on older TPMs).
var Algorithms = []webauthncose.COSEAlgorithmIdentifier{webauthncose.AlgES256, webauthncose.AlgEdDSA, webauthncose.AlgRS256}

// NewRP configures the ceremonies. Challenge expiry is enforced by the
// caller with Sesame's clock, not by the library's wall clock.
func NewRP(rp config.RelyingParty, timeout time.Duration) (*RP, error) {
	w, err := webauthn.New(&webauthn.Config{
		RPID:          rp.ID,
		RPDisplayName: rp.Name,
		RPOrigins:     rp.Origins,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: timeout, TimeoutUVD: timeout},
			Registration: webauthn.TimeoutConfig{Timeout: timeout, TimeoutUVD: timeout},
		},
	})
	if err != nil {
		return nil, err
	}
	return &RP{web: w, cfg: rp, rpIDHash: sha256.Sum256([]byte(rp.ID))}, nil
}

// ID is the RP ID.
func (r *RP) ID() string { return r.cfg.ID }

// user adapts a directory user and their passkeys to go-webauthn.
type user struct {
	u     store.User
	creds []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return []byte(u.u.ID) }
func (u *user) WebAuthnName() string                       { return u.u.Username }
func (u *user) WebAuthnDisplayName() string                { return u.u.DisplayName }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func newUser(u store.User, creds []store.Credential) *user {
	wu := &user{u: u}
	for _, c := range creds {
		wu.creds = append(wu.creds, toLibrary(c))
	}
	return wu
}

func toLibrary(c store.Credential) webauthn.Credential {
	wc := webauthn.Credential{
		ID:                c.CredentialID,
		PublicKey:         c.PublicKey,
		AttestationFormat: c.AttestationFormat,
		AttestationType:   c.AttestationTrust,
		Flags: webauthn.CredentialFlags{
			UserPresent:    true,
			UserVerified:   true,
			BackupEligible: c.BackupEligible,
			BackupState:    c.BackupState,
		},
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
	for _, t := range c.Transports {
		wc.Transport = append(wc.Transport, protocol.AuthenticatorTransport(t))
	}
	return wc
}

// Options are what the browser gets to start a ceremony (the JSON form
// that PublicKeyCredential.parse*OptionsFromJSON accepts lives under
// "publicKey").
type Options = json.RawMessage

// BeginRegistration starts registering a new passkey for u. Existing
// passkeys are always excluded so an authenticator that already holds one
// for this account says so instead of silently replacing it.
func (r *RP) BeginRegistration(u store.User, existing []store.Credential) (Options, []byte, error) {
	return r.BeginRegistrationWith(u, existing, RegistrationOptions{})
}

// RegistrationOptions adjust a registration ceremony to the passkey
// profiles that apply to the user.
type RegistrationOptions struct {
	// Attestation asks the authenticator for a direct attestation
	// statement (conveyance "direct"), because a profile enforces
	// attestation. Without it Sesame asks for none, which browsers honour
	// by stripping whatever the authenticator made.
	Attestation bool
}

// BeginRegistrationWith is BeginRegistration with options.
func (r *RP) BeginRegistrationWith(u store.User, existing []store.Credential, o RegistrationOptions) (Options, []byte, error) {
	wu := newUser(u, existing)
	conveyance := protocol.PreferNoAttestation
	if o.Attestation {
		conveyance = protocol.PreferDirectAttestation
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range wu.creds {
		exclude = append(exclude, c.Descriptor())
	}
	params := make([]protocol.CredentialParameter, 0, len(Algorithms))
	for _, a := range Algorithms {
		params = append(params, protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: a})
	}
	requireResident := true
	creation, session, err := r.web.BeginRegistration(wu,
		webauthn.WithCredentialParameters(params),
		webauthn.WithExclusions(exclude),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			RequireResidentKey: &requireResident,
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithConveyancePreference(conveyance),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		return nil, nil, err
	}
	return marshalPair(creation, session)
}

// Registered is the outcome of a successful registration.
type Registered struct {
	Credential store.Credential
}

// FinishRegistration verifies a registration response. It returns a
// *problem.Error for every refusal.
func (r *RP) FinishRegistration(u store.User, existing []store.Credential, sessionJSON, body []byte) (store.Credential, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(sessionJSON, &session); err != nil {
		return store.Credential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return store.Credential{}, ErrMalformed.WithDetail("%s", libraryDetail(err))
	}
	if err := r.checkBinding(parsed.Response.CollectedClientData, parsed.Response.AttestationObject.AuthData, protocol.CreateCeremony); err != nil {
		return store.Credential{}, err
	}
	if !parsed.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
		return store.Credential{}, ErrUserNotVerified
	}
	c, err := r.web.CreateCredential(newUser(u, existing), session, parsed)
	if err != nil {
		return store.Credential{}, ErrVerificationFailed.WithDetail("%s", libraryDetail(err))
	}
	for _, e := range existing {
		if bytes.Equal(e.CredentialID, c.ID) {
			return store.Credential{}, problem.New(http.StatusConflict, "already_registered",
				"This passkey is already registered to your account.")
		}
	}
	out := store.Credential{
		ID:                store.NewID(),
		UserID:            u.ID,
		CredentialID:      c.ID,
		PublicKey:         c.PublicKey,
		AAGUID:            c.Authenticator.AAGUID,
		AttestationFormat: c.AttestationFormat,
		AttestationTrust:  c.AttestationType,
		SignCount:         c.Authenticator.SignCount,
		BackupEligible:    c.Flags.BackupEligible,
		BackupState:       c.Flags.BackupState,
	}
	if alg, err := webauthncose.ParsePublicKey(c.PublicKey); err == nil {
		out.Algorithm = algorithmOf(alg)
	}
	for _, t := range c.Transport {
		out.Transports = append(out.Transports, string(t))
	}
	if len(out.AAGUID) != 16 {
		out.AAGUID = make([]byte, 16)
	}
	if out.AttestationFormat == "" {
		out.AttestationFormat = "none"
	}
	return out, nil
}

func algorithmOf(key any) int64 {
	switch k := key.(type) {
	case webauthncose.EC2PublicKeyData:
		return k.Algorithm
	case webauthncose.OKPPublicKeyData:
		return k.Algorithm
	case webauthncose.RSAPublicKeyData:
		return k.Algorithm
	}
	return 0
}

// BeginLogin starts a sign-in. With a user (username-first) the allow list
// names that user's passkeys; without one the browser offers discoverable
// passkeys (the button, and autofill through conditional mediation).
func (r *RP) BeginLogin(u *store.User, creds []store.Credential) (Options, []byte, error) {
	opts := []webauthn.LoginOption{webauthn.WithUserVerification(protocol.VerificationRequired)}
	if u != nil && len(creds) > 0 {
		wu := newUser(*u, creds)
		assertion, session, err := r.web.BeginLogin(wu, opts...)
		if err != nil {
			return nil, nil, err
		}
		return marshalPair(assertion, session)
	}
	assertion, session, err := r.web.BeginDiscoverableLogin(opts...)
	if err != nil {
		return nil, nil, err
	}
	return marshalPair(assertion, session)
}

// Assertion is a parsed sign-in response, before verification.
type Assertion struct {
	parsed *protocol.ParsedCredentialAssertionData
}

// CredentialID is the credential the response claims to be from.
func (a *Assertion) CredentialID() []byte { return a.parsed.RawID }

// UserHandle is the user handle the authenticator returned, if any.
func (a *Assertion) UserHandle() []byte { return a.parsed.Response.UserHandle }

// ParseAssertion parses a sign-in response and checks that it was made for
// this relying party: a response made for another origin or RP ID is a
// possible phishing attempt and is reported as such before anything else.
func (r *RP) ParseAssertion(body []byte) (*Assertion, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, ErrMalformed.WithDetail("%s", libraryDetail(err))
	}
	if err := r.checkBinding(parsed.Response.CollectedClientData, parsed.Response.AuthenticatorData, protocol.AssertCeremony); err != nil {
		return nil, err
	}
	return &Assertion{parsed: parsed}, nil
}

// Used is what a verified sign-in tells about the passkey.
type Used struct {
	SignCount    uint32
	BackupState  bool
	UserVerified bool
}

// FinishLogin verifies an assertion for the passkey c of user u against
// the ceremony state.
func (r *RP) FinishLogin(u store.User, c store.Credential, sessionJSON []byte, a *Assertion) (Used, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(sessionJSON, &session); err != nil {
		return Used{}, err
	}
	if h := a.UserHandle(); len(h) > 0 && !bytes.Equal(h, []byte(u.ID)) {
		return Used{}, ErrUserHandleMismatch.WithDetail("credential %s belongs to user %s, response names another user handle", c.ID, u.ID)
	}
	flags := a.parsed.Response.AuthenticatorData.Flags
	if !flags.HasUserVerified() {
		return Used{}, ErrUserNotVerified
	}
	if flags.HasBackupEligible() != c.BackupEligible {
		return Used{}, ErrVerificationFailed.WithDetail("backup eligibility changed from %v: the response is not from the registered passkey", c.BackupEligible)
	}
	wu := newUser(u, []store.Credential{c})
	var (
		got *webauthn.Credential
		err error
	)
	if len(session.UserID) > 0 {
		// Username-first: the ceremony was for one user's allow list.
		if !bytes.Equal(session.UserID, []byte(u.ID)) {
			return Used{}, ErrUserHandleMismatch.WithDetail("ceremony for another user")
		}
		if !allowed(session.AllowedCredentialIDs, c.CredentialID) {
			return Used{}, ErrUnknownCredential.WithDetail("credential not in the ceremony's allow list")
		}
		session.AllowedCredentialIDs = [][]byte{c.CredentialID}
		got, err = r.web.ValidateLogin(wu, session, a.parsed)
	} else {
		if len(a.UserHandle()) == 0 {
			return Used{}, ErrMalformed.WithDetail("discoverable sign-in without a user handle")
		}
		_, got, err = r.web.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return wu, nil }, session, a.parsed)
	}
	if err != nil {
		return Used{}, ErrVerificationFailed.WithDetail("%s", libraryDetail(err))
	}
	if got.Authenticator.CloneWarning {
		return Used{}, ErrCounterRegression.WithDetail("stored counter %d, received %d", c.SignCount, a.parsed.Response.AuthenticatorData.Counter)
	}
	return Used{SignCount: got.Authenticator.SignCount, BackupState: flags.HasBackupState(), UserVerified: true}, nil
}

func allowed(list [][]byte, id []byte) bool {
	for _, l := range list {
		if bytes.Equal(l, id) {
			return true
		}
	}
	return false
}

// checkBinding verifies the parts of a response that tie it to this site:
// the ceremony type, the origin in clientDataJSON and the RP ID hash in
// the authenticator data. These are checked here, explicitly, so that a
// mismatch can be told apart from other failures and logged as possible
// phishing.
func (r *RP) checkBinding(cd protocol.CollectedClientData, ad protocol.AuthenticatorData, ceremony protocol.CeremonyType) error {
	if cd.Type != ceremony {
		return ErrWrongCeremony.WithDetail("expected %s, received %s", ceremony, cd.Type)
	}
	if !protocol.IsOriginInHaystack(cd.Origin, r.cfg.Origins) {
		return ErrOriginMismatch.WithDetail("expected one of %v, received %q", r.cfg.Origins, cd.Origin)
	}
	if cd.CrossOrigin {
		return ErrOriginMismatch.WithDetail("cross-origin ceremony from top origin %q", cd.TopOrigin)
	}
	if !bytes.Equal(ad.RPIDHash, r.rpIDHash[:]) {
		return ErrRPIDMismatch.WithDetail("RP ID hash %x is not the hash of %q", ad.RPIDHash, r.cfg.ID)
	}
	return nil
}

// libraryDetail extracts the useful part of a go-webauthn error for logs.
func libraryDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		s := pe.Type + ": " + pe.Details
		if pe.DevInfo != "" {
			s += ": " + pe.DevInfo
		}
		return s
	}
	return err.Error()
}

func marshalPair(options any, session *webauthn.SessionData) (Options, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, err
	}
	s, err := json.Marshal(session)
	if err != nil {
		return nil, nil, err
	}
	return o, s, nil
}
