package postgres

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/sesame-idp/sesame/internal/store/storetest"
)

func TestSAMLConformance(t *testing.T) {
	base := testURL(t)
	storetest.RunSAML(t, func(t *testing.T) storetest.SAMLStore {
		return open(t, newSchema(t, base))
	})
}

// Migration 00011: apps registered by URL before it count as fetched when
// they were created; the others have no fetch times. Down removes them.
func TestSAMLMetadataTimesMigration(t *testing.T) {
	ctx := context.Background()
	s := open(t, newSchema(t, testURL(t)))
	defer s.Close()
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'saml_apps' AND column_name LIKE 'metadata\_%\_at'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after Down, %d fetch-time columns remain (%v)", n, err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO saml_apps (name, entity_id, metadata, metadata_url, nameid_format, created_at, updated_at)
		VALUES ('wiki', 'urn:wiki', '\x00', 'https://wiki.example/md', 'email', $1, $1),
		       ('file', 'urn:file', '\x00', '', 'email', $1, $1)`, created); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	wiki, err := s.GetSAMLApp(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	if !wiki.MetadataFetchedAt.Equal(created) || !wiki.MetadataCheckedAt.Equal(created) {
		t.Errorf("an app registered by URL: fetched %v, checked %v; want its creation %v", wiki.MetadataFetchedAt, wiki.MetadataCheckedAt, created)
	}
	file, err := s.GetSAMLApp(ctx, "file")
	if err != nil {
		t.Fatal(err)
	}
	if !file.MetadataFetchedAt.IsZero() || !file.MetadataCheckedAt.IsZero() {
		t.Errorf("an app from a file: fetched %v, checked %v; want never", file.MetadataFetchedAt, file.MetadataCheckedAt)
	}
}
