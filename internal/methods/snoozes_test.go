package methods

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/pgtest"
	"github.com/sesame-idp/sesame/internal/store/postgres"
)

// onEveryStore runs f on the real SQLite store and, when
// SESAME_TEST_POSTGRES names a server, on PostgreSQL (several connections,
// as several instances would use).
func onEveryStore(t *testing.T, f func(t *testing.T, newStore func(t *testing.T) store.Store)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newStore) })
	t.Run("postgres", func(t *testing.T) {
		base := pgtest.URL(t)
		f(t, func(t *testing.T) store.Store {
			st, err := postgres.Open(context.Background(), pgtest.Schema(t, base, 8))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
}

func TestSnoozesStore(t *testing.T) {
	onEveryStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		ctx := context.Background()
		st := newStore(t)
		s := &Snoozes{Store: st}
		now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		c := Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 2}

		if got, err := s.Get(ctx, "u1"); err != nil || got != (SnoozeState{}) {
			t.Fatalf("never snoozed: %+v %v", got, err)
		}
		want := SnoozeState{Count: 1, Until: now.Add(24 * time.Hour)}
		if got, ok, err := s.Snooze(ctx, "u1", c, nil, false, now); err != nil || !ok || got != want {
			t.Fatalf("first snooze: %+v %v %v", got, ok, err)
		}
		if got, err := s.Get(ctx, "u1"); err != nil || got.Count != 1 || !got.Until.Equal(want.Until) {
			t.Fatalf("round trip: %+v %v", got, err)
		}
		// While snoozed, another "Not now" changes nothing.
		if got, ok, err := s.Snooze(ctx, "u1", c, nil, false, now.Add(time.Hour)); err != nil || ok || got.Count != 1 {
			t.Fatalf("snooze while snoozed: %+v %v %v", got, ok, err)
		}
		if _, ok, err := s.Snooze(ctx, "u1", c, nil, false, now.Add(24*time.Hour)); err != nil || !ok {
			t.Fatalf("second snooze: %v %v", ok, err)
		}
		got, ok, err := s.Snooze(ctx, "u1", c, nil, false, now.Add(48*time.Hour))
		if !errors.Is(err, ErrNoSnoozesLeft) || ok || got.Count != 2 {
			t.Fatalf("third snooze: %+v %v %v", got, ok, err)
		}
		if got, _ := s.Get(ctx, "u1"); got.Count != 2 || !got.Until.Equal(now.Add(48*time.Hour)) {
			t.Errorf("a refused snooze changed the state: %+v", got)
		}

		// A damaged state shows the prompt again, and the next snooze
		// replaces it.
		if err := st.PutSetting(ctx, snoozeKey("u2"), []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.Snooze(ctx, "u2", c, nil, false, now); err != nil || !ok || got.Count != 1 {
			t.Fatalf("snooze over a damaged state: %+v %v %v", got, ok, err)
		}
		if got, err := s.Get(ctx, "u2"); err != nil || got.Count != 1 {
			t.Errorf("after the damaged state: %+v %v", got, err)
		}
	})
}

// TestParallelSnoozesNeverExceedLimit: "Not now" sent many times at once
// by one user gets exactly the snoozes the policy allows, whatever the
// interleaving; the others are refused (used up) or find the prompt
// already snoozed, and none fails for having lost a race.
func TestParallelSnoozesNeverExceedLimit(t *testing.T) {
	onEveryStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		for _, tt := range []struct {
			name                   string
			snoozeDays             int
			snoozed, refused, noop int
		}{
			// A 0-day snooze lasts until the next sign-in, so every
			// request is a candidate and only the count stops them.
			{"until next sign-in", 0, 3, 9, 0},
			// A 1-day snooze hides the prompt: the first wins, the others
			// find it snoozed.
			{"one day", 1, 1, 0, 11},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				s := &Snoozes{Store: newStore(t)}
				c := Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: tt.snoozeDays, SnoozesAllowed: 3}
				now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
				const n = 12
				var (
					wg    sync.WaitGroup
					start = make(chan struct{})
					oks   = make([]bool, n)
					errs  = make([]error, n)
				)
				for i := range n {
					wg.Go(func() {
						<-start
						_, oks[i], errs[i] = s.Snooze(ctx, "u1", c, nil, false, now)
					})
				}
				close(start)
				wg.Wait()
				var snoozed, refused, noop int
				for i := range n {
					switch {
					case errors.Is(errs[i], ErrNoSnoozesLeft):
						refused++
					case errs[i] != nil:
						t.Errorf("request %d: %v", i, errs[i])
					case oks[i]:
						snoozed++
					default:
						noop++
					}
				}
				if snoozed != tt.snoozed || refused != tt.refused || noop != tt.noop {
					t.Errorf("snoozed %d, refused %d, no-op %d; want %d, %d, %d", snoozed, refused, noop, tt.snoozed, tt.refused, tt.noop)
				}
				if got, err := s.Get(ctx, "u1"); err != nil || got.Count != tt.snoozed {
					t.Errorf("stored count %+v %v; want %d", got, err, tt.snoozed)
				}
			})
		}
	})
}

// TestSnoozeDecidesAgainAfterALostRace: a snooze landing between another's
// read and its write makes that one decide again on the new state, rather
// than count from the old one.
func TestSnoozeDecidesAgainAfterALostRace(t *testing.T) {
	ctx := context.Background()
	st := &slipStore{Store: newStore(t)}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	other := &Snoozes{Store: st.Store}
	s := &Snoozes{Store: st}

	last := Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 0, SnoozesAllowed: 1}
	st.slip = func() {
		if _, ok, err := other.Snooze(ctx, "u1", last, nil, false, now); !ok || err != nil {
			t.Fatalf("the other snooze: %v %v", ok, err)
		}
	}
	if got, ok, err := s.Snooze(ctx, "u1", last, nil, false, now); !errors.Is(err, ErrNoSnoozesLeft) || ok || got.Count != 1 {
		t.Fatalf("the last snooze taken meanwhile: %+v %v %v", got, ok, err)
	}

	day := Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 3}
	st.slip = func() {
		if _, ok, err := other.Snooze(ctx, "u2", day, nil, false, now); !ok || err != nil {
			t.Fatalf("the other snooze: %v %v", ok, err)
		}
	}
	if got, ok, err := s.Snooze(ctx, "u2", day, nil, false, now); err != nil || ok || got.Count != 1 {
		t.Fatalf("snoozed meanwhile: %+v %v %v", got, ok, err)
	}
}

// churnStore replaces the value before every compare-and-set, as requests
// that never stop landing first.
type churnStore struct {
	store.Store
	n int
}

func (s *churnStore) SwapSetting(ctx context.Context, key string, old, value []byte) error {
	s.n++
	if err := s.Store.PutSetting(ctx, key, fmt.Appendf(nil, `{"count":0,"churn":%d}`, s.n)); err != nil {
		return err
	}
	return s.Store.SwapSetting(ctx, key, old, value)
}

// TestSnoozeGivesUpUnderChurn: a snooze that keeps losing gives up after a
// few attempts with a try-again, instead of looping or writing blind.
func TestSnoozeGivesUpUnderChurn(t *testing.T) {
	ctx := context.Background()
	st := &churnStore{Store: newStore(t)}
	c := Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 0, SnoozesAllowed: 3}
	_, ok, err := (&Snoozes{Store: st}).Snooze(ctx, "u1", c, nil, false, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	var pe *problem.Error
	if ok || !errors.As(err, &pe) || pe.Code != "snooze_busy" || pe.Status != 409 || st.n != snoozeAttempts {
		t.Fatalf("under churn: %v %v after %d attempts", ok, err, st.n)
	}
	if b, _ := st.Store.GetSetting(ctx, snoozeKey("u1")); string(b) != fmt.Sprintf(`{"count":0,"churn":%d}`, snoozeAttempts) {
		t.Errorf("the snooze wrote anyway: %s", b)
	}
}
