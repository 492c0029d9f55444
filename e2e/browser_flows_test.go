package e2e

// End to end in Chromium with the DevTools virtual authenticator: the
// pages, their scripts and the browser's own WebAuthn implementation
// against a real Sesame.
//
// About autofill (conditional mediation) in headless Chromium: with a
// virtual authenticator present, Chromium answers a conditional request by
// itself with the first matching passkey, standing in for the user picking
// it from the username field's autofill list, so loading /signin signs in
// at once. That is what the autofill scenarios check. (When a refusal makes
// the page start autofill again, it would be answered again at once, so
// tests turn presence simulation off after the first answer.)
//
// With presence simulation off, a conditional request waits for a touch
// that never comes: that is how the button is tested with an autofill
// request pending. The page must abort that request before it starts the
// button's ceremony, which the WebAuthn recorder (recorderJS) shows in
// order. Requests that wait this way do not resume when presence comes
// back, so the button's successful sign-in is checked separately, on
// /signin?autofill=off with presence on.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// ---------------------------------------------------------------- flow helpers

// browserSignInWithTAP signs in on the pass page of base and waits for My
// security info.
func browserSignInWithTAP(t testing.TB, ctx context.Context, base, username, pass string) {
	t.Helper()
	navigate(t, ctx, base+"/signin/tap")
	setValue(t, ctx, "#username", username)
	setValue(t, ctx, "#pass", pass)
	click(t, ctx, "#tap-submit")
	waitPage(t, ctx, "/my")
}

// browserAddPasskey registers a passkey from My security info (name may be
// empty) and waits for the page to confirm it.
func browserAddPasskey(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	waitFor(t, ctx, `document.readyState === "complete" && !!document.querySelector("#add-passkey")`)
	if name != "" {
		setValue(t, ctx, "#new-passkey-name", name)
	}
	click(t, ctx, "#add-passkey")
	waitFor(t, ctx, `location.pathname === "/my" && location.search.includes("notice=added") && document.readyState === "complete"`)
}

// setPresence turns the authenticator's automatic user-presence
// simulation on or off.
func setPresence(t testing.TB, ctx context.Context, id webauthn.AuthenticatorID, on bool) {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.SetAutomaticPresenceSimulation, webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: id, Enabled: on}); err != nil {
		t.Fatalf("setting presence simulation: %v", err)
	}
}

// passkeyRow is one passkey as /my shows it.
type passkeyRow struct {
	ID, Name, Model, Type string
}

// passkeyRows reads the passkey list of /my (or an admin's user page).
func passkeyRows(t testing.TB, ctx context.Context) []passkeyRow {
	t.Helper()
	s := evaluate[string](t, ctx, `JSON.stringify([...document.querySelectorAll(".passkey[data-id]")].map((e) => {
		const q = (s) => { const x = e.querySelector(s); return x ? x.textContent.trim() : ""; };
		return { ID: e.dataset.id, Name: q(".passkey-name"), Model: q(".passkey-model"), Type: q(".passkey-type") };
	}))`)
	var rows []passkeyRow
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// waitRows waits until the page lists n passkeys and returns them.
func waitRows(t testing.TB, ctx context.Context, n int) []passkeyRow {
	t.Helper()
	waitFor(t, ctx, fmt.Sprintf(`document.readyState === "complete" && document.querySelectorAll(".passkey[data-id]").length === %d`, n))
	return passkeyRows(t, ctx)
}

// findCall finds the first event of a kind in the WebAuthn log.
func findCall(calls []webauthnCall, event, op, mediation string) (int, webauthnCall, bool) {
	for i, c := range calls {
		if c.Event == event && c.Op == op && c.Mediation == mediation {
			return i, c, true
		}
	}
	return -1, webauthnCall{}, false
}

// ---------------------------------------------------------------- the journey

// TestBrowserPasskeyJourney is a user's life with passkeys in the browser:
// a pass, a first (synced) passkey, autofill sign-in, button sign-in with
// the pending autofill aborted first, rename, a second (device-bound)
// passkey, and deleting both, the last one only after a confirmation.
func TestBrowserPasskeyJourney(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	alice := inst.createUser(t, "alice", false)
	pass := inst.issueTAP(t, alice, 0, false)
	ctx := newTab(t)
	syncedAuth := addAuthenticator(t, ctx, true)

	// 1. Onboarding with the pass.
	browserSignInWithTAP(t, ctx, inst.URL, "alice", pass)
	if !exists(t, ctx, `#welcome[data-welcome="tap"]`) || !exists(t, ctx, "#no-passkeys") {
		t.Errorf("after the pass, /my lacks the welcome or the no-passkey note:\n%s", pageSummary(ctx))
	}
	if got := text(t, ctx, "#nav-username"); got != "alice" {
		t.Errorf("signed in as %q", got)
	}

	// 2. The first passkey, from a synced provider.
	browserAddPasskey(t, ctx, "")
	rows := waitRows(t, ctx, 1)
	if r := rows[0]; r.Model != passkey.UnknownModelName || r.Type != "Synced" || r.Name != passkey.UnknownModelName {
		t.Errorf("first passkey shown as %+v, want a synced %q", r, passkey.UnknownModelName)
	}
	if adv := text(t, ctx, "#advice"); !strings.Contains(adv, "only one passkey") {
		t.Errorf("advice with one passkey: %q", adv)
	}
	creds := inst.credentials(t, alice)
	if len(creds) != 1 || !creds[0].BackupEligible || !creds[0].BackupState || creds[0].ID != rows[0].ID {
		t.Fatalf("stored passkeys: %+v", creds)
	}
	first := creds[0]
	held := authenticatorCredentials(t, ctx, syncedAuth)
	if len(held) != 1 || !held[0].IsResidentCredential || string(held[0].UserHandle) != alice.ID || held[0].RpID != "localhost" {
		t.Errorf("the authenticator holds %+v, want one discoverable passkey for alice on localhost", held)
	}

	// 3. Sign out; the sign-in page's autofill request signs alice in
	// without a username.
	clearWebauthnCalls(t, ctx)
	click(t, ctx, "#signout")
	waitFor(t, ctx, `location.pathname === "/my" && location.search === "" && document.readyState === "complete"`)
	calls := webauthnCalls(t, ctx)
	i, cond, ok := findCall(calls, "start", "get", "conditional")
	if !ok || cond.Page != "/signin" {
		t.Fatalf("no autofill request on /signin: %v", calls)
	}
	if j, _, ok := findCall(calls, "resolve", "get", "conditional"); !ok || j < i {
		t.Errorf("the autofill request did not give the passkey: %v", calls)
	}
	if _, _, ok := findCall(calls, "start", "get", ""); ok {
		t.Errorf("a modal request ran during autofill sign-in: %v", calls)
	}
	ev := inst.lastSignIn(t)
	if ev.Result != store.ResultSuccess || ev.Method != "passkey" || ev.CredentialID != first.ID || ev.PasskeyType != "synced" {
		t.Errorf("autofill sign-in record: %+v", ev)
	}
	if !exists(t, ctx, ".badge.current") {
		t.Errorf("/my does not mark the passkey of this session")
	}

	// 4. The button. First, with an autofill request pending (presence
	// simulation off keeps it waiting): the page must abort it before it
	// starts the button's ceremony. That ceremony then waits for a touch
	// that does not come, so, second, the button signs in for real on a
	// page without autofill.
	setPresence(t, ctx, syncedAuth, false)
	clearWebauthnCalls(t, ctx)
	click(t, ctx, "#signout")
	waitPage(t, ctx, "/signin")
	waitFor(t, ctx, `(JSON.parse(sessionStorage.getItem("__webauthnLog") || "[]")).some((e) => e.event === "start" && e.mediation === "conditional" && e.page === "/signin")`)
	click(t, ctx, "#passkey-button")
	waitFor(t, ctx, `(JSON.parse(sessionStorage.getItem("__webauthnLog") || "[]")).some((e) => e.event === "start" && e.mediation === "")`)
	calls = webauthnCalls(t, ctx)
	iStart, cond, _ := findCall(calls, "start", "get", "conditional")
	iAbort, abort, okAbort := findCall(calls, "abort", "get", "conditional")
	iModal, _, _ := findCall(calls, "start", "get", "")
	switch {
	case !okAbort || abort.Call != cond.Call:
		t.Errorf("the pending autofill request was not aborted: %v", calls)
	case !(iStart < iAbort && iAbort < iModal):
		t.Errorf("the pending autofill request was not aborted before the button's ceremony started: %v", calls)
	}
	waitFor(t, ctx, `(JSON.parse(sessionStorage.getItem("__webauthnLog") || "[]")).some((e) => e.event === "reject" && e.mediation === "conditional")`)

	setPresence(t, ctx, syncedAuth, true)
	navigate(t, ctx, inst.URL+"/signin?autofill=off")
	waitPage(t, ctx, "/signin")
	clearWebauthnCalls(t, ctx)
	signInsBefore := len(inst.signIns(t, nil))
	click(t, ctx, "#passkey-button")
	waitFor(t, ctx, `location.pathname === "/my" && document.readyState === "complete"`)
	calls = webauthnCalls(t, ctx)
	if _, _, ok := findCall(calls, "resolve", "get", ""); !ok {
		t.Errorf("the button's request did not give the passkey: %v", calls)
	}
	if _, _, ok := findCall(calls, "start", "get", "conditional"); ok {
		t.Errorf("autofill ran with ?autofill=off: %v", calls)
	}
	if evs := inst.signIns(t, nil); len(evs) != signInsBefore+1 || evs[0].Result != store.ResultSuccess || evs[0].CredentialID != first.ID {
		t.Errorf("button sign-in records: %d new, newest %+v", len(evs)-signInsBefore, evs[0])
	}

	// 5. Rename.
	row := fmt.Sprintf(`.passkey[data-id=%q]`, first.ID)
	setValue(t, ctx, row+` input[name="name"]`, "Family laptop")
	click(t, ctx, row+" button.rename")
	waitFor(t, ctx, `location.search.includes("notice=renamed") && document.readyState === "complete"`)
	if rows := waitRows(t, ctx, 1); rows[0].Name != "Family laptop" {
		t.Errorf("after renaming: %+v", rows)
	}
	if got := inst.credentials(t, alice)[0].Name; got != "Family laptop" {
		t.Errorf("stored name %q", got)
	}

	// 6. A second passkey, device-bound, from another authenticator. The
	// first authenticator goes away so that the browser cannot pick it.
	removeAuthenticator(t, ctx, syncedAuth)
	boundAuth := addAuthenticator(t, ctx, false)
	browserAddPasskey(t, ctx, "Work laptop")
	rows = waitRows(t, ctx, 2)
	if rows[0].Type != "Synced" || rows[1].Type != "Device-bound" || rows[1].Name != "Work laptop" {
		t.Errorf("two passkeys shown as %+v, want the synced one and a device-bound \"Work laptop\"", rows)
	}
	if exists(t, ctx, "#advice") {
		t.Errorf("advice shown with a synced and a device-bound passkey: %q", text(t, ctx, "#advice"))
	}
	creds = inst.credentials(t, alice)
	if len(creds) != 2 || creds[1].BackupEligible || creds[1].BackupState {
		t.Fatalf("stored passkeys: %+v", creds)
	}
	second := creds[1]

	// 7. Delete the first passkey. This session was made with it, so it
	// ends too; autofill then signs in with the second one.
	click(t, ctx, row+" button.delete")
	waitFor(t, ctx, `location.pathname === "/my" && location.search === "" && document.readyState === "complete"`)
	rows = waitRows(t, ctx, 1)
	if rows[0].ID != second.ID {
		t.Errorf("after deleting the first passkey: %+v", rows)
	}
	if ev := inst.lastSignIn(t); ev.Result != store.ResultSuccess || ev.CredentialID != second.ID || ev.PasskeyType != "device-bound" {
		t.Errorf("sign-in with the second passkey: %+v", ev)
	}
	if adv := text(t, ctx, "#advice"); !strings.Contains(adv, "only one passkey") {
		t.Errorf("advice with one passkey left: %q", adv)
	}

	// 8. Deleting the last passkey asks first and explains; "Keep it"
	// keeps it.
	row = fmt.Sprintf(`.passkey[data-id=%q]`, second.ID)
	click(t, ctx, row+" button.delete")
	waitFor(t, ctx, `!!document.querySelector("#confirm-delete")`)
	if w := text(t, ctx, "#last-passkey-warning"); !strings.Contains(w, "no way left to sign in") {
		t.Errorf("the confirmation does not explain the consequence: %q", w)
	}
	click(t, ctx, "#cancel-delete")
	waitPage(t, ctx, "/my")
	waitRows(t, ctx, 1)
	if len(inst.credentials(t, alice)) != 1 {
		t.Fatal("cancelling removed the passkey")
	}
	click(t, ctx, row+" button.delete")
	waitFor(t, ctx, `!!document.querySelector("#confirm-delete")`)
	click(t, ctx, "#confirm-delete")
	// This session was made with it too: back to sign-in, where autofill
	// offers the passkey the browser still holds, and Sesame refuses it
	// with a sentence that says what to do.
	waitPage(t, ctx, "/signin")
	msg := visibleErrorText(t, ctx)
	setPresence(t, ctx, boundAuth, false) // stop autofill from trying again
	if msg != passkey.ErrUnknownCredential.Message {
		t.Errorf("error shown for the deleted passkey: %q, want %q", msg, passkey.ErrUnknownCredential.Message)
	}
	if n := len(inst.credentials(t, alice)); n != 0 {
		t.Errorf("%d passkeys left after deleting the last", n)
	}
	if ev := inst.lastSignIn(t); ev.Result != store.ResultFailure || ev.Reason != "unknown_credential" {
		t.Errorf("sign-in with the deleted passkey: %+v", ev)
	}
	if c := inst.countRows(t, "sessions"); c != 0 {
		t.Errorf("%d sessions left", c)
	}
}

// TestBrowserSyncedAndDeviceBound registers one passkey from a synced and
// one from a device-bound authenticator in two separate tabs (two users)
// and checks how /my shows each, and that Sesame stored the flags the
// browser sent.
func TestBrowserSyncedAndDeviceBound(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	for _, tc := range []struct {
		user   string
		synced bool
		label  string
		kind   passkey.Kind
	}{
		{"sam", true, "Synced", passkey.KindSynced},
		{"dee", false, "Device-bound", passkey.KindDeviceBound},
	} {
		t.Run(tc.label, func(t *testing.T) {
			u := inst.createUser(t, tc.user, false)
			pass := inst.issueTAP(t, u, 0, false)
			ctx := newTab(t)
			addAuthenticator(t, ctx, tc.synced)
			browserSignInWithTAP(t, ctx, inst.URL, tc.user, pass)
			browserAddPasskey(t, ctx, "")
			rows := waitRows(t, ctx, 1)
			if rows[0].Type != tc.label {
				t.Errorf(".passkey-type is %q, want %q", rows[0].Type, tc.label)
			}
			if got := evaluate[string](t, ctx, `document.querySelector(".passkey[data-id]").dataset.type`); got != string(tc.kind) {
				t.Errorf("data-type is %q, want %q", got, tc.kind)
			}
			c := inst.credentials(t, u)[0]
			if c.BackupEligible != tc.synced || c.BackupState != tc.synced {
				t.Errorf("stored BE=%v BS=%v, want both %v", c.BackupEligible, c.BackupState, tc.synced)
			}
			// Sign out and back in (autofill), and the type stays.
			click(t, ctx, "#signout")
			waitFor(t, ctx, `location.pathname === "/my" && location.search === "" && document.readyState === "complete"`)
			if rows := waitRows(t, ctx, 1); rows[0].Type != tc.label {
				t.Errorf("after signing in with it, shown as %q", rows[0].Type)
			}
			if ev := inst.lastSignIn(t); ev.PasskeyType != string(tc.kind) || ev.Result != store.ResultSuccess {
				t.Errorf("sign-in record: %+v", ev)
			}
		})
	}
}

// TestBrowserBackupStateChange: a synced passkey whose backup state the
// authenticator later reports as off is stored with the new state at the
// next sign-in (backup eligibility cannot change).
func TestBrowserBackupStateChange(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	u := inst.createUser(t, "bea", false)
	pass := inst.issueTAP(t, u, 0, false)
	ctx := newTab(t)
	auth := addAuthenticator(t, ctx, true)
	browserSignInWithTAP(t, ctx, inst.URL, "bea", pass)
	browserAddPasskey(t, ctx, "")
	held := authenticatorCredentials(t, ctx, auth)
	if len(held) != 1 {
		t.Fatalf("the authenticator holds %d passkeys", len(held))
	}
	off := false
	if _, err := chromedp.Call(ctx, webauthn.SetCredentialProperties, webauthn.SetCredentialPropertiesParams{
		AuthenticatorID: auth, CredentialID: held[0].CredentialID, BackupState: &off,
	}); err != nil {
		t.Fatalf("SetCredentialProperties: %v", err)
	}
	click(t, ctx, "#signout")
	waitFor(t, ctx, `location.pathname === "/my" && location.search === "" && document.readyState === "complete"`)
	c := inst.credentials(t, u)[0]
	if !c.BackupEligible || c.BackupState {
		t.Errorf("after a sign-in reporting BS=0: stored BE=%v BS=%v, want BE=true BS=false", c.BackupEligible, c.BackupState)
	}
	if ev := inst.lastSignIn(t); ev.Result != store.ResultSuccess {
		t.Errorf("sign-in record: %+v", ev)
	}
}

// ---------------------------------------------------------------- phishing

// TestBrowserOtherOriginRefused serves the same Sesame on a second
// localhost port that is not a configured origin. The RP ID (localhost) is
// the same, so the browser lets the page run WebAuthn ceremonies; Sesame
// must refuse both registration and sign-in by the origin in the signed
// client data, and record the sign-in as possible phishing.
func TestBrowserOtherOriginRefused(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	other := inst.serveOtherOrigin(t)
	alice := inst.createUser(t, "alice", false)
	pass := inst.issueTAP(t, alice, 0, false)
	ctx := newTab(t)
	auth := addAuthenticator(t, ctx, false)
	browserSignInWithTAP(t, ctx, inst.URL, "alice", pass)

	// Registration on the other origin (the session cookie is for host
	// localhost, any port, so the user is signed in there too).
	navigate(t, ctx, other+"/my")
	waitPage(t, ctx, "/my")
	auditBefore := len(inst.audit(t))
	click(t, ctx, "#add-passkey")
	if msg := visibleErrorText(t, ctx); msg != passkey.ErrOriginMismatch.Message {
		t.Errorf("registration on %s shows %q, want %q", other, msg, passkey.ErrOriginMismatch.Message)
	}
	if n := len(inst.credentials(t, alice)); n != 0 {
		t.Errorf("a passkey made on another origin was stored (%d)", n)
	}
	if evs := inst.audit(t); len(evs) <= auditBefore || evs[0].Action != "passkey.register_refused" || !strings.Contains(evs[0].Detail, "origin_mismatch") || !strings.Contains(evs[0].Detail, other) {
		t.Errorf("refused registration not in the audit log: %+v", evs[0])
	}
	// The browser kept the passkey Sesame refused: drop it.
	if _, err := chromedp.Call(ctx, webauthn.ClearCredentials, webauthn.ClearCredentialsParams{AuthenticatorID: auth}); err != nil {
		t.Fatal(err)
	}

	// A real passkey, registered on the real origin.
	navigate(t, ctx, inst.URL+"/my")
	browserAddPasskey(t, ctx, "")
	waitRows(t, ctx, 1)
	// Sign out with presence off, so this origin's autofill does not sign
	// in again; presence comes back on only on the other origin's page.
	setPresence(t, ctx, auth, false)
	click(t, ctx, "#signout")
	waitPage(t, ctx, "/signin")

	phishing := func(t *testing.T, since int) {
		t.Helper()
		evs := inst.signIns(t, nil)
		fresh := evs[:len(evs)-since]
		if len(fresh) == 0 {
			t.Fatal("no sign-in record for the attempt on the other origin")
		}
		for _, ev := range fresh {
			if ev.Result != store.ResultFailure || ev.Reason != "origin_mismatch" || !ev.Phishing || ev.UserID != "" && ev.UserID != alice.ID {
				t.Errorf("sign-in record of the other origin: %+v, want a failure origin_mismatch marked as phishing", ev)
			}
		}
	}
	checkSignedOut := func(t *testing.T) {
		t.Helper()
		if exists(t, ctx, "#nav-username") || !strings.HasPrefix(evaluate[string](t, ctx, "location.href"), other+"/signin") {
			t.Errorf("signed in on the other origin: %s", pageSummary(ctx))
		}
	}

	t.Run("button", func(t *testing.T) {
		navigate(t, ctx, other+"/signin?autofill=off")
		waitPage(t, ctx, "/signin")
		before := len(inst.signIns(t, nil))
		setPresence(t, ctx, auth, true)
		click(t, ctx, "#passkey-button")
		if msg := visibleErrorText(t, ctx); msg != passkey.ErrOriginMismatch.Message {
			t.Errorf("sign-in on %s shows %q, want %q", other, msg, passkey.ErrOriginMismatch.Message)
		}
		checkSignedOut(t)
		phishing(t, before)
	})

	t.Run("autofill", func(t *testing.T) {
		before := len(inst.signIns(t, nil))
		navigate(t, ctx, other+"/signin")
		msg := visibleErrorText(t, ctx)
		// Headless autofill would answer every new request at once; stop it.
		setPresence(t, ctx, auth, false)
		if msg != passkey.ErrOriginMismatch.Message {
			t.Errorf("autofill sign-in on %s shows %q, want %q", other, msg, passkey.ErrOriginMismatch.Message)
		}
		checkSignedOut(t)
		phishing(t, before)
	})

	// The same passkey works on the real origin. (An autofill attempt of
	// the other origin's page may still land meanwhile: look for the
	// success among the newest records.)
	setPresence(t, ctx, auth, true)
	navigate(t, ctx, inst.URL+"/signin")
	waitFor(t, ctx, `location.pathname === "/my" && document.readyState === "complete"`)
	if !containsEvent(inst.signIns(t, &alice)[:2], func(ev store.SignInEvent) bool { return ev.Result == store.ResultSuccess && ev.Method == "passkey" }) {
		t.Errorf("no successful sign-in on the real origin: %+v", inst.signIns(t, &alice)[:2])
	}
}

// ---------------------------------------------------------------- admin

// TestBrowserAdmin: an admin sees users and a user's passkeys, revokes a
// passkey, issues a pass (shown once) and disables the user.
func TestBrowserAdmin(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	root := inst.createUser(t, "root", true)
	rootPass := inst.issueTAP(t, root, 0, false)
	bobClient, bobPK := inst.onboard(t, "bob", softOptions{AAGUID: aaguidYubiKey5})
	bob := inst.user(t, "bob")

	ctx := newTab(t)
	addAuthenticator(t, ctx, true)
	browserSignInWithTAP(t, ctx, inst.URL, "root", rootPass)
	browserAddPasskey(t, ctx, "")
	click(t, ctx, "#signout") // and back in with the passkey (autofill)
	waitFor(t, ctx, `location.pathname === "/my" && location.search === "" && document.readyState === "complete"`)

	// The user list.
	click(t, ctx, "#nav-admin")
	waitPage(t, ctx, "/admin")
	for _, name := range []string{"root", "bob"} {
		if !exists(t, ctx, fmt.Sprintf(`tr[data-username=%q]`, name)) {
			t.Errorf("the user list lacks %s:\n%s", name, pageSummary(ctx))
		}
	}
	if got := evaluate[string](t, ctx, `document.querySelector('tr[data-username="bob"]').dataset.passkeys`); got != "1" {
		t.Errorf("bob's passkey count shown as %q", got)
	}

	// Bob's page and passkeys.
	click(t, ctx, `tr[data-username="bob"] a`)
	waitPage(t, ctx, "/admin/users/bob")
	rows := waitRows(t, ctx, 1)
	if rows[0].Model != "YubiKey 5 Series" || rows[0].Type != "Device-bound" {
		t.Errorf("bob's passkey shown as %+v", rows[0])
	}

	// Revoke it: it stops working at once.
	click(t, ctx, ".passkey button.revoke")
	waitFor(t, ctx, `location.search.includes("notice=revoked") && document.readyState === "complete"`)
	if !exists(t, ctx, "#no-passkeys") || len(inst.credentials(t, bob)) != 0 {
		t.Errorf("after revoking: page %s, stored %d", pageSummary(ctx), len(inst.credentials(t, bob)))
	}
	c := inst.newClient(t)
	cer := c.beginSignIn(t, "")
	expectRefusal(t, c.finishSignIn(t, cer, bobPK.assertion(t, cer.Options, forge{})), 401, "unknown_credential")
	if ev := inst.audit(t)[0]; ev.Action != "passkey.revoke" || ev.Actor != "root" {
		t.Errorf("audit of the revocation: %+v", ev)
	}

	// Issue a one-time pass for two hours: shown once.
	setValue(t, ctx, "#tap-lifetime", "2h")
	click(t, ctx, "#tap-one-time")
	click(t, ctx, "#issue-tap")
	waitFor(t, ctx, `!!document.querySelector("#issued-pass") && document.readyState === "complete"`)
	issued := text(t, ctx, "#issued-pass")
	if len(issued) < 8 {
		t.Fatalf("issued pass %q", issued)
	}
	if exp := text(t, ctx, "#issued-expiry"); !strings.Contains(exp, "one sign-in") {
		t.Errorf("expiry text %q does not say it is one-time", exp)
	}
	tap, err := inst.App.Store.GetTAP(t.Context(), bob.ID)
	if err != nil || !tap.OneTime || tap.ExpiresAt.Sub(tap.CreatedAt) != 2*time.Hour || tap.CreatedBy != "root" {
		t.Errorf("stored pass: %+v %v", tap, err)
	}
	navigate(t, ctx, inst.URL+"/admin/users/bob")
	waitPage(t, ctx, "/admin/users/bob")
	if exists(t, ctx, "#issued-pass") || strings.Contains(pageSummary(ctx), issued) {
		t.Error("the pass is shown again")
	}
	if !exists(t, ctx, "#tap-status") {
		t.Error("the page does not describe the current pass")
	}
	passClient := inst.newClient(t)
	passClient.signInWithTAP(t, "bob", issued)

	// Disable bob: all his sessions end and he cannot sign in.
	click(t, ctx, "#disable-user")
	waitFor(t, ctx, `location.search.includes("notice=disabled") && document.readyState === "complete"`)
	if got := evaluate[string](t, ctx, `document.querySelector("#user-status").dataset.disabled`); got != "true" {
		t.Errorf("status after disabling: %q", got)
	}
	if bobClient.signedIn(t) || passClient.signedIn(t) {
		t.Error("a disabled user's session still works")
	}
	if !inst.user(t, "bob").Disabled {
		t.Error("bob is not stored as disabled")
	}
	navigate(t, ctx, inst.URL+"/admin")
	waitPage(t, ctx, "/admin")
	if s := text(t, ctx, `tr[data-username="bob"] .status`); !strings.Contains(s, "Disabled") {
		t.Errorf("bob's status in the list: %q", s)
	}
	if ev := inst.audit(t)[0]; ev.Action != "user.disable" || ev.Actor != "root" || ev.Target != "bob" {
		t.Errorf("audit of disabling: %+v", ev)
	}

	// Not for everyone: a user who is not an admin is refused.
	carl := inst.createUser(t, "carl", false)
	cc := inst.newClient(t)
	cc.signInWithTAP(t, "carl", inst.issueTAP(t, carl, 0, false))
	if r := cc.get(t, "/admin"); r.Status != 403 {
		t.Errorf("GET /admin as a user: %s", r)
	}
	if r := cc.postForm(t, "/admin/users/root/disable", nil); r.Status != 403 || inst.user(t, "root").Disabled {
		t.Errorf("POST disable as a user: %s", r)
	}
}
