package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var hitTests = []test{
	{"FixedWindow", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		const w = time.Minute
		// The window starts at the first hit, not at a clock boundary, and
		// a new one starts at the first hit after it ends.
		for _, step := range []struct {
			now  time.Duration
			want int
		}{
			{0, 1},
			{30 * time.Second, 2},
			{w - time.Millisecond, 3},
			{w, 1}, // window 2 starts here
			{w + time.Second, 2},
			{2*w - time.Millisecond, 3},
			{2 * w, 1}, // window 3
			{10 * w, 1},
			{10*w + time.Second, 2},
			{5 * w, 3}, // a clock behind the window's start counts in it
		} {
			n, err := s.CountHit(ctx, "login:alice", w, at(step.now))
			ok(t, "CountHit", err)
			if n != step.want {
				t.Fatalf("CountHit at +%v = %d, want %d", step.now, n, step.want)
			}
		}
	}},
	{"KeysIndependent", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for i, key := range []string{"a", "b", "a", "A", "a", "b"} {
			n, err := s.CountHit(ctx, key, time.Hour, at(time.Duration(i)*time.Second))
			ok(t, "CountHit", err)
			want := map[int]int{0: 1, 1: 1, 2: 2, 3: 1, 4: 3, 5: 2}[i]
			if n != want {
				t.Fatalf("hit %d on %q = %d, want %d", i, key, n, want)
			}
		}
	}},
	{"Reset", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for range 3 {
			_, err := s.CountHit(ctx, "k", time.Hour, at(0))
			ok(t, "CountHit", err)
			_, err = s.CountHit(ctx, "other", time.Hour, at(0))
			ok(t, "CountHit", err)
		}
		ok(t, "ResetHits", s.ResetHits(ctx, "k"))
		ok(t, "ResetHits(again)", s.ResetHits(ctx, "k"))
		ok(t, "ResetHits(unknown)", s.ResetHits(ctx, "never"))
		for key, want := range map[string]int{"k": 1, "other": 4} {
			n, err := s.CountHit(ctx, key, time.Hour, at(time.Second))
			ok(t, "CountHit", err)
			if n != want {
				t.Fatalf("CountHit(%q) after reset = %d, want %d", key, n, want)
			}
		}
	}},
	{"DeleteBefore", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		_, err := s.CountHit(ctx, "old", time.Minute, at(0))
		ok(t, "CountHit", err)
		_, err = s.CountHit(ctx, "new", time.Minute, at(time.Hour))
		ok(t, "CountHit", err)
		n, err := s.DeleteHitsBefore(ctx, at(30*time.Minute))
		ok(t, "DeleteHitsBefore", err)
		if n != 1 {
			t.Fatalf("DeleteHitsBefore removed %d, want 1", n)
		}
		for key, want := range map[string]int{"old": 1, "new": 2} {
			got, err := s.CountHit(ctx, key, time.Hour*24, at(time.Hour+time.Second))
			ok(t, "CountHit", err)
			if got != want {
				t.Fatalf("CountHit(%q) after delete = %d, want %d", key, got, want)
			}
		}
	}},
	{"Race", func(t *testing.T, s store.Store) {
		// Every parallel hit sees its own count: none slips under a limit.
		ctx := context.Background()
		const n = 2 * racers
		counts := make([]int, n)
		errs := race(n, func(i int) error {
			var err error
			counts[i], err = s.CountHit(ctx, "tap:ip:192.0.2.1", time.Hour, at(0))
			return err
		})
		for _, err := range errs {
			ok(t, "CountHit", err)
		}
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("parallel counts %v, want 1..%d each once", counts, n)
			}
		}
	}},
}

var bucketTests = []test{
	{"BurstAndRefill", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		take := func(key string, d time.Duration, want bool) {
			t.Helper()
			got, err := s.TakeToken(ctx, key, 0.5, 3, at(d))
			ok(t, "TakeToken", err)
			if got != want {
				t.Fatalf("TakeToken(%s at +%v) = %v, want %v", key, d, got, want)
			}
		}
		// A new bucket is full: burst takes, then none.
		take("ip", 0, true)
		take("ip", 0, true)
		take("ip", 0, true)
		take("ip", 0, false)
		take("ip", time.Second, false) // half a token is not a token
		take("ip", 2*time.Second, true)
		take("ip", 2*time.Second, false)
		// Refills stop at burst, however long the bucket was idle.
		for range 3 {
			take("ip", time.Hour, true)
		}
		take("ip", time.Hour, false)
		// A clock behind the last take (another instance's) refills nothing
		// and does not move the bucket back.
		take("ip", time.Hour-10*time.Second, false)
		take("ip", time.Hour+2*time.Second, true)
		// Keys are independent, compared exactly.
		take("IP", time.Hour, true)
		take("other", 0, true)
	}},
	{"Race", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		var mu sync.Mutex
		took := 0
		errs := race(racers, func(int) error {
			got, err := s.TakeToken(ctx, "flood", 1, 5, at(0))
			if got {
				mu.Lock()
				took++
				mu.Unlock()
			}
			return err
		})
		for _, err := range errs {
			ok(t, "TakeToken", err)
		}
		if took != 5 {
			t.Fatalf("%d of %d parallel takes got a token from a bucket of 5", took, racers)
		}
	}},
	{"DeleteBefore", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for _, key := range []string{"old", "new"} {
			got, err := s.TakeToken(ctx, key, 1, 1, at(0))
			ok(t, "TakeToken", err)
			if !got {
				t.Fatal("no token in a new bucket")
			}
		}
		_, err := s.TakeToken(ctx, "new", 1, 1, at(time.Minute))
		ok(t, "TakeToken", err)
		n, err := s.DeleteBucketsBefore(ctx, at(time.Second))
		ok(t, "DeleteBucketsBefore", err)
		if n != 1 {
			t.Fatalf("DeleteBucketsBefore removed %d, want 1", n)
		}
		// The forgotten bucket starts full; the kept one is still empty.
		for key, want := range map[string]bool{"old": true, "new": false} {
			got, err := s.TakeToken(ctx, key, 1, 1, at(time.Minute))
			ok(t, "TakeToken", err)
			if got != want {
				t.Errorf("TakeToken(%s) after the sweep = %v, want %v", key, got, want)
			}
		}
	}},
}

var settingTests = []test{
	{"GetPut", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		_, err := s.GetSetting(ctx, "setup")
		wantErr(t, "GetSetting(unknown)", err, store.ErrNotFound)
		for _, v := range [][]byte{[]byte("one"), {0, 1, 2, 0xff, 0}, []byte("two"), nil} {
			ok(t, "PutSetting", s.PutSetting(ctx, "setup", v))
			got, err := s.GetSetting(ctx, "setup")
			ok(t, "GetSetting", err)
			if !bytes.Equal(got, v) {
				t.Fatalf("GetSetting = %q, want %q", got, v)
			}
		}
		_, err = s.GetSetting(ctx, "Setup")
		wantErr(t, "GetSetting(other case)", err, store.ErrNotFound)
	}},
	{"DeleteIf", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		ok(t, "PutSetting", s.PutSetting(ctx, "token", []byte("v1")))
		ok(t, "PutSetting", s.PutSetting(ctx, "other", []byte("v1")))
		for _, tc := range []struct {
			name  string
			key   string
			value []byte
			want  bool
		}{
			{"wrong value", "token", []byte("v2"), false},
			{"prefix of value", "token", []byte("v"), false},
			{"empty value", "token", nil, false},
			{"unknown key", "nope", []byte("v1"), false},
			{"right value", "token", []byte("v1"), true},
			{"again", "token", []byte("v1"), false},
		} {
			deleted, err := s.DeleteSettingIf(ctx, tc.key, tc.value)
			ok(t, "DeleteSettingIf("+tc.name+")", err)
			if deleted != tc.want {
				t.Fatalf("DeleteSettingIf(%s) = %v, want %v", tc.name, deleted, tc.want)
			}
			_, err = s.GetSetting(ctx, "token")
			if tc.want || tc.name == "again" {
				wantErr(t, "GetSetting(deleted)", err, store.ErrNotFound)
			} else {
				ok(t, "GetSetting(kept)", err)
			}
		}
		if _, err := s.GetSetting(ctx, "other"); err != nil {
			t.Fatalf("GetSetting(other key with the same value): %v", err)
		}
	}},
	{"DeleteIfRace", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		ok(t, "PutSetting", s.PutSetting(ctx, "setup", []byte("hash")))
		errs := race(racers, func(int) error {
			deleted, err := s.DeleteSettingIf(ctx, "setup", []byte("hash"))
			if err == nil && !deleted {
				return store.ErrNotFound
			}
			return err
		})
		exactlyOne(t, "DeleteSettingIf", errs, store.ErrNotFound)
	}},
	{"Swap", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		read := func(want string) {
			t.Helper()
			got, err := s.GetSetting(ctx, "doc")
			ok(t, "GetSetting", err)
			if string(got) != want {
				t.Fatalf("GetSetting = %q, want %q", got, want)
			}
		}
		wantErr(t, "SwapSetting(absent, old given)", s.SwapSetting(ctx, "doc", []byte("v0"), []byte("v1")), store.ErrConflict)
		_, err := s.GetSetting(ctx, "doc")
		wantErr(t, "GetSetting after a failed swap", err, store.ErrNotFound)
		ok(t, "SwapSetting(create)", s.SwapSetting(ctx, "doc", nil, []byte("v1")))
		read("v1")
		wantErr(t, "SwapSetting(create again)", s.SwapSetting(ctx, "doc", nil, []byte("v9")), store.ErrConflict)
		read("v1")
		for _, stale := range [][]byte{[]byte("v0"), []byte("v"), []byte("v1 "), {}, []byte("V1")} {
			wantErr(t, fmt.Sprintf("SwapSetting(stale %q)", stale), s.SwapSetting(ctx, "doc", stale, []byte("v9")), store.ErrConflict)
			read("v1")
		}
		ok(t, "SwapSetting(current)", s.SwapSetting(ctx, "doc", []byte("v1"), []byte("v2")))
		read("v2")
		wantErr(t, "SwapSetting(the same old twice)", s.SwapSetting(ctx, "doc", []byte("v1"), []byte("v3")), store.ErrConflict)
		read("v2")
		ok(t, "PutSetting(other)", s.PutSetting(ctx, "other", []byte("v2")))
		ok(t, "SwapSetting(other)", s.SwapSetting(ctx, "other", []byte("v2"), []byte("x")))
		read("v2")
	}},
	{"SwapRace", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		ok(t, "PutSetting", s.PutSetting(ctx, "doc", []byte(`{"version":1}`)))
		errs := race(racers, func(i int) error {
			return s.SwapSetting(ctx, "doc", []byte(`{"version":1}`), []byte(fmt.Sprintf(`{"version":2,"by":%d}`, i)))
		})
		exactlyOne(t, "SwapSetting", errs, store.ErrConflict)
		got, err := s.GetSetting(ctx, "doc")
		ok(t, "GetSetting", err)
		for i, err := range errs {
			if err == nil && string(got) != fmt.Sprintf(`{"version":2,"by":%d}`, i) {
				t.Fatalf("stored %q, but the winner was racer %d", got, i)
			}
		}
	}},
	{"SwapCreateRace", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		errs := race(racers, func(i int) error {
			return s.SwapSetting(ctx, "fresh", nil, []byte(fmt.Sprint(i)))
		})
		exactlyOne(t, "SwapSetting(create)", errs, store.ErrConflict)
	}},
}

var timeTests = []test{
	{"MillisecondsUTC", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for i, tm := range []time.Time{
			base,
			time.Date(1969, time.July, 20, 20, 17, 40, 999_999_999, time.FixedZone("EDT", -4*3600)),
			time.Date(1970, time.January, 1, 0, 0, 0, 1, time.UTC),
			time.Date(2262, time.April, 11, 23, 47, 16, 854_775_807, time.UTC),
			time.Date(9999, time.December, 31, 23, 59, 59, 999_999_999, time.UTC),
			time.Now(), // with a monotonic reading
			{},
		} {
			u := newUser(store.NewID())
			u.CreatedAt, u.UpdatedAt = tm, tm.Add(time.Millisecond/2)
			ok(t, "CreateUser", s.CreateUser(ctx, u))
			got, err := s.GetUser(ctx, u.ID)
			ok(t, "GetUser", err)
			same(t, "user times", got, u)
			if tm.IsZero() && (!got.CreatedAt.IsZero()) {
				t.Fatalf("zero time read back as %v", got.CreatedAt)
			}

			c := newCredential(u.ID)
			c.CreatedAt, c.LastUsedAt = tm, tm
			mustCredential(t, s, c)
			gotC, err := s.GetCredential(ctx, c.ID)
			ok(t, "GetCredential", err)
			same(t, "credential times", gotC, c)

			tap := newTAP(u.ID)
			tap.CreatedAt, tap.StartsAt, tap.ExpiresAt, tap.UsedAt = tm, tm, tm, tm
			ok(t, "PutTAP", s.PutTAP(ctx, tap))
			gotT, err := s.GetTAP(ctx, u.ID)
			ok(t, "GetTAP", err)
			same(t, "TAP times", gotT, tap)

			ch := newChallenge()
			ch.ExpiresAt = tm
			ok(t, "PutChallenge", s.PutChallenge(ctx, ch))
			gotCh, err := s.TakeChallenge(ctx, ch.ID)
			ok(t, "TakeChallenge", err)
			same(t, "challenge times", gotCh, ch)

			ss := newSession(u.ID, c.ID)
			ss.AuthTime, ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = tm, tm, tm, tm
			mustSession(t, s, ss)
			gotS, err := s.GetSession(ctx, ss.TokenHash)
			ok(t, "GetSession", err)
			same(t, "session times", gotS, ss)

			e := store.SignInEvent{Time: tm, UserID: u.ID}
			e.ID, err = s.AppendSignIn(ctx, e)
			ok(t, "AppendSignIn", err)
			list, err := s.ListSignIns(ctx, store.SignInFilter{UserID: u.ID})
			ok(t, "ListSignIns", err)
			same(t, "sign-in times", list, []store.SignInEvent{e})

			a := store.AuditEvent{Time: tm, Target: u.ID}
			a.ID, err = s.AppendAudit(ctx, a)
			ok(t, "AppendAudit", err)
			audit, err := s.ListAudit(ctx, i+1)
			ok(t, "ListAudit", err)
			found := false
			for _, got := range audit {
				if got.ID == a.ID {
					same(t, "audit times", got, a)
					found = true
				}
			}
			if !found {
				t.Fatalf("audit record %d not listed", a.ID)
			}
		}
	}},
}
