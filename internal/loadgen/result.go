package loadgen

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is what a load run measured.
type Result struct {
	Target      string
	Concurrency int
	Users       int
	Elapsed     time.Duration // the measured period, without the warm-up
	SignIns     int           // complete sign-ins (session cookie checked)
	// Acknowledged counts every sign-in the server answered with a
	// session, warm-up and first try included: each must have its record
	// in the sign-in log, whatever happens to the server afterwards.
	Acknowledged int64
	Failed       int
	Errors       []ErrorCount // by kind, most frequent first
	// Latency is the whole sign-in as a person waits for it; the others
	// are its steps (Sign is the software authenticator, in this process).
	Latency, Begin, Sign, Finish, Me Latency
	// ServerCPU is the server process's CPU time (user + system) during
	// the measured period, when its PID was given; ClientCPU is this
	// process's. Both are zero when unknown.
	ServerCPU time.Duration
	ServerPID int
	ClientCPU time.Duration
	// Machine is the whole machine's CPU time during the measured period
	// (Linux): how busy the cores were, including other processes.
	Machine MachineCPU
}

// MachineCPU is CPU time spent by the whole machine, from /proc/stat.
type MachineCPU struct {
	Cores  int           // online CPUs
	Busy   time.Duration // user, nice, system, irq, softirq, steal
	IOWait time.Duration // idle with I/O outstanding
}

// ErrorCount is one kind of failure.
type ErrorCount struct {
	Kind    string
	Count   int
	Example string
}

// Latency summarises durations.
type Latency struct {
	P50, P95, P99, Max, Mean time.Duration
}

// Rate is complete sign-ins per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.SignIns) / r.Elapsed.Seconds()
}

// RateLimited reports whether the server refused requests with 429.
func (r *Result) RateLimited() bool {
	for _, e := range r.Errors {
		if strings.Contains(e.Kind, "HTTP 429") {
			return true
		}
	}
	return false
}

func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	q := func(p float64) time.Duration {
		i := int(p*float64(len(d))+0.999999) - 1 // nearest rank
		return d[min(max(i, 0), len(d)-1)]
	}
	return Latency{P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: d[len(d)-1], Mean: sum / time.Duration(len(d))}
}

// Print writes the report.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "\nResults (%s measured, %d concurrent, %d users, against %s)\n", r.Elapsed.Round(time.Millisecond), r.Concurrency, r.Users, r.Target)
	fmt.Fprintf(w, "  sign-ins:  %d complete, %.1f/s\n", r.SignIns, r.Rate())
	if r.Failed == 0 {
		fmt.Fprintf(w, "  errors:    0\n")
	} else {
		fmt.Fprintf(w, "  errors:    %d (%.2f%% of attempts)\n", r.Failed, 100*float64(r.Failed)/float64(r.Failed+r.SignIns))
		for _, e := range r.Errors {
			fmt.Fprintf(w, "    %7d  %s", e.Count, e.Kind)
			if e.Example != "" {
				fmt.Fprintf(w, "  e.g. %s", oneLine(e.Example, 160))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "  latency of a whole sign-in (begin, sign, finish, use the session):\n")
	fmt.Fprintf(w, "             p50 %-9s p95 %-9s p99 %-9s max %-9s mean %s\n", ms(r.Latency.P50), ms(r.Latency.P95), ms(r.Latency.P99), ms(r.Latency.Max), ms(r.Latency.Mean))
	for _, s := range []struct {
		name string
		l    Latency
	}{{"begin", r.Begin}, {"sign", r.Sign}, {"finish", r.Finish}, {"session", r.Me}} {
		fmt.Fprintf(w, "    %-8s p50 %-9s p95 %-9s p99 %-9s max %s\n", s.name, ms(s.l.P50), ms(s.l.P95), ms(s.l.P99), ms(s.l.Max))
	}
	if r.SignIns > 0 {
		if r.ServerCPU > 0 {
			fmt.Fprintf(w, "  server CPU: %s in %s (%.2f cores busy), %s per sign-in (pid %d)\n",
				r.ServerCPU.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond), r.ServerCPU.Seconds()/r.Elapsed.Seconds(),
				us(r.ServerCPU/time.Duration(r.SignIns)), r.ServerPID)
		}
		if r.ClientCPU > 0 {
			fmt.Fprintf(w, "  load generator CPU: %s (%.2f cores busy), %s per sign-in\n",
				r.ClientCPU.Round(time.Millisecond), r.ClientCPU.Seconds()/r.Elapsed.Seconds(), us(r.ClientCPU/time.Duration(r.SignIns)))
		}
	}
	if m := r.Machine; m.Cores > 0 && r.Elapsed > 0 {
		cores := func(d time.Duration) float64 { return d.Seconds() / r.Elapsed.Seconds() }
		fmt.Fprintf(w, "  machine: %.2f of %d cores busy", cores(m.Busy), m.Cores)
		if r.ServerCPU > 0 {
			fmt.Fprintf(w, " (other processes than server and load generator: %.2f)", max(0, cores(m.Busy-r.ServerCPU-r.ClientCPU)))
		}
		if cores(m.IOWait) >= 0.01 {
			fmt.Fprintf(w, ", %.2f cores idle waiting for I/O", cores(m.IOWait))
		}
		fmt.Fprintln(w)
	}
	if r.RateLimited() {
		fmt.Fprintln(w, "\nThe server answered 429 Too Many Requests: its per-address rate limit is on. For load tests start it with --rate-limit 0 (SESAME_RATE_LIMIT=0).")
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// machineCPU reads the machine's CPU times from /proc/stat.
func machineCPU() (MachineCPU, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, false
	}
	var m MachineCPU
	ok := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] != "cpu" && strings.HasPrefix(f[0], "cpu"):
			m.Cores++
		case len(f) >= 9 && f[0] == "cpu":
			// cpu user nice system idle iowait irq softirq steal ...
			var v [8]int64
			for i := range v {
				if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
					return MachineCPU{}, false
				}
			}
			busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
			m.Busy = time.Duration(busy) * time.Second / clockTicks
			m.IOWait = time.Duration(v[4]) * time.Second / clockTicks
			ok = true
		}
	}
	return m, ok && m.Cores > 0
}

// clockTicks is USER_HZ, the unit of CPU times in /proc: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// processCPU returns the CPU time (user + system, all threads) a process
// has used so far, from /proc/PID/stat. It reports false where there is no
// /proc (not Linux) or no such process.
func processCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may contain spaces;
	// the fields after it start with the state (field 3).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, true
}
