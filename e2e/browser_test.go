package e2e

// The browser half of the harness: one Chromium per test binary (started
// on first use, stopped by TestMain), one tab in its own browser context
// (own cookies) per test, the DevTools WebAuthn virtual authenticator, and
// small page helpers that survive navigations.
//
// Typical use:
//
//	ctx := newTab(t)                            // skips or fails without Chromium
//	auth := addAuthenticator(t, ctx, true)      // a synced-passkey provider
//	navigate(t, ctx, inst.URL+"/signin/tap")
//	setValue(t, ctx, "#username", "alice")
//	click(t, ctx, "#tap-submit")
//	waitFor(t, ctx, `location.pathname === "/my"`)

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// tabTimeout bounds each browser test: generous, so a slow CI machine
// passes, and bounded, so a hung ceremony fails instead of stalling.
const tabTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

// shared is the one browser of this test binary.
var shared struct {
	once    sync.Once
	ctx     context.Context // the browser's first tab; parent of every test's tab
	stop    func()
	dataDir string
	skip    string // why there is no browser, when there is none
	err     error
}

// chromePath finds the browser: SESAME_TEST_CHROME, else Chromium or Chrome
// on PATH.
func chromePath() (string, error) {
	if p := os.Getenv("SESAME_TEST_CHROME"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("SESAME_TEST_CHROME=%s is not an executable: %v", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium: set SESAME_TEST_CHROME or install chromium (apt-get install -y chromium); ./scripts/test.sh does both")
}

func startBrowser() {
	path, err := chromePath()
	if err != nil {
		shared.skip = err.Error()
		return
	}
	dir, err := os.MkdirTemp("", "sesame-e2e-chrome-")
	if err != nil {
		shared.err = err
		return
	}
	shared.dataDir = dir
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in containers; the pages are our own
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(dir),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Run starts the browser and binds it to ctx, which must have
	// no deadline: every test's tab lives under it.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		allocCancel()
		shared.err = fmt.Errorf("starting %s: %w", path, err)
		return
	}
	shared.ctx = ctx
	shared.stop = func() {
		cancel()
		allocCancel()
	}
}

func stopBrowser() {
	if shared.stop != nil {
		shared.stop()
	}
	if shared.dataDir != "" {
		os.RemoveAll(shared.dataDir)
	}
}

// requireBrowser skips the test when there is no browser, or fails it when
// CI=true (where nothing may be skipped).
func requireBrowser(t testing.TB) {
	t.Helper()
	shared.once.Do(startBrowser)
	if shared.err != nil {
		t.Fatalf("browser: %v", shared.err)
	}
	if shared.skip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s", shared.skip)
		}
		t.Skipf("skipping a browser test: %s", shared.skip)
	}
}

// newTab opens a tab in a fresh browser context (its own cookies and
// storage), with the WebAuthn domain enabled and a recorder of WebAuthn
// calls installed (see webauthnCalls). The returned context has the test's
// deadline; the tab closes when the test ends.
func newTab(t testing.TB) context.Context {
	t.Helper()
	requireBrowser(t)
	tabCtx, closeTab := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tabCtx); err != nil { // opens the tab
		closeTab()
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, tabTimeout)
	t.Cleanup(func() {
		cancel()
		closeTab()
	})
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recorderJS}); err != nil {
		t.Fatalf("installing the WebAuthn recorder: %v", err)
	}
	return ctx
}

// recorderJS wraps navigator.credentials.get and .create so a test can see
// which ceremonies the pages started, with which mediation, and in which
// order they were aborted and settled. The log is kept in sessionStorage,
// so it survives the navigations a sign-in makes (it is per tab and per
// origin). It changes nothing else.
const recorderJS = `(() => {
  if (!navigator.credentials) return;
  const key = "__webauthnLog";
  const push = (e) => {
    let log = [];
    try { log = JSON.parse(sessionStorage.getItem(key) || "[]"); } catch (_) {}
    e.page = location.pathname;
    log.push(e);
    sessionStorage.setItem(key, JSON.stringify(log));
  };
  let n = 0;
  const pageID = Math.random().toString(36).slice(2);
  for (const op of ["get", "create"]) {
    const orig = navigator.credentials[op].bind(navigator.credentials);
    navigator.credentials[op] = function (options) {
      const mediation = (options && options.mediation) || "";
      const call = { op, mediation, call: pageID + ":" + (n++) };
      push({ event: "start", ...call });
      if (options && options.signal) {
        options.signal.addEventListener("abort", () => push({ event: "abort", ...call }));
      }
      const p = orig(options);
      p.then(
        () => push({ event: "resolve", ...call }),
        (e) => push({ event: "reject", ...call, error: (e && e.name) || String(e) }),
      );
      return p;
    };
  }
})();`

// webauthnCall is one entry of the recorder's log.
type webauthnCall struct {
	Event     string `json:"event"` // start, abort, resolve, reject
	Op        string `json:"op"`    // get, create
	Mediation string `json:"mediation"`
	Call      string `json:"call"` // identifies one call across its events
	Page      string `json:"page"` // the path of the page that made it
	Error     string `json:"error"`
}

func (c webauthnCall) String() string {
	s := c.Event + " " + c.Op
	if c.Mediation != "" {
		s += "(" + c.Mediation + ")"
	}
	s += " #" + c.Call + " on " + c.Page
	if c.Error != "" {
		s += ": " + c.Error
	}
	return s
}

// webauthnCalls returns what the pages of this tab's current origin did
// with WebAuthn so far.
func webauthnCalls(t testing.TB, ctx context.Context) []webauthnCall {
	t.Helper()
	s := evaluate[string](t, ctx, `sessionStorage.getItem("__webauthnLog") || "[]"`)
	var calls []webauthnCall
	if err := json.Unmarshal([]byte(s), &calls); err != nil {
		t.Fatalf("decoding the WebAuthn log: %v", err)
	}
	return calls
}

// clearWebauthnCalls empties the log.
func clearWebauthnCalls(t testing.TB, ctx context.Context) {
	t.Helper()
	evaluate[chromedp.Void](t, ctx, `sessionStorage.removeItem("__webauthnLog")`)
}

// addAuthenticator adds a virtual platform authenticator to the tab: CTAP2,
// internal transport, resident keys, user verification that succeeds, and
// presence confirmed automatically. synced makes its passkeys backup
// eligible and backed up (BE and BS), like a password manager's; otherwise
// they are device-bound.
func addAuthenticator(t testing.TB, ctx context.Context, synced bool) webauthn.AuthenticatorID {
	t.Helper()
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
			DefaultBackupEligibility:    synced,
			DefaultBackupState:          synced,
		},
	})
	if err != nil {
		t.Fatalf("adding a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// removeAuthenticator takes an authenticator (and its passkeys) away.
func removeAuthenticator(t testing.TB, ctx context.Context, id webauthn.AuthenticatorID) {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: id}); err != nil {
		t.Fatalf("removing the virtual authenticator: %v", err)
	}
}

// authenticatorCredentials lists the passkeys an authenticator holds.
func authenticatorCredentials(t testing.TB, ctx context.Context, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatalf("listing the authenticator's passkeys: %v", err)
	}
	return res.Credentials
}

// ---------------------------------------------------------------- page helpers

// navigate loads url and waits for it to load.
func navigate(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigating to %s: %v", url, err)
	}
}

// evaluate runs a JavaScript expression in the page and returns its value.
func evaluate[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is true in the current
// page, across navigations (a page that is being replaced just counts as
// "not yet"). On timeout it fails with what the page showed.
func waitFor(t testing.TB, ctx context.Context, expr string) {
	t.Helper()
	var lastErr error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+expr+`); } catch (e) { return false; } })()`))
		if err == nil && ok {
			return
		}
		lastErr = err
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)\npage: %s", expr, ctx.Err(), lastErr, pageSummary(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitPage waits until the page at path (and its scripts) has loaded.
func waitPage(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	waitFor(t, ctx, fmt.Sprintf(`location.pathname === %q && document.readyState === "complete"`, path))
}

// pageSummary describes the page for a failure message (best effort, with
// its own short deadline since ctx may have expired).
func pageSummary(ctx context.Context) string {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return truncateForLog(s, 2000)
}

// click clicks the first element matching the CSS selector, with the mouse,
// once it is visible.
func click(t testing.TB, ctx context.Context, selector string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector))); err != nil {
		t.Fatalf("clicking %s: %v\npage: %s", selector, err, pageSummary(ctx))
	}
}

// setValue types into a field, replacing what it held.
func setValue(t testing.TB, ctx context.Context, selector, value string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(selector)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, selector)),
		chromedp.SendKeys(chromedp.CSS(selector), value),
	); err != nil {
		t.Fatalf("typing into %s: %v\npage: %s", selector, err, pageSummary(ctx))
	}
}

// text returns the text of the first element matching the selector ("" if
// there is none).
func text(t testing.TB, ctx context.Context, selector string) string {
	t.Helper()
	return evaluate[string](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent.trim() : ""; })()`, selector))
}

// exists reports whether an element matches the selector.
func exists(t testing.TB, ctx context.Context, selector string) bool {
	t.Helper()
	return evaluate[bool](t, ctx, fmt.Sprintf(`!!document.querySelector(%q)`, selector))
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// visibleErrorText waits for #error to show a message and returns it. (The
// text is read in the same evaluation that sees it, since a page may clear
// it again when it retries.)
func visibleErrorText(t testing.TB, ctx context.Context) string {
	t.Helper()
	return waitString(t, ctx, `(() => { const e = document.querySelector("#error"); return e && !e.hidden ? e.textContent.trim() : ""; })()`)
}

// waitString waits until the JavaScript expression gives a non-empty
// string, and returns it.
func waitString(t testing.TB, ctx context.Context, expr string) string {
	t.Helper()
	var lastErr error
	for {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { try { return String((`+expr+`) || ""); } catch (e) { return ""; } })()`))
		if err == nil && s != "" {
			return s
		}
		lastErr = err
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)\npage: %s", expr, ctx.Err(), lastErr, pageSummary(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
