package postgres

import (
	"context"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Rate-limit counters and settings.

// CountHit is one upsert. Concurrent hits on one key queue on its row lock
// and each sees the count the one before it left; the SET expressions read
// the row as it was before this update.
func (s *Store) CountHit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	var n int
	err := s.queryRow(ctx, `
		INSERT INTO hits AS h (key, window_start, count) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			window_start = CASE WHEN $2 >= h.window_start + $3 THEN $2 ELSE h.window_start END,
			count        = CASE WHEN $2 >= h.window_start + $3 THEN 1 ELSE h.count + 1 END
		RETURNING count`,
		key, now.UnixMilli(), window.Milliseconds()).Scan(&n)
	return n, mapErr(err)
}

// ResetHits is idempotent.
func (s *Store) ResetHits(ctx context.Context, key string) error {
	_, err := s.exec(ctx, `DELETE FROM hits WHERE key = $1`, key)
	return mapErr(err)
}

func (s *Store) DeleteHitsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return affected(s.exec(ctx, `DELETE FROM hits WHERE window_start < $1`, cutoff.UnixMilli()))
}

func (s *Store) GetSetting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	if err := s.queryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return nil, mapErr(err)
	}
	return blob(v), nil
}

func (s *Store) PutSetting(ctx context.Context, key string, value []byte) error {
	_, err := s.exec(ctx, `
		INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		key, blob(value))
	return mapErr(err)
}

func (s *Store) DeleteSettingIf(ctx context.Context, key string, value []byte) (bool, error) {
	n, err := affected(s.exec(ctx, `DELETE FROM settings WHERE key = $1 AND value = $2`, key, blob(value)))
	return n > 0, err
}

// SwapSetting is one statement: a concurrent swap of the same key waits
// for the row lock, then re-checks the value it finds (READ COMMITTED
// re-evaluates the WHERE on the new row version), so only one of two
// swaps from the same old value matches.
func (s *Store) SwapSetting(ctx context.Context, key string, old, value []byte) error {
	var n int
	var err error
	if old == nil {
		n, err = affected(s.exec(ctx,
			`INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, blob(value)))
	} else {
		n, err = affected(s.exec(ctx,
			`UPDATE settings SET value = $1 WHERE key = $2 AND value = $3`, blob(value), key, blob(old)))
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// TakeToken is one upsert. Concurrent takes of one key queue on its row
// lock, and each refills from the state the one before it left (the SET
// expressions read the row as it was before this update).
func (s *Store) TakeToken(ctx context.Context, key string, rate, burst float64, now time.Time) (bool, error) {
	var took bool
	err := s.queryRow(ctx, `
		INSERT INTO buckets AS b (key, tokens, updated_at, took) VALUES ($1, $3::float8 - 1, $2, $3::float8 >= 1)
		ON CONFLICT (key) DO UPDATE SET
			tokens = LEAST($3::float8, b.tokens + GREATEST(0, $2 - b.updated_at) * $4::float8 / 1000)
			         - CASE WHEN LEAST($3::float8, b.tokens + GREATEST(0, $2 - b.updated_at) * $4::float8 / 1000) >= 1 THEN 1 ELSE 0 END,
			updated_at = GREATEST(b.updated_at, $2),
			took = LEAST($3::float8, b.tokens + GREATEST(0, $2 - b.updated_at) * $4::float8 / 1000) >= 1
		RETURNING took`,
		key, now.UnixMilli(), burst, rate).Scan(&took)
	return took, mapErr(err)
}

func (s *Store) DeleteBucketsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return affected(s.exec(ctx, `DELETE FROM buckets WHERE updated_at < $1`, cutoff.UnixMilli()))
}
