package methods

// The authentication methods policy: which sign-in methods exist for whom,
// which passkeys are acceptable (profiles), the TAP settings and the
// registration campaign. One JSON document, edited by admins as a whole.
// Everything here is a plain value or a pure function over plain values.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/passkey"
)

// Method names a way to prove who you are. The values are also what a
// session records in store.Session.Methods and what strengths list.
type Method string

const (
	MethodPasskey  Method = "passkey"
	MethodTAP      Method = "tap"
	MethodPassword Method = "password"
	MethodTOTP     Method = "totp"
)

// Methods lists every method the policy governs, in display order.
var Methods = []Method{MethodPasskey, MethodTAP, MethodPassword, MethodTOTP}

// Label is the method in words for admins and users.
func (m Method) Label() string {
	switch m {
	case MethodPasskey:
		return "Passkey"
	case MethodTAP:
		return "Temporary access pass"
	case MethodPassword:
		return "Password"
	case MethodTOTP:
		return "Authenticator app code (TOTP)"
	}
	return string(m)
}

// PolicySchema is the version of the document format this code writes.
// A document with a higher schema comes from a newer Sesame and is
// refused rather than half understood.
const PolicySchema = 1

// MethodSetting turns a method on for some users. Exclusion wins and
// blocks both registering and signing in with the method.
type MethodSetting struct {
	Enabled bool        `json:"enabled"`
	Scope   scope.Scope `json:"scope"`
}

// PasskeyMethod is the passkey method with its passkey settings.
type PasskeyMethod struct {
	MethodSetting
	// SelfServiceRegistration lets users add passkeys from My security info
	// whenever they are signed in. When off, a passkey can be registered
	// only in a session begun with a temporary access pass, which an admin
	// issues: the admin decides when registration happens.
	SelfServiceRegistration bool              `json:"self_service_registration"`
	Profiles                []passkey.Profile `json:"profiles"`
}

// TAPMethod is the temporary access pass method with its issuing policy.
type TAPMethod struct {
	MethodSetting
	Policy TAPPolicy `json:"policy"`
}

// Policy is the whole methods policy document.
type Policy struct {
	Schema int `json:"schema"`
	// Revision counts saves (0: never saved). A document sent back with a
	// revision other than the stored one was edited from an outdated copy
	// and is refused.
	Revision  int       `json:"revision"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	UpdatedBy string    `json:"updated_by,omitempty"`

	Passkey  PasskeyMethod `json:"passkey"`
	TAP      TAPMethod     `json:"tap"`
	Password MethodSetting `json:"password"`
	TOTP     MethodSetting `json:"totp"`

	Campaign Campaign `json:"registration_campaign"`
}

// DefaultPolicy keeps the behaviour Sesame had before the policy existed:
// passkeys and TAPs for all users, one profile accepting every passkey,
// self-service registration on; password and TOTP off; no campaign.
func DefaultPolicy() Policy {
	return Policy{
		Schema: PolicySchema,
		Passkey: PasskeyMethod{
			MethodSetting:           MethodSetting{Enabled: true, Scope: scope.All()},
			SelfServiceRegistration: true,
			Profiles:                []passkey.Profile{passkey.DefaultProfile()},
		},
		TAP:      TAPMethod{MethodSetting: MethodSetting{Enabled: true, Scope: scope.All()}, Policy: DefaultTAPPolicy},
		Password: MethodSetting{Scope: scope.Scope{}},
		TOTP:     MethodSetting{Scope: scope.Scope{}},
		Campaign: DefaultCampaign(),
	}
}

// Setting returns the setting of method m (a disabled one for an unknown
// method).
func (p Policy) Setting(m Method) (MethodSetting, bool) {
	switch m {
	case MethodPasskey:
		return p.Passkey.MethodSetting, true
	case MethodTAP:
		return p.TAP.MethodSetting, true
	case MethodPassword:
		return p.Password, true
	case MethodTOTP:
		return p.TOTP, true
	}
	return MethodSetting{}, false
}

// MethodAllowed decides whether a member of userGroups may register and
// sign in with method m, and if not why (for admins and logs).
func MethodAllowed(p Policy, m Method, userGroups []string) (bool, string) {
	s, known := p.Setting(m)
	if !known {
		return false, fmt.Sprintf("%q is not a sign-in method Sesame knows", m)
	}
	if !s.Enabled {
		return false, fmt.Sprintf("the %s method is turned off", m)
	}
	ok, why := s.Scope.Match(userGroups)
	if !ok {
		return false, fmt.Sprintf("the %s method does not apply: %s", m, why)
	}
	return true, fmt.Sprintf("the %s method applies: %s", m, why)
}

// AllowedMethods lists the methods a member of userGroups may use.
func AllowedMethods(p Policy, userGroups []string) []Method {
	var out []Method
	for _, m := range Methods {
		if ok, _ := MethodAllowed(p, m, userGroups); ok {
			out = append(out, m)
		}
	}
	return out
}

// CodeMethodNotAllowed is the verdict code when the passkey method itself
// does not apply to the user.
const CodeMethodNotAllowed = "method_not_allowed"

// PasskeyAllowed decides whether a passkey is usable (at sign-in) or
// acceptable (at registration, f.Registration set) for a member of
// userGroups: the passkey method must apply to them and the passkey must
// fit one of their profiles. A registered passkey that fails this at
// sign-in is non-compliant: refuse it, flag it with the verdict's reason,
// keep it.
func PasskeyAllowed(p Policy, userGroups []string, f passkey.Facts) passkey.Verdict {
	if ok, why := MethodAllowed(p, MethodPasskey, userGroups); !ok {
		return passkey.Verdict{Code: CodeMethodNotAllowed, Reason: why,
			Message: "Your organisation has not allowed passkeys for your account. Ask your administrator."}
	}
	return passkey.CheckCompliance(p.Passkey.Profiles, userGroups, f)
}

// PasskeyRegistrationAllowed decides whether a member of userGroups may
// start registering a passkey now. viaTAP says the session was begun with
// a temporary access pass (onboarding or recovery), which works even when
// self-service registration is off.
func PasskeyRegistrationAllowed(p Policy, userGroups []string, viaTAP bool) (bool, string) {
	if ok, why := MethodAllowed(p, MethodPasskey, userGroups); !ok {
		return false, why
	}
	if len(passkey.Applicable(p.Passkey.Profiles, userGroups)) == 0 {
		return false, "no passkey profile applies to this user"
	}
	if !p.Passkey.SelfServiceRegistration && !viaTAP {
		return false, "self-service registration is off: passkeys can be registered only after signing in with a temporary access pass"
	}
	return true, "registration allowed"
}

// ReferencedGroups lists every group name the policy mentions, sorted, so
// the caller can check them against the directory.
func (p Policy) ReferencedGroups() []string {
	var out []string
	for _, m := range Methods {
		s, _ := p.Setting(m)
		out = append(out, s.Scope.Referenced()...)
	}
	out = append(out, passkey.ReferencedGroups(p.Passkey.Profiles)...)
	out = append(out, p.Campaign.Scope.Referenced()...)
	slices.Sort(out)
	return slices.Compact(out)
}

// UnknownGroups returns the groups the policy mentions that are not in
// known (the directory's group names).
func UnknownGroups(referenced, known []string) []string {
	var out []string
	for _, g := range referenced {
		if !slices.Contains(known, g) {
			out = append(out, g)
		}
	}
	return out
}

// Validate checks the policy for mistakes, with messages that say what to
// change. It does not check that groups exist (see ReferencedGroups).
func (p Policy) Validate() error {
	if p.Schema != PolicySchema {
		return fmt.Errorf("schema %d is not supported: this Sesame reads methods policies of schema %d", p.Schema, PolicySchema)
	}
	if p.Revision < 0 {
		return errors.New("revision cannot be negative")
	}
	anyEnabled := false
	for _, m := range Methods {
		s, _ := p.Setting(m)
		if err := s.Scope.Validate(string(m) + " method"); err != nil {
			return err
		}
		anyEnabled = anyEnabled || s.Enabled && (s.Scope.AllUsers || len(s.Scope.Groups) > 0)
	}
	if !anyEnabled {
		return errors.New("no sign-in method is enabled for anyone: nobody could sign in, not even an admin")
	}
	if p.Passkey.Enabled && len(p.Passkey.Profiles) == 0 {
		return errors.New("passkeys are enabled but there is no passkey profile: add one (the default profile accepts every passkey)")
	}
	if err := passkey.ValidateProfiles(p.Passkey.Profiles); err != nil {
		return err
	}
	if err := p.TAP.Policy.Validate(); err != nil {
		return fmt.Errorf("tap policy: %w", err)
	}
	if err := p.Campaign.Validate(); err != nil {
		return fmt.Errorf("registration campaign: %w", err)
	}
	if p.TOTP.Enabled && !p.Password.Enabled {
		return errors.New("TOTP is enabled but passwords are not: in Sesame an authenticator app code is a second factor after a password, so enable both (for the same groups) or neither")
	}
	return nil
}

// Warnings points out choices that are valid but risky.
func (p Policy) Warnings() []string {
	var w []string
	if !p.Passkey.Enabled {
		w = append(w, "passkeys are turned off: users can sign in only with other methods")
	}
	if p.Passkey.Enabled && !p.TAP.Enabled {
		w = append(w, "temporary access passes are turned off: a user who loses every passkey cannot recover")
	}
	for _, pr := range p.Passkey.Profiles {
		if pr.KeyRestriction.Mode == passkey.RestrictBlock && !pr.AttestationEnforced {
			w = append(w, fmt.Sprintf("profile %q blocks models without enforcing attestation: an authenticator that does not disclose its model gets past the block list", pr.Name))
		}
		if pr.KeyRestriction.Mode == passkey.RestrictAllow && !pr.AttestationEnforced {
			w = append(w, fmt.Sprintf("profile %q allows listed models without enforcing attestation: the model an authenticator claims is not verified", pr.Name))
		}
	}
	return w
}

// DecodePolicy reads a policy an admin wrote (a file, an API body). Unknown
// fields are refused, so a typo ("enabeld") is an error instead of a
// silently ignored setting. Missing schema means the current one.
func DecodePolicy(r io.Reader) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(io.LimitReader(r, maxDocument))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, jsonError(err)
	}
	if dec.More() {
		return Policy{}, errors.New("the policy file holds more than one JSON document")
	}
	if p.Schema == 0 {
		p.Schema = PolicySchema
	}
	return p, nil
}

// EncodePolicy writes the policy as indented JSON, the form `sesame policy
// methods show` prints and `set` reads back.
func EncodePolicy(p Policy) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxDocument bounds a policy document (admins' lists of AAGUIDs included).
const maxDocument = 1 << 20

// jsonError turns encoding/json errors into messages that name the place.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not valid JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q: expected %s, found JSON %s", strings.ReplaceAll(typ.Field, "MethodSetting.", ""), typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return errors.New("the document is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("not valid JSON: unexpected EOF, the document ends too early (a closing } or ] or a value is missing)")
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fmt.Errorf("%s (check the spelling; `sesame policy methods show` prints every field)", strings.TrimPrefix(err.Error(), "json: "))
	}
	return err
}

// Duration is a time.Duration written the way admins write durations in
// JSON: "10m", "8h", "30d".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(HumanDuration(time.Duration(d)))
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30m\", \"8h\" or \"7d\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// RenameGroup returns the policy with every mention of group oldName (the
// methods' scopes, the passkey profiles' scopes, the campaign's scope)
// changed to newName, and whether there was any. p is not modified.
func (p Policy) RenameGroup(oldName, newName string) (Policy, bool) {
	changed := false
	rename := func(s *scope.Scope) {
		var c bool
		*s, c = s.RenameGroup(oldName, newName)
		changed = changed || c
	}
	rename(&p.Passkey.Scope)
	rename(&p.TAP.Scope)
	rename(&p.Password.Scope)
	rename(&p.TOTP.Scope)
	rename(&p.Campaign.Scope)
	p.Passkey.Profiles = slices.Clone(p.Passkey.Profiles)
	for i := range p.Passkey.Profiles {
		rename(&p.Passkey.Profiles[i].Scope)
	}
	return p, changed
}
