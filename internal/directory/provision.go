package directory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// What provisioning (SCIM) needs beyond the admin's operations: users and
// groups addressed by ID, their external IDs, and whole-profile updates.

var (
	ErrExternalIDTaken = problem.New(http.StatusConflict, "external_id_taken", "Another user or group already has that external ID.")
)

// NormalizeExternalID checks a provisioning client's identifier: at most
// 255 characters without control characters; "" means none. It is kept
// exactly (case matters), as SCIM says of externalId.
func NormalizeExternalID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 255 || strings.ContainsFunc(s, unicode.IsControl) {
		return "", problem.BadRequest("An external ID must be at most 255 characters, without control characters.")
	}
	return s, nil
}

// Profile is what a provisioning client may set on a user.
type Profile struct {
	Username    string
	Email       string
	DisplayName string // "" means the username
	ExternalID  string
}

// UpdateProfile replaces a user's username, email, display name and
// external ID. A username or email another user has is ErrUserExists, an
// external ID another user has ErrExternalIDTaken; either changes nothing.
func (d *Service) UpdateProfile(ctx context.Context, actor audit.Actor, id string, p Profile) (store.User, error) {
	u, err := d.UserByID(ctx, id)
	if err != nil {
		return u, err
	}
	next := u
	if next.Username, err = NormalizeUsername(p.Username); err != nil {
		return u, err
	}
	if next.Email, err = NormalizeEmail(p.Email); err != nil {
		return u, err
	}
	if next.DisplayName, err = normalizeDisplayName(p.DisplayName); err != nil {
		return u, err
	}
	if next.DisplayName == "" {
		next.DisplayName = next.Username
	}
	if next.ExternalID, err = NormalizeExternalID(p.ExternalID); err != nil {
		return u, err
	}
	if next == u {
		return u, nil
	}
	if next.ExternalID != "" && next.ExternalID != u.ExternalID {
		if o, err := d.Store.GetUserByExternalID(ctx, next.ExternalID); err == nil && o.ID != u.ID {
			return u, ErrExternalIDTaken
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return u, err
		}
	}
	next.UpdatedAt = d.Now()
	if err := d.Store.UpdateUser(ctx, next); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return u, ErrUserExists
		}
		return u, err
	}
	change := map[string][2]string{}
	for _, f := range []struct {
		name     string
		old, new string
	}{
		{"username", u.Username, next.Username}, {"email", u.Email, next.Email},
		{"name", u.DisplayName, next.DisplayName}, {"external_id", u.ExternalID, next.ExternalID},
	} {
		if f.old != f.new {
			change[f.name] = [2]string{f.old, f.new}
		}
	}
	audit.Log(ctx, d.Store, next.UpdatedAt, actor, "user.update", next.Username, change)
	return next, nil
}

// GroupByID finds a group by ID.
func (d *Service) GroupByID(ctx context.Context, id string) (store.Group, error) {
	g, err := d.Store.GetGroup(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return g, ErrUnknownGroup
	}
	return g, err
}

// CreateProvisionedGroup creates a group that a provisioning client knows
// by externalID ("" for none).
func (d *Service) CreateProvisionedGroup(ctx context.Context, actor audit.Actor, name, externalID string) (store.Group, error) {
	var g store.Group
	var err error
	if g.Name, err = NormalizeGroupName(name); err != nil {
		return g, err
	}
	if g.ExternalID, err = NormalizeExternalID(externalID); err != nil {
		return g, err
	}
	if g.ExternalID != "" {
		if _, err := d.Store.GetGroupByExternalID(ctx, g.ExternalID); err == nil {
			return g, ErrExternalIDTaken
		} else if !errors.Is(err, store.ErrNotFound) {
			return g, err
		}
	}
	g.ID, g.CreatedAt = store.NewID(), d.Now()
	if err := d.Store.CreateGroup(ctx, g); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return g, ErrGroupExists
		}
		return g, err
	}
	audit.Log(ctx, d.Store, g.CreatedAt, actor, "group.create", g.Name, map[string]string{"external_id": g.ExternalID})
	return g, nil
}

// SetGroupExternalID changes the external ID of a group.
func (d *Service) SetGroupExternalID(ctx context.Context, actor audit.Actor, id, externalID string) (store.Group, error) {
	g, err := d.GroupByID(ctx, id)
	if err != nil {
		return g, err
	}
	ext, err := NormalizeExternalID(externalID)
	if err != nil || ext == g.ExternalID {
		return g, err
	}
	if err := d.Store.SetGroupExternalID(ctx, g.ID, ext); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return g, ErrExternalIDTaken
		}
		return g, err
	}
	audit.Log(ctx, d.Store, d.Now(), actor, "group.set_external_id", g.Name, map[string]string{"before": g.ExternalID, "after": ext})
	g.ExternalID = ext
	return g, nil
}

// SetMemberByID adds (member true) or removes a user from a group, both by
// ID.
func (d *Service) SetMemberByID(ctx context.Context, actor audit.Actor, groupID, userID string, member bool) error {
	g, err := d.GroupByID(ctx, groupID)
	if err != nil {
		return err
	}
	u, err := d.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	return d.SetMember(ctx, actor, g.Name, u.Username, member)
}

// GroupChange is a change a provisioning client makes to a group in one
// request (SCIM PUT or PATCH), made all or nothing.
type GroupChange struct {
	Name       *string  // the new name; nil keeps it
	ExternalID *string  // the new external ID ("" clears it); nil keeps it
	Add        []string // IDs of users to make members
	Remove     []string // IDs of users to take out
}

var errAddAndRemove = problem.BadRequest("A user cannot be both added to and taken out of a group in one change.")

// planGroupChange checks c against group g as RenameGroup,
// SetGroupExternalID and SetMemberByID check their input, and returns the
// store's change: values normalized, a name or external ID g already has
// left out (and not checked, as a rename to the same name is not), each
// user once.
func planGroupChange(g store.Group, c GroupChange) (store.GroupChange, error) {
	var sc store.GroupChange
	if c.Name != nil && strings.TrimSpace(*c.Name) != g.Name {
		name, err := NormalizeGroupName(*c.Name)
		if err != nil {
			return store.GroupChange{}, err
		}
		sc.Name = &name
	}
	if c.ExternalID != nil {
		ext, err := NormalizeExternalID(*c.ExternalID)
		if err != nil {
			return store.GroupChange{}, err
		}
		if ext != g.ExternalID {
			sc.ExternalID = &ext
		}
	}
	sc.Add, sc.Remove = distinct(c.Add), distinct(c.Remove)
	for _, id := range sc.Add {
		if slices.Contains(sc.Remove, id) {
			return store.GroupChange{}, errAddAndRemove
		}
	}
	return sc, nil
}

// distinct returns ids without repeats, in first-seen order.
func distinct(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// ChangeGroup makes c to the group with this ID as one step: a taken name
// (ErrGroupExists), a taken external ID (ErrExternalIDTaken), an unknown
// user (ErrUnknownUser), a failing store or a cancelled request changes
// nothing. A rename is passed to GroupRenamed as RenameGroup does; if that
// fails, the whole change is undone. The audit records are those the
// separate operations write, one per thing that changed, written once the
// change stands.
func (d *Service) ChangeGroup(ctx context.Context, actor audit.Actor, id string, c GroupChange) (store.Group, error) {
	g, err := d.GroupByID(ctx, id)
	if err != nil {
		return g, err
	}
	sc, err := planGroupChange(g, c)
	if err != nil || sc.Empty() {
		return g, err
	}
	undo, err := d.Store.ChangeGroup(ctx, g.ID, sc)
	if err != nil {
		return g, d.groupChangeError(ctx, g, sc, err)
	}
	next := g
	if sc.Name != nil {
		next.Name = *sc.Name
	}
	if sc.ExternalID != nil {
		next.ExternalID = *sc.ExternalID
	}
	if undo.Name != nil && d.GroupRenamed != nil {
		if err := d.GroupRenamed(ctx, actor, *undo.Name, next.Name); err != nil {
			if _, uerr := d.Store.ChangeGroup(context.WithoutCancel(ctx), g.ID, undo); uerr != nil {
				return g, fmt.Errorf("%w (and undoing the group change failed: %v)", err, uerr)
			}
			return g, err
		}
	}
	// The change stands: its records are written even if the request has
	// ended meanwhile, or the audit log would miss a change that was made.
	ctx, now := context.WithoutCancel(ctx), d.Now()
	if undo.Name != nil {
		audit.Log(ctx, d.Store, now, actor, "group.rename", next.Name, map[string]string{"before": *undo.Name, "after": next.Name})
	}
	if undo.ExternalID != nil {
		audit.Log(ctx, d.Store, now, actor, "group.set_external_id", next.Name, map[string]string{"before": *undo.ExternalID, "after": next.ExternalID})
	}
	// What the undo takes out is what was added, and the reverse.
	for _, m := range []struct {
		action string
		ids    []string
	}{{"group.add_member", undo.Remove}, {"group.remove_member", undo.Add}} {
		for _, uid := range m.ids {
			audit.Log(ctx, d.Store, now, actor, m.action, next.Name, map[string]string{"user": d.usernameOf(ctx, uid)})
		}
	}
	return next, nil
}

// usernameOf names a user for the audit log; a user deleted since is
// named by ID.
func (d *Service) usernameOf(ctx context.Context, id string) string {
	if u, err := d.Store.GetUser(ctx, id); err == nil {
		return u.Username
	}
	return id
}

// groupChangeError turns the store's refusal of sc into the error the
// separate operations would have given. The store says only ErrConflict or
// ErrNotFound; whether the name or the external ID, the group or a user,
// is looked up here, on the failure path only.
func (d *Service) groupChangeError(ctx context.Context, g store.Group, sc store.GroupChange, err error) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		nameTaken := sc.Name != nil
		if nameTaken && sc.ExternalID != nil {
			o, gerr := d.Store.GetGroupByName(ctx, *sc.Name)
			nameTaken = gerr == nil && o.ID != g.ID
		}
		if nameTaken {
			return ErrGroupExists
		}
		if sc.ExternalID != nil {
			return ErrExternalIDTaken
		}
	case errors.Is(err, store.ErrNotFound):
		switch _, gerr := d.Store.GetGroup(ctx, g.ID); {
		case errors.Is(gerr, store.ErrNotFound):
			return ErrUnknownGroup
		case gerr != nil:
			return err // cannot tell which; the store's own error says enough
		}
		return ErrUnknownUser
	}
	return err
}
