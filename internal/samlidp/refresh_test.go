package samlidp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// spServer is a service provider publishing its metadata over TLS; what
// it serves can be changed between fetches.
type spServer struct {
	*httptest.Server
	mu      sync.Mutex
	status  int
	body    string
	fetches atomic.Int32
}

func newSPServer(t *testing.T, body string) *spServer {
	sp := &spServer{status: http.StatusOK, body: body}
	sp.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sp.fetches.Add(1)
		sp.mu.Lock()
		defer sp.mu.Unlock()
		w.WriteHeader(sp.status)
		w.Write([]byte(sp.body))
	}))
	t.Cleanup(sp.Close)
	return sp
}

func (sp *spServer) serve(status int, body string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.status, sp.body = status, body
}

// spCert makes a self-signed certificate as an SP puts in its metadata.
func spCert(t *testing.T, cn string) (b64, fingerprint string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(0, 0).Add(100 * 365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(der), hex.EncodeToString(sum[:])
}

func spMetadata(entityID, acs, cert string) string {
	return fmt.Sprintf(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="%s">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true">
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>%s</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%s" index="1"/>
  </SPSSODescriptor>
</EntityDescriptor>`, entityID, cert, acs)
}

// refreshEnv is an IdP over a real SQLite store with a clock the test moves.
type refreshEnv struct {
	t   *testing.T
	st  *sqlite.Store
	idp *IdP
	now time.Time
}

func newRefreshEnv(t *testing.T, client *http.Client) *refreshEnv {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sesame.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &refreshEnv{t: t, st: st, now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	e.idp = e.instance(client)
	return e
}

// instance is another Sesame instance on the same database and clock.
func (e *refreshEnv) instance(client *http.Client) *IdP {
	p, err := New(Config{BaseURL: "https://login.example.com", Store: e.st, Apps: e.st, HTTPClient: client,
		KeyEncryptionKey: bytes.Repeat([]byte{1}, 32), PairwiseKey: bytes.Repeat([]byte{2}, 32),
		Now: func() time.Time { return e.now }, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *refreshEnv) stored(name string) store.SAMLApp {
	e.t.Helper()
	a, err := e.st.GetSAMLApp(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// lastRefresh is the newest saml_app.refresh audit event's actor and detail.
func (e *refreshEnv) lastRefresh() (string, map[string]any) {
	e.t.Helper()
	evs, err := e.st.ListAudit(context.Background(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Action == "saml_app.refresh" {
			var d map[string]any
			if err := json.Unmarshal([]byte(ev.Detail), &d); err != nil {
				e.t.Fatalf("audit detail %q: %v", ev.Detail, err)
			}
			return ev.Actor, d
		}
	}
	e.t.Fatal("no saml_app.refresh in the audit log")
	return "", nil
}

func (e *refreshEnv) refreshCount() int {
	evs, _ := e.st.ListAudit(context.Background(), 1000)
	n := 0
	for _, ev := range evs {
		if ev.Action == "saml_app.refresh" {
			n++
		}
	}
	return n
}

const wikiEntity = "https://wiki.example.com/saml"

func TestRefreshApp(t *testing.T) {
	ctx := context.Background()
	cert1, fp1 := spCert(t, "wiki 2025")
	cert2, fp2 := spCert(t, "wiki 2026")
	v1 := spMetadata(wikiEntity, "https://wiki.example.com/acs", cert1)
	v2 := spMetadata(wikiEntity, "https://wiki.example.com/saml/acs", cert2)
	sp := newSPServer(t, v1)
	e := newRefreshEnv(t, sp.Client())

	added, err := e.idp.AddApp(ctx, audit.CLI, NewApp{Name: "wiki", MetadataURL: sp.URL + "/metadata"})
	if err != nil {
		t.Fatal(err)
	}
	registered := e.now
	if !added.MetadataFetchedAt.Equal(registered) || !added.MetadataCheckedAt.Equal(registered) {
		t.Errorf("registration by URL: fetched at %v, checked at %v; want %v", added.MetadataFetchedAt, added.MetadataCheckedAt, registered)
	}

	// The SP rotates its certificate and moves its ACS.
	sp.serve(http.StatusOK, v2)
	e.now = e.now.Add(time.Hour)
	r, err := e.idp.RefreshApp(ctx, audit.CLI, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Changed || len(r.ACSURLs) != 1 || r.ACSURLs[0] != "https://wiki.example.com/saml/acs" || !r.MetadataFetchedAt.Equal(e.now) || !r.UpdatedAt.Equal(e.now) {
		t.Errorf("refresh of changed metadata = %+v", r)
	}
	if got := e.stored("wiki"); string(got.Metadata) != v2 || !got.MetadataFetchedAt.Equal(e.now) || !got.CreatedAt.Equal(registered) {
		t.Errorf("stored after change: fetched %v, created %v, metadata\n%s", got.MetadataFetchedAt, got.CreatedAt, got.Metadata)
	}
	if got, _ := e.idp.App(ctx, "wiki"); !got.MetadataFetchedAt.Equal(e.now) {
		t.Errorf("App shows fetched at %v, want %v", got.MetadataFetchedAt, e.now)
	}
	actor, d := e.lastRefresh()
	if actor != "cli" || d["outcome"] != "changed" || fmt.Sprint(d["acs_after"]) != "[https://wiki.example.com/saml/acs]" ||
		fmt.Sprint(d["certificates_before"]) != "["+fp1+"]" || fmt.Sprint(d["certificates_after"]) != "["+fp2+"]" {
		t.Errorf("audit of a change: %s %v", actor, d)
	}
	changedAt := e.now

	// The same metadata again: only the fetch time moves.
	e.now = e.now.Add(time.Hour)
	r, err = e.idp.RefreshApp(ctx, audit.CLI, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	if r.Changed || !r.MetadataFetchedAt.Equal(e.now) || !r.UpdatedAt.Equal(changedAt) {
		t.Errorf("refresh of unchanged metadata = %+v", r)
	}
	if _, d := e.lastRefresh(); d["outcome"] != "unchanged" {
		t.Errorf("audit of no change: %v", d)
	}
	lastGood := e.stored("wiki")

	// Every failure keeps the last good metadata and is in the audit log
	// with its reason.
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   string
	}{
		{"server error", http.StatusInternalServerError, "oops", ErrFetch.Code},
		{"not metadata", http.StatusOK, "<EntityDescriptor", ErrMetadata.Code},
		{"plain http ACS", http.StatusOK, spMetadata(wikiEntity, "http://wiki.example.com/acs", cert2), ErrMetadata.Code},
		{"another entity", http.StatusOK, spMetadata("https://evil.example.com/saml", "https://evil.example.com/acs", cert2), ErrEntityChanged.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp.serve(tc.status, tc.body)
			e.now = e.now.Add(time.Hour)
			before := e.refreshCount()
			_, err := e.idp.RefreshApp(ctx, audit.CLI, "wiki")
			if problem.As(err).Code != tc.code {
				t.Fatalf("refresh: %v, want %s", err, tc.code)
			}
			got := e.stored("wiki")
			if string(got.Metadata) != v2 || got.EntityID != wikiEntity || !got.UpdatedAt.Equal(lastGood.UpdatedAt) ||
				!got.MetadataFetchedAt.Equal(lastGood.MetadataFetchedAt) {
				t.Errorf("a failed refresh changed the app: %+v", got)
			}
			if !got.MetadataCheckedAt.Equal(e.now) {
				t.Errorf("the failed attempt is not recorded: checked at %v, want %v", got.MetadataCheckedAt, e.now)
			}
			if a, _ := e.idp.App(ctx, "wiki"); !a.MetadataCheckedAt.After(a.MetadataFetchedAt) {
				t.Errorf("App does not show the failed attempt: %+v", a)
			}
			if e.refreshCount() != before+1 {
				t.Fatal("the failure is not in the audit log")
			}
			if _, d := e.lastRefresh(); d["outcome"] != "failed" || !strings.HasPrefix(fmt.Sprint(d["reason"]), tc.code+": ") {
				t.Errorf("audit of a failure: %v", d)
			}
		})
	}
	// An SSO for the app still finds its last good ACS.
	if a, err := e.st.GetSAMLAppByEntityID(ctx, wikiEntity); err != nil || a.Name != "wiki" {
		t.Errorf("after refused refreshes the entity is %+v, %v", a, err)
	}
}

func TestRefreshAppRefusals(t *testing.T) {
	ctx := context.Background()
	e := newRefreshEnv(t, nil)
	if _, err := e.idp.AddApp(ctx, audit.CLI, NewApp{Name: "file", Metadata: []byte(goodMetadata)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.idp.AddApp(ctx, audit.CLI, NewApp{Name: "built", ACSURL: "https://crm.example.com/acs", EntityID: "urn:crm"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"file", "built"} {
		if _, err := e.idp.RefreshApp(ctx, audit.CLI, name); problem.As(err).Code != ErrNoMetadataURL.Code {
			t.Errorf("refresh of %s: %v, want %s", name, err, ErrNoMetadataURL.Code)
		}
		if a := e.stored(name); !a.MetadataFetchedAt.IsZero() || !a.MetadataCheckedAt.IsZero() {
			t.Errorf("%s (no URL) has fetch times %v / %v", name, a.MetadataFetchedAt, a.MetadataCheckedAt)
		}
	}
	if _, err := e.idp.RefreshApp(ctx, audit.CLI, "ghost"); problem.As(err).Code != ErrUnknownApp.Code {
		t.Errorf("refresh of an unknown app: %v", err)
	}
	if evs, _ := e.st.ListAudit(ctx, 100); evs[0].Action == "saml_app.refresh" {
		t.Errorf("a refused request was audited as a refresh: %+v", evs[0])
	}
}

// The periodic refresh fetches each URL app once per RefreshInterval, and
// of several instances only one fetches.
func TestRefreshDue(t *testing.T) {
	ctx := context.Background()
	cert1, _ := spCert(t, "wiki 2025")
	cert2, _ := spCert(t, "wiki 2026")
	sp := newSPServer(t, spMetadata(wikiEntity, "https://wiki.example.com/acs", cert1))
	e := newRefreshEnv(t, sp.Client())
	if _, err := e.idp.AddApp(ctx, audit.CLI, NewApp{Name: "wiki", MetadataURL: sp.URL}); err != nil {
		t.Fatal(err)
	}
	other := strings.ReplaceAll(goodMetadata, "wiki.example.com", "files.example.com")
	if _, err := e.idp.AddApp(ctx, audit.CLI, NewApp{Name: "file", Metadata: []byte(other)}); err != nil {
		t.Fatal(err)
	}
	if sp.fetches.Load() != 1 {
		t.Fatalf("registration fetched %d times", sp.fetches.Load())
	}
	e.now = e.now.Add(RefreshInterval - time.Minute)
	if n := e.idp.RefreshDue(ctx); n != 0 || sp.fetches.Load() != 1 {
		t.Errorf("before the interval: %d refreshes, %d fetches", n, sp.fetches.Load())
	}

	sp.serve(http.StatusOK, spMetadata(wikiEntity, "https://wiki.example.com/acs", cert2))
	e.now = e.now.Add(2 * time.Minute)
	others := []*IdP{e.idp, e.instance(sp.Client()), e.instance(sp.Client())}
	var tried atomic.Int32
	var wg sync.WaitGroup
	for _, p := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tried.Add(int32(p.RefreshDue(ctx)))
		}()
	}
	wg.Wait()
	if tried.Load() != 1 || sp.fetches.Load() != 2 {
		t.Errorf("three instances after the interval: %d refreshes, %d fetches; want 1 and 2", tried.Load(), sp.fetches.Load())
	}
	got := e.stored("wiki")
	if !strings.Contains(string(got.Metadata), cert2) || !got.MetadataFetchedAt.Equal(e.now) {
		t.Errorf("the periodic refresh did not store the new certificate (fetched at %v)", got.MetadataFetchedAt)
	}
	if actor, d := e.lastRefresh(); actor != "system" || d["outcome"] != "changed" {
		t.Errorf("audit of the periodic refresh: %s %v", actor, d)
	}

	// A failed periodic refresh is tried again an interval later, not at
	// every look, and keeps the metadata.
	sp.serve(http.StatusServiceUnavailable, "")
	e.now = e.now.Add(RefreshInterval + time.Minute)
	if n := e.idp.RefreshDue(ctx); n != 1 {
		t.Errorf("due again: %d refreshes", n)
	}
	e.now = e.now.Add(time.Hour)
	if n := e.idp.RefreshDue(ctx); n != 0 || sp.fetches.Load() != 3 {
		t.Errorf("an hour after a failure: %d refreshes, %d fetches", n, sp.fetches.Load())
	}
	if a := e.stored("wiki"); !strings.Contains(string(a.Metadata), cert2) || !a.MetadataCheckedAt.After(a.MetadataFetchedAt) {
		t.Errorf("after a failed periodic refresh: checked %v, fetched %v", a.MetadataCheckedAt, a.MetadataFetchedAt)
	}
	if a := e.stored("file"); !a.MetadataCheckedAt.IsZero() {
		t.Error("an app without a metadata URL was checked")
	}
}

// RunMetadataRefresh stops with its context.
func TestRunMetadataRefreshStops(t *testing.T) {
	e := newRefreshEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		e.idp.RunMetadataRefresh(ctx, time.Millisecond)
		close(done)
	}()
	time.Sleep(5 * time.Millisecond)
	cancel()
	<-done
}

// TestMetadataRedirects: a metadata URL that redirects to a plain http://
// address elsewhere, or round in circles, is refused before the second
// address is asked, and the app keeps its metadata.
func TestMetadataRedirects(t *testing.T) {
	ctx := context.Background()
	cert, _ := spCert(t, "wiki")
	good := spMetadata(wikiEntity, "https://wiki.example.com/saml/acs", cert)
	var mode atomic.Value
	mode.Store("ok")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load().(string) {
		case "plain":
			http.Redirect(w, r, "http://wiki.example.com/saml/metadata", http.StatusFound)
		case "loop":
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		default:
			io.WriteString(w, good)
		}
	}))
	defer srv.Close()
	e := newRefreshEnv(t, srv.Client())
	if _, err := e.idp.AddApp(ctx, audit.CLI, NewApp{Name: "wiki", MetadataURL: srv.URL + "/saml/metadata"}); err != nil {
		t.Fatal(err)
	}
	before := e.stored("wiki").Metadata
	for _, c := range []struct{ mode, want string }{
		{"plain", "not an https:// URL"},
		{"loop", "redirected 5 times"},
	} {
		mode.Store(c.mode)
		e.now = e.now.Add(time.Hour)
		_, err := e.idp.RefreshApp(ctx, audit.CLI, "wiki")
		if err == nil || !strings.Contains(problem.As(err).Detail, c.want) {
			t.Errorf("%s redirect: %v, want a refusal naming %q", c.mode, err, c.want)
		}
		if got := e.stored("wiki").Metadata; !bytes.Equal(got, before) {
			t.Errorf("%s redirect changed the stored metadata", c.mode)
		}
	}
}

// refreshAfterRead is the real store with one refresh landing right after
// the first read of an app: the moment a strength change that read the
// whole app and wrote it back would undo it.
type refreshAfterRead struct {
	store.SAMLStore
	refresh func()
	once    sync.Once
}

func (s *refreshAfterRead) GetSAMLApp(ctx context.Context, name string) (store.SAMLApp, error) {
	a, err := s.SAMLStore.GetSAMLApp(ctx, name)
	s.once.Do(s.refresh)
	return a, err
}

func TestSetStrengthKeepsConcurrentRefresh(t *testing.T) {
	ctx := context.Background()
	cert, _ := spCert(t, "wiki")
	v1 := spMetadata(wikiEntity, "https://wiki.example.com/acs", cert)
	v2 := spMetadata(wikiEntity, "https://wiki.example.com/saml/acs", cert)
	sp := newSPServer(t, v1)
	e := newRefreshEnv(t, sp.Client())
	if _, err := e.idp.AddApp(ctx, audit.CLI, NewApp{Name: "wiki", MetadataURL: sp.URL + "/metadata"}); err != nil {
		t.Fatal(err)
	}
	sp.serve(http.StatusOK, v2)
	e.now = e.now.Add(time.Hour)
	refreshed := e.now

	// Another instance refreshes the app while this one changes its strength.
	other := e.instance(sp.Client())
	racing := &refreshAfterRead{SAMLStore: e.st, refresh: func() {
		defer func() { e.now = refreshed.Add(time.Minute) }()
		if r, err := other.RefreshApp(ctx, audit.Actor("system"), "wiki"); err != nil || !r.Changed {
			t.Errorf("the concurrent refresh: %+v, %v", r, err)
		}
	}}
	p, err := New(Config{BaseURL: "https://login.example.com", Store: e.st, Apps: racing, HTTPClient: sp.Client(),
		KeyEncryptionKey: bytes.Repeat([]byte{1}, 32), PairwiseKey: bytes.Repeat([]byte{2}, 32),
		Now: func() time.Time { return e.now }, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.SetRequiredStrength(ctx, audit.Actor("root"), "wiki", "phishing-resistant-mfa")
	if err != nil {
		t.Fatal(err)
	}
	stored := e.stored("wiki")
	if string(stored.Metadata) != v2 || !stored.MetadataFetchedAt.Equal(refreshed) || stored.RequiredACR == "" || !stored.UpdatedAt.Equal(e.now) {
		t.Errorf("after a strength change during a refresh: acr %q, updated %v, fetched %v (want %v), metadata\n%s",
			stored.RequiredACR, stored.UpdatedAt, stored.MetadataFetchedAt, refreshed, stored.Metadata)
	}
	// The answer is the app as stored, the refreshed metadata included.
	if got.RequiredACR != stored.RequiredACR || len(got.ACSURLs) != 1 || got.ACSURLs[0] != "https://wiki.example.com/saml/acs" {
		t.Errorf("SetRequiredStrength answered %+v", got)
	}
	evs, err := e.st.ListAudit(ctx, 10)
	if err != nil || len(evs) == 0 || evs[0].Action != "saml_app.set_strength" || evs[0].Actor != "root" ||
		!strings.Contains(evs[0].Detail, `"before":""`) || !strings.Contains(evs[0].Detail, stored.RequiredACR) {
		t.Errorf("newest audit event: %+v, %v", evs, err)
	}
	if _, err := e.idp.SetRequiredStrength(ctx, audit.CLI, "ghost", "mfa"); problem.As(err).Code != ErrUnknownApp.Code {
		t.Errorf("strength of an unknown app: %v", err)
	}
}
