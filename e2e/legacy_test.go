package e2e

// The legacy exception end to end: a password and an authenticator app
// code for the users the methods policy allows, refused for everyone else
// (other groups, excluded groups, passwordless-only users, the method
// turned off), with codes usable once and attempts limited.

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/store"
)

// totpCode is the code an authenticator app shows for secret at t.
func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// submitPassword posts the password form.
func (c *client) submitPassword(t testing.TB, username, password string) response {
	t.Helper()
	return c.postForm(t, "/signin/password", url.Values{"username": {username}, "password": {password}, "return_to": {"/my"}})
}

// passwordStep signs in with a password and expects the code step; it
// returns the step ID.
func (c *client) passwordStep(t testing.TB, username, password string) string {
	t.Helper()
	r := c.submitPassword(t, username, password)
	m := hiddenStep.FindStringSubmatch(string(r.Body))
	if r.Status != http.StatusOK || m == nil || setsSessionCookie(r) {
		t.Fatalf("password step: want the code page without a session, got %s", r)
	}
	return m[1]
}

// submitCode posts the code form.
func (c *client) submitCode(t testing.TB, step, code string) response {
	t.Helper()
	return c.postForm(t, "/signin/password/totp", url.Values{"step": {step}, "code": {code}, "return_to": {"/my"}})
}

// pageCode is the data-code of the error shown on an HTML page.
var pageCode = regexp.MustCompile(`id="error" class="error" role="alert" data-code="([^"]+)"`)

func expectPageRefusal(t testing.TB, r response, status int, code string) {
	t.Helper()
	m := pageCode.FindStringSubmatch(string(r.Body))
	if r.Status != status || m == nil || m[1] != code {
		t.Errorf("want HTTP %d showing %q, got %s", status, code, r)
	}
	if setsSessionCookie(r) {
		t.Error("a refused sign-in set a session cookie")
	}
}

func TestPasswordAndTOTP(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	admin := inst.adminClient(t, "root")
	users := map[string]store.User{}
	for _, name := range []string{"bob", "carol", "dave", "erin"} {
		users[name] = inst.createUser(t, name, false)
	}
	for _, name := range []string{"bob", "dave", "erin"} {
		inst.ensureMember(t, "legacy-app", name)
	}
	inst.ensureMember(t, "no-passwords", "erin")

	// Before the policy allows passwords the sign-in page does not offer them.
	if page := string(inst.newClient(t).get(t, "/signin").Body); strings.Contains(page, `id="password-link"`) {
		t.Error("the sign-in page offers passwords while they are off")
	}
	expectPageRefusal(t, inst.newClient(t).submitPassword(t, "bob", "x"), http.StatusForbidden, "password_not_allowed")

	inst.editPolicy(t, func(p *methods.Policy) {
		p.Password = methods.MethodSetting{Enabled: true, Scope: scope.Scope{Groups: []string{"legacy-app"}, Exclude: []string{"no-passwords"}}}
		p.TOTP = methods.MethodSetting{Enabled: true, Scope: scope.Groups("legacy-app")}
	})
	signin := string(inst.newClient(t).get(t, "/signin").Body)
	if !strings.Contains(signin, `id="password-link"`) || strings.Index(signin, `id="password-link"`) < strings.Index(signin, `id="passkey-button"`) {
		t.Error("the sign-in page does not offer passwords as a secondary link")
	}
	form := inst.newClient(t).get(t, "/signin/password")
	if form.Status != http.StatusOK || !strings.Contains(string(form.Body), `autocomplete="current-password"`) {
		t.Errorf("the password page: %s", form)
	}

	// Bob sets a password and enrols an authenticator app on /my.
	const bobPassword = "correct horse battery staple"
	bob := inst.newClient(t)
	bob.signInWithTAP(t, "bob", inst.issueTAP(t, users["bob"], 0, false))
	my := string(bob.get(t, "/my").Body)
	if !strings.Contains(my, `action="/my/password"`) || !strings.Contains(my, `autocomplete="new-password"`) || !strings.Contains(my, `id="totp-begin"`) {
		t.Fatalf("/my does not offer a password and an authenticator app to bob")
	}
	if r := bob.postForm(t, "/my/password", url.Values{"new_password": {bobPassword}, "confirm_password": {"different"}}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="password-error"`) {
		t.Errorf("mismatched passwords: %s", r)
	}
	if r := bob.postForm(t, "/my/password", url.Values{"new_password": {"short"}, "confirm_password": {"short"}}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "at least 8 characters") {
		t.Errorf("a short password: %s", r)
	}
	if r := bob.postForm(t, "/my/password", url.Values{"new_password": {bobPassword}, "confirm_password": {bobPassword}}); r.Status != http.StatusSeeOther {
		t.Fatalf("setting a password: %s", r)
	}
	enrol := bob.postForm(t, "/my/totp/begin", url.Values{})
	m := totpSecret.FindStringSubmatch(string(enrol.Body))
	if enrol.Status != http.StatusOK || m == nil || !strings.Contains(string(enrol.Body), `href="otpauth://totp/`) || !strings.Contains(string(enrol.Body), `inputmode="numeric"`) {
		t.Fatalf("TOTP enrolment page: %s", enrol)
	}
	secret := m[1]
	if r := bob.postForm(t, "/my/totp/confirm", url.Values{"code": {"000000"}}); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `id="totp-confirm-error"`) {
		t.Errorf("a wrong enrolment code: %s", r)
	}
	if r := bob.postForm(t, "/my/totp/confirm", url.Values{"code": {totpCode(t, secret, inst.clock.Now())}}); r.Status != http.StatusSeeOther {
		t.Fatalf("confirming TOTP: %s", r)
	}
	if acts := inst.auditActions(t); !slices.Contains(acts, "password.set") || !slices.Contains(acts, "totp.enroll") {
		t.Errorf("password and TOTP enrolment not audited: %v", acts)
	}
	inst.clock.Advance(methods.TOTPPeriod) // the enrolment used this step's code

	t.Run("password and code", func(t *testing.T) {
		c := inst.newClient(t)
		step := c.passwordStep(t, "bob", bobPassword)
		code := totpCode(t, secret, inst.clock.Now())
		r := c.submitCode(t, step, code)
		if r.Status != http.StatusSeeOther || !setsSessionCookie(r) {
			t.Fatalf("the code step: %s", r)
		}
		if got := c.whoami(t).Methods; !slices.Equal(got, []string{"password", "totp"}) {
			t.Errorf("session methods %v", got)
		}
		ev := inst.lastSignIn(t)
		if ev.Method != "password+totp" || ev.Result != store.ResultSuccess || ev.UserID != users["bob"].ID {
			t.Errorf("sign-in record: %+v", ev)
		}

		// The same code again: refused, and the sign-in can go on with the next one.
		d := inst.newClient(t)
		step = d.passwordStep(t, "bob", bobPassword)
		r = d.submitCode(t, step, code)
		expectPageRefusal(t, r, http.StatusUnauthorized, "totp_invalid")
		if ev := inst.lastSignIn(t); ev.Method != "password+totp" || ev.Reason != "totp_invalid" {
			t.Errorf("replay record: %+v", ev)
		}
		next := hiddenStep.FindStringSubmatch(string(r.Body))
		if next == nil || next[1] == step {
			t.Fatalf("no new step after a wrong code: %s", r)
		}
		// The old step is used up.
		expectPageRefusal(t, d.submitCode(t, step, code), http.StatusBadRequest, "challenge_unknown")
		inst.clock.Advance(methods.TOTPPeriod)
		if r := d.submitCode(t, next[1], totpCode(t, secret, inst.clock.Now())); r.Status != http.StatusSeeOther || !setsSessionCookie(r) {
			t.Fatalf("the next code: %s", r)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		r := inst.newClient(t).submitPassword(t, "bob", "not the password")
		expectPageRefusal(t, r, http.StatusUnauthorized, "password_invalid")
		if ev := inst.lastSignIn(t); ev.Method != "password" || ev.Result != store.ResultFailure || ev.Reason != "password_invalid" {
			t.Errorf("record: %+v", ev)
		}
		if !strings.Contains(string(r.Body), `autocomplete="current-password"`) {
			t.Error("the form is not shown again")
		}
	})

	t.Run("not in the group", func(t *testing.T) {
		if err := inst.App.Legacy.SetPassword(context.Background(), audit.CLI, users["carol"], "carols password"); err != nil {
			t.Fatal(err)
		}
		r := inst.newClient(t).submitPassword(t, "carol", "carols password")
		expectPageRefusal(t, r, http.StatusForbidden, "password_not_allowed")
		if ev := inst.lastSignIn(t); ev.Reason != "password_not_allowed" || ev.Method != "password" {
			t.Errorf("record: %+v", ev)
		}
	})

	t.Run("excluded group", func(t *testing.T) {
		if err := inst.App.Legacy.SetPassword(context.Background(), audit.CLI, users["erin"], "erins password"); err != nil {
			t.Fatal(err)
		}
		expectPageRefusal(t, inst.newClient(t).submitPassword(t, "erin", "erins password"), http.StatusForbidden, "password_not_allowed")
	})

	t.Run("password only, then passwordless-only", func(t *testing.T) {
		if err := inst.App.Legacy.SetPassword(context.Background(), audit.CLI, users["dave"], "daves password"); err != nil {
			t.Fatal(err)
		}
		// Without an authenticator app, the password alone (the policy's
		// TOTP applies only once enrolled).
		c := inst.newClient(t)
		r := c.submitPassword(t, "dave", "daves password")
		if r.Status != http.StatusSeeOther || !setsSessionCookie(r) {
			t.Fatalf("password sign-in: %s", r)
		}
		if got := c.whoami(t).Methods; !slices.Equal(got, []string{"password"}) {
			t.Errorf("session methods %v", got)
		}
		if ev := inst.lastSignIn(t); ev.Method != "password" || ev.Result != store.ResultSuccess {
			t.Errorf("record: %+v", ev)
		}
		// Changing the password from a password session asks for the current one.
		if r := c.postForm(t, "/my/password", url.Values{"new_password": {"a new password"}, "confirm_password": {"a new password"}}); r.Status != http.StatusUnauthorized {
			t.Errorf("changing the password without the current one: %s", r)
		}

		r = admin.postForm(t, "/admin/users/dave/passwordless-only", url.Values{"passwordless_only": {"on"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("making dave passwordless-only: %s", r)
		}
		expectPageRefusal(t, inst.newClient(t).submitPassword(t, "dave", "daves password"), http.StatusUnauthorized, "password_invalid")
		if page := string(admin.get(t, "/admin/users/dave").Body); !strings.Contains(page, `data-passwordless-only="true"`) {
			t.Error("the admin page does not show passwordless-only")
		}
		d := inst.newClient(t)
		d.signInWithTAP(t, "dave", inst.issueTAP(t, users["dave"], 0, false))
		if page := string(d.get(t, "/my").Body); strings.Contains(page, `action="/my/password"`) {
			t.Error("a passwordless-only user is offered a password")
		}
		if r := d.postForm(t, "/my/password", url.Values{"new_password": {"daves password"}, "confirm_password": {"daves password"}}); r.Status != http.StatusForbidden {
			t.Errorf("a passwordless-only user set a password: %s", r)
		}
		if ev, ok := inst.lastAudit(t, "user.passwordless_only"); !ok || ev.Actor != "root" {
			t.Errorf("not audited: %+v", ev)
		}
	})

	t.Run("campaign after a password sign-in", func(t *testing.T) {
		inst.editPolicy(t, func(p *methods.Policy) {
			p.Campaign = methods.Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 3}
		})
		c := inst.newClient(t)
		inst.clock.Advance(methods.TOTPPeriod)
		r := c.submitCode(t, c.passwordStep(t, "bob", bobPassword), totpCode(t, secret, inst.clock.Now()))
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/my/add-passkey?") {
			t.Errorf("after a password sign-in without a passkey: %s (%q)", r, r.Header.Get("Location"))
		}
	})

	t.Run("attempts are limited", func(t *testing.T) {
		c := inst.newClient(t)
		for i := 1; i <= methods.PasswordUserLimit; i++ {
			expectPageRefusal(t, c.submitPassword(t, "nobody", "guess"), http.StatusUnauthorized, "password_invalid")
		}
		expectPageRefusal(t, c.submitPassword(t, "nobody", "guess"), http.StatusTooManyRequests, "rate_limited")
	})

	t.Run("method turned off", func(t *testing.T) {
		inst.editPolicy(t, func(p *methods.Policy) {
			p.Password.Enabled, p.TOTP.Enabled = false, false
		})
		expectPageRefusal(t, inst.newClient(t).submitPassword(t, "bob", bobPassword), http.StatusForbidden, "password_not_allowed")
		if r := inst.newClient(t).get(t, "/signin/password"); r.Status != http.StatusForbidden {
			t.Errorf("the password page while passwords are off: %s", r)
		}
	})
}

// Password and code in the browser for a user of the legacy group;
// refused for someone else.
func TestBrowserPasswordAndTOTP(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	bob, carol := inst.createUser(t, "bob", false), inst.createUser(t, "carol", false)
	inst.ensureMember(t, "legacy-app", "bob")
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Password = methods.MethodSetting{Enabled: true, Scope: scope.Groups("legacy-app")}
		p.TOTP = methods.MethodSetting{Enabled: true, Scope: scope.Groups("legacy-app")}
	})
	ctx := context.Background()
	for _, u := range []store.User{bob, carol} {
		if err := inst.App.Legacy.SetPassword(ctx, audit.CLI, u, u.Username+"'s password"); err != nil {
			t.Fatal(err)
		}
	}
	e, err := inst.App.Legacy.BeginTOTP(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.App.Legacy.ConfirmTOTP(ctx, audit.CLI, bob, totpCode(t, e.Secret, inst.clock.Now()), "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	inst.clock.Advance(methods.TOTPPeriod)

	tab := newTab(t)
	navigate(t, tab, inst.URL+"/signin")
	waitFor(t, tab, `document.readyState === "complete" && !!document.querySelector("#password-link")`)
	click(t, tab, "#password-link")
	waitPage(t, tab, "/signin/password")
	setValue(t, tab, "#username", "carol")
	setValue(t, tab, "#password", "carol's password")
	click(t, tab, "#password-submit")
	if msg := visibleErrorText(t, tab); !strings.Contains(msg, "Passwords are not accepted for your account") {
		t.Errorf("carol's refusal: %q", msg)
	}

	setValue(t, tab, "#username", "bob")
	setValue(t, tab, "#password", "bob's password")
	click(t, tab, "#password-submit")
	waitFor(t, tab, `!!document.querySelector("#totp-form") && document.readyState === "complete"`)
	setValue(t, tab, "#code", totpCode(t, e.Secret, inst.clock.Now()))
	click(t, tab, "#totp-submit")
	waitPage(t, tab, "/my")
	if got := text(t, tab, "#nav-username"); got != "bob" {
		t.Errorf("signed in as %q", got)
	}
}
