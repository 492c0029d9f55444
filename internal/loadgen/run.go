package loadgen

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/descope/virtualwebauthn"
	"golang.org/x/time/rate"
)

// userAgent is what the load generator calls itself in the sign-in log.
const userAgent = "sesame-bench/1"

// sessionCookie is the server's session cookie (web.CookieName; not
// imported so the load generator speaks to the server only over HTTP).
const sessionCookie = "sesame_session"

// Config describes one load run.
type Config struct {
	// Target is where requests go, e.g. http://localhost:8080.
	Target string
	// Targets, when set, replaces Target: several instances behind one
	// public URL. Every request goes to the next one in turn, so a
	// ceremony begun on one instance is finished on another and its
	// session used on a third, which is what a load balancer does.
	Targets []string
	// Origin and RPID are what the software authenticator signs: the
	// server's public URL and its host. They may differ from Target (a
	// load balancer, 127.0.0.1 for localhost), as a browser's would.
	Origin string
	RPID   string
	// Passkeys are the users to sign in, taken in turn.
	Passkeys []Passkey
	// Concurrency is how many sign-ins run at once, each one after the
	// other in its own worker (a closed loop: a slower server gets fewer
	// requests, it is not buried).
	Concurrency int
	// Rate, when positive, caps the sign-ins started per second across all
	// workers (a soak at a fixed fraction of the peak); zero is as fast as
	// the server answers.
	Rate float64
	// Warmup runs the load without measuring (connections, caches, the
	// database's pages), then Duration is measured.
	Warmup, Duration time.Duration
	// MinSignIns, when positive, extends the measured window past Duration
	// until that many sign-ins have completed in it, so that a short run
	// on a slow or busy machine still measures something. A failure ends
	// the extension: more time would not make a broken server pass.
	MinSignIns int64
	// Progress receives a line every ProgressEvery while the load runs.
	Progress      io.Writer
	ProgressEvery time.Duration
	// ServerPID, when not zero, is the server's process, whose CPU time
	// is read from /proc (Linux) to report the server's CPU per sign-in.
	ServerPID int
	// Client replaces the HTTP client (tests).
	Client *http.Client
}

// Run signs the passkeys' users in over HTTP until the duration is over
// or ctx ends, and measures. Every sign-in is the whole flow a browser
// makes: begin a discoverable ceremony, sign its challenge with the
// software passkey, finish, and use the session cookie once (GET /api/me).
// One sign-in is tried first, so a misconfiguration fails at once with a
// clear error instead of as thousands of identical errors.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 2 * time.Second
	}
	client := cfg.Client
	if client == nil {
		client = newClient(cfg.Concurrency)
		defer client.CloseIdleConnections()
	}
	r := &runner{cfg: cfg, client: client, target: strings.TrimRight(cfg.Target, "/"),
		rp: virtualwebauthn.RelyingParty{ID: cfg.RPID, Origin: cfg.Origin}}
	for _, t := range cfg.Targets {
		r.targets = append(r.targets, strings.TrimRight(t, "/"))
	}
	if len(r.targets) > 0 {
		r.target = strings.Join(r.targets, ", ")
	}

	if _, err := r.signIn(ctx, cfg.Passkeys[0]); err != nil {
		return nil, fmt.Errorf("the first sign-in (as %s, against %s) failed, so the load was not started: %w%s",
			cfg.Passkeys[0].Username, r.target, err, hintFor(err.Error()))
	}

	// At the end workers finish the sign-in they are in and stop: cutting
	// requests off would leave failures ("client went away") in the
	// server's sign-in log that no person caused.
	stop := make(chan struct{})
	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	if cfg.Rate > 0 {
		r.pace = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
	}
	for i := range workers {
		w := &worker{runner: r, errors: map[string]*ErrorCount{}}
		workers[i] = w
		wg.Go(func() { w.loop(ctx, stop) })
	}
	stopWorkers := sync.OnceFunc(func() { close(stop) })
	defer func() {
		stopWorkers()
		wg.Wait()
	}()

	if cfg.Warmup > 0 {
		fmt.Fprintf(cfg.Progress, "Warming up for %s with %d concurrent sign-ins against %s\n", cfg.Warmup, cfg.Concurrency, r.target)
		select {
		case <-time.After(cfg.Warmup):
		case <-ctx.Done():
		}
	}

	fmt.Fprintf(cfg.Progress, "Measuring for %s with %d concurrent sign-ins over %d users\n", cfg.Duration, cfg.Concurrency, len(cfg.Passkeys))
	serverCPU0, serverOK := processCPU(cfg.ServerPID)
	selfCPU0, selfOK := processCPU(os.Getpid())
	machine0, machineOK := machineCPU()
	start := time.Now()
	r.measuring.Store(true)
	end := time.NewTimer(cfg.Duration)
	tick := time.NewTicker(cfg.ProgressEvery)
	lastOK, lastTick := int64(0), start
	var overtime <-chan time.Time
loop:
	for {
		select {
		case <-end.C:
			if r.ok.Load() >= cfg.MinSignIns || r.failed.Load() > 0 {
				break loop
			}
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			overtime = t.C
		case <-overtime:
			if r.ok.Load() >= cfg.MinSignIns || r.failed.Load() > 0 {
				break loop
			}
		case <-ctx.Done():
			break loop
		case now := <-tick.C:
			ok, failed := r.ok.Load(), r.failed.Load()
			fmt.Fprintf(cfg.Progress, "  %5.1fs  %8d sign-ins  %7.0f/s  %d errors\n",
				now.Sub(start).Seconds(), ok, float64(ok-lastOK)/now.Sub(lastTick).Seconds(), failed)
			lastOK, lastTick = ok, now
		}
	}
	r.measuring.Store(false)
	elapsed := time.Since(start)
	serverCPU1, serverOK1 := processCPU(cfg.ServerPID)
	selfCPU1, selfOK1 := processCPU(os.Getpid())
	machine1, machineOK1 := machineCPU()
	tick.Stop()
	end.Stop()
	stopWorkers()
	wg.Wait()

	res := &Result{Elapsed: elapsed, Concurrency: cfg.Concurrency, Users: len(cfg.Passkeys), Target: r.target, Acknowledged: r.acked.Load()}
	if serverOK && serverOK1 && cfg.ServerPID != 0 {
		res.ServerCPU, res.ServerPID = serverCPU1-serverCPU0, cfg.ServerPID
	}
	if selfOK && selfOK1 {
		res.ClientCPU = selfCPU1 - selfCPU0
	}
	if machineOK && machineOK1 {
		res.Machine = MachineCPU{Cores: machine1.Cores, Busy: machine1.Busy - machine0.Busy, IOWait: machine1.IOWait - machine0.IOWait}
	}
	var total, begin, sign, finish, me []time.Duration
	errs := map[string]*ErrorCount{}
	for _, w := range workers {
		total = append(total, w.total...)
		begin = append(begin, w.begin...)
		sign = append(sign, w.sign...)
		finish = append(finish, w.finish...)
		me = append(me, w.me...)
		for k, e := range w.errors {
			if errs[k] == nil {
				errs[k] = &ErrorCount{Kind: k, Example: e.Example}
			}
			errs[k].Count += e.Count
		}
	}
	res.SignIns = len(total)
	res.Latency, res.Begin, res.Sign, res.Finish, res.Me = summarize(total), summarize(begin), summarize(sign), summarize(finish), summarize(me)
	for _, e := range errs {
		res.Errors = append(res.Errors, *e)
		res.Failed += e.Count
	}
	slices.SortFunc(res.Errors, func(a, b ErrorCount) int { return b.Count - a.Count })
	return res, nil
}

func (c Config) check() error {
	targets := c.Targets
	if len(targets) == 0 {
		targets = []string{c.Target}
	}
	for _, t := range targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--target %q must be the server's base URL, such as http://localhost:8080", t)
		}
	}
	switch {
	case len(c.Passkeys) == 0:
		return errors.New("no bench users to sign in: --users must be at least 1")
	case c.Concurrency < 1:
		return errors.New("--concurrency must be at least 1")
	case c.Duration <= 0:
		return errors.New("--duration must be positive")
	case c.Warmup < 0:
		return errors.New("--warmup must not be negative")
	case c.Origin == "" || c.RPID == "":
		return errors.New("the origin and RP ID the passkeys sign for are missing")
	}
	return nil
}

func newClient(concurrency int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2 * concurrency,
			MaxIdleConnsPerHost: 2 * concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout: 30 * time.Second,
		// The sign-in endpoints answer JSON; a redirect means something
		// else answered (a sign-in page, a proxy), which is an error here.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// runner is what the workers share.
type runner struct {
	cfg       Config
	client    *http.Client
	target    string
	targets   []string      // several instances, taken in turn (see Config.Targets)
	turn      atomic.Uint64 // which of targets the next request goes to
	acked     atomic.Int64  // sign-ins the server acknowledged (finish answered 200), measured or not
	pace      *rate.Limiter // Config.Rate, or nil
	rp        virtualwebauthn.RelyingParty
	next      atomic.Uint64 // which passkey signs in next
	measuring atomic.Bool
	ok        atomic.Int64 // measured successes, for the progress lines
	failed    atomic.Int64
	keys      sync.Map // credential ID -> *ecdsa.PrivateKey (key)
}

// worker signs in one user after another and keeps its own samples, so
// workers share nothing but two counters.
type worker struct {
	*runner
	total, begin, sign, finish, me []time.Duration
	errors                         map[string]*ErrorCount
}

func (w *worker) loop(ctx context.Context, stop <-chan struct{}) {
	for ctx.Err() == nil {
		select {
		case <-stop:
			return
		default:
		}
		if w.pace != nil {
			if err := w.pace.Wait(ctx); err != nil {
				return
			}
		}
		p := w.cfg.Passkeys[(w.next.Add(1)-1)%uint64(len(w.cfg.Passkeys))]
		t, err := w.signIn(ctx, p)
		// Count what ends while measuring; what ends after it (or was
		// cut short by an interrupt) is neither a success nor an error.
		if !w.measuring.Load() || ctx.Err() != nil {
			continue
		}
		if err != nil {
			w.failed.Add(1)
			kind, example := err.Error(), ""
			var f *failure
			if errors.As(err, &f) {
				kind, example = f.kind, f.detail
			}
			e := w.errors[kind]
			if e == nil {
				e = &ErrorCount{Kind: kind, Example: example}
				w.errors[kind] = e
			}
			e.Count++
			continue
		}
		w.ok.Add(1)
		w.total = append(w.total, t.total)
		w.begin = append(w.begin, t.begin)
		w.sign = append(w.sign, t.sign)
		w.finish = append(w.finish, t.finish)
		w.me = append(w.me, t.me)
	}
}

type timings struct{ total, begin, sign, finish, me time.Duration }

// failure is a failed sign-in: kind groups failures in the report
// ("finish: HTTP 401 verification_failed"), detail is one example.
type failure struct{ kind, detail string }

func (f *failure) Error() string {
	if f.detail == "" {
		return f.kind
	}
	return f.kind + " (" + f.detail + ")"
}

// signIn is one whole sign-in, as a browser makes it.
func (r *runner) signIn(ctx context.Context, p Passkey) (timings, error) {
	var t timings
	start := time.Now()

	var begun struct {
		Ceremony string          `json:"ceremony"`
		Options  json.RawMessage `json:"options"`
	}
	if err := r.call(ctx, "begin", http.MethodPost, "/signin/passkey/begin", []byte(`{"username":""}`), "", &begun); err != nil {
		return t, err
	}
	t.begin = time.Since(start)

	signStart := time.Now()
	credential, err := r.assert(p, begun.Options)
	if err != nil {
		return t, err
	}
	t.sign = time.Since(signStart)

	finishStart := time.Now()
	body, err := json.Marshal(struct {
		Ceremony   string          `json:"ceremony"`
		Credential json.RawMessage `json:"credential"`
		ReturnTo   string          `json:"return_to"`
	}{begun.Ceremony, credential, "/my"})
	if err != nil {
		return t, err
	}
	var finished struct {
		User string `json:"user"`
	}
	resp, err := r.do(ctx, "finish", http.MethodPost, "/signin/passkey/finish", body, "", &finished)
	if err != nil {
		return t, err
	}
	r.acked.Add(1)
	if finished.User != p.Username {
		return t, &failure{kind: "finish: signed in as the wrong user", detail: fmt.Sprintf("expected %s, the server says %q", p.Username, finished.User)}
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			cookie = c.Value
		}
	}
	if cookie == "" {
		return t, &failure{kind: "finish: no session cookie"}
	}
	t.finish = time.Since(finishStart)

	meStart := time.Now()
	var me struct {
		Username string `json:"username"`
	}
	if err := r.call(ctx, "session", http.MethodGet, "/api/me", nil, cookie, &me); err != nil {
		return t, err
	}
	if me.Username != p.Username {
		return t, &failure{kind: "session: cookie belongs to the wrong user", detail: fmt.Sprintf("expected %s, /api/me says %q", p.Username, me.Username)}
	}
	t.me = time.Since(meStart)
	t.total = time.Since(start)
	return t, nil
}

// assert signs the ceremony's challenge with p, as the authenticator in a
// browser would for a discoverable sign-in (it returns the user handle).
func (r *runner) assert(p Passkey, options json.RawMessage) (json.RawMessage, error) {
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		return nil, &failure{kind: "begin: unreadable request options", detail: err.Error()}
	}
	if opts.RelyingPartyID != "" && opts.RelyingPartyID != r.rp.ID {
		return nil, &failure{kind: "begin: RP ID differs", detail: fmt.Sprintf("the server asks for RP ID %q, the bench passkeys are for %q: give bench the server's --url", opts.RelyingPartyID, r.rp.ID)}
	}
	if len(opts.AllowCredentials) > 0 && !slices.Contains(opts.AllowCredentials, base64.RawURLEncoding.EncodeToString(p.CredentialID)) {
		return nil, &failure{kind: "begin: passkey not in the allow list", detail: "a discoverable ceremony was expected (empty allow list)"}
	}
	key, err := r.key(p)
	if err != nil {
		return nil, &failure{kind: "sign: unreadable bench key", detail: err.Error()}
	}
	resp, err := signAssertion(r.rp, key, p, opts.Challenge)
	if err != nil {
		return nil, &failure{kind: "sign: software authenticator failed", detail: err.Error()}
	}
	return resp, nil
}

// key returns p's private key, parsed once per run: parsing PKCS #8 at
// every signature (as virtualwebauthn's Key does) was a sixth of the load
// generator's CPU, which the server then could not use.
func (r *runner) key(p Passkey) (*ecdsa.PrivateKey, error) {
	if k, ok := r.keys.Load(string(p.CredentialID)); ok {
		return k.(*ecdsa.PrivateKey), nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(p.PrivateKey)
	if err != nil {
		return nil, err
	}
	k, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("bench key is a %T, want P-256", parsed)
	}
	r.keys.Store(string(p.CredentialID), k)
	return k, nil
}

// signAssertion is the software authenticator's answer to a discoverable
// sign-in, as virtualwebauthn.CreateAssertionResponse makes it (user
// present and verified, backed up, no counter), with an already parsed
// key.
func signAssertion(rp virtualwebauthn.RelyingParty, key *ecdsa.PrivateKey, p Passkey, challenge []byte) (json.RawMessage, error) {
	clientData, err := json.Marshal(struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		Origin    string `json:"origin"`
	}{"webauthn.get", base64.RawURLEncoding.EncodeToString(challenge), rp.Origin})
	if err != nil {
		return nil, err
	}
	rpIDHash := sha256.Sum256([]byte(rp.ID))
	// UP | UV | BE | BS, and a zero signature counter.
	authData := append(rpIDHash[:], 0x01|0x04|0x08|0x10, 0, 0, 0, 0)
	clientHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(slices.Clone(authData), clientHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	id := b64(p.CredentialID)
	return json.Marshal(map[string]any{
		"type": "public-key", "id": id, "rawId": id,
		"response": map[string]string{
			"clientDataJSON": b64(clientData), "authenticatorData": b64(authData),
			"signature": b64(sig), "userHandle": b64([]byte(p.UserID)),
		},
	})
}

// call makes one request and decodes its JSON answer into out.
func (r *runner) call(ctx context.Context, step, method, path string, body []byte, cookie string, out any) error {
	_, err := r.do(ctx, step, method, path, body, cookie, out)
	return err
}

func (r *runner) do(ctx context.Context, step, method, path string, body []byte, cookie string, out any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	base := r.target
	if len(r.targets) > 0 {
		base = r.targets[(r.turn.Add(1)-1)%uint64(len(r.targets))]
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, &failure{kind: step + ": " + networkKind(err), detail: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &failure{kind: step + ": " + networkKind(err), detail: err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code  string `json:"code"`
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		kind := fmt.Sprintf("%s: HTTP %d", step, resp.StatusCode)
		if e.Code != "" {
			kind += " " + e.Code
		}
		detail := e.Error
		if detail == "" {
			detail = strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		return nil, &failure{kind: kind, detail: detail}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, &failure{kind: step + ": unreadable answer", detail: err.Error()}
	}
	return resp, nil
}

func networkKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "out of local ports"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "network error"
}

// hintFor suggests the fix for the usual set-up mistakes.
func hintFor(kind string) string {
	switch {
	case strings.Contains(kind, "HTTP 429"):
		return "\nThe server is rate-limiting sign-ins per address. For load tests start it with --rate-limit 0 (SESAME_RATE_LIMIT=0)."
	case strings.Contains(kind, "connection refused"):
		return "\nNothing listens there: start `sesame serve` first, or give --target the address it listens on."
	case strings.Contains(kind, "origin_mismatch"), strings.Contains(kind, "rp_id_mismatch"), strings.Contains(kind, "RP ID differs"):
		return "\nThe passkeys were made for another site than the server's: give bench the same --url as `sesame serve`."
	case strings.Contains(kind, "unknown_credential"):
		return "\nThe server does not know the bench passkeys: bench and `sesame serve` must use the same --data-dir (or --database)."
	}
	return ""
}

// Assert signs a sign-in ceremony's options (the "options" of
// /signin/passkey/begin) with p for the given origin and RP ID, as a
// browser's authenticator would: for tests that drive single steps.
func Assert(p Passkey, origin, rpID string, options json.RawMessage) (json.RawMessage, error) {
	r := &runner{rp: virtualwebauthn.RelyingParty{ID: rpID, Origin: origin}}
	return r.assert(p, options)
}
