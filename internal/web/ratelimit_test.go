package web

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAddressLimits(t *testing.T) {
	a := &addressLimits{perSecond: 1}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Burst of 4x+1, then refused, per address.
	for i := range 5 {
		if !a.allow("192.0.2.1", t0) {
			t.Fatalf("request %d refused inside the burst", i)
		}
	}
	if a.allow("192.0.2.1", t0) {
		t.Fatal("request past the burst allowed")
	}
	if !a.allow("192.0.2.2", t0) {
		t.Fatal("another address was limited by the first")
	}
	if !a.allow("192.0.2.1", t0.Add(time.Second)) {
		t.Fatal("the limit did not refill")
	}
	// Idle limiters are dropped.
	later := t0.Add(limiterIdle + 2*time.Minute)
	a.allow("198.51.100.1", later)
	if n := a.size(); n != 1 {
		t.Fatalf("%d limiters kept after the idle period, want 1", n)
	}
}

func TestDecideShared(t *testing.T) {
	down := errors.New("database down")
	tests := []struct {
		name             string
		local, asked, ok bool
		err              error
		want             bool
	}{
		{"local refuses: no question asked", false, false, false, nil, false},
		{"local refuses whatever the shared bucket says", false, true, true, nil, false},
		{"no shared bucket (SQLite)", true, false, false, nil, true},
		{"shared bucket has a token", true, true, true, nil, true},
		{"shared bucket is empty (other instances used it)", true, true, false, nil, false},
		{"shared bucket unreachable: the local limit holds", true, true, false, down, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideShared(tc.local, tc.asked, tc.ok, tc.err); got != tc.want {
				t.Errorf("decideShared = %v, want %v", got, tc.want)
			}
		})
	}
}

// countingBucket is a shared bucket with a fixed number of tokens, that
// counts how often it is asked.
type countingBucket struct {
	tokens, asked int
	keys          []string
}

func (c *countingBucket) TakeToken(_ context.Context, key string, rate, burst float64, _ time.Time) (bool, error) {
	c.asked++
	c.keys = append(c.keys, key)
	if c.tokens == 0 {
		return false, nil
	}
	c.tokens--
	return true, nil
}

func TestAddressLimitsShared(t *testing.T) {
	ctx := context.Background()
	shared := &countingBucket{tokens: 2} // other instances used the rest
	a := &addressLimits{perSecond: 1, shared: shared}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var allowed int
	for range 20 {
		if a.allowCtx(ctx, "192.0.2.1", t0) {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("%d requests allowed, want the 2 the shared bucket had", allowed)
	}
	// Past the local burst the database is not asked at all.
	if shared.asked != burst(1) {
		t.Errorf("the shared bucket was asked %d times, want %d (once per local token)", shared.asked, burst(1))
	}
	if shared.keys[0] != "addr:192.0.2.1" {
		t.Errorf("bucket key %q", shared.keys[0])
	}
	if BucketIdle(0.01) < 100*time.Second || BucketIdle(5) != limiterIdle {
		t.Errorf("BucketIdle(0.01) = %v, BucketIdle(5) = %v", BucketIdle(0.01), BucketIdle(5))
	}
}

// BenchmarkAddressLimitsFlood: a flooding address is refused by the local
// limiter without asking the shared bucket.
func BenchmarkAddressLimitsFlood(b *testing.B) {
	shared := &countingBucket{tokens: 1 << 30}
	a := &addressLimits{perSecond: 5, shared: shared}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		a.allowCtx(ctx, "192.0.2.1", t0)
	}
	b.ReportMetric(float64(shared.asked), "shared-asks")
}
