package access

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sesame-idp/sesame/internal/problem"
)

// Template is a starting point for a common policy.
type Template struct {
	ID          string
	Name        string // the policy's default name
	Description string
	policy      func() Policy
}

// BreakGlass is who a template's policy must never lock out: emergency
// accounts kept for when sign-in itself is broken. At least one user or
// group is required.
type BreakGlass struct {
	Users  []string
	Groups []string
}

// Templates lists the templates in a stable order.
func Templates() []Template {
	return []Template{
		{
			ID:          "admins-phishing-resistant",
			Name:        "Require phishing-resistant MFA for admins",
			Description: "Admins sign in to every app with a passkey; a stolen password or a phished code is not enough.",
			policy: func() Policy {
				return Policy{
					Users: Users{IncludeRoles: []string{RoleAdmin}},
					Apps:  Apps{All: true},
					Grant: Grant{Strength: StrengthPhishingResistant},
				}
			},
		},
		{
			ID:   "passkey-outside-trusted",
			Name: "Require a passkey outside trusted locations",
			Description: "Sign-ins from anywhere but a trusted network need a passkey; from a trusted network or a " +
				"device the user marked trusted, other allowed methods still work.",
			policy: func() Policy {
				return Policy{
					Users: Users{All: true},
					Apps:  Apps{All: true},
					Conditions: Conditions{
						Locations: IncludeExclude{Include: []string{LocationAny}, Exclude: []string{LocationTrusted}},
						Devices:   IncludeExclude{Exclude: []string{DeviceTrusted}},
					},
					Grant: Grant{Strength: StrengthPasswordlessMFA},
				}
			},
		},
		{
			ID:          "block-legacy",
			Name:        "Block legacy clients",
			Description: "Apps that sign in over a legacy protocol cannot do a passkey ceremony; block them.",
			policy: func() Policy {
				return Policy{
					Users:      Users{All: true},
					Apps:       Apps{All: true},
					Conditions: Conditions{ClientTypes: []ClientType{ClientLegacy}},
					Grant:      Grant{Block: true},
				}
			},
		},
		{
			ID:   "protect-registration",
			Name: "Protect security info registration",
			Description: "Registering a passkey needs a temporary access pass or an existing strong sign-in, so a " +
				"stolen password cannot be turned into a passkey.",
			policy: func() Policy {
				return Policy{
					Users: Users{All: true},
					Apps:  Apps{Actions: []string{ActionRegisterSecurityInfo}},
					Grant: Grant{Strength: StrengthMFA},
				}
			},
		},
	}
}

// FromTemplate makes the template's policy, in report-only, with the
// break-glass accounts excluded; name overrides the template's name when
// not empty.
func FromTemplate(id, name string, bg BreakGlass) (Policy, error) {
	for _, t := range Templates() {
		if t.ID != id {
			continue
		}
		if len(bg.Users) == 0 && len(bg.Groups) == 0 {
			return Policy{}, problem.BadRequest("A policy from a template needs a break-glass exclusion: a user or group that no policy may lock out.")
		}
		p := t.policy()
		p.Name = t.Name
		if strings.TrimSpace(name) != "" {
			p.Name = strings.TrimSpace(name)
		}
		p.Description = t.Description
		p.State = StateReportOnly
		p.Users.Exclude = cloneStrings(bg.Users)
		p.Users.ExcludeGroups = cloneStrings(bg.Groups)
		return p, nil
	}
	var ids []string
	for _, t := range Templates() {
		ids = append(ids, t.ID)
	}
	return Policy{}, problem.New(http.StatusNotFound, "unknown_template", fmt.Sprintf("There is no template %q (templates: %s).", id, strings.Join(ids, ", ")))
}
