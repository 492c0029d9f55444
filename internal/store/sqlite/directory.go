package sqlite

import (
	"context"
	"database/sql"

	"github.com/sesame-idp/sesame/internal/store"
)

// Users and groups.

const userColumns = `id, username, email, display_name, external_id, disabled, admin, created_at, updated_at`

// userRow is what a row of userColumns scans into: dest appends the scan
// destinations in column order, finish makes the store.User of them. Split
// so a joined row (GetCredentialWithUser, GetSessionWithUser) scans a user
// alongside another record in one Scan.
type userRow struct {
	u                store.User
	created, updated int64
}

func (r *userRow) dest(to []any) []any {
	return append(to, &r.u.ID, &r.u.Username, &r.u.Email, &r.u.DisplayName, &r.u.ExternalID,
		&r.u.Disabled, &r.u.Admin, &r.created, &r.updated)
}

func (r *userRow) finish() store.User {
	r.u.CreatedAt, r.u.UpdatedAt = fromMillis(r.created), fromMillis(r.updated)
	return r.u
}

func scanUser(row scanner) (store.User, error) {
	var r userRow
	if err := row.Scan(r.dest(nil)...); err != nil {
		return store.User{}, mapErr(err)
	}
	return r.finish(), nil
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO users (`+userColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, u.Email, u.DisplayName, u.ExternalID, u.Disabled, u.Admin, millis(u.CreatedAt), millis(u.UpdatedAt))
	return mapErr(err)
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	return scanUser(s.read.lookup(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	return scanUser(s.read.lookup(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	return collect(rows, err, scanUser)
}

func (s *Store) CountUsers(ctx context.Context, adminsOnly bool) (int, error) {
	query := `SELECT count(*) FROM users`
	if adminsOnly {
		query += ` WHERE admin`
	}
	var n int
	err := s.read.QueryRowContext(ctx, query).Scan(&n)
	return n, err
}

// UpdateUser changes everything but the ID and CreatedAt.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	return mustAffect(s.write.ExecContext(ctx, `
		UPDATE users
		SET username = ?, email = ?, display_name = ?, external_id = ?, disabled = ?, admin = ?, updated_at = ?
		WHERE id = ?`,
		u.Username, u.Email, u.DisplayName, u.ExternalID, u.Disabled, u.Admin, millis(u.UpdatedAt), u.ID))
}

// DeleteUser relies on ON DELETE CASCADE for credentials, the TAP, sessions
// and memberships, so they go in the same statement.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return mustAffect(s.write.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id))
}

const groupColumns = `id, name, description, external_id, created_at`

func scanGroup(row scanner) (store.Group, error) {
	var g store.Group
	var created int64
	if err := row.Scan(&g.ID, &g.Name, &g.Description, &g.ExternalID, &created); err != nil {
		return store.Group{}, mapErr(err)
	}
	g.CreatedAt = fromMillis(created)
	return g, nil
}

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO groups (`+groupColumns+`) VALUES (?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.Description, g.ExternalID, millis(g.CreatedAt))
	return mapErr(err)
}

func (s *Store) GetGroup(ctx context.Context, id string) (store.Group, error) {
	return scanGroup(s.read.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups WHERE id = ?`, id))
}

func (s *Store) RenameGroup(ctx context.Context, id, name string) error {
	return mustAffect(s.write.ExecContext(ctx, `UPDATE groups SET name = ? WHERE id = ?`, name, id))
}

func (s *Store) GetGroupByName(ctx context.Context, name string) (store.Group, error) {
	return scanGroup(s.read.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups WHERE name = ?`, name))
}

func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+groupColumns+` FROM groups ORDER BY name`)
	return collect(rows, err, scanGroup)
}

// DeleteGroup removes its memberships by cascade.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return mustAffect(s.write.ExecContext(ctx, `DELETE FROM groups WHERE id = ?`, id))
}

// AddMember is idempotent; an unknown group or user fails the foreign key
// and reads as ErrNotFound.
func (s *Store) AddMember(ctx context.Context, groupID, userID string) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO group_members (group_id, user_id) VALUES (?, ?)
		ON CONFLICT DO NOTHING`,
		groupID, userID)
	return mapErr(err)
}

func (s *Store) RemoveMember(ctx context.Context, groupID, userID string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = ? AND user_id = ?`, groupID, userID)
	return mapErr(err)
}

func (s *Store) ListMembers(ctx context.Context, groupID string) ([]store.User, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+prefixed("u", userColumns)+`
		FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ?
		ORDER BY u.username`, groupID)
	return collect(rows, err, scanUser)
}

func (s *Store) ListUserGroups(ctx context.Context, userID string) ([]store.Group, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+prefixed("g", groupColumns)+`
		FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id = ?
		ORDER BY g.name`, userID)
	return collect(rows, err, scanGroup)
}

// An empty external ID means "not provisioned": it never matches.
func (s *Store) GetUserByExternalID(ctx context.Context, externalID string) (store.User, error) {
	return scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE external_id = ? AND external_id <> ''`, externalID))
}

func (s *Store) GetGroupByExternalID(ctx context.Context, externalID string) (store.Group, error) {
	return scanGroup(s.read.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups WHERE external_id = ? AND external_id <> ''`, externalID))
}

func (s *Store) SetGroupExternalID(ctx context.Context, id, externalID string) error {
	return mustAffect(s.write.ExecContext(ctx, `UPDATE groups SET external_id = ? WHERE id = ?`, externalID, id))
}

// SCIM tokens.

func (s *Store) CreateSCIMToken(ctx context.Context, t store.SCIMToken) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO scim_tokens (name, hash, created_by, created_at) VALUES (?, ?, ?, ?)`,
		t.Name, t.Hash, t.CreatedBy, millis(t.CreatedAt))
	return mapErr(err)
}

func scanSCIMToken(row scanner) (store.SCIMToken, error) {
	var t store.SCIMToken
	var created int64
	if err := row.Scan(&t.Name, &t.Hash, &t.CreatedBy, &created); err != nil {
		return store.SCIMToken{}, mapErr(err)
	}
	t.CreatedAt = fromMillis(created)
	return t, nil
}

func (s *Store) ListSCIMTokens(ctx context.Context) ([]store.SCIMToken, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT name, hash, created_by, created_at FROM scim_tokens ORDER BY name`)
	return collect(rows, err, scanSCIMToken)
}

func (s *Store) DeleteSCIMToken(ctx context.Context, name string) error {
	return mustAffect(s.write.ExecContext(ctx, `DELETE FROM scim_tokens WHERE name = ?`, name))
}

// ChangeGroup runs in one write transaction (BEGIN IMMEDIATE), so the
// group it reads first is the group it changes: no other writer comes
// between. It is not a group-commit write: it is rare, and a failing step
// must roll back the whole change, not just its own savepoint.
func (s *Store) ChangeGroup(ctx context.Context, id string, c store.GroupChange) (store.GroupChange, error) {
	var undo store.GroupChange
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		undo = store.GroupChange{}
		exec := func(query string, args ...any) (int, error) {
			return affected(tx.ExecContext(ctx, query, cleanArgs(args)...))
		}
		var name, ext string
		if err := tx.QueryRowContext(ctx, `SELECT name, external_id FROM groups WHERE id = ?`, id).Scan(&name, &ext); err != nil {
			return mapErr(err)
		}
		if c.Name != nil && store.CleanText(*c.Name) != name {
			if _, err := exec(`UPDATE groups SET name = ? WHERE id = ?`, *c.Name, id); err != nil {
				return err
			}
			undo.Name = &name
		}
		if c.ExternalID != nil && store.CleanText(*c.ExternalID) != ext {
			if _, err := exec(`UPDATE groups SET external_id = ? WHERE id = ?`, *c.ExternalID, id); err != nil {
				return err
			}
			undo.ExternalID = &ext
		}
		for _, u := range c.Add {
			// An unknown user fails the foreign key: ErrNotFound.
			n, err := exec(`INSERT INTO group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, u)
			if err != nil {
				return err
			}
			if n > 0 {
				undo.Remove = append(undo.Remove, u)
			}
		}
		for _, u := range c.Remove {
			n, err := exec(`DELETE FROM group_members WHERE group_id = ? AND user_id = ?`, id, u)
			if err != nil {
				return err
			}
			if n > 0 {
				undo.Add = append(undo.Add, u)
				continue
			}
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, store.CleanText(u)).Scan(&one); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return store.GroupChange{}, err
	}
	return undo, nil
}
