package methods

// Persistence of the policy documents in the store's settings, with an
// audit record of every change.
//
// Reads always go to the store, with no cache: several Sesame instances
// share one database, a settings read is one small indexed row, and a
// change must take effect at the next ceremony on every instance.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Settings keys of the documents.
const (
	MethodsPolicyKey = "policy/methods"
	StrengthsKey     = "policy/strengths"
)

// ErrStalePolicy refuses a save made from an outdated copy.
var ErrStalePolicy = problem.New(http.StatusConflict, "policy_changed",
	"The policy was changed by someone else since you loaded it; reload and try again.")

// swap writes a document over exactly the bytes it was made from, turning
// a lost race into ErrStalePolicy.
func swap(ctx context.Context, st store.Store, key string, old, value []byte, revision int) error {
	err := st.SwapSetting(ctx, key, old, value)
	if errors.Is(err, store.ErrConflict) {
		return ErrStalePolicy.WithDetail("revision %d was replaced during the save", revision)
	}
	return err
}

// Policies loads and saves the methods policy.
type Policies struct {
	Store store.Store
	Now   func() time.Time
}

// Load returns the stored policy, or DefaultPolicy when none was saved.
func (s *Policies) Load(ctx context.Context) (Policy, error) {
	p, _, err := s.load(ctx)
	return p, err
}

// load also returns the stored bytes (nil when nothing is stored), for the
// compare-and-set of a save.
func (s *Policies) load(ctx context.Context) (Policy, []byte, error) {
	b, err := s.Store.GetSetting(ctx, MethodsPolicyKey)
	if errors.Is(err, store.ErrNotFound) {
		return DefaultPolicy(), nil, nil
	} else if err != nil {
		return Policy{}, nil, err
	}
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return Policy{}, nil, fmt.Errorf("the stored methods policy is damaged: %w", err)
	}
	if p.Schema > PolicySchema {
		return Policy{}, nil, fmt.Errorf("the stored methods policy has schema %d, newer than this Sesame reads (%d): upgrade Sesame", p.Schema, PolicySchema)
	}
	return p, b, nil
}

// Save validates p, checks that the groups it names exist, writes it as the
// next revision and records the change (before and after) in the audit
// log. It returns the policy as stored. p.Revision must equal the stored
// revision (0 while nothing is stored), or ErrStalePolicy: an edit of an
// outdated copy does not silently undo someone else's change. The write is
// a compare-and-set on the stored document, so of two saves racing from the
// same revision (on any instances) exactly one lands and the other gets
// ErrStalePolicy. To overwrite whatever is stored, copy the stored revision
// into p first.
func (s *Policies) Save(ctx context.Context, actor audit.Actor, p Policy) (Policy, error) {
	if p.Schema == 0 {
		p.Schema = PolicySchema
	}
	if err := p.Validate(); err != nil {
		return Policy{}, problem.BadRequest("The methods policy is not valid: " + err.Error() + ".")
	}
	if err := checkGroups(ctx, s.Store, p.ReferencedGroups()); err != nil {
		return Policy{}, err
	}
	before, beforeRaw, err := s.load(ctx)
	if err != nil {
		return Policy{}, err
	}
	if p.Revision != before.Revision {
		return Policy{}, ErrStalePolicy.WithDetail("stored revision %d, submitted %d", before.Revision, p.Revision)
	}
	now := s.Now()
	p.Revision, p.UpdatedAt, p.UpdatedBy = before.Revision+1, now.UTC().Truncate(time.Millisecond), string(actor)
	b, err := json.Marshal(p)
	if err != nil {
		return Policy{}, err
	}
	if err := swap(ctx, s.Store, MethodsPolicyKey, beforeRaw, b, before.Revision); err != nil {
		return Policy{}, err
	}
	audit.Log(ctx, s.Store, now, actor, "policy.methods.update", "methods", map[string]any{"before": before, "after": p})
	return p, nil
}

// RenameGroup rewrites the stored policy's mentions of group oldName to
// newName (method scopes, passkey profiles, campaign) as one saved
// revision, compare-and-set and audited, and reports whether it named the
// group at all (nothing is saved when not). It does not check that the
// groups exist: it follows a rename in the directory, or undoes one. A
// save landing meanwhile does not fail it: the rewrite is made again on the
// policy as it now is (a few times at most).
func (s *Policies) RenameGroup(ctx context.Context, actor audit.Actor, oldName, newName string) (bool, error) {
	for attempt := 1; ; attempt++ {
		changed, err := s.renameGroup(ctx, actor, oldName, newName)
		if p := problem.As(err); err != nil && p.Code == ErrStalePolicy.Code && attempt < 3 {
			continue
		}
		return changed, err
	}
}

func (s *Policies) renameGroup(ctx context.Context, actor audit.Actor, oldName, newName string) (bool, error) {
	before, beforeRaw, err := s.load(ctx)
	if err != nil {
		return false, err
	}
	p, changed := before.RenameGroup(oldName, newName)
	if !changed {
		return false, nil
	}
	if err := p.Validate(); err != nil {
		return false, problem.BadRequest("The methods policy would not be valid with the new group name: " + err.Error() + ".")
	}
	now := s.Now()
	p.Revision, p.UpdatedAt, p.UpdatedBy = before.Revision+1, now.UTC().Truncate(time.Millisecond), string(actor)
	b, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	if err := swap(ctx, s.Store, MethodsPolicyKey, beforeRaw, b, before.Revision); err != nil {
		return false, err
	}
	audit.Log(ctx, s.Store, now, actor, "policy.methods.group_rename", "methods", map[string]any{"before": oldName, "after": newName, "revision": p.Revision})
	return true, nil
}

// ErrUnknownGroups refuses a document that names groups the directory does
// not have (most often a typo).
var ErrUnknownGroups = problem.New(http.StatusBadRequest, "unknown_groups", "")

func checkGroups(ctx context.Context, st store.Store, referenced []string) error {
	if len(referenced) == 0 {
		return nil
	}
	groups, err := st.ListGroups(ctx)
	if err != nil {
		return err
	}
	known := make([]string, 0, len(groups))
	for _, g := range groups {
		known = append(known, g.Name)
	}
	if unknown := UnknownGroups(referenced, known); len(unknown) > 0 {
		e := *ErrUnknownGroups
		e.Message = fmt.Sprintf("The policy names groups that do not exist: %q. Create them first or fix the names.", unknown)
		return &e
	}
	return nil
}

// strictUnmarshal decodes refusing unknown fields (custom UnmarshalJSON
// methods do not inherit the outer decoder's setting).
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
