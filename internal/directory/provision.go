package directory

import (
	"context"
	"errors"
	"net/http"
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
