package web

import (
	"context"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/samlidp"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
)

var testNow = time.Date(2026, 3, 14, 9, 26, 0, 0, time.UTC)

func renderServer() *Server {
	return &Server{
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:   func() time.Time { return testNow },
		TAPs:  &methods.TAPs{Policy: methods.DefaultTAPPolicy},
		pages: loadPages(),
	}
}

func sampleUser(admin bool) store.User {
	return store.User{ID: "u1", Username: "ada", Email: "ada@example.org", DisplayName: "Ada Lovelace", Admin: admin, CreatedAt: testNow.Add(-48 * time.Hour)}
}

func samplePasskeys() []passkeyView {
	return viewPasskeys([]store.Credential{
		{ID: "c1", Name: "iCloud Keychain", AAGUID: mustHex("fbfc3007154e4ecc8c0b6e020557d7bd"), BackupEligible: true, BackupState: true, CreatedAt: testNow.Add(-time.Hour), LastUsedAt: testNow, AttestationFormat: "none", Transports: []string{"internal", "hybrid"}},
		{ID: "c2", Name: "Key <script>", AAGUID: make([]byte, 16), CreatedAt: testNow.Add(-2 * time.Hour)},
	})
}

func mustHex(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		b[i] = v
	}
	return b
}

func sampleSignIns() []store.SignInEvent {
	return []store.SignInEvent{
		{ID: 2, Time: testNow, Username: "ada", IP: "192.0.2.1", Method: "passkey", Result: store.ResultSuccess, Model: "iCloud Keychain", PasskeyType: "synced"},
		{ID: 1, Time: testNow.Add(-time.Minute), Username: "ada", IP: "192.0.2.1", Method: "passkey", Result: store.ResultFailure, Reason: "origin_mismatch", Phishing: true},
		{ID: 0, Time: testNow.Add(-2 * time.Minute), Username: "ada", IP: "192.0.2.1", Method: "tap", Result: store.ResultFailure, Reason: "tap_invalid"},
	}
}

// pageCases renders every page with representative data. Each case lists
// strings the output must contain (element ids and texts that browser
// tests and people rely on).
func pageCases() []struct {
	name, page string
	user       *store.User
	data       map[string]any
	want       []string
	notWant    []string
} {
	admin := sampleUser(true)
	plain := sampleUser(false)
	tap := &store.TAP{UserID: "u1", OneTime: true, CreatedAt: testNow, StartsAt: testNow, ExpiresAt: testNow.Add(time.Hour)}
	issued := &methods.Issued{Pass: "abcdefgh2345", TAP: *tap}
	nonCompliant := withCompliance(samplePasskeys(), map[string]signin.Compliance{"c1": {Code: "passkey_model_blocked",
		Reason: `profile "default": model Test Key is blocked`, Message: "This passkey can no longer be used to sign in."}})
	return []struct {
		name, page string
		user       *store.User
		data       map[string]any
		want       []string
		notWant    []string
	}{
		{name: "signin", page: "signin", data: map[string]any{"Title": "Sign in", "ReturnTo": "/my?x=1", "Notice": "You are signed out."},
			want:    []string{`autocomplete="username webauthn"`, `id="passkey-button"`, `id="error"`, `role="alert"`, `id="tap-link"`, `/signin/tap?return_to=%2fmy%3fx%3d1`, `src="/static/signin.js"`, "You are signed out."},
			notWant: []string{`id="nav-my"`, `action="/signout"`}},
		{name: "signin with error", page: "signin", data: map[string]any{"Title": "Sign in", "ReturnTo": "/my", "Error": "Nope"},
			want: []string{">Nope<"}},
		{name: "tap", page: "tap", data: map[string]any{"Title": "Use a temporary access pass", "Username": "ada", "ReturnTo": "/my"},
			want: []string{`action="/signin/tap"`, `name="pass"`, `autocomplete="one-time-code"`, `inputmode="text"`, `autocomplete="username"`, `name="return_to" value="/my"`, `value="ada"`}},
		{name: "tap with error", page: "tap", data: map[string]any{"Title": "Use a temporary access pass", "Username": "ada", "ReturnTo": "/my", "Error": "That username and temporary access pass do not match."},
			want: []string{`id="error"`, "do not match", `aria-invalid="true"`}},
		{name: "setup", page: "setup", data: map[string]any{"Title": "Set up Sesame", "Token": "tok123"},
			want: []string{`action="/setup"`, `name="token" value="tok123"`, `name="username"`, `name="email"`, `name="name"`}},
		{name: "setup with error", page: "setup", data: map[string]any{"Title": "Set up Sesame", "Token": "tok", "Error": "Bad email", "Form": directory.NewUser{Username: "root", Email: "x@"}},
			want: []string{"Bad email", `value="root"`, `value="x@"`}},
		{name: "error anonymous", page: "error", data: map[string]any{"Title": "Something is not right", "Message": "Broken <b>", "Code": "bad_request"},
			want: []string{"Broken &lt;b&gt;", `data-code="bad_request"`}, notWant: []string{`id="nav-my"`}},
		{name: "error signed in", page: "error", user: &plain, data: map[string]any{"Message": "This page is for administrators."},
			want: []string{`id="nav-my"`, `action="/signout"`, `id="signout"`}, notWant: []string{`id="nav-admin"`}},
		{name: "my", page: "my", user: &admin, data: map[string]any{
			"Title": "My security info", "User": admin, "Session": store.Session{}, "Passkeys": samplePasskeys(),
			"Advice": "You have only one passkey.", "SignIns": sampleSignIns(), "TAP": tap, "Welcome": "tap",
			"Notice": "added", "NoticeText": "Passkey added.", "Confirm": "", "CurrentID": "c1", "CanRegister": true},
			want: []string{`id="nav-admin"`, `class="passkey" data-id="c1"`, `class="passkey-name"`, `class="passkey-model"`, "iCloud Keychain",
				`class="badge passkey-type synced"`, ">Synced<", ">Device-bound<", "Key &lt;script&gt;", `action="/my/passkeys/c1/rename"`, `action="/my/passkeys/c2/delete"`,
				`class="rename"`, `class="delete danger"`, `name="name"`, `id="add-passkey"`, `id="advice"`, `id="welcome"`, `id="tap-expiry"`,
				"14 Mar 2026 10:26 UTC", "never", `id="signins"`, "possible phishing", "Wrong site", "Temporary access pass", `src="/static/my.js"`,
				"Used for this session", `id="notice"`},
		},
		{name: "my empty", page: "my", user: &plain, data: map[string]any{
			"Title": "My security info", "User": plain, "Session": store.Session{}, "Passkeys": []passkeyView{},
			"Advice": "", "SignIns": []store.SignInEvent{}, "TAP": (*store.TAP)(nil), "Welcome": "", "Notice": "", "NoticeText": "", "Confirm": "", "CurrentID": "", "CanRegister": true},
			want:    []string{`id="no-passkeys"`, `id="add-passkey"`, "No sign-ins recorded yet."},
			notWant: []string{`id="welcome"`, `id="tap-expiry"`, `id="advice"`, `id="nav-admin"`}},
		{name: "my policy", page: "my", user: &admin, data: map[string]any{
			"Title": "My security info", "User": admin, "Session": store.Session{}, "Passkeys": nonCompliant, "CanRegister": false,
			"KeyNudge": "You are an administrator: add a roaming security key.", "SessionEnds": testNow.Add(10 * time.Minute), "TAP": tap,
			"Legacy":        legacyView{PasswordAllowed: true, TOTPAllowed: true, NeedCurrent: true, LegacyState: methods.LegacyState{HasPassword: true}},
			"PasswordError": "Your current password is not right.", "TOTPError": ""},
			want: []string{`data-compliance="passkey_model_blocked"`, "Cannot sign in", "can no longer be used", `id="registration-off"`, `id="key-nudge"`,
				`id="session-ends"`, `id="delete-tap"`, `action="/my/tap/delete"`, `id="legacy"`, `action="/my/password"`, `autocomplete="new-password"`,
				`autocomplete="current-password"`, `id="password-error"`, `action="/my/totp/begin"`, `id="totp-begin"`},
			notWant: []string{`id="add-passkey"`}},
		{name: "my totp enrolled", page: "my", user: &plain, data: map[string]any{"User": plain, "CanRegister": true,
			"Legacy": legacyView{LegacyState: methods.LegacyState{TOTPEnrolled: true, PasswordlessOnly: true}}},
			want:    []string{`id="totp-enrolled"`, `id="totp-remove"`, `id="passwordless-only"`},
			notWant: []string{`action="/my/password"`, `id="totp-replace"`}},
		{name: "my setup welcome", page: "my", user: &admin, data: map[string]any{"User": admin, "Welcome": "setup", "CurrentID": ""},
			want: []string{`data-welcome="setup"`}},
		{name: "confirm delete", page: "confirm_delete", user: &plain, data: map[string]any{"Title": "Remove your last passkey?", "Passkey": samplePasskeys()[0]},
			want: []string{`action="/my/passkeys/c1/delete"`, `name="confirm" value="yes"`, `id="confirm-delete"`, `href="/my"`, "temporary access pass"}},
		{name: "admin", page: "admin", user: &admin, data: map[string]any{
			"Title": "Admin", "AtRisk": 1,
			"Users":    []adminUserRow{{User: admin, Passkeys: 2}, {User: store.User{ID: "u2", Username: "bob", DisplayName: "Bob", Disabled: true}, Passkeys: 1, AtRisk: true}},
			"Groups":   []adminGroupRow{{Group: store.Group{ID: "g1", Name: "pilot/one", Description: "Pilot"}, Members: []store.User{admin}}, {Group: store.Group{ID: "g2", Name: "empty"}}},
			"UserForm": directory.NewUser{Username: "new"}, "UserError": "A username must be 1 to 64 characters long.",
			"GroupForm": groupForm{Name: "x"}, "GroupError": "", "NoticeText": "User created."},
			want: []string{`data-username="ada"`, `data-username="bob" data-passkeys="1" data-at-risk="true"`, "At risk of lock-out", `href="/admin/users/bob"`,
				`id="create-user-form"`, `action="/admin/users"`, `id="create-user-error"`, `value="new"`, `id="create-group-form"`, `action="/admin/groups"`,
				`action="/admin/groups/pilot%2Fone/delete"`, `data-group="empty"`, "Disabled", "1 at risk"}},
		{name: "admin risk reasons", page: "admin", user: &admin, data: map[string]any{
			"Title": "Admin", "AtRisk": 0, "UserForm": directory.NewUser{}, "GroupForm": groupForm{},
			"Users": []adminUserRow{{User: admin, Passkeys: 3, NonCompliant: 1, SuggestKey: true}}},
			want: []string{`id="methods-link"`, `href="/admin/methods"`, "1 cannot sign in", "Add a security key"}},
		{name: "admin empty", page: "admin", user: &admin, data: map[string]any{"Title": "Admin", "AtRisk": 0, "Users": []adminUserRow{}, "Groups": []adminGroupRow{}, "UserForm": directory.NewUser{}, "GroupForm": groupForm{}},
			want: []string{"No users yet.", "No groups yet."}},
		{name: "admin user", page: "admin_user", user: &admin, data: map[string]any{
			"Title": "ada", "User": plain, "Passkeys": samplePasskeys(), "RiskText": "At risk of lock-out: only one passkey.", "SignIns": sampleSignIns(),
			"Groups": []store.Group{{ID: "g1", Name: "pilot"}}, "OtherGroups": []store.Group{{ID: "g2", Name: "staff"}},
			"TAP": tap, "TAPState": "active", "TAPStateText": "active, not used yet", "TAPLifetime": "1h", "TAPOneTime": true, "TAPMin": "10m", "TAPMax": "30d",
			"Issued": issued, "NoticeText": "Passkey revoked."},
			want: []string{`id="issued-pass">abcdefgh2345<`, `id="tap-form"`, `action="/admin/users/ada/tap"`, `name="lifetime"`, `value="1h"`, `name="one_time"`, " checked",
				`id="disable-user"`, `action="/admin/users/ada/disable"`, `class="passkey" data-id="c1"`, `class="revoke danger"`, `action="/admin/users/ada/passkeys/c1/revoke"`,
				`id="lockout-risk"`, `data-group="pilot"`, `id="add-group"`, `value="staff"`, `action="/admin/users/ada/groups"`, `id="signins"`, `id="tap-status"`}},
		{name: "admin user policy", page: "admin_user", user: &admin, data: map[string]any{
			"User": admin, "Passkeys": nonCompliant, "KeyNudge": true, "HasLegacy": true,
			"Legacy": legacyView{LegacyState: methods.LegacyState{HasPassword: true}}, "LegacyError": "Choose."},
			want: []string{`data-compliance="passkey_model_blocked"`, "Non-compliant", "profile &#34;default&#34;: model Test Key is blocked", `id="key-nudge"`,
				`action="/admin/users/ada/passwordless-only"`, `name="passwordless_only" value="on"`, `id="passwordless-on"`, `id="legacy-error"`, `id="has-password">Set<`}},
		{name: "admin user passwordless", page: "admin_user", user: &admin, data: map[string]any{
			"User": admin, "HasLegacy": true, "Legacy": legacyView{LegacyState: methods.LegacyState{PasswordlessOnly: true}}},
			want: []string{`name="passwordless_only" value="off"`, `id="passwordless-off"`, `data-passwordless-only="true"`}},
		{name: "admin methods", page: "admin_methods", user: &admin, data: map[string]any{
			"Title": "Sign-in methods", "Policy": methods.DefaultPolicy(), "Warnings": []string{"careful"}, "PolicyJSON": `{"schema": 1}`,
			"PolicyError": "The policy is not valid: bad.", "TogglesError": "no", "StrengthsJSON": "{}", "StrengthsError": "bad strengths",
			"Methods":  []methodRow{{Method: methods.MethodPasskey, Label: "Passkey", Enabled: true, Scope: "All users"}, {Method: methods.MethodPassword, Label: "Password", Scope: "Nobody"}},
			"Profiles": []profileRow{{Profile: passkey.DefaultProfile(), ScopeText: "All users", Restriction: "Any model"}},
			"BuiltIn":  methods.BuiltInStrengths(), "Custom": []methods.Strength{{ID: "legacy", Name: "Legacy MFA", Combinations: []methods.Combination{{methods.MethodPassword, methods.MethodTOTP}}}},
			"CampaignScope": "All users", "Metadata": (*passkey.Metadata)(nil)},
			want: []string{`id="toggles-form"`, `action="/admin/methods/toggles"`, `name="revision" value="0"`, `name="method_passkey"`, `data-method="password" data-enabled="false"`,
				`id="self-service"`, `id="campaign"`, `id="policy-json"`, `id="policy-error"`, `action="/admin/methods/policy"`, `id="toggles-error"`, `id="policy-warnings"`,
				`data-profile="default"`, `id="strengths-json"`, `id="strengths-error"`, `data-strength="phishing-resistant-mfa"`, `data-strength="legacy"`, "password + totp",
				"sesame metadata load FILE", `id="nav-methods"`}},
		{name: "admin methods with metadata", page: "admin_methods", user: &admin, data: map[string]any{
			"Policy": methods.DefaultPolicy(), "Metadata": &passkey.Metadata{Number: 7, Signer: "mds.example", Entries: []passkey.MetadataEntry{{Name: "Key"}}}, "ReadOnly": true},
			want: []string{"FIDO BLOB no. 7", "1 models", `id="read-only"`}},
		{name: "password", page: "password", data: map[string]any{"Title": "Sign in with a password", "Username": "ada", "ReturnTo": "/my", "Error": "That username and password do not match.", "Code": "password_invalid"},
			want: []string{`action="/signin/password"`, `name="password"`, `type="password"`, `autocomplete="current-password"`, `autocomplete="username"`, `value="ada"`,
				`id="error"`, `data-code="password_invalid"`, `aria-invalid="true"`, `name="return_to" value="/my"`}},
		{name: "totp", page: "totp", data: map[string]any{"Title": "Enter your code", "Step": "st1", "ReturnTo": "/my", "Error": "That code is not right."},
			want: []string{`action="/signin/password/totp"`, `name="step" value="st1"`, `autocomplete="one-time-code"`, `inputmode="numeric"`, `name="code"`, `id="error"`}},
		{name: "prompt", page: "prompt", user: &plain, data: map[string]any{"Title": "Add a passkey", "User": plain, "ReturnTo": "/my", "Next": "/my?notice=added",
			"CanSnooze": true, "SnoozesLeft": 2, "Needs": passkey.RegistrationNeeds{DeviceBoundOnly: true}},
			want: []string{`id="add-passkey-form"`, `data-next="/my?notice=added"`, `data-source="campaign"`, `id="add-passkey"`, `action="/my/add-passkey/snooze"`,
				`id="snooze"`, "2 more times", `id="device-bound-hint"`, `src="/static/my.js"`}},
		{name: "prompt required", page: "prompt", user: &plain, data: map[string]any{"User": plain, "ReturnTo": "/my", "CanSnooze": false, "SnoozesLeft": 0, "Error": "You have postponed this"},
			want: []string{`id="prompt-required"`, `id="prompt-signout"`, `id="prompt-error"`}, notWant: []string{`id="snooze"`}},
		{name: "my totp", page: "my_totp", user: &plain, data: map[string]any{"Title": "Set up an authenticator app", "Secret": "JBSWY3DPEHPK3PXP",
			"URL": template.URL("otpauth://totp/Sesame:bob?secret=JBSWY3DPEHPK3PXP"), "QR": template.URL("data:image/png;base64,AAAA")},
			want: []string{`id="totp-secret" class="secret">JBSWY3DPEHPK3PXP<`, `href="otpauth://totp/Sesame:bob?secret=JBSWY3DPEHPK3PXP"`, `src="data:image/png;base64,AAAA"`,
				`action="/my/totp/confirm"`, `autocomplete="one-time-code"`, `inputmode="numeric"`}},
		{name: "my totp error", page: "my_totp", user: &plain, data: map[string]any{"Error": "That code is not right."},
			want: []string{`id="totp-confirm-error"`, `id="totp-restart"`}, notWant: []string{`id="totp-secret"`}},
		{name: "continue to the app", page: "continue", data: map[string]any{"To": "/oauth2/continue?id=abc"}},
		{name: "admin apps", page: "admin_apps", user: &admin, data: map[string]any{
			"Apps": []AppInfo{{ClientID: "grafana", RedirectURIs: []string{"https://grafana.example.com/cb"}, SigningAlg: "ES256", CreatedAt: testNow},
				{ClientID: "spa", Public: true, RedirectURIs: []string{"https://spa.example.com/cb"}, SigningAlg: "ES256", CreatedAt: testNow}},
			"Issuer": "https://login.example.com", "Added": AppInfo{ClientID: "grafana"}, "Secret": "s3cret",
		}},
		{name: "admin apps error", page: "admin_apps", user: &admin, data: map[string]any{
			"AppError": "bad redirect", "Form": NewAppForm{Name: "x", Public: true}, "FormRedirects": "http://example.com",
		}},
		{name: "admin SAML apps", page: "admin_saml_apps", user: &admin, data: map[string]any{
			"Apps": []samlidp.App{{Name: "wiki", EntityID: "https://wiki.example.com/saml", ACSURLs: []string{"https://wiki.example.com/acs"},
				NameIDFormat: "email", RequiredACR: "phr", CreatedAt: testNow}},
			"Endpoints": samlidp.Endpoints{Metadata: "https://login.example.com/saml/metadata", SSO: "https://login.example.com/saml/sso", SLO: "https://login.example.com/saml/slo"},
			"Added":     samlidp.App{Name: "wiki", EntityID: "https://wiki.example.com/saml"},
		}, want: []string{`id="saml-apps"`, `id="saml-app-added"`, `https://login.example.com/saml/metadata`}},
		{name: "admin SAML apps error", page: "admin_saml_apps", user: &admin, data: map[string]any{
			"Endpoints": samlidp.Endpoints{}, "AppError": "bad metadata", "Form": url.Values{"name": {"x"}, "metadata": {"<junk>"}},
		}, want: []string{`id="app-error"`, `id="no-saml-apps"`, `&lt;junk&gt;`}},
		{name: "admin SAML apps refresh failed", page: "admin_saml_apps", user: &admin, data: map[string]any{
			"Apps": []samlidp.App{{Name: "wiki", EntityID: "https://wiki.example.com/saml", ACSURLs: []string{"https://wiki.example.com/acs"},
				MetadataURL: "https://wiki.example.com/saml/metadata", NameIDFormat: "email", CreatedAt: testNow,
				MetadataFetchedAt: testNow, MetadataCheckedAt: testNow.Add(time.Hour)}},
			"Endpoints": samlidp.Endpoints{}, "RefreshFailed": "wiki", "RefreshError": "The SAML metadata URL could not be fetched.",
		}, want: []string{`class="refresh-metadata"`, `Metadata fetched at`, `class="metadata-failed warning"`, `id="refresh-error"`}},
		{name: "admin user disabled", page: "admin_user", user: &admin, data: map[string]any{
			"User": store.User{ID: "u2", Username: "bob", DisplayName: "bob", Disabled: true}, "TAPLifetime": "", "TAPError": "Write the lifetime like 30m, 1h, 8h or 7d.", "StatusError": "x", "GroupError": "y"},
			want:    []string{`id="enable-user"`, `id="tap-error"`, `id="no-passkeys"`, `id="no-groups"`, `id="status-error"`, `id="group-error"`},
			notWant: []string{`id="issued-pass"`, `id="disable-user"`}},
	}
}

func TestRenderPages(t *testing.T) {
	s := renderServer()
	covered := map[string]bool{}
	for _, tc := range append(append(pageCases(), accessPageCases()...), rolloutPageCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			covered[tc.page] = true
			r := httptest.NewRequest("GET", "/x", nil)
			if tc.user != nil {
				r = r.WithContext(context.WithValue(r.Context(), userKey, *tc.user))
			}
			w := httptest.NewRecorder()
			s.renderStatus(w, r, http.StatusTeapot, tc.page, tc.data)
			body := w.Body.String()
			if w.Code != http.StatusTeapot {
				t.Fatalf("status %d, body:\n%s", w.Code, body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if !strings.HasPrefix(body, "<!DOCTYPE html>") || !strings.Contains(body, "</html>") {
				t.Fatalf("not a complete page:\n%s", body)
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("page %s lacks %q:\n%s", tc.page, want, body)
				}
			}
			for _, no := range tc.notWant {
				if strings.Contains(body, no) {
					t.Errorf("page %s should not contain %q", tc.page, no)
				}
			}
			checkLabels(t, body)
		})
	}
	for _, name := range s.pages.names() {
		if !covered[name] {
			t.Errorf("page %q has no render test case", name)
		}
	}
}

var (
	inputRe = regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idRe    = regexp.MustCompile(`\bid="([^"]+)"`)
	typeRe  = regexp.MustCompile(`\btype="([^"]+)"`)
)

// checkLabels: every visible form field has a <label for=...>.
func checkLabels(t *testing.T, body string) {
	t.Helper()
	for _, tag := range inputRe.FindAllString(body, -1) {
		if m := typeRe.FindStringSubmatch(tag); m != nil && m[1] == "hidden" {
			continue
		}
		id := idRe.FindStringSubmatch(tag)
		if id == nil {
			t.Errorf("field without id (so without label): %s", tag)
			continue
		}
		if !strings.Contains(body, `for="`+id[1]+`"`) {
			t.Errorf("field %q has no label", id[1])
		}
	}
}

func TestUnknownPage(t *testing.T) {
	s := renderServer()
	w := httptest.NewRecorder()
	s.render(w, httptest.NewRequest("GET", "/", nil), "nope", nil)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
}

// The CSP allows no inline script or style: templates must not have any.
func TestTemplatesHaveNoInlineScriptOrStyle(t *testing.T) {
	bad := []*regexp.Regexp{
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`<style\b`),
		regexp.MustCompile(`\son[a-z]+\s*=`),
		regexp.MustCompile(`javascript:`),
	}
	scriptTag := regexp.MustCompile(`<script\b[^>]*>`)
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(templateFS, f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, tag := range scriptTag.FindAllString(src, -1) {
			if !strings.Contains(tag, ` src="/static/`) {
				t.Errorf("%s: inline script %s", f, tag)
			}
		}
		for _, re := range bad {
			if loc := re.FindStringIndex(src); loc != nil {
				t.Errorf("%s: %q not allowed under the CSP", f, src[loc[0]:loc[1]])
			}
		}
	}
}

// Every script and stylesheet a template names exists.
func TestStaticReferencesExist(t *testing.T) {
	ref := regexp.MustCompile(`(?:src|href)="/static/([^"]+)"`)
	files, _ := fs.Glob(templateFS, "templates/*.html")
	var refs []string
	for _, f := range files {
		b, _ := fs.ReadFile(templateFS, f)
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			refs = append(refs, m[1])
		}
	}
	// Modules import their helpers.
	imp := regexp.MustCompile(`from "\./([^"]+)"`)
	js, _ := fs.Glob(staticFS, "static/*.js")
	for _, f := range js {
		b, _ := fs.ReadFile(staticFS, f)
		for _, m := range imp.FindAllStringSubmatch(string(b), -1) {
			refs = append(refs, m[1])
		}
	}
	if !slices.Contains(refs, "sesame.css") {
		t.Errorf("no page links sesame.css")
	}
	for _, r := range refs {
		if _, err := fs.Stat(staticFS, "static/"+r); err != nil {
			t.Errorf("referenced static file %s missing", r)
		}
	}
}

func TestFormatTime(t *testing.T) {
	if got := formatTime(time.Time{}); got != "never" {
		t.Errorf("zero: %q", got)
	}
	paris := time.FixedZone("CET", 3600)
	if got := formatTime(time.Date(2026, 1, 2, 16, 4, 0, 0, paris)); got != "2 Jan 2026 15:04 UTC" {
		t.Errorf("got %q", got)
	}
}
