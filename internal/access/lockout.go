package access

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/problem"
)

// ErrAdminLockout refuses a change that would leave no administrator able
// to sign in to the admin console.
var ErrAdminLockout = problem.New(http.StatusConflict, "admin_lockout",
	"This change would leave no administrator able to sign in to the admin console with the methods they have registered. "+
		"Exclude an administrator (a break-glass account) from it, or have administrators register a passkey first.")

// AdminMethods is an administrator as the lock-out check sees them.
type AdminMethods struct {
	Username string
	Groups   []string
	Disabled bool
	// BoundPasskey: the admin has registered a device-bound passkey, so a
	// device of theirs can be one that holds it.
	BoundPasskey bool
	// Satisfies reports whether the methods the admin has registered
	// (passkeys, password and authenticator app) can meet a strength.
	Satisfies func(strength string) bool
}

// ConsoleAdmins returns the enabled admins who could sign in to the admin
// console under set, with a fresh sign-in using methods they have
// registered, on a device they can mark trusted, from at least one place:
// an address of each IP-range location, each country of a country
// location, or an address nothing is known about.
func ConsoleAdmins(set *Set, admins []AdminMethods, now time.Time) []string {
	type place struct {
		ip      netip.Addr
		country string
	}
	places := []place{{}}
	for _, l := range set.doc.Locations {
		for _, r := range l.Ranges {
			if p, err := netip.ParsePrefix(r); err == nil {
				places = append(places, place{ip: p.Addr()})
			} else if a, err := netip.ParseAddr(r); err == nil {
				places = append(places, place{ip: a})
			}
		}
		for _, c := range l.Countries {
			places = append(places, place{country: strings.ToUpper(c)})
		}
	}
	var able []string
	for _, a := range admins {
		if a.Disabled {
			continue
		}
		for _, pl := range places {
			c := Context{
				Username: a.Username, Groups: a.Groups, Admin: true, App: AppSesameAdmin, Client: ClientBrowser,
				IP: pl.ip, Country: pl.country, Device: Device{Trusted: true, BoundPasskey: a.BoundPasskey},
				Now: now, AuthTime: now, Fresh: true, Satisfies: a.Satisfies,
			}
			if d := set.Evaluate(c); d.Access != AccessBlock && len(d.Unmet) == 0 {
				able = append(able, a.Username)
				break
			}
		}
	}
	return able
}

// AdminLockout decides whether a change from before to after locks the
// administrators out of the console: some enabled admin could sign in
// before and none could after. A change to policies that already let no
// admin in is not refused, so that it can be repaired.
func AdminLockout(before, after *Set, admins []AdminMethods, now time.Time) bool {
	return len(ConsoleAdmins(after, admins, now)) == 0 && len(ConsoleAdmins(before, admins, now)) > 0
}

// checkAdminLockout refuses saving next (validated) over cur when it
// would lock every administrator out of the console.
func (s *Service) checkAdminLockout(ctx context.Context, cur, next Document) error {
	if s.Admins == nil {
		return nil
	}
	before, err := Compile(cur)
	if err != nil {
		// The stored policies do not compile: nobody can get in through
		// them now, so any valid change is a repair.
		return nil
	}
	after := compileValid(next)
	admins, err := s.Admins(ctx)
	if err != nil {
		return err
	}
	if AdminLockout(before, after, admins, s.Now()) {
		return ErrAdminLockout
	}
	return nil
}
