package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sesame-idp/sesame/internal/store/storetest"
)

func TestSAMLConformance(t *testing.T) {
	storetest.RunSAML(t, func(t *testing.T) storetest.SAMLStore {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "sesame.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
