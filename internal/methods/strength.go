package methods

// Authentication strengths: which combinations of methods a sign-in must
// have used. Conditional Access and apps require a strength; the OIDC
// provider maps strengths to and from acr values.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Combination is a set of methods that together satisfy a strength: every
// one of them must have been used.
type Combination []Method

// Strength is a named set of allowed combinations.
type Strength struct {
	// ID is stable, used by apps and Conditional Access, and is the acr
	// value of a custom strength.
	ID           string        `json:"id"`
	Name         string        `json:"name"`
	Description  string        `json:"description,omitempty"`
	Combinations []Combination `json:"combinations"`
	// DeviceBoundOnly: a passkey used for a combination must be
	// device-bound.
	DeviceBoundOnly bool `json:"device_bound_only,omitempty"`
	// AAGUIDs: a passkey used for a combination must be one of these
	// authenticator models.
	AAGUIDs []string `json:"aaguids,omitempty"`
	// BuiltIn marks the strengths Sesame defines (never stored).
	BuiltIn bool `json:"built_in,omitempty"`
}

// Built-in strength IDs.
const (
	StrengthMFA                          = "mfa"
	StrengthPasswordlessMFA              = "passwordless-mfa"
	StrengthPhishingResistant            = "phishing-resistant-mfa"
	StrengthPhishingResistantDeviceBound = "phishing-resistant-mfa-device-bound"
)

// acr values of the built-in strengths. "phr" and "phrh" are the values
// of the OpenID Extended Authentication Profile (phishing-resistant, and
// phishing-resistant with a hardware-protected key).
const (
	ACRMFA                          = "mfa"
	ACRPasswordless                 = "passwordless"
	ACRPhishingResistant            = "phr"
	ACRPhishingResistantDeviceBound = "phrh"
)

var builtInACR = map[string]string{
	StrengthMFA:                          ACRMFA,
	StrengthPasswordlessMFA:              ACRPasswordless,
	StrengthPhishingResistant:            ACRPhishingResistant,
	StrengthPhishingResistantDeviceBound: ACRPhishingResistantDeviceBound,
}

// BuiltInStrengths returns Sesame's strengths, strongest last.
func BuiltInStrengths() []Strength {
	return []Strength{
		{ID: StrengthMFA, Name: "MFA", BuiltIn: true,
			Description:  "Any two factors. A passkey (something you have, unlocked by fingerprint, face or PIN) is two; a temporary access pass counts.",
			Combinations: []Combination{{MethodPasskey}, {MethodTAP}, {MethodPassword, MethodTOTP}}},
		{ID: StrengthPasswordlessMFA, Name: "Passwordless MFA", BuiltIn: true,
			Description:  "A passkey.",
			Combinations: []Combination{{MethodPasskey}}},
		{ID: StrengthPhishingResistant, Name: "Phishing-resistant MFA", BuiltIn: true,
			Description:  "A passkey: bound to this site, it cannot be replayed on a look-alike.",
			Combinations: []Combination{{MethodPasskey}}},
		{ID: StrengthPhishingResistantDeviceBound, Name: "Phishing-resistant MFA (device-bound)", BuiltIn: true,
			Description:     "A device-bound passkey, such as a security key: its key never leaves the device.",
			Combinations:    []Combination{{MethodPasskey}},
			DeviceBoundOnly: true},
	}
}

// Satisfies decides whether a session that used the methods satisfied meets
// strength s. pk describes the passkey the session used; when a
// combination needs a passkey with restrictions and pk is nil, it is not
// met (fail closed).
func Satisfies(s Strength, satisfied []Method, pk *passkey.Facts) bool {
	for _, c := range s.Combinations {
		if combinationMet(s, c, satisfied, pk) {
			return true
		}
	}
	return false
}

func combinationMet(s Strength, c Combination, satisfied []Method, pk *passkey.Facts) bool {
	if len(c) == 0 {
		return false
	}
	for _, m := range c {
		if !slices.Contains(satisfied, m) {
			return false
		}
	}
	if !slices.Contains(c, MethodPasskey) || (!s.DeviceBoundOnly && len(s.AAGUIDs) == 0) {
		return true
	}
	if pk == nil {
		return false
	}
	if s.DeviceBoundOnly && pk.Kind() != passkey.KindDeviceBound {
		return false
	}
	if len(s.AAGUIDs) > 0 {
		a := passkey.FormatAAGUID(pk.AAGUID)
		return a != "" && slices.ContainsFunc(s.AAGUIDs, func(x string) bool { return strings.EqualFold(x, a) })
	}
	return true
}

// ACR is the acr value that stands for strength s.
func ACR(s Strength) string {
	if v, ok := builtInACR[s.ID]; ok && s.BuiltIn {
		return v
	}
	return s.ID
}

// StrengthForACR finds the strength an acr value stands for, among the
// built-in and the custom strengths.
func StrengthForACR(acr string, custom []Strength) (Strength, bool) {
	for _, s := range BuiltInStrengths() {
		if ACR(s) == acr {
			return s, true
		}
	}
	for _, s := range custom {
		if s.ID == acr {
			return s, true
		}
	}
	return Strength{}, false
}

// StrengthByID finds a strength by its ID.
func StrengthByID(id string, custom []Strength) (Strength, bool) {
	for _, s := range append(BuiltInStrengths(), custom...) {
		if s.ID == id {
			return s, true
		}
	}
	return Strength{}, false
}

// ACRDecision is what to do with the acr_values an app requested.
type ACRDecision struct {
	// Known: at least one requested value names a strength. When none
	// does, the request carries no requirement Sesame understands (OIDC
	// treats acr_values as voluntary).
	Known bool
	// Met: the session meets Strength, and ACR is the value to put in the
	// ID token. Otherwise Strength is what the user must step up to.
	Met      bool
	ACR      string
	Strength Strength
}

// ResolveACR picks, from the requested acr values in order of preference,
// the first the session meets; if it meets none, the first known one is
// what the user must step up to.
func ResolveACR(requested []string, custom []Strength, satisfied []Method, pk *passkey.Facts) ACRDecision {
	var first *ACRDecision
	for _, acr := range requested {
		s, ok := StrengthForACR(acr, custom)
		if !ok {
			continue
		}
		if Satisfies(s, satisfied, pk) {
			return ACRDecision{Known: true, Met: true, ACR: acr, Strength: s}
		}
		if first == nil {
			first = &ACRDecision{Known: true, ACR: acr, Strength: s}
		}
	}
	if first != nil {
		return *first
	}
	return ACRDecision{}
}

// SessionACR is the acr value of the strongest built-in strength the
// session meets, for an ID token when the app asked for none; "" when it
// meets none (a password alone).
func SessionACR(satisfied []Method, pk *passkey.Facts) string {
	b := BuiltInStrengths()
	for i := len(b) - 1; i >= 0; i-- {
		if Satisfies(b[i], satisfied, pk) {
			return ACR(b[i])
		}
	}
	return ""
}

// AMR lists the RFC 8176 authentication method references of a session:
// "hwk" for a device-bound passkey, "swk" for a synced one, "user" (the
// person was present; a passkey also verified them by fingerprint, face
// or PIN, which WebAuthn does not say how), "pwd", "otp" (TOTP and TAP),
// and "mfa" when the factors add up to two or more (a passkey counts as
// two).
func AMR(satisfied []Method, pk *passkey.Facts) []string {
	var out []string
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	factors := 0
	for _, m := range satisfied {
		switch m {
		case MethodPasskey:
			if pk != nil && pk.Kind() == passkey.KindDeviceBound {
				add("hwk")
			} else {
				add("swk")
			}
			add("user")
			factors += 2
		case MethodPassword:
			add("pwd")
			factors++
		case MethodTOTP, MethodTAP:
			add("otp")
			factors++
		}
	}
	if factors >= 2 {
		add("mfa")
	}
	return out
}

var strengthID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidateStrengths checks custom strengths.
func ValidateStrengths(custom []Strength) error {
	ids := map[string]bool{}
	for _, s := range BuiltInStrengths() {
		ids[s.ID], ids[ACR(s)] = true, true
	}
	for i, s := range custom {
		what := fmt.Sprintf("strength %d", i+1)
		if s.ID != "" {
			what = fmt.Sprintf("strength %q", s.ID)
		}
		if !strengthID.MatchString(s.ID) {
			return fmt.Errorf("%s: the id must be 1 to 64 lower-case letters, digits, dots, dashes or underscores (it becomes the acr value)", what)
		}
		if ids[s.ID] {
			return fmt.Errorf("%s: the id is taken by a built-in strength or another strength", what)
		}
		ids[s.ID] = true
		if s.BuiltIn {
			return fmt.Errorf("%s: a custom strength cannot be marked built_in", what)
		}
		if strings.TrimSpace(s.Name) == "" || len(s.Name) > 100 {
			return fmt.Errorf("%s: a name of 1 to 100 characters is needed", what)
		}
		if len(s.Combinations) == 0 {
			return fmt.Errorf("%s: list at least one combination of methods", what)
		}
		hasPasskey := false
		for j, c := range s.Combinations {
			if len(c) == 0 {
				return fmt.Errorf("%s: combination %d is empty", what, j+1)
			}
			for k, m := range c {
				if !slices.Contains(Methods, m) {
					return fmt.Errorf("%s: combination %d: %q is not a method (passkey, tap, password, totp)", what, j+1, m)
				}
				if slices.Contains(c[:k], m) {
					return fmt.Errorf("%s: combination %d lists %s twice", what, j+1, m)
				}
			}
			hasPasskey = hasPasskey || slices.Contains(c, MethodPasskey)
		}
		if (s.DeviceBoundOnly || len(s.AAGUIDs) > 0) && !hasPasskey {
			return fmt.Errorf("%s: passkey restrictions are set but no combination uses a passkey", what)
		}
		for _, a := range s.AAGUIDs {
			b, err := passkey.ParseAAGUID(a)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			if passkey.FormatAAGUID(b) == "00000000-0000-0000-0000-000000000000" {
				return fmt.Errorf("%s: the all-zero AAGUID means \"model not disclosed\" and cannot be listed", what)
			}
		}
	}
	return nil
}

// StrengthsSchema is the version of the strengths document.
const StrengthsSchema = 1

// StrengthsDoc is the stored document of custom strengths.
type StrengthsDoc struct {
	Schema    int        `json:"schema"`
	Revision  int        `json:"revision"`
	UpdatedAt time.Time  `json:"updated_at,omitzero"`
	UpdatedBy string     `json:"updated_by,omitempty"`
	Strengths []Strength `json:"strengths"`
}

// Strengths loads and saves custom strengths.
type Strengths struct {
	Store store.Store
	Now   func() time.Time
}

// Load returns the custom strengths document (empty when none saved).
func (s *Strengths) Load(ctx context.Context) (StrengthsDoc, error) {
	d, _, err := s.load(ctx)
	return d, err
}

// load also returns the stored bytes (nil when nothing is stored).
func (s *Strengths) load(ctx context.Context) (StrengthsDoc, []byte, error) {
	b, err := s.Store.GetSetting(ctx, StrengthsKey)
	if errors.Is(err, store.ErrNotFound) {
		return StrengthsDoc{Schema: StrengthsSchema}, nil, nil
	} else if err != nil {
		return StrengthsDoc{}, nil, err
	}
	var d StrengthsDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return StrengthsDoc{}, nil, fmt.Errorf("the stored strengths are damaged: %w", err)
	}
	if d.Schema > StrengthsSchema {
		return StrengthsDoc{}, nil, fmt.Errorf("the stored strengths have schema %d, newer than this Sesame reads (%d)", d.Schema, StrengthsSchema)
	}
	return d, b, nil
}

// Save validates and stores the custom strengths with an audit record.
// Revision works as for Policies.Save.
func (s *Strengths) Save(ctx context.Context, actor audit.Actor, d StrengthsDoc) (StrengthsDoc, error) {
	if d.Schema == 0 {
		d.Schema = StrengthsSchema
	}
	if d.Schema != StrengthsSchema {
		return StrengthsDoc{}, problem.BadRequest(fmt.Sprintf("Schema %d is not supported; this Sesame writes strengths of schema %d.", d.Schema, StrengthsSchema))
	}
	if err := ValidateStrengths(d.Strengths); err != nil {
		return StrengthsDoc{}, problem.BadRequest("The strengths are not valid: " + err.Error() + ".")
	}
	before, beforeRaw, err := s.load(ctx)
	if err != nil {
		return StrengthsDoc{}, err
	}
	if d.Revision != before.Revision {
		return StrengthsDoc{}, ErrStalePolicy.WithDetail("stored revision %d, submitted %d", before.Revision, d.Revision)
	}
	now := s.Now()
	d.Revision, d.UpdatedAt, d.UpdatedBy = before.Revision+1, now.UTC().Truncate(time.Millisecond), string(actor)
	b, err := json.Marshal(d)
	if err != nil {
		return StrengthsDoc{}, err
	}
	if err := swap(ctx, s.Store, StrengthsKey, beforeRaw, b, before.Revision); err != nil {
		return StrengthsDoc{}, err
	}
	audit.Log(ctx, s.Store, now, actor, "policy.strengths.update", "strengths", map[string]any{"before": before, "after": d})
	return d, nil
}
