package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/store"
)

// completeSignInSQL is the three writes of a successful sign-in as one
// statement: data-modifying CTEs run in the statement's one implicit
// transaction, so it is one round trip and one commit (one WAL flush)
// instead of three. The session is inserted only for a credential row the
// UPDATE matched, and the record only with the session, so when the
// compare-and-set fails nothing is written and no row comes back.
//
// The ceremony, when one is given ($36 not empty), is marked used first;
// ON CONFLICT DO NOTHING makes a concurrent second completion wait for the
// first one's commit and then insert nothing, and the credential's update
// requires the marker's row, so a replay writes nothing either.
//
// The roll-out report's daily counters ($41: the day, NULL when the
// record is not counted) move in the same statement, as countSignIn moves
// them for AppendSignIn, and only with the session.
const completeSignInSQL = `
	WITH ceremony AS (
		INSERT INTO challenges (` + challengeColumns + `)
		SELECT $36::text, $37, $38, $39, $40 WHERE $36::text <> ''
		ON CONFLICT (id) DO NOTHING
		RETURNING id
	), used AS (
		UPDATE credentials
		SET sign_count = $1::bigint, backup_state = $2, last_used_at = $3
		WHERE id = $4 AND ($1::bigint = 0 OR sign_count < $1::bigint)
			AND ($36::text = '' OR EXISTS (SELECT 1 FROM ceremony))
		RETURNING id
	), session AS (
		INSERT INTO sessions (` + sessionColumns + `)
		SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM used
		RETURNING user_id
	), daily AS (
		INSERT INTO signin_daily (day, group_id, method, count)
		SELECT $41::integer, '', $21::text, 1 FROM session WHERE $41::integer IS NOT NULL
		UNION ALL
		SELECT $41::integer, m.group_id, $21::text, 1 FROM session, group_members m
		WHERE $41::integer IS NOT NULL AND m.user_id = $16
		ON CONFLICT (day, group_id, method) DO UPDATE SET count = signin_daily.count + 1
	)
	INSERT INTO signins (time, user_id, username, ip, user_agent, app, method, result,
		reason, detail, credential_id, aaguid, model, passkey_type, phishing,
		client, country, action, trusted_device, bound_passkey_device, access)
	SELECT $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35
	FROM session
	RETURNING id`

// CompleteSignIn is one statement (completeSignInSQL): one round trip and
// one commit, with the daily counters. Only a record with report-only
// Conditional Access outcomes needs a transaction around it, for the
// counters of those outcomes (countReportOnly), still one commit. Only when
// it wrote nothing does a second query tell a replayed ceremony, a missing
// credential and a counter that did not move forward apart.
func (s *Store) CompleteSignIn(ctx context.Context, c store.SignInCompletion) (int64, error) {
	credentialID, use, ss, e, ch := c.CredentialID, c.Use, c.Session, c.Event, c.Ceremony
	var day any
	if store.CountedSignIn(e) {
		day = store.DayNumber(e.Time)
	}
	args := cleanArgs([]any{
		int64(use.SignCount), use.BackupState, tsOrNull(use.UsedAt), credentialID,
		blob(ss.TokenHash), ss.UserID, list(ss.Methods), nullIfEmpty(ss.CredentialID),
		ts(ss.AuthTime), ts(ss.CreatedAt), ts(ss.LastSeenAt), ts(ss.ExpiresAt), ss.IP, ss.UserAgent,
		ts(e.Time), e.UserID, e.Username, e.IP, e.UserAgent, e.App, e.Method, e.Result,
		e.Reason, e.Detail, e.CredentialID, e.AAGUID, e.Model, e.PasskeyType, e.Phishing,
		e.Client, e.Country, e.Action, e.TrustedDevice, e.BoundPasskeyDevice, e.Access,
		ch.ID, ch.Kind, ch.UserID, blob(ch.Data), ts(ch.ExpiresAt), day})
	var id int64
	var err error
	if day == nil || len(store.ReportOnlyOutcomes(e.Access)) == 0 {
		err = s.pool.QueryRow(ctx, completeSignInSQL, args...).Scan(&id)
	} else {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, completeSignInSQL, args...).Scan(&id); err != nil {
				return err
			}
			return countReportOnly(ctx, tx, e)
		})
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return id, mapErr(err)
	}
	var one int
	if ch.ID != "" {
		// Nothing was written: the marker is there only if another
		// completion of this ceremony made it.
		err := s.queryRow(ctx, `SELECT 1 FROM challenges WHERE id = $1`, ch.ID).Scan(&one)
		if err == nil {
			return 0, store.ErrReplayed
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return 0, mapErr(err)
		}
	}
	if err := s.queryRow(ctx, `SELECT 1 FROM credentials WHERE id = $1`, credentialID).Scan(&one); err != nil {
		return 0, mapErr(err)
	}
	return 0, store.ErrConflict
}
