package oidc

import (
	"slices"
	"time"

	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// Authentication context classes ("acr"), weakest first. phr and phrh are
// the OpenID Extended Authentication Profile values registered with IANA
// (RFC 6711 registry); mfa and passwordless are the acr values of the
// built-in authentication strengths (internal/methods), so an app that
// asks for a strength by its acr value gets exactly that strength; the
// password and temporary-access classes are Sesame's own, absolute URIs as
// OpenID Connect asks of values that are not registered. Each class
// satisfies every class before it: the built-in strengths form a chain.
const (
	// ACRPassword: a password alone (the legacy exception).
	ACRPassword = "urn:sesame:acr:password"
	// ACRTemporaryAccess: a temporary access pass or the first-admin setup
	// link; a secret an admin handed over, not phishing-resistant.
	ACRTemporaryAccess = "urn:sesame:acr:tap"
	// ACRMFA: two factors, e.g. a password and an authenticator-app code.
	ACRMFA = methods.ACRMFA
	// ACRPasswordless: a passkey, of whatever kind.
	ACRPasswordless = methods.ACRPasswordless
	// ACRPhishingResistant: a synced passkey. Phishing-resistant, but the
	// key can leave the device (it is backed up to a cloud account).
	ACRPhishingResistant = "phr"
	// ACRPhishingResistantHardware: a device-bound passkey, whose key
	// never leaves the authenticator.
	ACRPhishingResistantHardware = "phrh"
)

// ACRValues are the classes Sesame can assert, weakest first (advertised
// in discovery as acr_values_supported).
var ACRValues = []string{ACRPassword, ACRTemporaryAccess, ACRMFA, ACRPasswordless, ACRPhishingResistant, ACRPhishingResistantHardware}

// acrLevel orders the classes; 0 is an unknown value (or none).
func acrLevel(acr string) int {
	return slices.Index(ACRValues, acr) + 1
}

// acrMatch is a request's acr_values held against a session.
type acrMatch struct {
	// Met: the session meets one of the values Sesame knows, or none of
	// the values is known (acr_values is a voluntary claim: values Sesame
	// cannot assert are no requirement).
	Met bool
	// ACR is the acr claim to issue: a custom strength's ID when that is
	// the value met, otherwise the session's own class (which satisfies
	// every built-in class below it).
	ACR string
}

// matchACR takes the requested values in order of preference (OpenID
// Connect Core 3.1.2.1) and returns the first the session meets. A value
// is known when it is a built-in class (met by the session's class or a
// stronger one: the built-in strengths form a chain) or the ID of a custom
// authentication strength (custom says, for each custom strength the
// request names, whether the session meets it); any other value is
// ignored.
func matchACR(values []string, sessionACR string, custom map[string]bool) acrMatch {
	known := false
	for _, v := range values {
		if l := acrLevel(v); l > 0 {
			known = true
			if acrLevel(sessionACR) >= l {
				return acrMatch{Met: true, ACR: sessionACR}
			}
		} else if met, ok := custom[v]; ok {
			known = true
			if met {
				return acrMatch{Met: true, ACR: v}
			}
		}
	}
	return acrMatch{Met: !known, ACR: sessionACR}
}

// Authentication method references (RFC 8176).
const (
	AMRHardwareKey = "hwk"  // proof of possession of a hardware-secured key: a device-bound passkey
	AMRSoftwareKey = "swk"  // proof of possession of a software-secured key: a synced passkey
	AMRUser        = "user" // user presence and, for a passkey here, verification (PIN or biometric)
	AMRMultiFactor = "mfa"  // more than one factor: the key plus the user verification unlocking it
	AMROneTime     = "otp"  // a one-time secret: a temporary access pass, setup link or authenticator-app code
	AMRPassword    = "pwd"  // a password
)

// Assurance is what a Sesame session proves about the person, in the
// terms tokens use.
type Assurance struct {
	Method       string // the session's method: "passkey", "tap", "setup"
	CredentialID string // the passkey used, when one was
	AMR          []string
	ACR          string
}

// AssuranceOf describes a session. cred is the passkey the session was made
// with (nil when none was used or it no longer exists). Sesame always
// requires user verification for a passkey sign-in, so a passkey session is
// multi-factor: something you have (the key) unlocked by something you know
// or are (PIN, fingerprint, face).
func AssuranceOf(sess store.Session, cred *store.Credential) Assurance {
	method := ""
	if len(sess.Methods) > 0 {
		method = sess.Methods[0]
	}
	a := Assurance{Method: method}
	switch method {
	case "passkey":
		if cred == nil {
			// The passkey went away under the session: claim nothing about it.
			return a
		}
		a.CredentialID = cred.ID
		if passkey.Classify(cred.BackupEligible, cred.BackupState) == passkey.KindDeviceBound {
			a.AMR, a.ACR = []string{AMRHardwareKey, AMRUser, AMRMultiFactor}, ACRPhishingResistantHardware
		} else {
			a.AMR, a.ACR = []string{AMRSoftwareKey, AMRUser, AMRMultiFactor}, ACRPhishingResistant
		}
	case "tap", "setup":
		a.AMR, a.ACR = []string{AMROneTime}, ACRTemporaryAccess
	case string(methods.MethodPassword):
		if slices.Contains(sess.Methods, string(methods.MethodTOTP)) {
			a.AMR, a.ACR = []string{AMRPassword, AMROneTime, AMRMultiFactor}, ACRMFA
		} else {
			a.AMR, a.ACR = []string{AMRPassword}, ACRPassword
		}
	}
	return a
}

// demands is what an authorization request asks of the sign-in.
type demands struct {
	PromptNone    bool
	PromptLogin   bool
	PromptConsent bool
	MaxAge        *uint    // seconds; nil when not given
	ACRValues     []string // requested classes
	MinACR        string   // the class the app itself requires of every sign-in ("" for none)
	HintUserID    string   // sub of a valid id_token_hint
	CreatedAt     time.Time
}

// signedIn is the browser's Sesame session as the decision needs it.
type signedIn struct {
	UserID   string
	AuthTime time.Time
	ACR      string
	// CustomACR: for each custom authentication strength the request's
	// acr_values name, whether the session meets it.
	CustomACR map[string]bool
}

// verdict is what to do with an authorization request now.
type verdict int

const (
	proceed     verdict = iota // issue the code
	signInAgain                // send the browser to the sign-in page for a new ceremony
	askConsent                 // show the consent page
	refuse                     // answer the app with an error
)

// decision is a verdict with, for refusals, the OAuth error to send and,
// for every verdict but proceed, why (for the sign-in log).
type decision struct {
	Verdict     verdict
	Error       string // OAuth error code for refuse
	Description string
	ACR         string // for proceed: the acr claim to issue
}

// errUnmetAuthenticationRequirements is the OpenID Connect error for
// acr_values (or max_age) that the OP cannot satisfy (OpenID Connect Core
// Unmet Authentication Requirements 1.0).
const errUnmetAuthenticationRequirements = "unmet_authentication_requirements"

// decide applies prompt, max_age, acr_values and id_token_hint to the
// browser's session (nil when not signed in). A sign-in counts as fresh
// when it happened after the request arrived: that is how a request that
// sent the user to sign in again recognises the new ceremony, and why a
// request never loops through the sign-in page. Nothing is silently
// downgraded: a requirement the session does not meet sends the user to
// sign in again, and one that even a fresh sign-in did not meet is refused.
func decide(d demands, s *signedIn, consented bool, now time.Time) decision {
	if s == nil {
		if d.PromptNone {
			return decision{Verdict: refuse, Error: "login_required", Description: "The user is not signed in."}
		}
		return decision{Verdict: signInAgain, Description: "not signed in"}
	}
	fresh := !s.AuthTime.Before(d.CreatedAt)
	var again string // why a new sign-in is needed, if it is
	switch {
	case d.PromptLogin && !fresh:
		again = "prompt=login asks for a new sign-in"
	case d.MaxAge != nil && !fresh && now.Sub(s.AuthTime) > time.Duration(*d.MaxAge)*time.Second:
		again = "the sign-in is older than max_age"
	case d.HintUserID != "" && d.HintUserID != s.UserID:
		if fresh {
			return decision{Verdict: refuse, Error: "login_required", Description: "The signed-in user is not the one the id_token_hint names."}
		}
		again = "signed in as another user than id_token_hint names"
	}
	// The app's own floor and the request's acr_values must both be met.
	acr := matchACR(d.ACRValues, s.ACR, s.CustomACR)
	if again == "" && (!acr.Met || acrLevel(d.MinACR) > acrLevel(s.ACR)) {
		if fresh {
			return decision{Verdict: refuse, Error: errUnmetAuthenticationRequirements,
				Description: "The sign-in did not meet the authentication context class the app requires (acr_values or the app's required strength)."}
		}
		again = "the session does not meet acr_values or the app's required strength"
	}
	if again != "" {
		if d.PromptNone {
			return decision{Verdict: refuse, Error: "login_required", Description: "A new sign-in is needed: " + again + "."}
		}
		return decision{Verdict: signInAgain, Description: again}
	}
	if d.PromptConsent && !consented {
		return decision{Verdict: askConsent, Description: "prompt=consent"}
	}
	return decision{Verdict: proceed, ACR: acr.ACR}
}
