package ops

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	var seen string
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestIDFrom(r.Context()) }))
	for _, tc := range []struct {
		name, incoming string
		keep           bool
	}{
		{"none", "", false},
		{"plain kept", "abc-123_X.y", true},
		{"spaces replaced", "a b", false},
		{"newline replaced", "a\nb", false},
		{"too long replaced", strings.Repeat("a", 65), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.incoming != "" {
				r.Header.Set(RequestIDHeader, tc.incoming)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Header().Get(RequestIDHeader)
			if got == "" || got != seen {
				t.Fatalf("response ID %q, context ID %q", got, seen)
			}
			if tc.keep != (got == tc.incoming) {
				t.Fatalf("incoming %q, got %q; keep=%v", tc.incoming, got, tc.keep)
			}
		})
	}
}

func TestLogHandlerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	ctx := context.WithValue(context.Background(), ctxKey{}, "req-1")
	log.InfoContext(ctx, "hello")
	log.Info("no request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"request_id":"req-1"`) || strings.Contains(lines[1], "request_id") {
		t.Fatalf("log lines:\n%s", buf.String())
	}
}

func TestInstrumentRoutes(t *testing.T) {
	m := NewMetrics()
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/signin/passkey/finish" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	for _, p := range []string{"/signin/passkey/finish", "/random/scanner/path/1", "/random/scanner/path/2", "/static/x.css"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	for _, want := range []string{
		`sesame_http_request_duration_seconds_count{code="4xx",route="/signin/passkey/finish"} 1`,
		`sesame_http_request_duration_seconds_count{code="2xx",route="other"} 2`,
		`sesame_http_request_duration_seconds_count{code="2xx",route="/static"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "scanner") {
		t.Error("an unknown path became a label")
	}
}

func TestReady(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{{nil, 200}, {errors.New("down"), 503}} {
		w := httptest.NewRecorder()
		Ready(func(context.Context) error { return tc.err }).ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		if w.Code != tc.want {
			t.Errorf("ping %v: %d, want %d", tc.err, w.Code, tc.want)
		}
	}
}

func TestLogHandlerQuietsRouteAnnouncements(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil)))
	log.Info("registered route", "endpoint", "/oauth2/token")
	log.Info("sesame is serving")
	if strings.Contains(buf.String(), "registered route") || !strings.Contains(buf.String(), "sesame is serving") {
		t.Fatalf("log:\n%s", buf.String())
	}
}
