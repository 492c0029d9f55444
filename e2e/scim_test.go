package e2e

// Provisioning over SCIM 2.0 as an HR system does it, with a real HTTP
// client against a running Sesame: create a person and their group, let
// them sign in to an app, deactivate them (their sessions, app tokens and
// passkey sign-ins stop working), reactivate, delete. And the bad input an
// HR system can send, refused in RFC 7644's format without changing data.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/scim"
)

// hrSystem is a provisioning client: a bearer token and an HTTP client.
type hrSystem struct {
	base  string // .../scim/v2
	token string
	http  *http.Client
}

type scimReply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (hr *hrSystem) do(t testing.TB, method, path string, body any) scimReply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, hr.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if hr.token != "" {
		req.Header.Set("Authorization", "Bearer "+hr.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := hr.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := scimReply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, raw)
		}
	}
	return r
}

func (hr *hrSystem) mustDo(t testing.TB, method, path string, body any, want int) scimReply {
	t.Helper()
	r := hr.do(t, method, path, body)
	if r.status != want {
		t.Fatalf("%s %s: want %d, got %d %s", method, path, want, r.status, r.raw)
	}
	return r
}

func wantSCIMError(t testing.TB, what string, r scimReply, status int, scimType string) {
	t.Helper()
	schemas, _ := r.body["schemas"].([]any)
	if r.status != status || len(schemas) != 1 || schemas[0] != scim.ErrorSchema ||
		(scimType != "" && r.body["scimType"] != scimType) || r.header.Get("Content-Type") != "application/scim+json" {
		t.Errorf("%s: want SCIM error %d %s, got %d %s", what, status, scimType, r.status, r.raw)
	}
}

func patchBody(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{scim.PatchOpSchema}, "Operations": ops}
}

func TestSCIMProvisioningLifeCycle(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	ctx := context.Background()
	token, err := inst.App.SCIMTokens.Issue(ctx, audit.CLI, "workday")
	if err != nil {
		t.Fatal(err)
	}
	hr := &hrSystem{base: inst.URL + "/scim/v2", token: token, http: &http.Client{Timeout: 30 * time.Second}}

	// 1. The HR system looks the new hire up (not there), creates them and
	// puts them in a group.
	if r := hr.mustDo(t, "GET", "/Users?filter="+url.QueryEscape(`externalId eq "HR-42"`), nil, 200); r.body["totalResults"] != float64(0) {
		t.Fatalf("lookup before create: %s", r.raw)
	}
	r := hr.mustDo(t, "POST", "/Users", map[string]any{
		"schemas": []string{scim.UserSchema}, "externalId": "HR-42", "userName": "dana",
		"name":   map[string]string{"givenName": "Dana", "familyName": "Scully"},
		"emails": []map[string]any{{"value": "dana@example.com", "type": "work", "primary": true}}, "active": true,
	}, http.StatusCreated)
	danaID := r.body["id"].(string)
	if r.header.Get("Location") != hr.base+"/Users/"+danaID || r.body["displayName"] != "Dana Scully" {
		t.Errorf("created: Location %q, %s", r.header.Get("Location"), r.raw)
	}
	r = hr.mustDo(t, "POST", "/Groups", map[string]any{
		"schemas": []string{scim.GroupSchema}, "displayName": "staff", "externalId": "dept-1",
		"members": []map[string]string{{"value": danaID}},
	}, http.StatusCreated)
	groupID := r.body["id"].(string)

	// 2. Dana gets a pass, registers a passkey and signs in to an app,
	// which sees the provisioned group.
	pass := inst.issueTAP(t, inst.user(t, "dana"), 0, false)
	c := inst.newClient(t)
	c.signInWithTAP(t, "dana", pass)
	pk := newSoftPasskey(t, inst, softOptions{})
	c.registerPasskey(t, pk, "")
	rp := newRelyingParty(t, inst, "payroll", rpOptions{})
	app := rp.signIn(t, c)
	if app.claims.Email != "dana@example.com" || !slices.Contains(app.claims.Groups, "staff") || app.token.RefreshToken == "" {
		t.Fatalf("the app's view of dana: %+v (refresh token %q)", app.claims, app.token.RefreshToken)
	}

	// 3. The HR system renames the group and reads it back.
	r = hr.mustDo(t, "PATCH", "/Groups/"+groupID, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "employees"}), 200)
	if r.body["displayName"] != "employees" {
		t.Errorf("rename: %s", r.raw)
	}

	// 4. Dana leaves: deactivated the way Entra ID sends it. Her Sesame
	// session, the app's refresh and access tokens and her passkey all
	// stop working at once.
	r = hr.mustDo(t, "PATCH", "/Users/"+danaID, patchBody(map[string]any{"op": "Replace", "path": "active", "value": "False"}), 200)
	if r.body["active"] != false || !inst.user(t, "dana").Disabled {
		t.Fatalf("deactivate: %s", r.raw)
	}
	if c.signedIn(t) {
		t.Error("dana's Sesame session survived deactivation")
	}
	if _, err := rp.refresh(app.token.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("refresh after deactivation: %v, want invalid_grant", err)
	}
	if _, err := rp.userinfo(app.token.AccessToken); err == nil {
		t.Error("the access token still works after deactivation")
	}
	cer := c.beginSignIn(t, "")
	if fr := c.finishSignIn(t, cer, pk.assertion(t, cer.Options, forge{})); fr.Status == http.StatusOK {
		t.Errorf("a deactivated user signed in with a passkey: %s", fr)
	}

	// 5. Rehired: reactivated, she signs in again with the same passkey.
	hr.mustDo(t, "PATCH", "/Users/"+danaID, patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": true}}), 200)
	c.signInWithPasskey(t, pk, "")
	app = rp.signIn(t, c)
	if _, err := rp.refresh(app.token.RefreshToken); err != nil {
		t.Fatalf("refresh after reactivation: %v", err)
	}
	app = rp.signIn(t, c)

	// 6. Deleted: gone from the directory and the group; her tokens and
	// session end.
	hr.mustDo(t, "DELETE", "/Users/"+danaID, nil, http.StatusNoContent)
	if _, err := rp.refresh(app.token.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("refresh after deletion: %v, want invalid_grant", err)
	}
	if c.signedIn(t) {
		t.Error("dana's session survived deletion")
	}
	wantSCIMError(t, "GET deleted user", hr.do(t, "GET", "/Users/"+danaID, nil), 404, "")
	if r := hr.mustDo(t, "GET", "/Groups/"+groupID, nil, 200); r.body["members"] != nil {
		t.Errorf("the group still lists dana: %s", r.raw)
	}

	// The audit log names the HR system's token for every change.
	evs, err := inst.App.Store.ListAudit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var byHR []string
	for _, e := range evs {
		if e.Actor == "scim:workday" {
			byHR = append(byHR, e.Action)
		}
	}
	slices.Reverse(byHR)
	want := []string{"user.create", "group.create", "group.add_member", "group.rename", "user.disable", "user.enable", "user.delete"}
	if !slices.Equal(byHR, want) {
		t.Errorf("audit by scim:workday %v, want %v", byHR, want)
	}

	// 7. Bad input changes nothing.
	hr.mustDo(t, "POST", "/Users", map[string]any{"schemas": []string{scim.UserSchema}, "userName": "erin"}, http.StatusCreated)
	before := inst.snapshot(t)
	wantSCIMError(t, "duplicate userName", hr.do(t, "POST", "/Users", map[string]any{"schemas": []string{scim.UserSchema}, "userName": "Erin"}), 409, "uniqueness")
	wantSCIMError(t, "malformed JSON", hr.do(t, "POST", "/Users", `{"schemas":`), 400, "invalidSyntax")
	wantSCIMError(t, "unknown attribute", hr.do(t, "POST", "/Users", map[string]any{"schemas": []string{scim.UserSchema}, "userName": "frank", "costCenter": "42"}), 400, "invalidSyntax")
	wantSCIMError(t, "wrong schema", hr.do(t, "POST", "/Users", map[string]any{"schemas": []string{scim.GroupSchema}, "userName": "frank"}), 400, "invalidValue")
	wantSCIMError(t, "bad filter", hr.do(t, "GET", "/Users?filter="+url.QueryEscape(`userName sw "e"`), nil), 400, "invalidFilter")
	big := append([]byte(`{"schemas":["`+scim.UserSchema+`"],"userName":"frank","displayName":"`), bytes.Repeat([]byte("x"), 2<<20)...)
	wantSCIMError(t, "oversized body", hr.do(t, "POST", "/Users", append(big, `"}`...)), http.StatusRequestEntityTooLarge, "")
	anon := &hrSystem{base: hr.base, http: hr.http}
	wantSCIMError(t, "no token", anon.do(t, "POST", "/Users", map[string]any{"schemas": []string{scim.UserSchema}, "userName": "frank"}), 401, "")
	if err := inst.App.SCIMTokens.Revoke(ctx, audit.CLI, "workday"); err != nil {
		t.Fatal(err)
	}
	wantSCIMError(t, "revoked token", hr.do(t, "POST", "/Users", map[string]any{"schemas": []string{scim.UserSchema}, "userName": "frank"}), 401, "")
	inst.assertUnchanged(t, before)
}
