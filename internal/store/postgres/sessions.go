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

func scanSession(row pgx.Row) (store.Session, error) {
	var ss store.Session
	var credentialID *string
	var authTime, created, lastSeen, expires time.Time
	err := row.Scan(&ss.TokenHash, &ss.UserID, &ss.Methods, &credentialID, &authTime, &created,
		&lastSeen, &expires, &ss.IP, &ss.UserAgent)
	if err != nil {
		return store.Session{}, mapErr(err)
	}
	ss.Methods = fromList(ss.Methods)
	if credentialID != nil {
		ss.CredentialID = *credentialID
	}
	ss.AuthTime, ss.CreatedAt = fromTS(authTime), fromTS(created)
	ss.LastSeenAt, ss.ExpiresAt = fromTS(lastSeen), fromTS(expires)
	return ss, nil
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
