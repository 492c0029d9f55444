package app

import (
	"context"
	"fmt"

	"github.com/sesame-idp/sesame/internal/store"
)

// openPostgres opens the PostgreSQL store.
func openPostgres(ctx context.Context, url string) (store.Store, error) {
	return nil, fmt.Errorf("PostgreSQL support is not built yet (%s)", redactURL(url))
}
