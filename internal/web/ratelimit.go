package web

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// addressLimits smooths request bursts per client address: perSecond
// requests a second with a burst of burst(perSecond). The limits that
// guard credentials (TAP guesses per account and address) are counted in
// the store separately.
//
// In process by default. With shared set (PostgreSQL), the budget is a
// token bucket in the database shared by every instance, so an address
// cannot multiply it by the number of instances behind the load balancer.
// The in-process limiter still answers first: every instance's own bucket
// sees a subset of the requests the shared one sees, with the same rate
// and burst, so when it is empty the shared one is too, and a flood is
// refused without a database round trip. Limiters idle for longer than
// limiterIdle are dropped, so the map does not grow with every address
// ever seen.
type addressLimits struct {
	mu        sync.Mutex
	perSecond float64
	m         map[string]*addressLimiter
	lastSweep time.Time
	shared    TokenTaker
}

// TokenTaker is the store's shared token bucket (store.Store.TakeToken).
type TokenTaker interface {
	TakeToken(ctx context.Context, key string, rate, burst float64, now time.Time) (bool, error)
}

// burst is how many requests an address may make at once: 4 seconds'
// worth, and at least one.
func burst(perSecond float64) int { return int(4*perSecond) + 1 }

// BucketIdle is how long an address's bucket takes to refill completely;
// a bucket idle for longer can be forgotten (store.DeleteBucketsBefore)
// without changing any answer. At least limiterIdle.
func BucketIdle(perSecond float64) time.Duration {
	d := limiterIdle
	if perSecond > 0 {
		d = max(d, time.Duration(float64(burst(perSecond))/perSecond*float64(time.Second))+time.Second)
	}
	return d
}

// bucketKey names an address's shared bucket.
func bucketKey(ip string) string { return "addr:" + ip }

// decideShared is the rule combining the two limiters: the local one
// refuses on its own; otherwise the shared bucket decides, unless it
// could not be asked (the database is unreachable: the request will fail
// or succeed on its own merits, and the local limit still holds).
func decideShared(local bool, sharedAsked bool, sharedOK bool, sharedErr error) bool {
	switch {
	case !local:
		return false
	case !sharedAsked || sharedErr != nil:
		return true
	default:
		return sharedOK
	}
}

// allowCtx applies the local limiter, then the shared bucket when there
// is one.
func (a *addressLimits) allowCtx(ctx context.Context, ip string, now time.Time) bool {
	local := a.allow(ip, now)
	if !local || a.shared == nil {
		return decideShared(local, false, false, nil)
	}
	ok, err := a.shared.TakeToken(ctx, bucketKey(ip), a.perSecond, float64(burst(a.perSecond)), now)
	return decideShared(local, true, ok, err)
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
		l = &addressLimiter{lim: rate.NewLimiter(rate.Limit(a.perSecond), burst(a.perSecond))}
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
