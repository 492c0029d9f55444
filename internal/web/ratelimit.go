package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// addressLimits smooths request bursts per client address in this process.
// The limits that guard credentials (TAP guesses per account and address)
// are counted in the store, shared by every instance; this only keeps one
// address from monopolising an instance. Limiters idle for longer than
// limiterIdle are dropped, so the map does not grow with every address
// ever seen.
type addressLimits struct {
	mu        sync.Mutex
	perSecond float64
	m         map[string]*addressLimiter
	lastSweep time.Time
}

type addressLimiter struct {
	lim  *rate.Limiter
	seen time.Time
}

const limiterIdle = 10 * time.Minute

func (a *addressLimits) allow(ip string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]*addressLimiter{}
	}
	if now.Sub(a.lastSweep) > limiterIdle {
		for k, l := range a.m {
			if now.Sub(l.seen) > limiterIdle {
				delete(a.m, k)
			}
		}
		a.lastSweep = now
	}
	l := a.m[ip]
	if l == nil {
		l = &addressLimiter{lim: rate.NewLimiter(rate.Limit(a.perSecond), int(4*a.perSecond)+1)}
		a.m[ip] = l
	}
	l.seen = now
	return l.lim.AllowN(now, 1)
}

func (a *addressLimits) size() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}
