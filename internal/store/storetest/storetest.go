// Package storetest is the conformance suite every store.Store backend must
// pass: one test per promise made in package store's documentation, run
// unchanged against SQLite and PostgreSQL. A backend's own test calls Run.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Run runs the suite. open must return a new, empty store for each test,
// and may register cleanups with t (they run after Run has closed the store).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Users", userTests},
		{"Groups", groupTests},
		{"GroupChanges", groupChangeTests},
		{"Credentials", credentialTests},
		{"TAPs", tapTests},
		{"Challenges", challengeTests},
		{"Sessions", sessionTests},
		{"Joins", joinTests},
		{"CompleteSignIn", completeSignInTests},
		{"CompleteSignInCounters", completeSignInCounterTests},
		{"SignIns", signInTests},
		{"Audit", auditTests},
		{"Hits", hitTests},
		{"Buckets", bucketTests},
		{"Settings", settingTests},
		{"Times", timeTests},
		{"Text", textTests},
		{"SCIM", scimTests},
		{"Report", reportTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.run(t, s)
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// racers is how many goroutines the concurrency tests start at once.
const racers = 20

// base is an arbitrary instant with sub-millisecond digits in a zone other
// than UTC, so every test also checks how times are kept.
var base = time.Date(2031, time.March, 14, 15, 9, 26, 535_897_932, time.FixedZone("UTC+5", 5*3600))

func at(d time.Duration) time.Time { return base.Add(d) }

// ms is what a store promises to give back for t.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

// --- fixtures ---

var seq struct {
	sync.Mutex
	n int
}

func next() int {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return seq.n
}

func newUser(name string) store.User {
	return store.User{
		ID: store.NewID(), Username: name, Email: name + "@example.com", DisplayName: "User " + name,
		CreatedAt: at(0), UpdatedAt: at(time.Second),
	}
}

func mustUser(t *testing.T, s store.Store, name string) store.User {
	t.Helper()
	u := newUser(name)
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func mustGroup(t *testing.T, s store.Store, name string) store.Group {
	t.Helper()
	g := store.Group{ID: store.NewID(), Name: name, Description: "the " + name, CreatedAt: at(0)}
	if err := s.CreateGroup(context.Background(), g); err != nil {
		t.Fatalf("CreateGroup(%s): %v", name, err)
	}
	return g
}

func newCredential(userID string) store.Credential {
	n := next()
	return store.Credential{
		ID: store.NewID(), UserID: userID,
		CredentialID:      []byte(fmt.Sprintf("credential-%d\x00\xff", n)),
		PublicKey:         []byte{0xa5, 0x01, 0x02, 0x03, 0x26, byte(n)},
		Algorithm:         -7,
		AAGUID:            bytes.Repeat([]byte{0xad}, 16),
		AttestationFormat: "packed", AttestationTrust: "basic",
		Transports:     []string{"internal", "hybrid"},
		SignCount:      0,
		BackupEligible: true, BackupState: true,
		Name:      fmt.Sprintf("Passkey %d", n),
		CreatedAt: at(time.Duration(n) * time.Millisecond),
	}
}

func mustCredential(t *testing.T, s store.Store, c store.Credential) store.Credential {
	t.Helper()
	if err := s.CreateCredential(context.Background(), c); err != nil {
		t.Fatalf("CreateCredential: %v", err)
	}
	return c
}

func newSession(userID, credentialID string) store.Session {
	return store.Session{
		TokenHash: []byte("hash-" + store.NewID()), UserID: userID, Methods: []string{"passkey"},
		CredentialID: credentialID, AuthTime: at(0), CreatedAt: at(0), LastSeenAt: at(0),
		ExpiresAt: at(8 * time.Hour), IP: "192.0.2.1", UserAgent: "Test/1.0",
	}
}

func mustSession(t *testing.T, s store.Store, ss store.Session) store.Session {
	t.Helper()
	if err := s.CreateSession(context.Background(), ss); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return ss
}

// --- assertions ---

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	wantErr(t, what, err, nil)
}

// same fails the test when got differs from want as a store may make it
// differ: want's times truncated to the millisecond in UTC (and got's must
// be in UTC), nil and empty slices equal.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if diffs := diff("", reflect.ValueOf(got), reflect.ValueOf(want)); len(diffs) > 0 {
		t.Fatalf("%s: differs:\n%v\ngot  %+v\nwant %+v", what, diffs, got, want)
	}
}

var timeType = reflect.TypeFor[time.Time]()

func diff(path string, got, want reflect.Value) []string {
	if got.Type() != want.Type() {
		return []string{fmt.Sprintf("%s: type %s, want %s", path, got.Type(), want.Type())}
	}
	switch {
	case got.Type() == timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(ms(w)) || g.Location() != time.UTC {
			return []string{fmt.Sprintf("%s: %v (%s), want %v (UTC)", path, g, g.Location(), ms(w))}
		}
		return nil
	case got.Kind() == reflect.Struct:
		var out []string
		for i := range got.NumField() {
			out = append(out, diff(path+"."+got.Type().Field(i).Name, got.Field(i), want.Field(i))...)
		}
		return out
	case got.Kind() == reflect.Slice:
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s: length %d, want %d", path, got.Len(), want.Len())}
		}
		var out []string
		for i := range got.Len() {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))...)
		}
		return out
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got.Interface(), want.Interface())}
		}
		return nil
	}
}

// race runs f in n goroutines released at the same moment and returns
// their errors.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// exactlyOne checks that one racer succeeded and every other failed with
// loser.
func exactlyOne(t *testing.T, what string, errs []error, loser error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loser):
			t.Fatalf("%s: unexpected error %v", what, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%s: %d of %d racers succeeded, want exactly 1", what, wins, len(errs))
	}
}
