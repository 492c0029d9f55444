package loadgen

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := summarize(d)
	want := Latency{P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond,
		Max: 100 * time.Millisecond, Mean: 50500 * time.Microsecond}
	if got != want {
		t.Errorf("summarize(1..100ms) = %+v, want %+v", got, want)
	}
	if got := summarize([]time.Duration{7}); got != (Latency{7, 7, 7, 7, 7}) {
		t.Errorf("summarize of one = %+v", got)
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("summarize(nil) = %+v", got)
	}
}

func TestProcessCPU(t *testing.T) {
	if _, ok := processCPU(0); ok {
		t.Error("PID 0 measured")
	}
	if runtime.GOOS != "linux" {
		t.Skip("CPU time is read from /proc")
	}
	before, ok := processCPU(os.Getpid())
	if !ok {
		t.Fatal("own CPU time not readable")
	}
	// Spin until the kernel's tick-granular CPU time moves. On a loaded
	// machine a fixed 50 ms of wall time may get no tick of CPU at all, so
	// the deadline is only a bound for a counter that never moves.
	var after time.Duration
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if after, _ = processCPU(os.Getpid()); after > before {
			return
		}
	}
	t.Errorf("CPU time did not grow while busy for 20s: %v then %v", before, after)
}

func TestHints(t *testing.T) {
	for kind, want := range map[string]string{
		"begin: HTTP 429 rate_limited":        "--rate-limit 0",
		"begin: connection refused":           "start `sesame serve`",
		"finish: HTTP 400 origin_mismatch":    "same --url",
		"finish: HTTP 401 unknown_credential": "same --data-dir",
	} {
		if got := hintFor(kind); !strings.Contains(got, want) {
			t.Errorf("hintFor(%q) = %q, want it to mention %q", kind, got, want)
		}
	}
	if got := hintFor("finish: HTTP 500 internal"); got != "" {
		t.Errorf("hint for an internal error: %q", got)
	}
}
