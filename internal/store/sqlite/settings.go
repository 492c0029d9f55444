package sqlite

import (
	"context"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Rate-limit counters and settings.

// CountHit is one upsert: SQLite runs it under the write lock, so parallel
// hits (from any process) each see their own count. The SET expressions
// read the row as it was before the update.
func (s *Store) CountHit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	var n int
	err := s.write.QueryRowContext(ctx, `
		INSERT INTO hits (key, window_start, count) VALUES (?1, ?2, 1)
		ON CONFLICT (key) DO UPDATE SET
			window_start = CASE WHEN ?2 >= hits.window_start + ?3 THEN ?2 ELSE hits.window_start END,
			count        = CASE WHEN ?2 >= hits.window_start + ?3 THEN 1 ELSE hits.count + 1 END
		RETURNING count`,
		key, millis(now), window.Milliseconds()).Scan(&n)
	return n, mapErr(err)
}

// ResetHits is idempotent.
func (s *Store) ResetHits(ctx context.Context, key string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM hits WHERE key = ?`, key)
	return mapErr(err)
}

func (s *Store) DeleteHitsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return affected(s.write.ExecContext(ctx, `DELETE FROM hits WHERE window_start < ?`, millis(cutoff)))
}

func (s *Store) GetSetting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.read.lookup(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err != nil {
		return nil, mapErr(err)
	}
	return blob(v), nil
}

func (s *Store) PutSetting(ctx context.Context, key string, value []byte) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		key, blob(value))
	return mapErr(err)
}

func (s *Store) DeleteSettingIf(ctx context.Context, key string, value []byte) (bool, error) {
	n, err := affected(s.write.ExecContext(ctx,
		`DELETE FROM settings WHERE key = ? AND value = ?`, key, blob(value)))
	return n > 0, err
}

// SwapSetting is one statement under SQLite's write lock, so the compare
// and the write cannot be split by another writer.
func (s *Store) SwapSetting(ctx context.Context, key string, old, value []byte) error {
	var n int
	var err error
	if old == nil {
		n, err = affected(s.write.ExecContext(ctx,
			`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, blob(value)))
	} else {
		n, err = affected(s.write.ExecContext(ctx,
			`UPDATE settings SET value = ? WHERE key = ? AND value = ?`, blob(value), key, blob(old)))
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// TakeToken is one upsert under SQLite's write lock; the SET expressions
// read the row as it was before the update.
func (s *Store) TakeToken(ctx context.Context, key string, rate, burst float64, now time.Time) (bool, error) {
	var took bool
	err := s.write.QueryRowContext(ctx, `
		INSERT INTO buckets (key, tokens, updated_at, took) VALUES (?1, ?3 - 1, ?2, ?3 >= 1)
		ON CONFLICT (key) DO UPDATE SET
			tokens = min(?3, buckets.tokens + max(0, ?2 - buckets.updated_at) * ?4 / 1000.0)
			         - CASE WHEN min(?3, buckets.tokens + max(0, ?2 - buckets.updated_at) * ?4 / 1000.0) >= 1 THEN 1 ELSE 0 END,
			updated_at = max(buckets.updated_at, ?2),
			took = min(?3, buckets.tokens + max(0, ?2 - buckets.updated_at) * ?4 / 1000.0) >= 1
		RETURNING took`,
		key, millis(now), burst, rate).Scan(&took)
	return took, mapErr(err)
}

func (s *Store) DeleteBucketsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return affected(s.write.ExecContext(ctx, `DELETE FROM buckets WHERE updated_at < ?`, millis(cutoff)))
}
