// Package directory manages users, groups and membership: validation,
// the rules around admins, and audit records for every change.
package directory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Service is the directory over a store.
type Service struct {
	Store store.Store
	Now   func() time.Time
	// GroupUsers, when set, names what refers to a group (policies that
	// include or exclude it). A group still named cannot be deleted:
	// deleting a break-glass exclusion group would silently put those
	// accounts under the policy that excluded them.
	GroupUsers func(ctx context.Context, group string) ([]string, error)
	// GroupRenamed, when set, is called after a group's row was renamed,
	// to rewrite every document that names the group (policies name
	// groups, not IDs, so that their files stay readable). If it fails the
	// rename is undone, so a policy never names a group that does not exist.
	GroupRenamed func(ctx context.Context, actor audit.Actor, oldName, newName string) error
	// OnSessionEnd, when set, is told before a disabled or deleted user's
	// sessions end (back-channel logout to the apps they signed in to).
	OnSessionEnd store.SessionEndHook
	// CheckAdminRemoval, when set, is asked before an enabled admin is
	// disabled, deleted or loses the admin role, and refuses
	// (access.ErrAdminChangeLockout) when the others could not sign in to
	// the admin console under the Conditional Access policies in force:
	// being an admin is no use to someone the policies keep out.
	CheckAdminRemoval func(ctx context.Context, u store.User) error
}

var (
	ErrUnknownUser  = problem.New(http.StatusNotFound, "unknown_user", "There is no user with that username.")
	ErrUnknownGroup = problem.New(http.StatusNotFound, "unknown_group", "There is no group with that name.")
	ErrUserExists   = problem.New(http.StatusConflict, "user_exists", "A user with that username or email already exists.")
	ErrGroupExists  = problem.New(http.StatusConflict, "group_exists", "A group with that name already exists.")
	ErrGroupInUse   = problem.New(http.StatusConflict, "group_in_use", "This group is named by a policy; remove it from the policy first.")
	ErrLastAdmin    = problem.New(http.StatusConflict, "last_admin", "This is the last enabled admin; make another user an admin first, or nobody can manage Sesame.")
)

// NormalizeUsername lower-cases and checks a username: 1 to 64 characters
// from letters, digits and . _ - @ (so an email address works as a
// username), starting with a letter or digit.
func NormalizeUsername(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > 64 {
		return "", problem.BadRequest("A username must be 1 to 64 characters long.")
	}
	for i, r := range s {
		ok := r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || (i > 0 && strings.ContainsRune("._-@", r)))
		if !ok {
			return "", problem.BadRequest("A username may only use letters, digits and . _ - @, and must start with a letter or digit.")
		}
	}
	return s, nil
}

// NormalizeEmail lower-cases and checks an email address; empty is allowed.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", problem.BadRequest("The email address is not valid.")
	}
	return s, nil
}

func normalizeDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 128 || strings.ContainsFunc(s, unicode.IsControl) {
		return "", problem.BadRequest("A display name must be at most 128 characters, without control characters.")
	}
	return s, nil
}

// NewUser is what is needed to create a user.
type NewUser struct {
	Username    string
	Email       string
	DisplayName string
	Admin       bool
	ExternalID  string // a provisioning client's ID for the user (SCIM externalId)
}

// CreateUser validates and creates a user.
func (d *Service) CreateUser(ctx context.Context, actor audit.Actor, in NewUser) (store.User, error) {
	var u store.User
	var err error
	if u.Username, err = NormalizeUsername(in.Username); err != nil {
		return u, err
	}
	if u.Email, err = NormalizeEmail(in.Email); err != nil {
		return u, err
	}
	if u.DisplayName, err = normalizeDisplayName(in.DisplayName); err != nil {
		return u, err
	}
	if u.DisplayName == "" {
		u.DisplayName = u.Username
	}
	if u.ExternalID, err = NormalizeExternalID(in.ExternalID); err != nil {
		return u, err
	}
	now := d.Now()
	u.ID, u.Admin, u.CreatedAt, u.UpdatedAt = store.NewID(), in.Admin, now, now
	if err := d.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return u, ErrUserExists
		}
		return u, err
	}
	audit.Log(ctx, d.Store, now, actor, "user.create", u.Username, map[string]any{"email": u.Email, "name": u.DisplayName, "admin": u.Admin, "external_id": u.ExternalID})
	return u, nil
}

// User finds a user by username (case-insensitive).
func (d *Service) User(ctx context.Context, username string) (store.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return store.User{}, ErrUnknownUser
	}
	u, err := d.Store.GetUserByUsername(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return u, ErrUnknownUser
	}
	return u, err
}

// UserByID finds a user by ID.
func (d *Service) UserByID(ctx context.Context, id string) (store.User, error) {
	u, err := d.Store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return u, ErrUnknownUser
	}
	return u, err
}

// SetDisabled disables or enables a user. Disabling ends all the user's
// sessions at once, and refuses to lock out the last enabled admin.
func (d *Service) SetDisabled(ctx context.Context, actor audit.Actor, username string, disabled bool) (store.User, error) {
	u, err := d.User(ctx, username)
	if err != nil {
		return u, err
	}
	if u.Disabled == disabled {
		return u, nil
	}
	if disabled && u.Admin {
		if err := d.checkNotLastAdmin(ctx, u); err != nil {
			return u, err
		}
	}
	u.Disabled, u.UpdatedAt = disabled, d.Now()
	if err := d.Store.UpdateUser(ctx, u); err != nil {
		return u, err
	}
	if disabled {
		if d.OnSessionEnd != nil {
			d.OnSessionEnd(ctx, store.SessionEnd{UserID: u.ID, AllSessions: true, Reason: "user_disabled"})
		}
		if err := d.Store.DeleteUserSessions(ctx, u.ID); err != nil {
			return u, err
		}
	}
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	audit.Log(ctx, d.Store, u.UpdatedAt, actor, action, u.Username, nil)
	return u, nil
}

// SetAdmin grants or removes the admin role.
func (d *Service) SetAdmin(ctx context.Context, actor audit.Actor, username string, admin bool) (store.User, error) {
	u, err := d.User(ctx, username)
	if err != nil {
		return u, err
	}
	if u.Admin == admin {
		return u, nil
	}
	if !admin {
		if err := d.checkNotLastAdmin(ctx, u); err != nil {
			return u, err
		}
	}
	u.Admin, u.UpdatedAt = admin, d.Now()
	if err := d.Store.UpdateUser(ctx, u); err != nil {
		return u, err
	}
	audit.Log(ctx, d.Store, u.UpdatedAt, actor, "user.set_admin", u.Username, map[string]bool{"before": !admin, "after": admin})
	return u, nil
}

// DeleteUser removes a user with their passkeys, pass and sessions. Their
// sign-in records stay in the log.
func (d *Service) DeleteUser(ctx context.Context, actor audit.Actor, username string) error {
	u, err := d.User(ctx, username)
	if err != nil {
		return err
	}
	if u.Admin {
		if err := d.checkNotLastAdmin(ctx, u); err != nil {
			return err
		}
	}
	// The apps are told first: deleting the user deletes the grants that
	// say which apps they signed in to.
	if d.OnSessionEnd != nil {
		d.OnSessionEnd(ctx, store.SessionEnd{UserID: u.ID, AllSessions: true, Reason: "user_deleted"})
	}
	if err := d.Store.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	audit.Log(ctx, d.Store, d.Now(), actor, "user.delete", u.Username, map[string]any{"id": u.ID, "email": u.Email})
	return nil
}

// checkNotLastAdmin refuses removing u, an admin, when no other enabled
// admin is left (ErrLastAdmin), or when none left could sign in to the
// admin console (CheckAdminRemoval). Removing a disabled admin takes
// nobody's access away and is not checked against the policies.
func (d *Service) checkNotLastAdmin(ctx context.Context, u store.User) error {
	users, err := d.Store.ListUsers(ctx)
	if err != nil {
		return err
	}
	other := false
	for _, o := range users {
		if o.ID != u.ID && o.Admin && !o.Disabled {
			other = true
			break
		}
	}
	if !other {
		return ErrLastAdmin
	}
	if d.CheckAdminRemoval != nil && !u.Disabled {
		return d.CheckAdminRemoval(ctx, u)
	}
	return nil
}

// NormalizeGroupName checks a group name: 1 to 64 printable characters.
func NormalizeGroupName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 || strings.ContainsFunc(s, unicode.IsControl) {
		return "", problem.BadRequest("A group name must be 1 to 64 characters, without control characters.")
	}
	return s, nil
}

// CreateGroup creates a group.
func (d *Service) CreateGroup(ctx context.Context, actor audit.Actor, name, description string) (store.Group, error) {
	var g store.Group
	var err error
	if g.Name, err = NormalizeGroupName(name); err != nil {
		return g, err
	}
	g.ID, g.Description, g.CreatedAt = store.NewID(), strings.TrimSpace(description), d.Now()
	if err := d.Store.CreateGroup(ctx, g); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return g, ErrGroupExists
		}
		return g, err
	}
	audit.Log(ctx, d.Store, g.CreatedAt, actor, "group.create", g.Name, nil)
	return g, nil
}

// Group finds a group by name.
func (d *Service) Group(ctx context.Context, name string) (store.Group, error) {
	g, err := d.Store.GetGroupByName(ctx, strings.TrimSpace(name))
	if errors.Is(err, store.ErrNotFound) {
		return g, ErrUnknownGroup
	}
	return g, err
}

// DeleteGroup removes a group and its memberships (not its members).
func (d *Service) DeleteGroup(ctx context.Context, actor audit.Actor, name string) error {
	g, err := d.Group(ctx, name)
	if err != nil {
		return err
	}
	if d.GroupUsers != nil {
		users, err := d.GroupUsers(ctx, g.Name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			e := *ErrGroupInUse
			e.Message = fmt.Sprintf("Group %q is named by %s; remove it from there first.", g.Name, strings.Join(users, ", "))
			return &e
		}
	}
	if err := d.Store.DeleteGroup(ctx, g.ID); err != nil {
		return err
	}
	audit.Log(ctx, d.Store, d.Now(), actor, "group.delete", g.Name, nil)
	return nil
}

// RenameGroup renames a group; its members follow. A name that is taken
// is ErrGroupExists and changes nothing.
func (d *Service) RenameGroup(ctx context.Context, actor audit.Actor, oldName, newName string) (store.Group, error) {
	g, err := d.Group(ctx, oldName)
	if err != nil {
		return g, err
	}
	if newName, err = NormalizeGroupName(newName); err != nil {
		return g, err
	}
	if newName == g.Name {
		return g, nil
	}
	if err := d.Store.RenameGroup(ctx, g.ID, newName); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return g, ErrGroupExists
		}
		return g, err
	}
	if d.GroupRenamed != nil {
		if err := d.GroupRenamed(ctx, actor, g.Name, newName); err != nil {
			if undo := d.Store.RenameGroup(context.WithoutCancel(ctx), g.ID, g.Name); undo != nil {
				return g, fmt.Errorf("%w (and undoing the rename failed: %v)", err, undo)
			}
			return g, err
		}
	}
	old := g.Name
	g.Name = newName
	audit.Log(ctx, d.Store, d.Now(), actor, "group.rename", g.Name, map[string]string{"before": old, "after": g.Name})
	return g, nil
}

// SetMember adds (member true) or removes a user from a group.
func (d *Service) SetMember(ctx context.Context, actor audit.Actor, groupName, username string, member bool) error {
	g, err := d.Group(ctx, groupName)
	if err != nil {
		return err
	}
	u, err := d.User(ctx, username)
	if err != nil {
		return err
	}
	action := "group.add_member"
	if member {
		err = d.Store.AddMember(ctx, g.ID, u.ID)
	} else {
		action = "group.remove_member"
		err = d.Store.RemoveMember(ctx, g.ID, u.ID)
	}
	if err != nil {
		return err
	}
	audit.Log(ctx, d.Store, d.Now(), actor, action, g.Name, map[string]string{"user": u.Username})
	return nil
}
