package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/store"
)

var _ store.SAMLStore = (*Store)(nil)

const samlAppColumns = `name, entity_id, metadata, metadata_url, nameid_format, required_acr, created_at, updated_at, metadata_fetched_at, metadata_checked_at`

func scanSAMLApp(row pgx.Row) (store.SAMLApp, error) {
	var a store.SAMLApp
	var created, updated time.Time
	var fetched, checked *time.Time
	if err := row.Scan(&a.Name, &a.EntityID, &a.Metadata, &a.MetadataURL, &a.NameIDFormat, &a.RequiredACR, &created, &updated,
		&fetched, &checked); err != nil {
		return store.SAMLApp{}, mapErr(err)
	}
	a.CreatedAt, a.UpdatedAt = fromTS(created), fromTS(updated)
	a.MetadataFetchedAt, a.MetadataCheckedAt = fromNullTS(fetched), fromNullTS(checked)
	return a, nil
}

func (s *Store) CreateSAMLApp(ctx context.Context, a store.SAMLApp) error {
	_, err := s.exec(ctx, `INSERT INTO saml_apps (`+samlAppColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.Name, a.EntityID, blob(a.Metadata), a.MetadataURL, a.NameIDFormat, a.RequiredACR, ts(a.CreatedAt), ts(a.UpdatedAt),
		tsOrNull(a.MetadataFetchedAt), tsOrNull(a.MetadataCheckedAt))
	return mapErr(err)
}

func (s *Store) GetSAMLApp(ctx context.Context, name string) (store.SAMLApp, error) {
	return scanSAMLApp(s.queryRow(ctx, `SELECT `+samlAppColumns+` FROM saml_apps WHERE name = $1`, name))
}

func (s *Store) GetSAMLAppByEntityID(ctx context.Context, entityID string) (store.SAMLApp, error) {
	return scanSAMLApp(s.queryRow(ctx, `SELECT `+samlAppColumns+` FROM saml_apps WHERE entity_id = $1`, entityID))
}

func (s *Store) ListSAMLApps(ctx context.Context) ([]store.SAMLApp, error) {
	rows, err := s.query(ctx, `SELECT `+samlAppColumns+` FROM saml_apps ORDER BY name`)
	return collect(rows, err, scanSAMLApp)
}

func (s *Store) UpdateSAMLApp(ctx context.Context, a store.SAMLApp) error {
	return mustAffect(s.exec(ctx, `
		UPDATE saml_apps SET entity_id = $1, metadata = $2, metadata_url = $3, nameid_format = $4, required_acr = $5, updated_at = $6
		WHERE name = $7`,
		a.EntityID, blob(a.Metadata), a.MetadataURL, a.NameIDFormat, a.RequiredACR, ts(a.UpdatedAt), a.Name))
}

func (s *Store) SetSAMLAppStrength(ctx context.Context, name, acr string, updatedAt time.Time) error {
	return mustAffect(s.exec(ctx, `
		UPDATE saml_apps SET required_acr = $1, updated_at = $2 WHERE name = $3`,
		acr, ts(updatedAt), name))
}

func (s *Store) DeleteSAMLApp(ctx context.Context, name string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM saml_apps WHERE name = $1`, name))
}

func (s *Store) ClaimSAMLMetadataCheck(ctx context.Context, name string, dueBefore, now time.Time) (bool, error) {
	n, err := affected(s.exec(ctx, `
		UPDATE saml_apps SET metadata_checked_at = $1
		WHERE name = $2 AND metadata_url <> '' AND (metadata_checked_at IS NULL OR metadata_checked_at < $3)`,
		ts(now), name, ts(dueBefore)))
	return n > 0, err
}

func (s *Store) RecordSAMLMetadata(ctx context.Context, name string, metadata []byte, fetchedAt time.Time) error {
	if metadata == nil {
		return mustAffect(s.exec(ctx, `
			UPDATE saml_apps SET metadata_fetched_at = $1, metadata_checked_at = $1 WHERE name = $2`,
			ts(fetchedAt), name))
	}
	return mustAffect(s.exec(ctx, `
		UPDATE saml_apps SET metadata = $1, updated_at = $2, metadata_fetched_at = $2, metadata_checked_at = $2 WHERE name = $3`,
		blob(metadata), ts(fetchedAt), name))
}
