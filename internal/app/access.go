package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// openAccess builds Conditional Access: policies in the store, countries
// from the configured MaxMind-format database (none when not configured),
// app and custom-strength names checked against what exists.
func (a *App) openAccess() error {
	s := &access.Service{Store: a.Store, Now: a.Now, OnDecision: a.countPolicyOutcomes}
	if a.Config.GeoIPDB != "" {
		c, err := access.OpenCountries(a.Config.GeoIPDB)
		if err != nil {
			return err
		}
		s.Countries = c
	}
	s.Apps = func(ctx context.Context) ([]string, error) {
		if a.OIDC == nil {
			return nil, nil
		}
		apps, err := a.OIDC.ListApps(ctx)
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(apps))
		for i, x := range apps {
			ids[i] = x.ClientID
		}
		if a.SAML != nil {
			// SAML apps are apps too: policies name them the same way.
			sapps, err := a.SAML.ListApps(ctx)
			if err != nil {
				return nil, err
			}
			for _, x := range sapps {
				ids = append(ids, x.Name)
			}
		}
		return ids, nil
	}
	s.Strengths = func(ctx context.Context) ([]access.StrengthName, error) {
		custom, err := a.CustomStrengths(ctx)
		if err != nil {
			return nil, err
		}
		names := make([]access.StrengthName, len(custom))
		for i, c := range custom {
			names[i] = access.StrengthName{ID: c.ID, Name: c.Name}
		}
		return names, nil
	}
	s.Admins = func(ctx context.Context) ([]access.AdminMethods, error) {
		return a.adminMethods(ctx, access.AdminChange{})
	}
	s.AdminsAfter = a.adminMethods
	a.Access = s
	return nil
}

// adminMethods lists the admins with what their registered methods can
// satisfy, for Conditional Access's lock-out check: each passkey on its
// own, and a password with the authenticator app (or alone) unless the
// admin is passwordless-only. They are listed as they would be after
// change: the admin it removes counts as disabled, the passkey it revokes
// is left out (the zero change: as they are).
func (a *App) adminMethods(ctx context.Context, change access.AdminChange) ([]access.AdminMethods, error) {
	users, err := a.Store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	custom, err := a.CustomStrengths(ctx)
	if err != nil {
		return nil, err
	}
	var out []access.AdminMethods
	for _, u := range users {
		if !u.Admin {
			continue
		}
		groups, err := a.Store.ListUserGroups(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		creds, err := a.Store.ListCredentials(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		legacy, err := a.Legacy.State(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		am := access.AdminMethods{Username: u.Username, Disabled: u.Disabled}
		if change.Removed && u.Username == change.Username {
			am.Disabled = true
		}
		for _, g := range groups {
			am.Groups = append(am.Groups, g.Name)
		}
		var facts []passkey.Facts
		for _, c := range creds {
			if change.Passkey != "" && c.ID == change.Passkey && u.Username == change.Username {
				continue
			}
			f := passkey.FactsOf(c)
			facts = append(facts, f)
			am.BoundPasskey = am.BoundPasskey || passkey.Classify(c.BackupEligible, c.BackupState) == passkey.KindDeviceBound
		}
		var combos [][]methods.Method
		if legacy.HasPassword && !legacy.PasswordlessOnly {
			combos = append(combos, []methods.Method{methods.MethodPassword})
			if legacy.TOTPEnrolled {
				combos = append(combos, []methods.Method{methods.MethodPassword, methods.MethodTOTP})
			}
		}
		am.Satisfies = func(id string) bool {
			st, ok := methods.StrengthByID(id, custom)
			if !ok {
				return false
			}
			for i := range facts {
				if methods.Satisfies(st, []methods.Method{methods.MethodPasskey}, &facts[i]) {
					return true
				}
			}
			for _, c := range combos {
				if methods.Satisfies(st, c, nil) {
					return true
				}
			}
			return false
		}
		out = append(out, am)
	}
	return out, nil
}

// checkAdminRemoval is the directory's lock-out check: disabling,
// deleting or demoting u must leave an admin who can get in.
func (a *App) checkAdminRemoval(ctx context.Context, u store.User) error {
	if a.Access == nil {
		return nil
	}
	return a.Access.CheckAdminChange(ctx, access.AdminChange{Username: u.Username, Removed: true})
}

// checkPasskeyRevocation is the sign-in service's lock-out check:
// revoking an admin's passkey must leave an admin who can get in.
func (a *App) checkPasskeyRevocation(ctx context.Context, u store.User, c store.Credential) error {
	if a.Access == nil || !u.Admin || u.Disabled {
		return nil
	}
	return a.Access.CheckAdminChange(ctx, access.AdminChange{Username: u.Username, Passkey: c.ID})
}

// CustomStrengths lists the admin-defined authentication strengths.
func (a *App) CustomStrengths(ctx context.Context) ([]methods.Strength, error) {
	doc, err := a.Strengths.Load(ctx)
	if err != nil {
		return nil, err
	}
	return doc.Strengths, nil
}

// sweepSignIns applies the sign-in log retention: records older than the
// configured number of days are deleted (the only deletion the log allows).
func (a *App) sweepSignIns(ctx context.Context) {
	if a.Access == nil {
		return
	}
	days, err := a.Access.Retention(ctx)
	if err != nil {
		a.Log.WarnContext(ctx, "reading the sign-in log retention failed", "err", err)
		return
	}
	cutoff := access.RetentionCutoff(a.Now(), days)
	if cutoff.IsZero() {
		return
	}
	if n, err := a.Store.DeleteSignInsBefore(ctx, cutoff); err != nil {
		a.Log.WarnContext(ctx, "deleting expired sign-in records failed", "err", err)
	} else if n > 0 {
		a.Log.InfoContext(ctx, "deleted expired sign-in records", "count", n, "retention_days", days)
	}
}

// deviceKeyPurpose derives the key of the device cookie (see
// access.DeviceSigner).
const deviceKeyPurpose = "sesame/device/v1"

// DeviceSigner signs and reads the device cookie.
func (a *App) DeviceSigner() access.DeviceSigner {
	return access.DeviceSigner{Key: a.DeriveKey(deviceKeyPurpose)}
}

// groupUsers names the policies that include or exclude a group: the
// methods policy (and its passkey profiles) and Conditional Access policies.
func (a *App) groupUsers(ctx context.Context, group string) ([]string, error) {
	var out []string
	mp, err := a.Policies.Load(ctx)
	if err != nil {
		return nil, err
	}
	if slices.Contains(mp.ReferencedGroups(), group) {
		out = append(out, "the sign-in methods policy")
	}
	if a.Access != nil {
		doc, err := a.Access.Document(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range doc.Policies {
			if slices.Contains(p.Users.IncludeGroups, group) || slices.Contains(p.Users.ExcludeGroups, group) {
				out = append(out, "Conditional Access policy \u201c"+p.Name+"\u201d")
			}
		}
	}
	return out, nil
}

// groupRenamed rewrites the documents that name a renamed group: the
// sign-in methods policy (method scopes, passkey profiles, campaign) and
// the Conditional Access policies. Each save is a compare-and-set; if the
// second fails, the first is rewritten back, so that when the directory
// undoes the rename no document is left naming a group that does not
// exist.
func (a *App) groupRenamed(ctx context.Context, actor audit.Actor, oldName, newName string) error {
	methodsChanged, err := a.Policies.RenameGroup(ctx, actor, oldName, newName)
	if err != nil {
		return fmt.Errorf("rewriting the sign-in methods policy: %w", err)
	}
	if a.Access == nil {
		return nil
	}
	if _, err := a.Access.RenameGroup(ctx, actor, oldName, newName); err != nil {
		if methodsChanged {
			if _, undo := a.Policies.RenameGroup(context.WithoutCancel(ctx), actor, newName, oldName); undo != nil {
				return fmt.Errorf("rewriting the Conditional Access policies: %w (and undoing the methods policy change failed: %v)", err, undo)
			}
		}
		return fmt.Errorf("rewriting the Conditional Access policies: %w", err)
	}
	return nil
}

// countPolicyOutcomes feeds the policy-outcome metric: every policy that
// applied, by name and outcome; report-only outcomes are labelled as such
// so a pilot's would-be blocks can be graphed before it is switched on.
func (a *App) countPolicyOutcomes(d access.Decision) {
	for _, r := range d.Results {
		if r.Outcome == access.OutcomeNotApplied || r.State == access.StateOff {
			continue
		}
		outcome := string(r.Outcome)
		if r.State == access.StateReportOnly {
			outcome = "report-only:" + outcome
		}
		a.Metrics.Policy.WithLabelValues(r.Policy, outcome).Inc()
	}
}

// AccessWithCountries is the Conditional Access service with another
// MaxMind-format country database (a command's --geoip-db), and a function
// that closes it and puts the configured one back. Without a path it is
// the service as configured.
func (a *App) AccessWithCountries(geoipDB string) (*access.Service, func(), error) {
	if geoipDB == "" {
		return a.Access, func() {}, nil
	}
	c, err := access.OpenCountries(geoipDB)
	if err != nil {
		return nil, nil, err
	}
	configured := a.Access.Countries
	a.Access.Countries = c
	return a.Access, func() { a.Access.Countries = configured; c.Close() }, nil
}
