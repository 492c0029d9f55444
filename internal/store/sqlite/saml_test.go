package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

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

// Migration 00011: apps registered by URL before it count as fetched when
// they were created; the others have no fetch times. Down removes them.
func TestSAMLMetadataTimesMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sesame.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO saml_apps (name, entity_id, metadata, metadata_url, nameid_format, created_at, updated_at)
		VALUES ('wiki', 'urn:wiki', x'00', 'https://wiki.example/md', 'email', 1000, 2000),
		       ('file', 'urn:file', x'00', '', 'email', 3000, 3000)`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	wiki, err := s.GetSAMLApp(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	if want := fromMillis(1000); !wiki.MetadataFetchedAt.Equal(want) || !wiki.MetadataCheckedAt.Equal(want) {
		t.Errorf("an app registered by URL: fetched %v, checked %v; want its creation %v", wiki.MetadataFetchedAt, wiki.MetadataCheckedAt, want)
	}
	file, err := s.GetSAMLApp(ctx, "file")
	if err != nil {
		t.Fatal(err)
	}
	if !file.MetadataFetchedAt.IsZero() || !file.MetadataCheckedAt.IsZero() {
		t.Errorf("an app from a file: fetched %v, checked %v; want never", file.MetadataFetchedAt, file.MetadataCheckedAt)
	}
	s.Close()

	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if p, err = goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('saml_apps') WHERE name LIKE 'metadata_%_at'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after Down, %d fetch-time columns remain (%v)", n, err)
	}
}
