package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sesame-idp/sesame/internal/store/storetest"
)

func TestOIDCConformance(t *testing.T) {
	storetest.RunOIDC(t, func(t *testing.T) storetest.OIDCStore {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "sesame.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
