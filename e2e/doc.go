// Package e2e holds Sesame's end-to-end tests: a real Sesame (the same
// app.Open that `sesame serve` uses) on a real loopback listener, driven by
// real clients.
//
// Two kinds of client drive it:
//
//   - a software authenticator over plain HTTP (github.com/descope/
//     virtualwebauthn and net/http with a cookie jar), which can also forge
//     every kind of bad response (wrong origin or RP ID, bad signature,
//     counter regression, missing UV, ...);
//   - Chromium through chromedp, with the DevTools WebAuthn virtual
//     authenticator, for what only a browser proves (the pages' scripts,
//     autofill, the browser's own origin binding).
//
// The harness lives in the *_test.go files so it is not part of any build:
//
//	harness_test.go   startSesame(t, sesameOptions{}) *instance: Sesame on a
//	                  real 127.0.0.1 listener, configured and reached as
//	                  http://localhost:PORT, fresh data directory, clock the
//	                  test moves (inst.clock.Advance); users and passes
//	                  (createUser, issueTAP, disableUser); store snapshots
//	                  (snapshot, assertUnchanged); HTTP clients with a
//	                  cookie jar (newClient, signInWithTAP, whoami, ...);
//	                  serveOtherOrigin for a second, unconfigured origin
//	softauth_test.go  softPasskey: registering and signing in over HTTP with
//	                  a software authenticator (registerPasskey,
//	                  signInWithPasskey, inst.onboard for a user's first
//	                  day), and forging responses (forge)
//	browser_test.go   TestMain and the one shared Chromium (started on first
//	                  use), newTab(t) (own browser context and cookies, 60 s
//	                  deadline), addAuthenticator(t, ctx, synced), a recorder
//	                  of the pages' WebAuthn calls, page helpers that
//	                  survive navigations (waitFor, click, setValue, ...)
//
// and the tests: http_test.go (software authenticator over HTTP: the
// passkey life and every refusal, with no change to stored data),
// browser_flows_test.go (Chromium: onboarding to deleting the last passkey,
// synced and device-bound, another origin, admin), and oidc_test.go.
//
// Database: an instance uses SQLite in its data directory unless
// sesameOptions.Database names another database or testDatabase (the hook
// for a PostgreSQL run of this suite) gives one.
//
// Browser: SESAME_TEST_CHROME names the Chromium binary (scripts/test.sh sets
// it); otherwise chromium, chromium-browser, google-chrome are looked up on
// PATH. Without one the browser tests are skipped, except with CI=true where
// a missing browser fails them.
package e2e
