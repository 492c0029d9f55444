package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/store"
)

// Ceremony challenges and sessions.

const challengeColumns = `id, kind, user_id, data, expires_at`

func scanChallenge(row pgx.Row) (store.Challenge, error) {
	var c store.Challenge
	var expires time.Time
	if err := row.Scan(&c.ID, &c.Kind, &c.UserID, &c.Data, &expires); err != nil {
		return store.Challenge{}, mapErr(err)
	}
	c.ExpiresAt = fromTS(expires)
	return c, nil
}

func (s *Store) PutChallenge(ctx context.Context, c store.Challenge) error {
	_, err := s.exec(ctx, `
		INSERT INTO challenges (`+challengeColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		c.ID, c.Kind, c.UserID, blob(c.Data), ts(c.ExpiresAt))
	return mapErr(err)
}

// TakeChallenge deletes and returns in one statement: a concurrent take
// waits for the first one's delete to commit and then finds no row.
func (s *Store) TakeChallenge(ctx context.Context, id string) (store.Challenge, error) {
	return scanChallenge(s.queryRow(ctx,
		`DELETE FROM challenges WHERE id = $1 RETURNING `+challengeColumns, id))
}

// DeleteExpiredChallenges removes challenges with ExpiresAt <= now.
func (s *Store) DeleteExpiredChallenges(ctx context.Context, now time.Time) (int, error) {
	return affected(s.exec(ctx, `DELETE FROM challenges WHERE expires_at <= $1`, ts(now)))
}

const sessionColumns = `token_hash, user_id, methods, credential_id, auth_time, created_at,
	last_seen_at, expires_at, ip, user_agent`

// sessionRow is what a row of sessionColumns scans into: dest appends the
// scan destinations in column order, finish makes the store.Session of them
// (see userRow).
type sessionRow struct {
	ss                                   store.Session
	credentialID                         *string
	authTime, created, lastSeen, expires time.Time
}

func (r *sessionRow) dest(to []any) []any {
	return append(to, &r.ss.TokenHash, &r.ss.UserID, &r.ss.Methods, &r.credentialID, &r.authTime, &r.created,
		&r.lastSeen, &r.expires, &r.ss.IP, &r.ss.UserAgent)
}

func (r *sessionRow) finish() store.Session {
	r.ss.Methods = fromList(r.ss.Methods)
	if r.credentialID != nil {
		r.ss.CredentialID = *r.credentialID
	}
	r.ss.AuthTime, r.ss.CreatedAt = fromTS(r.authTime), fromTS(r.created)
	r.ss.LastSeenAt, r.ss.ExpiresAt = fromTS(r.lastSeen), fromTS(r.expires)
	return r.ss
}

func scanSession(row pgx.Row) (store.Session, error) {
	var r sessionRow
	if err := row.Scan(r.dest(nil)...); err != nil {
		return store.Session{}, mapErr(err)
	}
	return r.finish(), nil
}

// CreateSession refuses (ErrNotFound) a session for a user or credential
// that does not exist, through the foreign keys: a passkey deleted a moment
// before cannot leave a session behind.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	_, err := s.exec(ctx, `
		INSERT INTO sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		blob(ss.TokenHash), ss.UserID, list(ss.Methods), nullIfEmpty(ss.CredentialID),
		ts(ss.AuthTime), ts(ss.CreatedAt), ts(ss.LastSeenAt), ts(ss.ExpiresAt),
		ss.IP, ss.UserAgent)
	return mapErr(err)
}

func (s *Store) GetSession(ctx context.Context, tokenHash []byte) (store.Session, error) {
	return scanSession(s.queryRow(ctx,
		`SELECT `+sessionColumns+` FROM sessions WHERE token_hash = $1`, blob(tokenHash)))
}

// GetSessionWithUser reads the session and its user in one statement, one
// round trip instead of two. The inner join makes a session whose user is
// gone ErrNotFound, though the foreign key's cascade never leaves one.
func (s *Store) GetSessionWithUser(ctx context.Context, tokenHash []byte) (store.Session, store.User, error) {
	var r struct {
		ss sessionRow
		u  userRow
	}
	err := s.queryRow(ctx, sessionWithUserSQL, blob(tokenHash)).
		Scan(r.u.dest(r.ss.dest(make([]any, 0, joinedColumns)))...)
	if err != nil {
		return store.Session{}, store.User{}, mapErr(err)
	}
	return r.ss.finish(), r.u.finish(), nil
}

var sessionWithUserSQL = `
		SELECT ` + prefixed("s", sessionColumns) + `, ` + prefixed("u", userColumns) + `
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1`

// TouchSession only moves LastSeenAt forward, so instances with slightly
// different clocks cannot make a session look idle for longer than it was.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, now time.Time) error {
	return mustAffect(s.exec(ctx, `
		UPDATE sessions SET last_seen_at = greatest(last_seen_at, $1)
		WHERE token_hash = $2`, ts(now), blob(tokenHash)))
}

// DeleteSession is idempotent: signing out twice is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, blob(tokenHash))
	return mapErr(err)
}

func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return mapErr(err)
}

// DeleteExpiredSessions removes sessions with ExpiresAt <= now. Idle
// timeouts are the caller's policy and are not applied here.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return affected(s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, ts(now)))
}
