package web

import (
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
