package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// SettingKey is where the document is kept (store settings).
const SettingKey = "access/policies"

// DefaultCacheTTL bounds how long an instance may use policies it has read:
// a change made on one instance is in force everywhere within it.
const DefaultCacheTTL = time.Second

// Refusals.
var (
	ErrUnknownPolicy   = problem.New(http.StatusNotFound, "unknown_policy", "There is no Conditional Access policy with that name.")
	ErrUnknownLocation = problem.New(http.StatusNotFound, "unknown_location", "There is no named location with that name.")
	ErrStale           = problem.New(http.StatusConflict, "policies_changed", "The Conditional Access policies were changed by someone else since you loaded them; reload and try again.")
	ErrLocationInUse   = problem.New(http.StatusConflict, "location_in_use", "This named location is used by policies; remove it from them first.")
	ErrPolicyExists    = problem.New(http.StatusConflict, "policy_exists", "A Conditional Access policy with that name already exists.")
	ErrLocationExists  = problem.New(http.StatusConflict, "location_exists", "A named location with that name already exists.")
)

// Service keeps the document in the store, checks every change against the
// directory, audits it, and serves compiled policies to the sign-in flow.
type Service struct {
	Store store.Store
	Now   func() time.Time
	// Countries resolves addresses for Evaluate; nil: every country is
	// unknown.
	Countries *Countries
	// Apps, when set, lists the client IDs of the registered apps, so that
	// a policy cannot name an app that does not exist.
	Apps func(ctx context.Context) ([]string, error)
	// Strengths, when set, lists the custom authentication strengths;
	// otherwise only the built-in strengths are accepted.
	Strengths func(ctx context.Context) ([]StrengthName, error)
	// Admins, when set, lists the admins with what their registered
	// methods can satisfy, for the lock-out check on every save
	// (checkAdminLockout).
	Admins func(ctx context.Context) ([]AdminMethods, error)
	// AdminsAfter, when set, lists the admins as Admins does, but as they
	// would be after change (a removed admin marked disabled, a revoked
	// passkey no longer counted); the zero change lists them as they are.
	// CheckAdminChange uses it.
	AdminsAfter func(ctx context.Context, change AdminChange) ([]AdminMethods, error)
	// CacheTTL defaults to DefaultCacheTTL.
	CacheTTL time.Duration
	// OnDecision, when set, sees every decision Evaluate makes (metrics).
	OnDecision func(Decision)

	mu       sync.Mutex
	cached   *Set
	cachedAt time.Time
	raw      []byte
}

// Document reads the current document (version 0 and DefaultDocument when
// nothing was ever saved).
func (s *Service) Document(ctx context.Context) (Document, error) {
	doc, _, err := s.stored(ctx)
	return doc, err
}

// stored reads the document and the bytes it was decoded from (nil when
// nothing was ever saved), which a save hands back to the store's
// compare-and-set.
func (s *Service) stored(ctx context.Context) (Document, []byte, error) {
	raw, err := s.Store.GetSetting(ctx, SettingKey)
	if errors.Is(err, store.ErrNotFound) {
		return DefaultDocument(), nil, nil
	} else if err != nil {
		return Document{}, nil, err
	}
	doc, err := decodeStored(raw)
	return doc, raw, err
}

func decodeStored(raw []byte) (Document, error) {
	var doc Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return doc, fmt.Errorf("the stored Conditional Access policies are damaged: %w", err)
	}
	return doc, nil
}

// Policies returns the compiled policies in force, read through a cache of
// at most CacheTTL. An error (a damaged document, an unreachable database)
// must fail the sign-in closed: without policies nobody can say what is
// allowed.
func (s *Service) Policies(ctx context.Context) (*Set, error) {
	ttl := s.CacheTTL
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	now := time.Now() // the cache's own clock: the injected one may stand still in tests
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil && now.Sub(s.cachedAt) < ttl && now.Sub(s.cachedAt) >= 0 {
		return s.cached, nil
	}
	raw, err := s.Store.GetSetting(ctx, SettingKey)
	if errors.Is(err, store.ErrNotFound) {
		raw, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if s.cached != nil && string(raw) == string(s.raw) {
		s.cachedAt = now
		return s.cached, nil
	}
	var set *Set
	if raw == nil {
		if set, err = Compile(DefaultDocument()); err != nil {
			return nil, err
		}
	} else {
		doc, err := decodeStored(raw)
		if err != nil {
			return nil, err
		}
		if set, err = Compile(doc); err != nil {
			return nil, fmt.Errorf("the stored Conditional Access policies do not compile: %w", err)
		}
	}
	s.cached, s.cachedAt, s.raw = set, now, raw
	return set, nil
}

// Evaluate decides a sign-in against the policies in force, filling in the
// country of c.IP when c.Country is empty.
func (s *Service) Evaluate(ctx context.Context, c Context) (Decision, error) {
	set, err := s.Policies(ctx)
	if err != nil {
		return Decision{}, err
	}
	if c.Country == "" {
		c.Country = s.Countries.Country(c.IP)
	}
	d := set.Evaluate(c)
	if s.OnDecision != nil {
		s.OnDecision(d)
	}
	return d, nil
}

// Known builds the name checks for validation from the directory, the
// apps and the strengths.
func (s *Service) Known(ctx context.Context) (Known, error) {
	users, err := s.Store.ListUsers(ctx)
	if err != nil {
		return Known{}, err
	}
	groups, err := s.Store.ListGroups(ctx)
	if err != nil {
		return Known{}, err
	}
	userSet := make(map[string]bool, len(users))
	for _, u := range users {
		userSet[u.Username] = true
	}
	groupSet := make(map[string]bool, len(groups))
	for _, g := range groups {
		groupSet[g.Name] = true
	}
	k := Known{
		Users:  func(n string) bool { return userSet[n] },
		Groups: func(n string) bool { return groupSet[n] },
	}
	if s.Apps != nil {
		apps, err := s.Apps(ctx)
		if err != nil {
			return Known{}, err
		}
		k.Apps = setOf(apps)
	}
	if s.Strengths != nil {
		custom, err := s.Strengths(ctx)
		if err != nil {
			return Known{}, err
		}
		k.Strengths = StrengthResolver(custom)
	}
	return k, nil
}

func setOf(l []string) func(string) bool {
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return func(s string) bool { return m[s] }
}

// Change is the result of a saved change.
type Change struct {
	Document Document
	Warnings []string
}

// Audit describes a change for the audit log.
type Audit struct {
	Action        string
	Target        string
	Before, After any
}

// Update applies edit to the current document, validates the result
// against the directory, and saves it as the next version with an audit
// record. When expectVersion is not negative, the save is refused with
// ErrStale unless the current version is that one.
//
// A user, group or app that the stored policies already name but that no
// longer exists (deleted since) is a warning, not an error: an admin must
// still be able to switch such a policy off. A new reference must exist.
func (s *Service) Update(ctx context.Context, actor audit.Actor, expectVersion int64, edit func(d *Document) (Audit, error)) (Change, error) {
	return s.update(ctx, actor, expectVersion, true, edit)
}

func (s *Service) update(ctx context.Context, actor audit.Actor, expectVersion int64, lenient bool, edit func(d *Document) (Audit, error)) (Change, error) {
	cur, curRaw, err := s.stored(ctx)
	if err != nil {
		return Change{}, err
	}
	if expectVersion >= 0 && cur.Version != expectVersion {
		return Change{}, ErrStale.WithDetail("expected version %d, found %d", expectVersion, cur.Version)
	}
	next := cur.Clone()
	a, err := edit(&next)
	if err != nil {
		return Change{}, err
	}
	known, err := s.Known(ctx)
	if err != nil {
		return Change{}, err
	}
	var dangling []string
	if lenient {
		known, dangling = tolerate(known, cur)
	}
	valid, warnings, err := Validate(next, known)
	if err != nil {
		return Change{}, invalid(err)
	}
	warnings = append(warnings, stillDangling(valid, dangling)...)
	if err := s.checkAdminLockout(ctx, cur, valid); err != nil {
		return Change{}, err
	}
	now := s.Now().UTC()
	valid.Version = cur.Version + 1
	valid.UpdatedAt = now
	valid.UpdatedBy = string(actor)
	raw, err := json.Marshal(valid)
	if err != nil {
		return Change{}, err
	}
	// Compare-and-set: the write only lands on the document this change
	// was made from, so a save made meanwhile (on any instance) is never
	// overwritten.
	if err := s.Store.SwapSetting(ctx, SettingKey, curRaw, raw); errors.Is(err, store.ErrConflict) {
		return Change{}, ErrStale.WithDetail("version %d was replaced during the change", cur.Version)
	} else if err != nil {
		return Change{}, err
	}
	s.mu.Lock()
	s.cached = nil // this instance sees its own change at once
	s.mu.Unlock()
	audit.Log(ctx, s.Store, now, actor, a.Action, a.Target, map[string]any{
		"version": valid.Version, "before": a.Before, "after": a.After,
	})
	return Change{Document: valid, Warnings: warnings}, nil
}

// tolerate makes known also accept the names the stored document already
// uses, and returns those of them that do not exist (as "kind name").
func tolerate(k Known, cur Document) (Known, []string) {
	var dangling []string
	wrap := func(check func(string) bool, kind string, names map[string]bool) func(string) bool {
		if check == nil {
			return nil
		}
		for n := range names {
			if !check(n) {
				dangling = append(dangling, kind+" "+n)
			}
		}
		return func(n string) bool { return check(n) || names[n] }
	}
	users, groups, apps := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range cur.Policies {
		for _, l := range [][]string{p.Users.Include, p.Users.Exclude} {
			for _, n := range l {
				users[n] = true
			}
		}
		for _, l := range [][]string{p.Users.IncludeGroups, p.Users.ExcludeGroups} {
			for _, n := range l {
				groups[n] = true
			}
		}
		for _, l := range [][]string{p.Apps.Include, p.Apps.Exclude} {
			for _, n := range l {
				apps[n] = true
			}
		}
	}
	k.Users = wrap(k.Users, "user", users)
	k.Groups = wrap(k.Groups, "group", groups)
	k.Apps = wrap(k.Apps, "app", apps)
	slices.Sort(dangling)
	return k, dangling
}

// stillDangling warns about the policies that name something that no
// longer exists.
func stillDangling(d Document, dangling []string) []string {
	var out []string
	for _, ref := range dangling {
		kind, name, _ := strings.Cut(ref, " ")
		var by []string
		for _, p := range d.Policies {
			var l []string
			switch kind {
			case "user":
				l = append(slices.Clone(p.Users.Include), p.Users.Exclude...)
			case "group":
				l = append(slices.Clone(p.Users.IncludeGroups), p.Users.ExcludeGroups...)
			case "app":
				l = append(slices.Clone(p.Apps.Include), p.Apps.Exclude...)
			}
			if slices.Contains(l, name) {
				by = append(by, fmt.Sprintf("%q", p.Name))
			}
		}
		if len(by) > 0 {
			out = append(out, fmt.Sprintf("%s %q no longer exists but is named by %s", kind, name, strings.Join(by, ", ")))
		}
	}
	return out
}

// invalid turns validation problems into a refusal whose message lists
// them (they name paths and say what to do, so they are safe to show).
func invalid(err error) error {
	var inv Invalid
	if errors.As(err, &inv) {
		return &problem.Error{Status: http.StatusBadRequest, Code: "invalid_policy", Message: inv.Error(), Err: err}
	}
	return err
}

// PutPolicy creates a policy, or replaces the one with the same name when
// replace is set.
func (s *Service) PutPolicy(ctx context.Context, actor audit.Actor, p Policy, replace bool) (Change, error) {
	return s.Update(ctx, actor, -1, func(d *Document) (Audit, error) {
		if i, ok := findPolicy(d, p.Name); ok {
			if !replace {
				return Audit{}, ErrPolicyExists
			}
			before := d.Policies[i]
			d.Policies[i] = p.Clone()
			return Audit{"access.policy.update", p.Name, before, p}, nil
		}
		d.Policies = append(d.Policies, p.Clone())
		return Audit{"access.policy.create", p.Name, nil, p}, nil
	})
}

// SetState switches a policy on, off or to report-only.
func (s *Service) SetState(ctx context.Context, actor audit.Actor, name string, state State) (Change, error) {
	return s.Update(ctx, actor, -1, func(d *Document) (Audit, error) {
		i, ok := findPolicy(d, name)
		if !ok {
			return Audit{}, ErrUnknownPolicy
		}
		before := d.Policies[i].State
		d.Policies[i].State = state
		return Audit{"access.policy.state", d.Policies[i].Name, before, state}, nil
	})
}

// DeletePolicy removes a policy.
func (s *Service) DeletePolicy(ctx context.Context, actor audit.Actor, name string) (Change, error) {
	return s.Update(ctx, actor, -1, func(d *Document) (Audit, error) {
		i, ok := findPolicy(d, name)
		if !ok {
			return Audit{}, ErrUnknownPolicy
		}
		before := d.Policies[i]
		d.Policies = slices.Delete(d.Policies, i, i+1)
		return Audit{"access.policy.delete", before.Name, before, nil}, nil
	})
}

// PutLocation creates a named location, or replaces the one with the same
// name when replace is set.
func (s *Service) PutLocation(ctx context.Context, actor audit.Actor, l Location, replace bool) (Change, error) {
	return s.Update(ctx, actor, -1, func(d *Document) (Audit, error) {
		if i, ok := findLocation(d, l.Name); ok {
			if !replace {
				return Audit{}, ErrLocationExists
			}
			before := d.Locations[i]
			d.Locations[i] = l
			return Audit{"access.location.update", l.Name, before, l}, nil
		}
		d.Locations = append(d.Locations, l)
		return Audit{"access.location.create", l.Name, nil, l}, nil
	})
}

// DeleteLocation removes a named location that no policy uses.
func (s *Service) DeleteLocation(ctx context.Context, actor audit.Actor, name string) (Change, error) {
	return s.Update(ctx, actor, -1, func(d *Document) (Audit, error) {
		i, ok := findLocation(d, name)
		if !ok {
			return Audit{}, ErrUnknownLocation
		}
		if users := PoliciesUsingLocation(*d, d.Locations[i].Name); len(users) > 0 {
			return Audit{}, ErrLocationInUse.WithDetail("used by %s", strings.Join(users, ", "))
		}
		before := d.Locations[i]
		d.Locations = slices.Delete(d.Locations, i, i+1)
		return Audit{"access.location.delete", before.Name, before, nil}, nil
	})
}

// Import replaces all named locations and policies with those of doc, all
// or nothing. Every name the file uses must exist.
func (s *Service) Import(ctx context.Context, actor audit.Actor, doc Document) (Change, error) {
	return s.update(ctx, actor, -1, false, func(d *Document) (Audit, error) {
		before := Document{Locations: d.Locations, Policies: d.Policies}
		in := doc.Clone()
		d.Locations, d.Policies = in.Locations, in.Policies
		return Audit{"access.import", "", before, Document{Locations: in.Locations, Policies: in.Policies}}, nil
	})
}

// PoliciesUsingLocation names the policies whose conditions mention a
// named location.
func PoliciesUsingLocation(d Document, name string) []string {
	var names []string
	for _, p := range d.Policies {
		l := p.Conditions.Locations
		if slices.ContainsFunc(l.Include, func(s string) bool { return strings.EqualFold(s, name) }) ||
			slices.ContainsFunc(l.Exclude, func(s string) bool { return strings.EqualFold(s, name) }) {
			names = append(names, p.Name)
		}
	}
	return names
}

func findLocation(d *Document, name string) (int, bool) {
	i := slices.IndexFunc(d.Locations, func(l Location) bool { return strings.EqualFold(l.Name, strings.TrimSpace(name)) })
	return i, i >= 0
}

func findPolicy(d *Document, name string) (int, bool) {
	i := slices.IndexFunc(d.Policies, func(p Policy) bool { return strings.EqualFold(p.Name, strings.TrimSpace(name)) })
	return i, i >= 0
}

// WhatIfRequest is a sign-in an admin asks about.
type WhatIfRequest struct {
	Username string
	App      string // client ID; empty for Sesame itself
	Action   string // or a user action
	IP       string
	Country  string // empty: resolved from IP
	Client   ClientType
	Device   Device
	// Satisfies lists the strengths the sign-in is assumed to meet
	// (none: show every requirement).
	Satisfies []string
	// AuthAge is how long ago the user authenticated; 0 means within this
	// sign-in.
	AuthAge time.Duration
}

// WhatIf is the answer: the context as completed from the directory and
// the country database, and the decision.
type WhatIf struct {
	Context  Context
	Decision Decision
}

// WhatIf evaluates a hypothetical sign-in against set, or the policies in
// force when set is nil. The user must exist: their groups and role come
// from the directory.
func (s *Service) WhatIf(ctx context.Context, set *Set, r WhatIfRequest) (WhatIf, error) {
	if set == nil {
		var err error
		if set, err = s.Policies(ctx); err != nil {
			return WhatIf{}, err
		}
	}
	u, err := s.Store.GetUserByUsername(ctx, strings.ToLower(strings.TrimSpace(r.Username)))
	if errors.Is(err, store.ErrNotFound) {
		return WhatIf{}, problem.New(http.StatusNotFound, "unknown_user", fmt.Sprintf("There is no user %q.", r.Username))
	} else if err != nil {
		return WhatIf{}, err
	}
	groups, err := s.Store.ListUserGroups(ctx, u.ID)
	if err != nil {
		return WhatIf{}, err
	}
	now := s.Now()
	c := Context{
		Username: u.Username, Admin: u.Admin, App: r.App, Action: r.Action,
		Country: strings.ToUpper(strings.TrimSpace(r.Country)), Client: r.Client, Device: r.Device,
		Now: now, Fresh: r.AuthAge == 0, AuthTime: now.Add(-r.AuthAge),
	}
	for _, g := range groups {
		c.Groups = append(c.Groups, g.Name)
	}
	switch c.Client {
	case "":
		c.Client = ClientBrowser
	case ClientBrowser, ClientLegacy:
	default:
		return WhatIf{}, problem.BadRequest(fmt.Sprintf("%q is not a client type: use browser or legacy.", r.Client))
	}
	if c.Action != "" && c.Action != ActionRegisterSecurityInfo {
		return WhatIf{}, problem.BadRequest(fmt.Sprintf("%q is not a user action (the one action is %q).", c.Action, ActionRegisterSecurityInfo))
	}
	if r.AuthAge < 0 {
		return WhatIf{}, problem.BadRequest("The authentication age cannot be negative.")
	}
	if strings.TrimSpace(r.IP) != "" {
		ip, err := netip.ParseAddr(strings.TrimSpace(r.IP))
		if err != nil {
			return WhatIf{}, problem.BadRequest(fmt.Sprintf("%q is not an IP address.", r.IP))
		}
		c.IP = ip.Unmap()
	}
	if c.Country == "" {
		c.Country = s.Countries.Country(c.IP)
	}
	if len(r.Satisfies) > 0 {
		known, err := s.Known(ctx)
		if err != nil {
			return WhatIf{}, err
		}
		var met []string
		for _, name := range r.Satisfies {
			id, ok := known.strength(name)
			if !ok {
				return WhatIf{}, problem.BadRequest(fmt.Sprintf("There is no authentication strength %q.", name))
			}
			met = append(met, id)
		}
		c.Satisfies = func(s string) bool { return slices.Contains(met, s) }
	}
	return WhatIf{Context: c, Decision: set.Evaluate(c)}, nil
}

// RenameGroupIn returns the document with every mention of group oldName
// (policies' include and exclude groups) changed to newName, and the names
// of the policies changed. d is not modified.
func RenameGroupIn(d Document, oldName, newName string) (Document, []string) {
	d = d.Clone()
	var changed []string
	for i := range d.Policies {
		u := &d.Policies[i].Users
		var in, ex bool
		u.IncludeGroups, in = renameIn(u.IncludeGroups, oldName, newName)
		u.ExcludeGroups, ex = renameIn(u.ExcludeGroups, oldName, newName)
		if in || ex {
			changed = append(changed, d.Policies[i].Name)
		}
	}
	return d, changed
}

func renameIn(list []string, oldName, newName string) ([]string, bool) {
	if !slices.Contains(list, oldName) {
		return list, false
	}
	out := make([]string, 0, len(list))
	for _, n := range list {
		if n == oldName {
			n = newName
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, true
}

// RenameGroup rewrites the stored policies that name group oldName to name
// newName instead, as one saved change (compare-and-set, audited as
// access.group.rename). Nothing is saved when no policy names it.
//
// A policy save landing meanwhile does not fail the rename: the rewrite is
// made again on the document as it now is (a few times at most).
func (s *Service) RenameGroup(ctx context.Context, actor audit.Actor, oldName, newName string) (Change, error) {
	for attempt := 1; ; attempt++ {
		cur, err := s.Document(ctx)
		if err != nil {
			return Change{}, err
		}
		if _, changed := RenameGroupIn(cur, oldName, newName); len(changed) == 0 {
			return Change{Document: cur}, nil
		}
		ch, err := s.Update(ctx, actor, cur.Version, func(d *Document) (Audit, error) {
			next, changed := RenameGroupIn(*d, oldName, newName)
			*d = next
			return Audit{"access.group.rename", newName, map[string]any{"group": oldName}, map[string]any{"group": newName, "policies": changed}}, nil
		})
		if p := problem.As(err); err != nil && p.Code == ErrStale.Code && attempt < 3 {
			continue
		}
		return ch, err
	}
}
