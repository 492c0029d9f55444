package passkey

// Passkey profiles: which passkeys the organisation accepts, possibly
// different per group. Pure functions over plain values, shared by
// registration, sign-in, the admin pages and what-if.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Types says which kinds of passkey a profile accepts.
type Types string

const (
	TypesBoth        Types = "both"
	TypesDeviceBound Types = "device-bound"
	TypesSynced      Types = "synced"
)

// Allows reports whether a passkey of kind k is of an accepted type.
func (t Types) Allows(k Kind) bool {
	switch t {
	case TypesBoth:
		return true
	case TypesDeviceBound:
		return k == KindDeviceBound
	case TypesSynced:
		return k == KindSynced
	}
	return false
}

// Restriction modes for authenticator models (AAGUIDs).
const (
	RestrictNone  = "none"
	RestrictAllow = "allow" // only the listed models
	RestrictBlock = "block" // any model but the listed ones
)

// KeyRestriction limits the authenticator models a profile accepts.
//
// A block list can only stop authenticators that tell their model: one
// that sends the all-zero AAGUID (many do unless attestation is requested)
// is not on any list. Enforce attestation where the list must hold.
type KeyRestriction struct {
	Mode    string   `json:"mode"`              // RestrictNone, RestrictAllow or RestrictBlock
	AAGUIDs []string `json:"aaguids,omitempty"` // canonical 8-4-4-4-12 form
}

// Profile is one named rule about acceptable passkeys.
type Profile struct {
	Name                string         `json:"name"`
	Scope               scope.Scope    `json:"scope"` // the users it applies to
	Types               Types          `json:"types"`
	AttestationEnforced bool           `json:"attestation_enforced"`
	KeyRestriction      KeyRestriction `json:"key_restriction"`
}

// DefaultProfile keeps the behaviour Sesame had before profiles existed:
// every user, both types, no attestation, no restrictions.
func DefaultProfile() Profile {
	return Profile{Name: "default", Scope: scope.All(), Types: TypesBoth, KeyRestriction: KeyRestriction{Mode: RestrictNone}}
}

// Facts are what a profile looks at in a passkey.
type Facts struct {
	AAGUID         []byte
	BackupEligible bool // decides synced vs device-bound (Classify)
	// Registration is set while the passkey is being registered: only then
	// does attestation count (enforcement applies to new registrations).
	Registration bool
	// AttestationTrusted is the verdict of CheckAttestation, read only when
	// Registration is set; AttestationReason says why it is not trusted.
	AttestationTrusted bool
	AttestationReason  string
}

// FactsOf returns the facts of a registered passkey, for sign-in checks.
func FactsOf(c store.Credential) Facts {
	return Facts{AAGUID: c.AAGUID, BackupEligible: c.BackupEligible}
}

// Kind is the passkey's kind (the BE flag alone decides, see Classify).
func (f Facts) Kind() Kind { return Classify(f.BackupEligible, false) }

// Refusal codes of Verdict, stable for logs and pages.
const (
	CodeNoProfile           = "no_passkey_profile"
	CodeTypeNotAllowed      = "passkey_type_not_allowed"
	CodeModelBlocked        = "passkey_model_blocked"
	CodeModelNotAllowed     = "passkey_model_not_allowed"
	CodeAttestationRequired = "attestation_required"
)

// Verdict is the outcome of a compliance check.
type Verdict struct {
	OK      bool
	Profile string // the profile that accepted the passkey
	Code    string // why not, when not OK: the refusal of the closest profile
	Reason  string // for admins and logs: every applicable profile's refusal
	// Message is for the user, in plain words.
	Message string
}

// Check decides whether the passkey fits this one profile.
func (p Profile) Check(f Facts) Verdict {
	kind := f.Kind()
	if !p.Types.Allows(kind) {
		msg := "Your organisation accepts only synced passkeys (saved in a password manager or your phone's keychain) for your account."
		if p.Types == TypesDeviceBound {
			msg = "Your organisation accepts only device-bound passkeys for your account, such as a security key or a passkey that stays on this device. Passkeys that sync between devices are not accepted."
		}
		return Verdict{Code: CodeTypeNotAllowed, Reason: fmt.Sprintf("%s passkeys are not allowed", kind), Message: msg}
	}
	aaguid := FormatAAGUID(f.AAGUID)
	model := ModelName(f.AAGUID)
	switch p.KeyRestriction.Mode {
	case RestrictAllow:
		if aaguid == "" || !slices.Contains(normalisedList(p.KeyRestriction.AAGUIDs), aaguid) {
			return Verdict{Code: CodeModelNotAllowed,
				Reason:  fmt.Sprintf("model %s (AAGUID %s) is not on the allow list", model, dashIfEmpty(aaguid)),
				Message: "Your organisation accepts only certain passkey providers and security keys, and this one is not among them. Use a passkey or security key your administrator recommends."}
		}
	case RestrictBlock:
		if aaguid != "" && slices.Contains(normalisedList(p.KeyRestriction.AAGUIDs), aaguid) {
			return Verdict{Code: CodeModelBlocked,
				Reason:  fmt.Sprintf("model %s (AAGUID %s) is blocked", model, aaguid),
				Message: fmt.Sprintf("Your organisation does not accept passkeys from %s. Use another passkey provider or security key.", modelOrThis(model))}
		}
	}
	if f.Registration && p.AttestationEnforced && !f.AttestationTrusted {
		reason := f.AttestationReason
		if reason == "" {
			reason = "no trusted attestation"
		}
		return Verdict{Code: CodeAttestationRequired,
			Reason:  "attestation is enforced: " + reason,
			Message: "Your organisation accepts only security keys and passkey providers it can verify, and this one could not be verified. Use a security key your administrator recommends; if your browser asked whether to share information about your key, allow it."}
	}
	return Verdict{OK: true, Profile: p.Name}
}

// Applicable returns the profiles that apply to a member of userGroups, in
// order.
func Applicable(profiles []Profile, userGroups []string) []Profile {
	var out []Profile
	for _, p := range profiles {
		if p.Scope.Includes(userGroups) {
			out = append(out, p)
		}
	}
	return out
}

// Compliant decides whether a passkey is acceptable for a member of
// userGroups: it is when it fits any profile that applies to the user.
func Compliant(profiles []Profile, userGroups []string, f Facts) (bool, string) {
	v := CheckCompliance(profiles, userGroups, f)
	return v.OK, v.Reason
}

// CheckCompliance is Compliant with the full verdict. When several
// profiles apply and none fits, Code and Message come from the first
// applicable profile (admins order profiles from most to least specific)
// and Reason lists every profile's refusal.
func CheckCompliance(profiles []Profile, userGroups []string, f Facts) Verdict {
	applicable := Applicable(profiles, userGroups)
	if len(applicable) == 0 {
		return Verdict{Code: CodeNoProfile, Reason: "no passkey profile applies to this user",
			Message: "Your organisation has not allowed passkeys for your account. Ask your administrator."}
	}
	var first Verdict
	var reasons []string
	for i, p := range applicable {
		v := p.Check(f)
		if v.OK {
			return v
		}
		if i == 0 {
			first = v
		}
		reasons = append(reasons, fmt.Sprintf("profile %q: %s", p.Name, v.Reason))
	}
	first.Reason = strings.Join(reasons, "; ")
	return first
}

// RegistrationNeeds tells a registration ceremony what to ask the
// authenticator for, for a member of userGroups.
type RegistrationNeeds struct {
	// Attestation: some applicable profile enforces attestation, so the
	// ceremony must request direct attestation (conveyance "direct").
	Attestation bool
	// AttestationOnly: every applicable profile enforces it, so a passkey
	// without trusted attestation cannot fit and is refused.
	AttestationOnly bool
	// DeviceBoundOnly: no applicable profile accepts synced passkeys, so the
	// page can say so before the user tries.
	DeviceBoundOnly bool
	// None: no profile applies; registration is refused outright.
	None bool
}

// NeedsFor computes RegistrationNeeds.
func NeedsFor(profiles []Profile, userGroups []string) RegistrationNeeds {
	applicable := Applicable(profiles, userGroups)
	if len(applicable) == 0 {
		return RegistrationNeeds{None: true}
	}
	n := RegistrationNeeds{AttestationOnly: true, DeviceBoundOnly: true}
	for _, p := range applicable {
		n.Attestation = n.Attestation || p.AttestationEnforced
		n.AttestationOnly = n.AttestationOnly && p.AttestationEnforced
		n.DeviceBoundOnly = n.DeviceBoundOnly && !p.Types.Allows(KindSynced)
	}
	return n
}

// Problem is the refusal to show when v is not OK.
func (v Verdict) Problem() *problem.Error {
	code, msg := v.Code, v.Message
	if code == "" {
		code = CodeNoProfile
	}
	if msg == "" {
		msg = "Your organisation does not accept this passkey. Ask your administrator which passkeys you can use."
	}
	return problem.New(http.StatusForbidden, code, msg).WithDetail("%s", v.Reason)
}

// ValidateProfiles checks profiles for mistakes an admin can make. Group
// names are checked for shape only; Referenced lists them for the caller
// to check against the directory.
func ValidateProfiles(profiles []Profile) error {
	names := map[string]bool{}
	for i, p := range profiles {
		what := fmt.Sprintf("passkey profile %d", i+1)
		if p.Name != "" {
			what = fmt.Sprintf("passkey profile %q", p.Name)
		}
		if strings.TrimSpace(p.Name) == "" || strings.TrimSpace(p.Name) != p.Name || len(p.Name) > 64 {
			return fmt.Errorf("%s: a profile needs a name of 1 to 64 characters without surrounding spaces", what)
		}
		if names[strings.ToLower(p.Name)] {
			return fmt.Errorf("%s: two profiles have this name", what)
		}
		names[strings.ToLower(p.Name)] = true
		switch p.Types {
		case TypesBoth, TypesDeviceBound, TypesSynced:
		default:
			return fmt.Errorf("%s: types must be %q, %q or %q, not %q", what, TypesBoth, TypesDeviceBound, TypesSynced, p.Types)
		}
		if err := p.Scope.Validate(what); err != nil {
			return err
		}
		if err := p.KeyRestriction.validate(what); err != nil {
			return err
		}
	}
	return nil
}

func (k KeyRestriction) validate(what string) error {
	switch k.Mode {
	case RestrictNone, "":
		if len(k.AAGUIDs) > 0 {
			return fmt.Errorf("%s: AAGUIDs are listed but the key restriction mode is %q; set it to %q or %q", what, RestrictNone, RestrictAllow, RestrictBlock)
		}
		return nil
	case RestrictAllow, RestrictBlock:
	default:
		return fmt.Errorf("%s: key restriction mode must be %q, %q or %q, not %q", what, RestrictNone, RestrictAllow, RestrictBlock, k.Mode)
	}
	if len(k.AAGUIDs) == 0 {
		return fmt.Errorf("%s: the %s list of AAGUIDs is empty", what, k.Mode)
	}
	seen := map[string]bool{}
	for _, s := range k.AAGUIDs {
		b, err := ParseAAGUID(s)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if isZero(b) {
			return fmt.Errorf("%s: the all-zero AAGUID means \"model not disclosed\" and cannot be listed; enforce attestation to require a known model", what)
		}
		c := FormatAAGUID(b)
		if seen[c] {
			return fmt.Errorf("%s: AAGUID %s is listed twice", what, c)
		}
		seen[c] = true
	}
	return nil
}

// ReferencedGroups lists the group names the profiles mention.
func ReferencedGroups(profiles []Profile) []string {
	var out []string
	for _, p := range profiles {
		out = append(out, p.Scope.Referenced()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func normalisedList(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, strings.ToLower(s))
	}
	return out
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func modelOrThis(model string) string {
	if model == UnknownModelName {
		return "this passkey provider"
	}
	return model
}
