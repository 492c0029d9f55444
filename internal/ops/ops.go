// Package ops is what an operator watches: readiness, Prometheus metrics,
// and request IDs that tie a log line to the request that caused it.
package ops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type ctxKey struct{}

// RequestIDHeader carries the request ID in and out.
const RequestIDHeader = "X-Request-Id"

// RequestID gives every request an ID: the one a trusted proxy sent when it
// looks like an ID (short, plain characters), a new random one otherwise.
// It is echoed in the response and added to every log line written with
// the request's context.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !plainID(id) {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// RequestIDFrom returns the request ID in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// LogHandler adds request_id to every record logged with a request's
// context.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	// zitadel/oidc announces each of its routes at Info through the default
	// logger at start-up; that is debugging detail, not news for the
	// operator.
	if r.Level == slog.LevelInfo && r.Message == "registered route" {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	if id := RequestIDFrom(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(a []slog.Attr) slog.Handler { return logHandler{h.Handler.WithAttrs(a)} }
func (h logHandler) WithGroup(n string) slog.Handler      { return logHandler{h.Handler.WithGroup(n)} }

// Metrics are Sesame's Prometheus collectors, on a registry of their own
// (so tests can build many Apps in one process).
type Metrics struct {
	Registry *prometheus.Registry
	SignIns  *prometheus.CounterVec   // method, result, reason
	Tokens   *prometheus.CounterVec   // grant, result
	Policy   *prometheus.CounterVec   // policy, outcome
	Latency  *prometheus.HistogramVec // route, status class
}

// NewMetrics registers the collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		SignIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_signins_total", Help: "Sign-in attempts by method, result and failure reason.",
		}, []string{"method", "result", "reason"}),
		Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_tokens_total", Help: "OpenID Connect token requests by grant type and result.",
		}, []string{"grant", "result"}),
		Policy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesame_policy_outcomes_total", Help: "Access policy outcomes.",
		}, []string{"policy", "outcome"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sesame_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route; the passkey routes are the ceremonies.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "code"}),
	}
	m.Registry.MustRegister(m.SignIns, m.Tokens, m.Policy, m.Latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// DBStats is what a store reports about its connection pool.
type DBStats struct{ Open, InUse, Idle, Max int }

// RegisterDB exports a store's pool figures when it can report them.
func (m *Metrics) RegisterDB(stats func() DBStats) {
	gauge := func(name, help string, pick func(DBStats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return float64(pick(stats())) })
	}
	m.Registry.MustRegister(
		gauge("sesame_db_connections_open", "Open database connections.", func(s DBStats) int { return s.Open }),
		gauge("sesame_db_connections_in_use", "Database connections in use.", func(s DBStats) int { return s.InUse }),
		gauge("sesame_db_connections_idle", "Idle database connections.", func(s DBStats) int { return s.Idle }),
		gauge("sesame_db_connections_max", "Maximum database connections.", func(s DBStats) int { return s.Max }),
	)
}

// RegisterWriteBatches exports how a store's group commit is doing: how
// many write transactions committed how many writes (sqlite.Store). Their
// ratio is the average batch; near 1 means writes do not queue.
func (m *Metrics) RegisterWriteBatches(stats func() (transactions, writes int64)) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sesame_db_write_transactions_total",
			Help: "Write transactions committed by the group commit."},
			func() float64 { t, _ := stats(); return float64(t) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sesame_db_batched_writes_total",
			Help: "Writes committed by the group commit (several may share a transaction)."},
			func() float64 { _, w := stats(); return float64(w) }),
	)
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Routes names the paths whose latency is tracked on their own; every other
// path is "other", so a scanner cannot blow up the label set.
var Routes = []string{
	"/signin/passkey/begin", "/signin/passkey/finish", "/signin/tap",
	"/my/passkeys/register/begin", "/my/passkeys/register/finish",
	"/oauth/token", "/oauth/authorize", "/oauth/userinfo", "/healthz", "/readyz",
}

// Instrument records each request's latency by route.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	known := map[string]bool{}
	for _, r := range Routes {
		known[r] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := "other"
		switch {
		case known[r.URL.Path]:
			route = r.URL.Path
		case strings.HasPrefix(r.URL.Path, "/static/"):
			route = "/static"
		case strings.HasPrefix(r.URL.Path, "/admin"):
			route = "/admin"
		case strings.HasPrefix(r.URL.Path, "/my"):
			route = "/my"
		}
		m.Latency.WithLabelValues(route, strconv.Itoa(sw.status/100)+"xx").Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Ready answers /readyz: 200 when the database answers (and so the
// migrations Sesame ran at start are in place), 503 otherwise, so a load
// balancer takes the instance out of rotation instead of sending it
// requests that would fail.
func Ready(ping func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := ping(ctx); err != nil {
			slog.WarnContext(r.Context(), "not ready: database unreachable", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("database unreachable\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
}
