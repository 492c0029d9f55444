package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/sesame-idp/sesame/internal/store"
)

// completeSignInQueries are the statements of CompleteSignIn, in the order
// of its stmts.
var completeSignInQueries = []string{recordUseSQL, credentialExistsSQL, createSessionSQL, appendSignInSQL}

// CompleteSignIn makes the three writes of a successful sign-in one write
// transaction: one commit (one WAL append, one round of locking) and one
// hold of the writer connection instead of three.
func (s *Store) CompleteSignIn(ctx context.Context, credentialID string, use store.CredentialUse, ss store.Session, e store.SignInEvent) (int64, error) {
	var id int64
	err := s.write.inTx(ctx, completeSignInQueries, func(stmts []*sql.Stmt) error {
		res, err := stmts[0].ExecContext(ctx, cleanArgs(useArgs(credentialID, use))...)
		if err := mustAffect(res, err); errors.Is(err, store.ErrNotFound) {
			return useRefused(stmts[1].QueryRowContext(ctx, store.CleanText(credentialID)))
		} else if err != nil {
			return err
		}
		if _, err := stmts[2].ExecContext(ctx, cleanArgs(sessionArgs(ss))...); err != nil {
			return mapErr(err)
		}
		return mapErr(stmts[3].QueryRowContext(ctx, cleanArgs(signInArgs(e))...).Scan(&id))
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}
