package app

import (
	"context"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/postgres"
)

// openPostgres opens the PostgreSQL store (migrating under an advisory
// lock, so several instances may start at once).
func openPostgres(ctx context.Context, url string) (store.Store, error) {
	return postgres.Open(ctx, url)
}
