package access

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
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

// ErrAdminChangeLockout refuses a change to an administrator (disabling,
// deleting or demoting them, or revoking one of their passkeys) that would
// leave no administrator able to sign in to the admin console under the
// policies in force. Same code as ErrAdminLockout: it is the same refusal
// reached from the other side. CheckAdminChange returns a copy whose
// message says who would be left: whoever sees it is an administrator (the
// one changed, or the one changing them) or the provisioning client, who
// may all list the admins anyway.
var ErrAdminChangeLockout = problem.New(http.StatusConflict, "admin_lockout", adminChangeLockoutMessage(""))

// adminChangeLockoutMessage says who would be left (left), if known.
func adminChangeLockoutMessage(left string) string {
	if left != "" {
		left = ": " + left
	}
	return "No other administrator could sign in to the admin console under the Conditional Access policies in force" + left + ". " +
		"Have another administrator register a passkey (or make someone who can get in an admin) first, or change the policies."
}

// IsAdminLockout reports whether err is the admin lock-out refusal, from a
// policy save or from a change to an administrator.
func IsAdminLockout(err error) bool {
	var p *problem.Error
	return errors.As(err, &p) && p.Code == ErrAdminLockout.Code
}

// AdminChange is a change to one administrator that the lock-out check
// weighs before it is written.
type AdminChange struct {
	// Username is the administrator the change is about.
	Username string
	// Removed: they stop counting as an administrator who can get in
	// (disabled, deleted, or the admin role taken).
	Removed bool
	// Passkey, when set, is the Sesame ID of the passkey being revoked.
	Passkey string
}

// AdminChangeLockout decides whether a change to the administrators, seen
// as their methods before and after it, locks them out of the console
// under set: some enabled admin could sign in before and none could after.
// As with policy saves, a change made while no admin can get in anyway is
// not refused: it cannot make things worse, and may be the repair.
func AdminChangeLockout(set *Set, before, after []AdminMethods, now time.Time) bool {
	return len(ConsoleAdmins(set, after, now)) == 0 && len(ConsoleAdmins(set, before, now)) > 0
}

// CheckAdminChange refuses change (ErrAdminChangeLockout) when it would
// leave no administrator able to sign in to the admin console under the
// policies as they stand. The directory and the passkey revocation call it
// before they write. The policies are read from the store, not the
// sign-in cache: a policy switched on a moment ago counts.
func (s *Service) CheckAdminChange(ctx context.Context, change AdminChange) error {
	if s.AdminsAfter == nil {
		return nil
	}
	raw, err := s.Store.GetSetting(ctx, SettingKey)
	doc := DefaultDocument()
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	} else if err == nil {
		if doc, err = decodeStored(raw); err != nil {
			// Damaged policies let nobody in (sign-in fails closed): no
			// change to an admin can make that worse.
			return nil
		}
	}
	if err != nil {
		return err
	}
	set, err := Compile(doc)
	if err != nil {
		return nil // as above: policies that do not compile let nobody in
	}
	before, err := s.AdminsAfter(ctx, AdminChange{})
	if err != nil {
		return err
	}
	after, err := s.AdminsAfter(ctx, change)
	if err != nil {
		return err
	}
	now := s.Now()
	if !AdminChangeLockout(set, before, after, now) {
		return nil
	}
	var left []string
	for _, a := range after {
		if !a.Disabled {
			left = append(left, a.Username)
		}
	}
	what := "no enabled administrator would be left"
	if len(left) > 0 {
		what = "the enabled administrators left (" + strings.Join(left, ", ") + ") have no registered method those policies accept, or are kept out by them"
	}
	refusal := *ErrAdminChangeLockout
	refusal.Message = adminChangeLockoutMessage(what)
	return &refusal
}
