package directory_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// openStore is a real SQLite store in the test's temporary directory,
// closed when the test ends.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sesame.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// renames is a GroupRenamed hook that records each rename, or refuses it
// with fail when that is set.
type renames struct {
	got  [][2]string
	fail error
}

func (r *renames) hook(_ context.Context, _ audit.Actor, oldName, newName string) error {
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, [2]string{oldName, newName})
	return nil
}
