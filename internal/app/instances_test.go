package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store/pgtest"
)

// openInstances opens n Sesame instances on one fresh PostgreSQL schema,
// as n servers behind a load balancer would be.
func openInstances(t *testing.T, n int) []*app.App {
	t.Helper()
	db := pgtest.Schema(t, pgtest.URL(t), 8)
	var apps []*app.App
	for range n {
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.Database = db
		a, err := app.Open(context.Background(), cfg, app.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		apps = append(apps, a)
	}
	return apps
}

// conflict reports whether err is the 409 a stale save gets.
func conflict(err error) bool {
	var pe *problem.Error
	return errors.As(err, &pe) && pe.Status == 409
}

// TestConcurrentPolicySavesOnTwoInstances: two instances on one
// PostgreSQL save changes made from the same version at the same moment:
// exactly one lands, the other gets the conflict, and what is stored is
// the winner's change.
func TestConcurrentPolicySavesOnTwoInstances(t *testing.T) {
	ctx := context.Background()
	apps := openInstances(t, 2)
	for round := range 5 {
		doc, err := apps[0].Access.Document(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Both edits run only once both instances have read the document,
		// so both writes are made from the same version.
		var read sync.WaitGroup
		read.Add(len(apps))
		errs := make([]error, len(apps))
		var done sync.WaitGroup
		for i, a := range apps {
			done.Add(1)
			go func() {
				defer done.Done()
				_, errs[i] = a.Access.Update(ctx, audit.CLI, doc.Version, func(d *access.Document) (access.Audit, error) {
					read.Done()
					read.Wait()
					d.Locations = append(d.Locations, access.Location{Name: locName(round, i), Ranges: []string{"10.0.0.0/8"}})
					return access.Audit{Action: "access.location.create", Target: locName(round, i)}, nil
				})
			}()
		}
		done.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both saves landed", round)
				}
				winner = i
			case !conflict(err):
				t.Fatalf("round %d: instance %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: neither save landed: %v", round, errs)
		}
		after, err := apps[1].Access.Document(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after.Version != doc.Version+1 || len(after.Locations) != round+1 || after.Locations[round].Name != locName(round, winner) {
			t.Fatalf("round %d: stored version %d, locations %+v; want the winner's (instance %d)", round, after.Version, after.Locations, winner)
		}
	}
}

func locName(round, instance int) string {
	return "office-" + string(rune('a'+round)) + "-" + string(rune('0'+instance))
}

// TestConcurrentMethodsPolicySavesOnTwoInstances: the same for the
// methods policy, saved from the same revision on both instances.
func TestConcurrentMethodsPolicySavesOnTwoInstances(t *testing.T) {
	ctx := context.Background()
	apps := openInstances(t, 2)
	for round := range 5 {
		p, err := apps[0].Policies.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		errs := make([]error, len(apps))
		var start, done sync.WaitGroup
		start.Add(1)
		for i, a := range apps {
			done.Add(1)
			go func() {
				defer done.Done()
				q := p
				q.Campaign.Enabled = i == 0
				start.Wait()
				_, errs[i] = a.Policies.Save(ctx, audit.Actor("admin"+string(rune('0'+i))), q)
			}()
		}
		start.Done()
		done.Wait()
		wins := 0
		for i, err := range errs {
			if err == nil {
				wins++
			} else if !conflict(err) {
				t.Fatalf("round %d: instance %d: %v", round, i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d saves landed, want exactly 1 (%v)", round, wins, errs)
		}
		got, err := apps[1].Policies.Load(ctx)
		if err != nil || got.Revision != p.Revision+1 {
			t.Fatalf("round %d: stored revision %d (%v), want %d", round, got.Revision, err, p.Revision+1)
		}
	}
}

// TestBurstBudgetSharedByInstances: on PostgreSQL the per-address burst
// budget is one for all instances. With a budget of one request per 100 s
// (burst 1), the same address gets one request through in total, however
// it spreads its requests over two instances; each instance alone would
// let one through.
func TestBurstBudgetSharedByInstances(t *testing.T) {
	db := pgtest.Schema(t, pgtest.URL(t), 8)
	var handlers []http.Handler
	for range 2 {
		cfg := config.Defaults()
		cfg.DataDir, cfg.Database, cfg.RateLimit = t.TempDir(), db, 0.01
		a, err := app.Open(context.Background(), cfg, app.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		handlers = append(handlers, a.Handler())
	}
	post := func(h http.Handler, addr string) int {
		r := httptest.NewRequest("POST", "/signin/passkey/begin", strings.NewReader(`{}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = addr + ":40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	through := 0
	for i := range 6 {
		if code := post(handlers[i%2], "198.51.100.7"); code != http.StatusTooManyRequests {
			through++
		}
	}
	if through != 1 {
		t.Fatalf("%d requests of one address got through two instances, want 1 (the shared burst)", through)
	}
	// Another address has its own budget.
	if code := post(handlers[1], "198.51.100.8"); code == http.StatusTooManyRequests {
		t.Fatal("another address was limited by the first one's budget")
	}
}
