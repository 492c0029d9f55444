package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Ceremony challenges and sessions.

const challengeColumns = `id, kind, user_id, data, expires_at`

func scanChallenge(row scanner) (store.Challenge, error) {
	var c store.Challenge
	var expires int64
	if err := row.Scan(&c.ID, &c.Kind, &c.UserID, &c.Data, &expires); err != nil {
		return store.Challenge{}, mapErr(err)
	}
	c.ExpiresAt = fromMillis(expires)
	return c, nil
}

func (s *Store) PutChallenge(ctx context.Context, c store.Challenge) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO challenges (`+challengeColumns+`) VALUES (?, ?, ?, ?, ?)`,
		c.ID, c.Kind, c.UserID, blob(c.Data), millis(c.ExpiresAt))
	return mapErr(err)
}

// TakeChallenge deletes and returns in one statement, so of concurrent
// takes (from any process) exactly one gets the row.
func (s *Store) TakeChallenge(ctx context.Context, id string) (store.Challenge, error) {
	return scanChallenge(s.write.QueryRowContext(ctx,
		`DELETE FROM challenges WHERE id = ? RETURNING `+challengeColumns, id))
}

// DeleteExpiredChallenges removes challenges with ExpiresAt <= now.
func (s *Store) DeleteExpiredChallenges(ctx context.Context, now time.Time) (int, error) {
	return affected(s.write.ExecContext(ctx, `DELETE FROM challenges WHERE expires_at <= ?`, millis(now)))
}

const sessionColumns = `token_hash, user_id, methods, credential_id, auth_time, created_at,
	last_seen_at, expires_at, ip, user_agent`

// sessionRow is what a row of sessionColumns scans into: dest appends the
// scan destinations in column order, finish makes the store.Session of them
// (see userRow).
type sessionRow struct {
	ss                                   store.Session
	methods                              string
	credentialID                         sql.NullString
	authTime, created, lastSeen, expires int64
}

func (r *sessionRow) dest(to []any) []any {
	return append(to, &r.ss.TokenHash, &r.ss.UserID, &r.methods, &r.credentialID, &r.authTime, &r.created,
		&r.lastSeen, &r.expires, &r.ss.IP, &r.ss.UserAgent)
}

func (r *sessionRow) finish() (store.Session, error) {
	var err error
	if r.ss.Methods, err = decodeList(r.methods); err != nil {
		return store.Session{}, err
	}
	r.ss.CredentialID = r.credentialID.String
	r.ss.AuthTime, r.ss.CreatedAt = fromMillis(r.authTime), fromMillis(r.created)
	r.ss.LastSeenAt, r.ss.ExpiresAt = fromMillis(r.lastSeen), fromMillis(r.expires)
	return r.ss, nil
}

func scanSession(row scanner) (store.Session, error) {
	var r sessionRow
	if err := row.Scan(r.dest(nil)...); err != nil {
		return store.Session{}, mapErr(err)
	}
	return r.finish()
}

// CreateSession refuses (ErrNotFound) a session for a user or credential
// that does not exist, through the foreign keys: a passkey deleted a moment
// before cannot leave a session behind.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	_, err := s.write.ExecContext(ctx, createSessionSQL, sessionArgs(ss)...)
	return mapErr(err)
}

const createSessionSQL = `
		INSERT INTO sessions (` + sessionColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func sessionArgs(ss store.Session) []any {
	return []any{blob(ss.TokenHash), ss.UserID, encodeList(ss.Methods), nullIfEmpty(ss.CredentialID),
		millis(ss.AuthTime), millis(ss.CreatedAt), millis(ss.LastSeenAt), millis(ss.ExpiresAt),
		ss.IP, ss.UserAgent}
}

func (s *Store) GetSession(ctx context.Context, tokenHash []byte) (store.Session, error) {
	return scanSession(s.read.QueryRowContext(ctx,
		`SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`, blob(tokenHash)))
}

// GetSessionWithUser reads the session and its user in one statement (see
// GetCredentialWithUser). The inner join makes a session whose user is
// gone ErrNotFound, though the foreign key's cascade never leaves one.
func (s *Store) GetSessionWithUser(ctx context.Context, tokenHash []byte) (store.Session, store.User, error) {
	var r struct {
		ss sessionRow
		u  userRow
	}
	err := s.read.lookup(ctx, sessionWithUserSQL, blob(tokenHash)).
		Scan(r.u.dest(r.ss.dest(make([]any, 0, joinedColumns)))...)
	if err != nil {
		return store.Session{}, store.User{}, mapErr(err)
	}
	ss, err := r.ss.finish()
	if err != nil {
		return store.Session{}, store.User{}, err
	}
	return ss, r.u.finish(), nil
}

var sessionWithUserSQL = `
		SELECT ` + prefixed("s", sessionColumns) + `, ` + prefixed("u", userColumns) + `
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ?`

// TouchSession only moves LastSeenAt forward, so instances with slightly
// different clocks cannot make a session look idle for longer than it was.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, now time.Time) error {
	return mustAffect(s.write.ExecContext(ctx, `
		UPDATE sessions SET last_seen_at = max(last_seen_at, ?)
		WHERE token_hash = ?`, millis(now), blob(tokenHash)))
}

// DeleteSession is idempotent: signing out twice is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, blob(tokenHash))
	return mapErr(err)
}

func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return mapErr(err)
}

// DeleteExpiredSessions removes sessions with ExpiresAt <= now. Idle
// timeouts are the caller's policy and are not applied here.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return affected(s.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, millis(now)))
}
