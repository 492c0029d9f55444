package sqlite

import (
	"context"

	"github.com/sesame-idp/sesame/internal/store"
)

// CompleteSignIn makes the three writes of a successful sign-in (and the
// report counters AppendSignIn would move) one write transaction: one commit (one WAL append, one round of locking) and one
// hold of the writer connection instead of three.
func (s *Store) CompleteSignIn(ctx context.Context, c store.SignInCompletion) (int64, error) {
	var id int64
	credentialID, use, ss, e := c.CredentialID, c.Use, c.Session, c.Event
	err := s.batch.do(ctx, func(t rawTx) error {
		if c.Ceremony.ID != "" {
			n, err := t.exec(markCeremonySQL, c.Ceremony.ID, c.Ceremony.Kind, c.Ceremony.UserID, blob(c.Ceremony.Data), millis(c.Ceremony.ExpiresAt))
			if err != nil {
				return mapErr(err)
			}
			if n == 0 {
				return store.ErrReplayed
			}
		}
		n, err := t.exec(recordUseSQL, useArgs(credentialID, use)...)
		if err != nil {
			return mapErr(err)
		}
		if n == 0 {
			// Tell a missing credential from a counter that did not move.
			if _, err := t.queryInt64(credentialExistsSQL, credentialID); err != nil {
				return mapErr(err)
			}
			return store.ErrConflict
		}
		if _, err := t.exec(createSessionSQL, sessionArgs(ss)...); err != nil {
			return mapErr(err)
		}
		if id, err = t.queryInt64(appendSignInSQL, signInArgs(e)...); err != nil {
			return mapErr(err)
		}
		if !store.CountedSignIn(e) {
			return nil
		}
		return mapErr(countSignIn(e, func(query string, args ...any) error {
			_, err := t.exec(query, args...)
			return err
		}))
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// markCeremonySQL records a ceremony as used; a second completion of the
// same ceremony inserts nothing.
const markCeremonySQL = `INSERT INTO challenges (` + challengeColumns + `) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
