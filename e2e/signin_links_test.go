package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/store"
)

// autofillPending waits until the sign-in page has a conditional (autofill)
// request pending: started on /signin and not settled.
func autofillPending(t testing.TB, ctx context.Context) {
	t.Helper()
	waitFor(t, ctx, `location.pathname === "/signin" && document.readyState === "complete" && (() => {
		const log = JSON.parse(sessionStorage.getItem("__webauthnLog") || "[]");
		const started = log.filter((e) => e.event === "start" && e.mediation === "conditional" && e.page === "/signin").map((e) => e.call);
		const settled = new Set(log.filter((e) => e.event !== "start").map((e) => e.call));
		return started.some((c) => !settled.has(c));
	})()`)
}

// mouseClick clicks at the centre of the element with a real mouse event
// (Input.dispatchMouseEvent), as a user would.
func mouseClick(t testing.TB, ctx context.Context, selector string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(selector)), chromedp.Click(chromedp.CSS(selector))); err != nil {
		t.Fatalf("clicking %s: %v\npage: %s", selector, err, pageSummary(ctx))
	}
}

// lastAutofill returns the WebAuthn log from the last conditional request
// the sign-in page started on: that request and what followed.
func lastAutofill(t testing.TB, ctx context.Context) []webauthnCall {
	t.Helper()
	calls := webauthnCalls(t, ctx)
	for i := len(calls) - 1; i >= 0; i-- {
		if c := calls[i]; c.Event == "start" && c.Mediation == "conditional" && c.Page == "/signin" {
			return calls[i:]
		}
	}
	t.Fatalf("no autofill request in %v", calls)
	return nil
}

// abortedAutofill reports whether the last autofill request of /signin was
// aborted.
func abortedAutofill(t testing.TB, ctx context.Context) bool {
	t.Helper()
	calls := lastAutofill(t, ctx)
	for _, c := range calls {
		if c.Call == calls[0].Call && c.Event == "abort" {
			return true
		}
	}
	return false
}

// TestBrowserSignInLinks clicks the sign-in page's links and button the
// way a user does (mouse, then keyboard) while the page's autofill request
// is pending, starting from an app's authorization request: the pending
// request is aborted and the link still goes where it says. A new user
// then follows the pass link, adds a passkey and lands in the app.
func TestBrowserSignInLinks(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	// The registration campaign asks for a passkey right after the pass.
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Campaign = methods.Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 1}
	})
	app := startWebApp(t, inst, "intranet")
	carol := inst.createUser(t, "carol", false)
	pass := inst.issueTAP(t, carol, 0, false)
	ctx := newTab(t)
	// Without a passkey on it, the authenticator leaves the autofill
	// request pending only while it does not simulate a touch.
	authn := addAuthenticator(t, ctx, false)
	setPresence(t, ctx, authn, false)

	toSignIn := func() string {
		t.Helper()
		navigate(t, ctx, app.url+"/login")
		waitPage(t, ctx, "/signin")
		autofillPending(t, ctx)
		returnTo := evaluate[string](t, ctx, `new URLSearchParams(location.search).get("return_to") || ""`)
		if !strings.HasPrefix(returnTo, "/oauth2/continue") {
			t.Fatalf("the app's sign-in page returns to %q", returnTo)
		}
		return returnTo
	}
	onTapPage := func(returnTo, username string) {
		t.Helper()
		waitPage(t, ctx, "/signin/tap")
		if got := evaluate[string](t, ctx, `document.querySelector("#username").value`); got != username {
			t.Errorf("the pass form's username is %q, want %q", got, username)
		}
		if got := evaluate[string](t, ctx, `document.querySelector("input[name=return_to]").value`); got != returnTo {
			t.Errorf("the pass form returns to %q, want %q", got, returnTo)
		}
	}

	// The keyboard: Tab from the username field to the pass link, Enter.
	returnTo := toSignIn()
	setValue(t, ctx, "#username", "carol")
	for i := 0; i < 4 && evaluate[string](t, ctx, `document.activeElement ? document.activeElement.id : ""`) != "tap-link"; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
	}
	if id := evaluate[string](t, ctx, `document.activeElement ? document.activeElement.id : ""`); id != "tap-link" {
		t.Fatalf("Tab did not reach the pass link (focus on %q)", id)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	onTapPage(returnTo, "carol")
	if !abortedAutofill(t, ctx) {
		t.Errorf("the pending autofill request was not aborted: %v", webauthnCalls(t, ctx))
	}

	// The mouse, on the same link, then the pass and a first passkey: back
	// in the app with a code.
	returnTo = toSignIn()
	setValue(t, ctx, "#username", "carol")
	mouseClick(t, ctx, "#tap-link")
	onTapPage(returnTo, "carol")
	if !abortedAutofill(t, ctx) {
		t.Errorf("the pending autofill request was not aborted: %v", webauthnCalls(t, ctx))
	}
	setPresence(t, ctx, authn, true)
	setValue(t, ctx, "#pass", pass)
	mouseClick(t, ctx, "#tap-submit")
	waitPage(t, ctx, "/my/add-passkey")
	waitFor(t, ctx, `document.readyState === "complete" && !!document.querySelector("#add-passkey")`)
	mouseClick(t, ctx, "#add-passkey")
	waitFor(t, ctx, `location.origin === `+jsString(app.url)+` && !!document.querySelector("#app-user")`)
	if res := app.lastResult(t); res.err != nil || res.claims.PreferredUsername != "carol" {
		t.Fatalf("the app's sign-in after the pass and a new passkey: %+v", res)
	}
	if creds := inst.credentials(t, carol); len(creds) != 1 {
		t.Fatalf("carol's passkeys: %+v", creds)
	}

	// "Sign in with a passkey" with autofill pending: the new passkey signs
	// carol in to the app (presence off keeps autofill waiting; the button's
	// own ceremony gets the touch).
	clearCookies(t, ctx)
	setPresence(t, ctx, authn, false)
	toSignIn()
	mouseClick(t, ctx, "#passkey-button")
	waitFor(t, ctx, `(JSON.parse(sessionStorage.getItem("__webauthnLog") || "[]")).some((e) => e.event === "start" && e.mediation === "" && e.op === "get")`)
	calls := lastAutofill(t, ctx)
	iAbort, _, okAbort := findCall(calls, "abort", "get", "conditional")
	iModal, _, _ := findCall(calls, "start", "get", "")
	if !okAbort || iAbort > iModal {
		t.Errorf("the pending autofill request was not aborted before the button's ceremony: %v", calls)
	}
	// That ceremony waits for a touch that does not come; the same page
	// without autofill and with the touch signs carol in to the app.
	setPresence(t, ctx, authn, true)
	navigate(t, ctx, evaluate[string](t, ctx, `location.href`)+"&autofill=off")
	waitPage(t, ctx, "/signin")
	mouseClick(t, ctx, "#passkey-button")
	waitFor(t, ctx, `location.origin === `+jsString(app.url)+` && !!document.querySelector("#app-user")`)
	if ev := inst.lastSignIn(t); ev.Result != store.ResultSuccess || ev.Method != "passkey" {
		t.Errorf("the button's sign-in record: %+v", ev)
	}
}
