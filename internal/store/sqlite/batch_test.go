package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGroupCommit: writes queued together share a transaction, a failing
// or panicking write is undone alone, and writes after Close are refused
// instead of hanging.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "sesame.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(key string) func(rawTx) error {
		return func(tx rawTx) error {
			_, err := tx.exec(`INSERT INTO settings (key, value) VALUES (?, ?)`, key, []byte("v"))
			return err
		}
	}
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				errs[i] = s.batch.do(ctx, put("k"+string(rune('a'+i))))
			case 1:
				errs[i] = s.batch.do(ctx, func(tx rawTx) error {
					if err := put("failed" + string(rune('a'+i)))(tx); err != nil {
						return err
					}
					return boom
				})
			case 2:
				errs[i] = s.batch.do(ctx, func(tx rawTx) error {
					if err := put("panicked" + string(rune('a'+i)))(tx); err != nil {
						return err
					}
					panic("bug")
				})
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch i % 3 {
		case 0:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		case 1:
			if !errors.Is(err, boom) {
				t.Errorf("failing write %d: %v, want boom", i, err)
			}
		case 2:
			if err == nil || !strings.Contains(err.Error(), "panicked") {
				t.Errorf("panicking write %d: %v", i, err)
			}
		}
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM settings WHERE key LIKE 'failed%' OR key LIKE 'panicked%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows of failed writes kept (%v)", n, err)
	}
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM settings WHERE key LIKE 'k%'`).Scan(&n); err != nil || n != 10 {
		t.Fatalf("%d rows of good writes, want 10 (%v)", n, err)
	}
	if tx, w := s.WriteBatches(); w != 10 || tx < 1 || tx > 10 {
		t.Fatalf("WriteBatches = %d transactions, %d writes; want 10 writes", tx, w)
	}
	s.Close()
	if err := s.batch.do(ctx, put("late")); !errors.Is(err, errClosed) {
		t.Fatalf("write after Close: %v, want errClosed", err)
	}
}

// TestNearRestart: the checkpointer speeds up when the WAL, at the rate it
// grew, will reach restartFrames within two ordinary rounds, and not
// otherwise (a quiet WAL, one that did not grow, a bad interval).
func TestNearRestart(t *testing.T) {
	round := checkpointEvery
	for _, c := range []struct {
		name         string
		frames, grew int
		elapsed      time.Duration
		want         bool
	}{
		{"far", 10000, 1500, round, false},
		{"two rounds away", restartFrames - 3000, 1500, round, true},
		{"just beyond two rounds", restartFrames - 3001, 1500, round, false},
		{"faster growth", restartFrames - 6000, 3000, round, true},
		{"same growth over twice the time", restartFrames - 3000, 1500, 2 * round, false},
		{"already past", restartFrames + 10, 10, round, true},
		{"did not grow", restartFrames - 1, 0, round, false},
		{"no time passed", restartFrames - 1, 100, 0, false},
		{"started over", 100, -39000, round, false},
	} {
		if got := nearRestart(c.frames, c.grew, c.elapsed); got != c.want {
			t.Errorf("%s: nearRestart(%d, %d, %v) = %v, want %v", c.name, c.frames, c.grew, c.elapsed, got, c.want)
		}
	}
}
