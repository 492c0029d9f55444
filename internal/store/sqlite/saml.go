package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var _ store.SAMLStore = (*Store)(nil)

const samlAppColumns = `name, entity_id, metadata, metadata_url, nameid_format, required_acr, created_at, updated_at, metadata_fetched_at, metadata_checked_at`

func scanSAMLApp(row scanner) (store.SAMLApp, error) {
	var a store.SAMLApp
	var created, updated int64
	var fetched, checked sql.NullInt64
	if err := row.Scan(&a.Name, &a.EntityID, &a.Metadata, &a.MetadataURL, &a.NameIDFormat, &a.RequiredACR, &created, &updated,
		&fetched, &checked); err != nil {
		return store.SAMLApp{}, mapErr(err)
	}
	a.CreatedAt, a.UpdatedAt = fromMillis(created), fromMillis(updated)
	a.MetadataFetchedAt, a.MetadataCheckedAt = fromNullMillis(fetched), fromNullMillis(checked)
	return a, nil
}

func (s *Store) CreateSAMLApp(ctx context.Context, a store.SAMLApp) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO saml_apps (`+samlAppColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Name, a.EntityID, blob(a.Metadata), a.MetadataURL, a.NameIDFormat, a.RequiredACR, millis(a.CreatedAt), millis(a.UpdatedAt),
		millisOrNull(a.MetadataFetchedAt), millisOrNull(a.MetadataCheckedAt))
	return mapErr(err)
}

func (s *Store) GetSAMLApp(ctx context.Context, name string) (store.SAMLApp, error) {
	return scanSAMLApp(s.read.QueryRowContext(ctx, `SELECT `+samlAppColumns+` FROM saml_apps WHERE name = ?`, name))
}

func (s *Store) GetSAMLAppByEntityID(ctx context.Context, entityID string) (store.SAMLApp, error) {
	return scanSAMLApp(s.read.QueryRowContext(ctx, `SELECT `+samlAppColumns+` FROM saml_apps WHERE entity_id = ?`, entityID))
}

func (s *Store) ListSAMLApps(ctx context.Context) ([]store.SAMLApp, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+samlAppColumns+` FROM saml_apps ORDER BY name`)
	return collect(rows, err, scanSAMLApp)
}

func (s *Store) UpdateSAMLApp(ctx context.Context, a store.SAMLApp) error {
	return mustAffect(s.write.ExecContext(ctx, `
		UPDATE saml_apps SET entity_id = ?, metadata = ?, metadata_url = ?, nameid_format = ?, required_acr = ?, updated_at = ?
		WHERE name = ?`,
		a.EntityID, blob(a.Metadata), a.MetadataURL, a.NameIDFormat, a.RequiredACR, millis(a.UpdatedAt), a.Name))
}

func (s *Store) SetSAMLAppStrength(ctx context.Context, name, acr string, updatedAt time.Time) error {
	return mustAffect(s.write.ExecContext(ctx, `
		UPDATE saml_apps SET required_acr = ?, updated_at = ? WHERE name = ?`,
		acr, millis(updatedAt), name))
}

func (s *Store) DeleteSAMLApp(ctx context.Context, name string) error {
	return mustAffect(s.write.ExecContext(ctx, `DELETE FROM saml_apps WHERE name = ?`, name))
}

func (s *Store) ClaimSAMLMetadataCheck(ctx context.Context, name string, dueBefore, now time.Time) (bool, error) {
	n, err := affected(s.write.ExecContext(ctx, `
		UPDATE saml_apps SET metadata_checked_at = ?
		WHERE name = ? AND metadata_url <> '' AND (metadata_checked_at IS NULL OR metadata_checked_at < ?)`,
		millis(now), name, millis(dueBefore)))
	return n > 0, err
}

func (s *Store) RecordSAMLMetadata(ctx context.Context, name string, metadata []byte, fetchedAt time.Time) error {
	if metadata == nil {
		return mustAffect(s.write.ExecContext(ctx, `
			UPDATE saml_apps SET metadata_fetched_at = ?, metadata_checked_at = ? WHERE name = ?`,
			millis(fetchedAt), millis(fetchedAt), name))
	}
	return mustAffect(s.write.ExecContext(ctx, `
		UPDATE saml_apps SET metadata = ?, updated_at = ?, metadata_fetched_at = ?, metadata_checked_at = ? WHERE name = ?`,
		blob(metadata), millis(fetchedAt), millis(fetchedAt), millis(fetchedAt), name))
}
