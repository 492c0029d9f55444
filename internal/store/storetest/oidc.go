package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// OIDCStore is a backend that keeps both Sesame's core records and the
// OpenID provider's.
type OIDCStore interface {
	store.Store
	oidcstore.Store
}

// RunOIDC runs the conformance suite of oidcstore.Store: one test per
// promise in that package's documentation. open must return a new, empty
// store for each test.
func RunOIDC(t *testing.T, open func(t *testing.T) OIDCStore) {
	groups := []struct {
		name  string
		tests []oidcTest
	}{
		{"Clients", oidcClientTests},
		{"AuthRequests", oidcAuthRequestTests},
		{"Grants", oidcGrantTests},
		{"RefreshTokens", oidcRefreshTests},
		{"SigningKeys", oidcKeyTests},
		{"Logouts", oidcLogoutTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.run(t, s)
				})
			}
		})
	}
}

type oidcTest struct {
	name string
	run  func(t *testing.T, s OIDCStore)
}

// --- fixtures ---

func newOIDCClient(id string) oidcstore.Client {
	return oidcstore.Client{
		ID: id, SecretHash: []byte("0123456789abcdef0123456789abcdef"),
		RedirectURIs:           []string{"https://" + id + ".example.com/callback", "https://" + id + ".example.com/other"},
		PostLogoutRedirectURIs: []string{"https://" + id + ".example.com/"},
		SigningAlg:             "ES256", RequiredACR: "phrh", CreatedAt: at(0), UpdatedAt: at(time.Second),
		AllowMissingPKCE: true, BackchannelLogoutURI: "https://" + id + ".example.com/backchannel-logout",
	}
}

func mustOIDCClient(t *testing.T, s OIDCStore, id string) oidcstore.Client {
	t.Helper()
	c := newOIDCClient(id)
	ok(t, "CreateClient", s.CreateClient(context.Background(), c))
	return c
}

func newAuthRequest(clientID string) oidcstore.AuthRequest {
	return oidcstore.AuthRequest{
		ID: store.NewID(), ClientID: clientID, Params: []byte(`{"redirect_uri":"x","nonce":"\u00e9"}`),
		CreatedAt: at(0), ExpiresAt: at(30 * time.Minute),
	}
}

func newAuthentication(userID, credentialID string) oidcstore.Authentication {
	return oidcstore.Authentication{
		UserID: userID, CredentialID: credentialID, Method: "passkey",
		AuthTime: at(-time.Minute), AMR: []string{"hwk", "user", "mfa"}, ACR: "phrh", At: at(time.Second),
		SessionID: "sid-" + userID,
	}
}

// mustCodeRequest makes a completed request with a code for a new user.
func mustCodeRequest(t *testing.T, s OIDCStore, clientID string) (oidcstore.AuthRequest, store.User) {
	t.Helper()
	ctx := context.Background()
	u := mustUser(t, s, fmt.Sprintf("user%d", next()))
	r := newAuthRequest(clientID)
	ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, r))
	ok(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, r.ID, newAuthentication(u.ID, "")))
	r.CodeHash = []byte("code-" + r.ID)
	ok(t, "SetAuthCode", s.SetAuthCode(ctx, r.ID, r.CodeHash, at(time.Minute)))
	return r, u
}

func newGrant(clientID, userID, credentialID string) oidcstore.Grant {
	return oidcstore.Grant{
		ID: store.NewID(), ClientID: clientID, UserID: userID, Scopes: []string{"openid", "email", "offline_access"},
		CredentialID: credentialID, Method: "passkey", AuthTime: at(-time.Minute),
		AMR: []string{"swk", "user", "mfa"}, ACR: "phr", CreatedAt: at(2 * time.Second), ExpiresAt: at(30 * 24 * time.Hour),
		SessionID: "sid-" + userID,
	}
}

func newRefreshToken(grantID string) oidcstore.RefreshToken {
	return oidcstore.RefreshToken{
		Hash: []byte("refresh-" + store.NewID()), GrantID: grantID,
		CreatedAt: at(2 * time.Second), ExpiresAt: at(7 * 24 * time.Hour),
	}
}

// mustGrant redeems a new code for a new user and returns the grant and its
// first refresh token.
func mustGrant(t *testing.T, s OIDCStore, clientID string) (oidcstore.Grant, oidcstore.RefreshToken) {
	t.Helper()
	r, u := mustCodeRequest(t, s, clientID)
	g := newGrant(clientID, u.ID, "")
	rt := newRefreshToken(g.ID)
	ok(t, "RedeemAuthCode", s.RedeemAuthCode(context.Background(), r.ID, g, &rt, at(time.Hour), nil))
	return g, rt
}

// tokenSignIn is the sign-in log entry of a token request.
func tokenSignIn(u store.User, app string, when time.Time) store.SignInEvent {
	return store.SignInEvent{
		Time: when, UserID: u.ID, Username: u.Username, IP: "192.0.2.1", UserAgent: "Test/1.0",
		App: app, Method: "passkey", Result: store.ResultSuccess,
		Detail: "refresh_token grant: issued id_token, access_token, refresh_token",
	}
}

// sameSignIns checks the user's sign-in log, newest first, ignoring IDs.
func sameSignIns(t *testing.T, s OIDCStore, userID string, want ...store.SignInEvent) {
	t.Helper()
	got, err := s.ListSignIns(context.Background(), store.SignInFilter{UserID: userID})
	ok(t, "ListSignIns", err)
	for i := range got {
		got[i].ID = 0
	}
	if len(want) == 0 {
		want = nil
	}
	if len(got) == 0 {
		got = nil
	}
	same(t, "sign-in log", got, want)
}

// --- clients ---

var oidcClientTests = []oidcTest{
	{"CreateGetList", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		b := mustOIDCClient(t, s, "beta")
		a := newOIDCClient("alpha")
		a.Public, a.SecretHash, a.PostLogoutRedirectURIs, a.SigningAlg, a.RequiredACR = true, nil, nil, "RS256", ""
		a.AllowMissingPKCE, a.BackchannelLogoutURI = false, ""
		ok(t, "CreateClient", s.CreateClient(ctx, a))
		got, err := s.GetClient(ctx, "alpha")
		ok(t, "GetClient", err)
		same(t, "GetClient", got, a)
		list, err := s.ListClients(ctx)
		ok(t, "ListClients", err)
		same(t, "ListClients", list, []oidcstore.Client{a, b})
	}},
	{"DuplicateIsConflict", func(t *testing.T, s OIDCStore) {
		mustOIDCClient(t, s, "app")
		wantErr(t, "CreateClient(same ID)", s.CreateClient(context.Background(), newOIDCClient("app")), store.ErrConflict)
	}},
	{"IDsAreExact", func(t *testing.T, s OIDCStore) {
		mustOIDCClient(t, s, "app")
		_, err := s.GetClient(context.Background(), "App")
		wantErr(t, "GetClient(other case)", err, store.ErrNotFound)
	}},
	{"Update", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		c := mustOIDCClient(t, s, "app")
		c.SecretHash = []byte("another hash, 32 bytes long.....")
		c.RedirectURIs = []string{"http://localhost:9000/cb"}
		c.PostLogoutRedirectURIs = nil
		c.SigningAlg, c.RequiredACR = "RS256", "mfa"
		c.AllowMissingPKCE, c.BackchannelLogoutURI = false, "http://localhost:9000/logout"
		c.UpdatedAt = at(time.Hour)
		ok(t, "UpdateClient", s.UpdateClient(ctx, c))
		got, err := s.GetClient(ctx, "app")
		ok(t, "GetClient", err)
		same(t, "after update", got, c)
		wantErr(t, "UpdateClient(unknown)", s.UpdateClient(ctx, newOIDCClient("nope")), store.ErrNotFound)
	}},
	{"DeleteCascades", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		other := mustOIDCClient(t, s, "other")
		pending := newAuthRequest("app")
		ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, pending))
		g, rt := mustGrant(t, s, "app")
		og, ort := mustGrant(t, s, other.ID)

		ok(t, "DeleteClient", s.DeleteClient(ctx, "app"))
		_, err := s.GetClient(ctx, "app")
		wantErr(t, "GetClient after delete", err, store.ErrNotFound)
		_, err = s.GetAuthRequest(ctx, pending.ID)
		wantErr(t, "GetAuthRequest of deleted client", err, store.ErrNotFound)
		_, err = s.GetGrant(ctx, g.ID)
		wantErr(t, "GetGrant of deleted client", err, store.ErrNotFound)
		_, _, err = s.GetRefreshToken(ctx, rt.Hash)
		wantErr(t, "GetRefreshToken of deleted client", err, store.ErrNotFound)
		// The other app keeps everything.
		_, err = s.GetGrant(ctx, og.ID)
		ok(t, "GetGrant of other client", err)
		_, _, err = s.GetRefreshToken(ctx, ort.Hash)
		ok(t, "GetRefreshToken of other client", err)

		wantErr(t, "DeleteClient again", s.DeleteClient(ctx, "app"), store.ErrNotFound)
	}},
}

// --- authorization requests ---

var oidcAuthRequestTests = []oidcTest{
	{"PutGet", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		r := newAuthRequest("app")
		// Fields the store sets itself are ignored on put.
		in := r
		in.Auth = newAuthentication("someone", "")
		in.CodeHash, in.RedeemedAt, in.GrantID = []byte("x"), at(time.Hour), "g"
		ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, in))
		got, err := s.GetAuthRequest(ctx, r.ID)
		ok(t, "GetAuthRequest", err)
		same(t, "GetAuthRequest", got, r)
		if got.Done() {
			t.Fatal("a new request reports Done")
		}
		wantErr(t, "PutAuthRequest(same ID)", s.PutAuthRequest(ctx, r), store.ErrConflict)
		_, err = s.GetAuthRequest(ctx, "nope")
		wantErr(t, "GetAuthRequest(unknown)", err, store.ErrNotFound)
	}},
	{"UnknownClient", func(t *testing.T, s OIDCStore) {
		wantErr(t, "PutAuthRequest(unknown client)", s.PutAuthRequest(context.Background(), newAuthRequest("nope")), store.ErrNotFound)
	}},
	{"CompleteThenCode", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		r := newAuthRequest("app")
		ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, r))
		wantErr(t, "SetAuthCode before sign-in", s.SetAuthCode(ctx, r.ID, []byte("c"), at(time.Minute)), store.ErrConflict)

		first := newAuthentication("u1", "")
		ok(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, r.ID, first))
		// Signing in afresh replaces it while no code exists.
		second := newAuthentication("u2", "cred")
		second.AMR, second.ACR = nil, ""
		ok(t, "CompleteAuthRequest again", s.CompleteAuthRequest(ctx, r.ID, second))
		got, err := s.GetAuthRequest(ctx, r.ID)
		ok(t, "GetAuthRequest", err)
		r.Auth = second
		same(t, "completed", got, r)
		if !got.Done() {
			t.Fatal("a completed request does not report Done")
		}

		ok(t, "SetAuthCode", s.SetAuthCode(ctx, r.ID, []byte("code hash"), at(time.Minute)))
		wantErr(t, "SetAuthCode twice", s.SetAuthCode(ctx, r.ID, []byte("another"), at(time.Minute)), store.ErrConflict)
		wantErr(t, "CompleteAuthRequest after the code", s.CompleteAuthRequest(ctx, r.ID, first), store.ErrConflict)
		got, err = s.GetAuthRequestByCode(ctx, []byte("code hash"))
		ok(t, "GetAuthRequestByCode", err)
		r.CodeHash, r.CodeExpiresAt = []byte("code hash"), at(time.Minute)
		same(t, "by code", got, r)

		_, err = s.GetAuthRequestByCode(ctx, []byte("another"))
		wantErr(t, "GetAuthRequestByCode(unknown)", err, store.ErrNotFound)
		_, err = s.GetAuthRequestByCode(ctx, nil)
		wantErr(t, "GetAuthRequestByCode(empty)", err, store.ErrNotFound)
		wantErr(t, "CompleteAuthRequest(unknown)", s.CompleteAuthRequest(ctx, "nope", first), store.ErrNotFound)
		wantErr(t, "SetAuthCode(unknown)", s.SetAuthCode(ctx, "nope", []byte("c2"), at(time.Minute)), store.ErrNotFound)
	}},
	{"CodesAreUnique", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		a, _ := mustCodeRequest(t, s, "app")
		b := newAuthRequest("app")
		ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, b))
		ok(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, b.ID, newAuthentication("u", "")))
		wantErr(t, "SetAuthCode(code of another request)", s.SetAuthCode(ctx, b.ID, a.CodeHash, at(time.Minute)), store.ErrConflict)
	}},
	{"Redeem", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		r, u := mustCodeRequest(t, s, "app")
		c := mustCredential(t, s, newCredential(u.ID))
		g := newGrant("app", u.ID, c.ID)
		rt := newRefreshToken(g.ID)
		ok(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, r.ID, g, &rt, at(2*time.Hour), nil))

		got, err := s.GetAuthRequest(ctx, r.ID)
		ok(t, "GetAuthRequest", err)
		same(t, "RedeemedAt", got.RedeemedAt, g.CreatedAt)
		same(t, "GrantID", got.GrantID, g.ID)
		same(t, "ExpiresAt kept until keepUntil", got.ExpiresAt, at(2*time.Hour))
		gg, err := s.GetGrant(ctx, g.ID)
		ok(t, "GetGrant", err)
		same(t, "grant", gg, g)
		gotRT, gotG, err := s.GetRefreshToken(ctx, rt.Hash)
		ok(t, "GetRefreshToken", err)
		same(t, "refresh token", gotRT, rt)
		same(t, "refresh token's grant", gotG, g)

		again := newGrant("app", u.ID, "")
		wantErr(t, "RedeemAuthCode twice", s.RedeemAuthCode(ctx, r.ID, again, nil, at(time.Hour), nil), store.ErrConflict)
		_, err = s.GetGrant(ctx, again.ID)
		wantErr(t, "grant of the refused redemption", err, store.ErrNotFound)
		wantErr(t, "RedeemAuthCode(unknown)", s.RedeemAuthCode(ctx, "nope", newGrant("app", u.ID, ""), nil, at(time.Hour), nil), store.ErrNotFound)
	}},
	{"GetByCodeUser", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		r, u := mustCodeRequest(t, s, "app")
		want, err := s.GetAuthRequestByCode(ctx, r.CodeHash)
		ok(t, "GetAuthRequestByCode", err)
		got, gotU, err := s.GetAuthRequestByCodeUser(ctx, r.CodeHash)
		ok(t, "GetAuthRequestByCodeUser", err)
		same(t, "request", got, want)
		same(t, "user", gotU, u)
		ok(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, r.ID, newGrant("app", u.ID, ""), nil, at(time.Hour), nil))
		got, _, err = s.GetAuthRequestByCodeUser(ctx, r.CodeHash)
		ok(t, "GetAuthRequestByCodeUser(redeemed)", err)
		same(t, "RedeemedAt", got.RedeemedAt, at(2*time.Second))

		// A request whose user is gone: no user.
		gone := mustUser(t, s, "gone")
		r2 := newAuthRequest("app")
		ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, r2))
		ok(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, r2.ID, newAuthentication(gone.ID, "")))
		ok(t, "SetAuthCode", s.SetAuthCode(ctx, r2.ID, []byte("code-"+r2.ID), at(time.Minute)))
		ok(t, "DeleteUser", s.DeleteUser(ctx, gone.ID))
		got, gotU, err = s.GetAuthRequestByCodeUser(ctx, []byte("code-"+r2.ID))
		ok(t, "GetAuthRequestByCodeUser(user deleted)", err)
		same(t, "request of a deleted user", got.Auth.UserID, gone.ID)
		same(t, "deleted user", gotU, store.User{})

		_, _, err = s.GetAuthRequestByCodeUser(ctx, []byte("nope"))
		wantErr(t, "GetAuthRequestByCodeUser(unknown)", err, store.ErrNotFound)
		_, _, err = s.GetAuthRequestByCodeUser(ctx, nil)
		wantErr(t, "GetAuthRequestByCodeUser(empty)", err, store.ErrNotFound)
	}},
	{"RedeemLogsSignIn", func(t *testing.T, s OIDCStore) {
		// The sign-in log entry commits with the redemption, and only when
		// it succeeds.
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		r, u := mustCodeRequest(t, s, "app")
		g := newGrant("app", u.ID, "")
		rt := newRefreshToken(g.ID)
		ev := tokenSignIn(u, "app", at(3*time.Second))
		ok(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, r.ID, g, &rt, at(time.Hour), &ev))
		refused := tokenSignIn(u, "app", at(4*time.Second))
		refused.Detail = "must not be logged"
		wantErr(t, "RedeemAuthCode twice", s.RedeemAuthCode(ctx, r.ID, newGrant("app", u.ID, ""), nil, at(time.Hour), &refused), store.ErrConflict)
		r2, _ := mustCodeRequest(t, s, "app")
		wantErr(t, "RedeemAuthCode(unknown user)", s.RedeemAuthCode(ctx, r2.ID, newGrant("app", "no such user", ""), nil, at(time.Hour), &refused), store.ErrNotFound)
		sameSignIns(t, s, u.ID, ev)
	}},
	{"RedeemCountsLikeAppend", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		rs := reportStore(t, s)
		mustOIDCClient(t, s, "app")
		r, u := mustCodeRequest(t, s, "app")
		grp := mustGroup(t, s, "pilot")
		ok(t, "AddMember", s.AddMember(ctx, grp.ID, u.ID))
		ev := tokenSignIn(u, "app", day0.Add(time.Hour))
		ev.Client = "browser"
		ok(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, r.ID, newGrant("app", u.ID, ""), nil, at(time.Hour), &ev))
		wantErr(t, "RedeemAuthCode twice", s.RedeemAuthCode(ctx, r.ID, newGrant("app", u.ID, ""), nil, at(time.Hour), &ev), store.ErrConflict)
		mustAppend(t, s, ev)
		got, err := rs.SignInDays(ctx, day0)
		ok(t, "SignInDays", err)
		same(t, "SignInDays", got, []store.SignInDay{
			{Day: day0, GroupID: "", Method: "passkey", Count: 2},
			{Day: day0, GroupID: grp.ID, Method: "passkey", Count: 2},
		})
	}},
	{"RedeemKeepsLaterExpiry", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		r, u := mustCodeRequest(t, s, "app")
		ok(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, r.ID, newGrant("app", u.ID, ""), nil, at(time.Minute), nil))
		got, err := s.GetAuthRequest(ctx, r.ID)
		ok(t, "GetAuthRequest", err)
		same(t, "ExpiresAt", got.ExpiresAt, r.ExpiresAt)
	}},
	{"RedeemWithoutCode", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		u := mustUser(t, s, "alice")
		r := newAuthRequest("app")
		ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, r))
		ok(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, r.ID, newAuthentication(u.ID, "")))
		wantErr(t, "RedeemAuthCode without a code", s.RedeemAuthCode(ctx, r.ID, newGrant("app", u.ID, ""), nil, at(time.Hour), nil), store.ErrConflict)
	}},
	{"RedeemForUnknownUserChangesNothing", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		r, _ := mustCodeRequest(t, s, "app")
		g := newGrant("app", "no such user", "")
		wantErr(t, "RedeemAuthCode(unknown user)", s.RedeemAuthCode(ctx, r.ID, g, nil, at(time.Hour), nil), store.ErrNotFound)
		got, err := s.GetAuthRequest(ctx, r.ID)
		ok(t, "GetAuthRequest", err)
		if !got.RedeemedAt.IsZero() || got.GrantID != "" {
			t.Fatalf("a failed redemption left the code redeemed: %+v", got)
		}
	}},
	{"ConcurrentRedeemExactlyOnce", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		r, u := mustCodeRequest(t, s, "app")
		errs := race(racers, func(int) error {
			g := newGrant("app", u.ID, "")
			rt := newRefreshToken(g.ID)
			return s.RedeemAuthCode(ctx, r.ID, g, &rt, at(time.Hour), nil)
		})
		exactlyOne(t, "concurrent RedeemAuthCode", errs, store.ErrConflict)
	}},
	{"DeleteExpired", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		old := newAuthRequest("app")
		old.ExpiresAt = at(time.Minute)
		fresh := newAuthRequest("app")
		fresh.ExpiresAt = at(time.Minute + time.Millisecond)
		ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, old))
		ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, fresh))
		n, err := s.DeleteExpiredAuthRequests(ctx, at(time.Minute))
		ok(t, "DeleteExpiredAuthRequests", err)
		if n != 1 {
			t.Fatalf("DeleteExpiredAuthRequests removed %d, want 1", n)
		}
		_, err = s.GetAuthRequest(ctx, old.ID)
		wantErr(t, "expired request", err, store.ErrNotFound)
		_, err = s.GetAuthRequest(ctx, fresh.ID)
		ok(t, "unexpired request", err)
	}},
}

// --- grants ---

var oidcGrantTests = []oidcTest{
	{"GetGrantUser", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		g, _ := mustGrant(t, s, "app")
		u, err := s.GetUser(ctx, g.UserID)
		ok(t, "GetUser", err)
		gotG, gotU, err := s.GetGrantUser(ctx, g.ID)
		ok(t, "GetGrantUser", err)
		same(t, "grant", gotG, g)
		same(t, "user", gotU, u)
		_, _, err = s.GetGrantUser(ctx, "nope")
		wantErr(t, "GetGrantUser(unknown)", err, store.ErrNotFound)
	}},
	{"RevokeKeepsFirstReason", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		g, _ := mustGrant(t, s, "app")
		ok(t, "RevokeGrant", s.RevokeGrant(ctx, g.ID, at(time.Hour), "refresh_token_reused"))
		ok(t, "RevokeGrant again", s.RevokeGrant(ctx, g.ID, at(2*time.Hour), "logout"))
		got, err := s.GetGrant(ctx, g.ID)
		ok(t, "GetGrant", err)
		g.RevokedAt, g.RevokeReason = at(time.Hour), "refresh_token_reused"
		same(t, "revoked grant", got, g)
		wantErr(t, "RevokeGrant(unknown)", s.RevokeGrant(ctx, "nope", at(0), "x"), store.ErrNotFound)
		_, err = s.GetGrant(ctx, "nope")
		wantErr(t, "GetGrant(unknown)", err, store.ErrNotFound)
	}},
	{"RevokeGrantsOfUser", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		mustOIDCClient(t, s, "other")
		u := mustUser(t, s, "alice")
		var ids []string
		for _, client := range []string{"app", "app", "other"} {
			r := newAuthRequest(client)
			ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, r))
			ok(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, r.ID, newAuthentication(u.ID, "")))
			ok(t, "SetAuthCode", s.SetAuthCode(ctx, r.ID, []byte("code-"+r.ID), at(time.Minute)))
			g := newGrant(client, u.ID, "")
			ok(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, r.ID, g, nil, at(time.Hour), nil))
			ids = append(ids, g.ID)
		}
		someoneElse, _ := mustGrant(t, s, "app")

		n, err := s.RevokeGrants(ctx, u.ID, "app", at(time.Hour), "logout")
		ok(t, "RevokeGrants", err)
		if n != 2 {
			t.Fatalf("RevokeGrants(user, app) = %d, want 2", n)
		}
		for i, id := range ids {
			g, err := s.GetGrant(ctx, id)
			ok(t, "GetGrant", err)
			if revoked := !g.RevokedAt.IsZero(); revoked != (i < 2) {
				t.Fatalf("grant %d to %s: revoked %v", i, g.ClientID, revoked)
			}
		}
		if g, _ := s.GetGrant(ctx, someoneElse.ID); !g.RevokedAt.IsZero() {
			t.Fatal("another user's grant was revoked")
		}
		// Already revoked grants are not counted again; empty client is all.
		n, err = s.RevokeGrants(ctx, u.ID, "", at(2*time.Hour), "user disabled")
		ok(t, "RevokeGrants(all clients)", err)
		if n != 1 {
			t.Fatalf("RevokeGrants(user, any) = %d, want 1", n)
		}
	}},
	{"EndWithUserAndPasskey", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		r1, u := mustCodeRequest(t, s, "app")
		c := mustCredential(t, s, newCredential(u.ID))
		withPasskey := newGrant("app", u.ID, c.ID)
		rt := newRefreshToken(withPasskey.ID)
		ok(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, r1.ID, withPasskey, &rt, at(time.Hour), nil))
		r2 := newAuthRequest("app")
		ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, r2))
		ok(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, r2.ID, newAuthentication(u.ID, "")))
		ok(t, "SetAuthCode", s.SetAuthCode(ctx, r2.ID, []byte("code-"+r2.ID), at(time.Minute)))
		withPass := newGrant("app", u.ID, "")
		ok(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, r2.ID, withPass, nil, at(time.Hour), nil))

		// Revoking the passkey ends the grants made with it, not the others.
		ok(t, "DeleteCredential", s.DeleteCredential(ctx, c.ID))
		_, err := s.GetGrant(ctx, withPasskey.ID)
		wantErr(t, "grant of a deleted passkey", err, store.ErrNotFound)
		_, _, err = s.GetRefreshToken(ctx, rt.Hash)
		wantErr(t, "refresh token of a deleted passkey", err, store.ErrNotFound)
		_, err = s.GetGrant(ctx, withPass.ID)
		ok(t, "grant made without the passkey", err)

		// Deleting the user ends all of them.
		ok(t, "DeleteUser", s.DeleteUser(ctx, u.ID))
		_, err = s.GetGrant(ctx, withPass.ID)
		wantErr(t, "grant of a deleted user", err, store.ErrNotFound)
	}},
	{"DeleteExpired", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		g, rt := mustGrant(t, s, "app")
		n, err := s.DeleteExpiredGrants(ctx, g.ExpiresAt.Add(-time.Millisecond))
		ok(t, "DeleteExpiredGrants (before expiry)", err)
		if n != 0 {
			t.Fatalf("DeleteExpiredGrants before expiry removed %d", n)
		}
		n, err = s.DeleteExpiredGrants(ctx, g.ExpiresAt)
		ok(t, "DeleteExpiredGrants", err)
		if n != 1 {
			t.Fatalf("DeleteExpiredGrants removed %d, want 1", n)
		}
		_, _, err = s.GetRefreshToken(ctx, rt.Hash)
		wantErr(t, "refresh token of an expired grant", err, store.ErrNotFound)
	}},
}

// --- refresh tokens ---

var oidcRefreshTests = []oidcTest{
	{"Rotate", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		g, first := mustGrant(t, s, "app")
		second := newRefreshToken(g.ID)
		ok(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, first.Hash, second, at(time.Hour), nil))
		got, _, err := s.GetRefreshToken(ctx, first.Hash)
		ok(t, "GetRefreshToken(first)", err)
		first.UsedAt = at(time.Hour)
		same(t, "rotated token", got, first)
		got, gotG, err := s.GetRefreshToken(ctx, second.Hash)
		ok(t, "GetRefreshToken(second)", err)
		same(t, "next token", got, second)
		same(t, "next token's grant", gotG, g)

		// The used token cannot be rotated again.
		wantErr(t, "RotateRefreshToken(used)", s.RotateRefreshToken(ctx, first.Hash, newRefreshToken(g.ID), at(2*time.Hour), nil), store.ErrConflict)
		wantErr(t, "RotateRefreshToken(unknown)", s.RotateRefreshToken(ctx, []byte("nope"), newRefreshToken(g.ID), at(time.Hour), nil), store.ErrNotFound)
		_, _, err = s.GetRefreshToken(ctx, []byte("nope"))
		wantErr(t, "GetRefreshToken(unknown)", err, store.ErrNotFound)
		_, _, err = s.GetRefreshToken(ctx, nil)
		wantErr(t, "GetRefreshToken(empty)", err, store.ErrNotFound)
	}},
	{"RotateLogsSignIn", func(t *testing.T, s OIDCStore) {
		// The sign-in log entry commits with the rotation, and only when
		// it succeeds.
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		g, first := mustGrant(t, s, "app")
		ev := tokenSignIn(store.User{ID: g.UserID, Username: "someone"}, "app", at(time.Hour))
		ok(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, first.Hash, newRefreshToken(g.ID), at(time.Hour), &ev))
		refused := ev
		refused.Detail = "must not be logged"
		wantErr(t, "RotateRefreshToken(used)", s.RotateRefreshToken(ctx, first.Hash, newRefreshToken(g.ID), at(2*time.Hour), &refused), store.ErrConflict)
		wantErr(t, "RotateRefreshToken(unknown)", s.RotateRefreshToken(ctx, []byte("nope"), newRefreshToken(g.ID), at(2*time.Hour), &refused), store.ErrNotFound)
		g2, rt2 := mustGrant(t, s, "app")
		ok(t, "RevokeGrant", s.RevokeGrant(ctx, g2.ID, at(time.Hour), "logout"))
		refused.UserID = g2.UserID
		wantErr(t, "RotateRefreshToken(revoked grant)", s.RotateRefreshToken(ctx, rt2.Hash, newRefreshToken(g2.ID), at(2*time.Hour), &refused), store.ErrConflict)
		sameSignIns(t, s, g.UserID, ev)
		sameSignIns(t, s, g2.UserID)
	}},
	{"RotateCountsLikeAppend", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		rs := reportStore(t, s)
		mustOIDCClient(t, s, "app")
		g, first := mustGrant(t, s, "app")
		grp := mustGroup(t, s, "pilot")
		ok(t, "AddMember", s.AddMember(ctx, grp.ID, g.UserID))
		ev := tokenSignIn(store.User{ID: g.UserID, Username: "someone"}, "app", day0.Add(time.Hour))
		ev.Client = "browser"
		ok(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, first.Hash, newRefreshToken(g.ID), at(time.Hour), &ev))
		wantErr(t, "RotateRefreshToken(used)", s.RotateRefreshToken(ctx, first.Hash, newRefreshToken(g.ID), at(time.Hour), &ev), store.ErrConflict)
		mustAppend(t, s, ev)
		got, err := rs.SignInDays(ctx, day0)
		ok(t, "SignInDays", err)
		same(t, "SignInDays", got, []store.SignInDay{
			{Day: day0, GroupID: "", Method: "passkey", Count: 2},
			{Day: day0, GroupID: grp.ID, Method: "passkey", Count: 2},
		})
	}},
	{"GetRefreshTokenUser", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		g, first := mustGrant(t, s, "app")
		second := newRefreshToken(g.ID)
		ok(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, first.Hash, second, at(time.Hour), nil))
		u, err := s.GetUser(ctx, g.UserID)
		ok(t, "GetUser", err)
		for _, want := range []oidcstore.RefreshToken{first, second} {
			wantRT, wantG, err := s.GetRefreshToken(ctx, want.Hash)
			ok(t, "GetRefreshToken", err)
			gotRT, gotG, gotU, err := s.GetRefreshTokenUser(ctx, want.Hash)
			ok(t, "GetRefreshTokenUser", err)
			same(t, "token", gotRT, wantRT)
			same(t, "grant", gotG, wantG)
			same(t, "user", gotU, u)
		}
		ok(t, "RevokeGrant", s.RevokeGrant(ctx, g.ID, at(2*time.Hour), "logout"))
		_, gotG, _, err := s.GetRefreshTokenUser(ctx, second.Hash)
		ok(t, "GetRefreshTokenUser(revoked grant)", err)
		same(t, "RevokedAt", gotG.RevokedAt, at(2*time.Hour))
		_, _, _, err = s.GetRefreshTokenUser(ctx, []byte("nope"))
		wantErr(t, "GetRefreshTokenUser(unknown)", err, store.ErrNotFound)
		_, _, _, err = s.GetRefreshTokenUser(ctx, nil)
		wantErr(t, "GetRefreshTokenUser(empty)", err, store.ErrNotFound)
	}},
	{"RevokedGrantCannotRotate", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		g, rt := mustGrant(t, s, "app")
		ok(t, "RevokeGrant", s.RevokeGrant(ctx, g.ID, at(time.Hour), "logout"))
		next := newRefreshToken(g.ID)
		wantErr(t, "RotateRefreshToken(revoked grant)", s.RotateRefreshToken(ctx, rt.Hash, next, at(time.Hour), nil), store.ErrConflict)
		_, _, err := s.GetRefreshToken(ctx, next.Hash)
		wantErr(t, "token of a refused rotation", err, store.ErrNotFound)
		_, gotG, err := s.GetRefreshToken(ctx, rt.Hash)
		ok(t, "GetRefreshToken", err)
		same(t, "RevokedAt", gotG.RevokedAt, at(time.Hour))
	}},
	{"OtherGrantCannotRotate", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		_, rt := mustGrant(t, s, "app")
		other, _ := mustGrant(t, s, "app")
		wantErr(t, "RotateRefreshToken into another grant", s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken(other.ID), at(time.Hour), nil), store.ErrConflict)
	}},
	{"ConcurrentRotateExactlyOnce", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "app")
		g, rt := mustGrant(t, s, "app")
		errs := race(racers, func(int) error {
			return s.RotateRefreshToken(ctx, rt.Hash, newRefreshToken(g.ID), at(time.Hour), nil)
		})
		exactlyOne(t, "concurrent RotateRefreshToken", errs, store.ErrConflict)
	}},
}

// --- signing keys ---

func newSigningKey(alg string, notBefore time.Duration) oidcstore.SigningKey {
	n := next()
	return oidcstore.SigningKey{
		ID: fmt.Sprintf("key-%d", n), Algorithm: alg,
		PrivateKey: []byte{0x00, 0xff, byte(n)}, PublicKey: []byte{0x30, byte(n)},
		CreatedAt: at(0), NotBefore: at(notBefore),
	}
}

var oidcKeyTests = []oidcTest{
	{"AddListDelete", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		es1 := newSigningKey("ES256", 0)
		ok(t, "AddSigningKey", s.AddSigningKey(ctx, es1, ""))
		rs := newSigningKey("RS256", -time.Hour)
		ok(t, "AddSigningKey(other algorithm)", s.AddSigningKey(ctx, rs, ""))
		es2 := newSigningKey("ES256", time.Hour)
		ok(t, "AddSigningKey(next)", s.AddSigningKey(ctx, es2, es1.ID))
		list, err := s.ListSigningKeys(ctx)
		ok(t, "ListSigningKeys", err)
		same(t, "ListSigningKeys", list, []oidcstore.SigningKey{rs, es1, es2})

		ok(t, "DeleteSigningKey", s.DeleteSigningKey(ctx, es1.ID))
		wantErr(t, "DeleteSigningKey again", s.DeleteSigningKey(ctx, es1.ID), store.ErrNotFound)
		list, err = s.ListSigningKeys(ctx)
		ok(t, "ListSigningKeys", err)
		same(t, "after delete", list, []oidcstore.SigningKey{rs, es2})
	}},
	{"CompareAndSet", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		first := newSigningKey("ES256", 0)
		ok(t, "AddSigningKey", s.AddSigningKey(ctx, first, ""))
		wantErr(t, "AddSigningKey(expecting none)", s.AddSigningKey(ctx, newSigningKey("ES256", time.Hour), ""), store.ErrConflict)
		wantErr(t, "AddSigningKey(expecting a stale key)", s.AddSigningKey(ctx, newSigningKey("ES256", time.Hour), "stale"), store.ErrConflict)
		// The newest is by NotBefore, not by insertion.
		later := newSigningKey("ES256", time.Hour)
		ok(t, "AddSigningKey(later)", s.AddSigningKey(ctx, later, first.ID))
		earlier := newSigningKey("ES256", 30*time.Minute)
		wantErr(t, "AddSigningKey(expecting the one before the newest)", s.AddSigningKey(ctx, earlier, first.ID), store.ErrConflict)
		ok(t, "AddSigningKey(expecting the newest)", s.AddSigningKey(ctx, earlier, later.ID))
		dup := newSigningKey("ES256", 2*time.Hour)
		dup.ID = first.ID
		wantErr(t, "AddSigningKey(ID in use)", s.AddSigningKey(ctx, dup, later.ID), store.ErrConflict)
	}},
	{"Promote", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		cur := newSigningKey("ES256", 0)
		ok(t, "AddSigningKey", s.AddSigningKey(ctx, cur, ""))
		nxt := newSigningKey("ES256", 30*24*time.Hour)
		ok(t, "AddSigningKey(next)", s.AddSigningKey(ctx, nxt, cur.ID))
		rs := newSigningKey("RS256", 40*24*time.Hour)
		ok(t, "AddSigningKey(RS256)", s.AddSigningKey(ctx, rs, ""))
		wantErr(t, "PromoteSigningKey(unknown)", s.PromoteSigningKey(ctx, "nope", at(time.Minute)), store.ErrNotFound)
		wantErr(t, "PromoteSigningKey(not the newest)", s.PromoteSigningKey(ctx, cur.ID, at(-time.Minute)), store.ErrConflict)
		wantErr(t, "PromoteSigningKey(later, not sooner)", s.PromoteSigningKey(ctx, nxt.ID, at(31*24*time.Hour)), store.ErrConflict)
		wantErr(t, "PromoteSigningKey(before the current key)", s.PromoteSigningKey(ctx, nxt.ID, at(-time.Minute)), store.ErrConflict)
		ok(t, "PromoteSigningKey", s.PromoteSigningKey(ctx, nxt.ID, at(time.Minute)))
		wantErr(t, "PromoteSigningKey(again, same time)", s.PromoteSigningKey(ctx, nxt.ID, at(time.Minute)), store.ErrConflict)
		list, err := s.ListSigningKeys(ctx)
		ok(t, "ListSigningKeys", err)
		nxt.NotBefore = at(time.Minute)
		same(t, "after promotion", list, []oidcstore.SigningKey{cur, nxt, rs})

		// Of concurrent promotions to one time, exactly one succeeds.
		errs := race(racers, func(int) error { return s.PromoteSigningKey(ctx, rs.ID, at(2*time.Minute)) })
		exactlyOne(t, "concurrent PromoteSigningKey", errs, store.ErrConflict)
	}},
	{"ConcurrentAddExactlyOnce", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		first := newSigningKey("ES256", 0)
		ok(t, "AddSigningKey", s.AddSigningKey(ctx, first, ""))
		errs := race(racers, func(i int) error {
			return s.AddSigningKey(ctx, newSigningKey("ES256", time.Duration(i+1)*time.Minute), first.ID)
		})
		exactlyOne(t, "concurrent AddSigningKey", errs, store.ErrConflict)
	}},
}

// --- back-channel logout outbox ---

// mustGrantIn redeems a new code for u at client, in session sid, with
// passkey credentialID.
func mustGrantIn(t *testing.T, s OIDCStore, clientID string, u store.User, sid, credentialID string) oidcstore.Grant {
	t.Helper()
	ctx := context.Background()
	r := newAuthRequest(clientID)
	ok(t, "PutAuthRequest", s.PutAuthRequest(ctx, r))
	a := newAuthentication(u.ID, credentialID)
	a.SessionID = sid
	ok(t, "CompleteAuthRequest", s.CompleteAuthRequest(ctx, r.ID, a))
	ok(t, "SetAuthCode", s.SetAuthCode(ctx, r.ID, []byte("code-"+r.ID), at(time.Minute)))
	g := newGrant(clientID, u.ID, credentialID)
	g.SessionID = sid
	ok(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, r.ID, g, nil, at(time.Hour), nil))
	got, err := s.GetAuthRequest(ctx, r.ID)
	ok(t, "GetAuthRequest", err)
	if got.Auth.SessionID != sid {
		t.Fatalf("request's session ID %q, want %q", got.Auth.SessionID, sid)
	}
	return g
}

func newLogout(clientID string, due time.Duration) oidcstore.Logout {
	return oidcstore.Logout{ID: store.NewID(), ClientID: clientID, Subject: "user-1", SessionID: "sid-1", Reason: "signout",
		CreatedAt: at(0), NextAttemptAt: at(due)}
}

func logoutIDs(ls []oidcstore.Logout) []string {
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	sort.Strings(ids)
	return ids
}

var oidcLogoutTests = []oidcTest{
	{"Targets", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "alpha") // has a back-channel logout URI
		b := newOIDCClient("beta")
		b.BackchannelLogoutURI = ""
		ok(t, "CreateClient", s.CreateClient(ctx, b))
		mustOIDCClient(t, s, "gamma")
		u := mustUser(t, s, "alice")
		other := mustUser(t, s, "bob")
		cred := mustCredential(t, s, newCredential(u.ID))
		g1 := mustGrantIn(t, s, "alpha", u, "s1", cred.ID)
		mustGrantIn(t, s, "alpha", u, "s1", "") // same session again: one target
		mustGrantIn(t, s, "gamma", u, "s2", "")
		mustGrantIn(t, s, "beta", u, "s1", cred.ID) // no URI: never a target
		mustGrantIn(t, s, "alpha", other, "s3", "")
		got, err := s.GetGrant(ctx, g1.ID)
		ok(t, "GetGrant", err)
		if got.SessionID != "s1" {
			t.Fatalf("grant session ID %q", got.SessionID)
		}
		for _, tc := range []struct {
			name string
			q    oidcstore.LogoutQuery
			want []oidcstore.LogoutTarget
		}{
			{"user", oidcstore.LogoutQuery{UserID: u.ID}, []oidcstore.LogoutTarget{{ClientID: "alpha", Subject: u.ID, SessionID: "s1"}, {ClientID: "gamma", Subject: u.ID, SessionID: "s2"}}},
			{"sessions", oidcstore.LogoutQuery{SessionIDs: []string{"s1", "s3", "nope"}}, []oidcstore.LogoutTarget{{ClientID: "alpha", Subject: u.ID, SessionID: "s1"}, {ClientID: "alpha", Subject: other.ID, SessionID: "s3"}}},
			{"credential", oidcstore.LogoutQuery{CredentialID: cred.ID}, []oidcstore.LogoutTarget{{ClientID: "alpha", Subject: u.ID, SessionID: "s1"}}},
			{"nothing", oidcstore.LogoutQuery{}, nil},
			{"covered", oidcstore.LogoutQuery{SessionIDs: []string{"s1", "s2", "s3"}}, []oidcstore.LogoutTarget{{ClientID: "gamma", Subject: u.ID, SessionID: "s2"}}},
		} {
			if tc.name == "covered" {
				// s1 was logged out; a logout of all of other's sessions
				// covers the grants made before it.
				l := newLogout("alpha", 0)
				l.Subject, l.SessionID = u.ID, "s1"
				all := newLogout("alpha", 0)
				all.Subject, all.SessionID, all.CreatedAt = other.ID, "", at(3*time.Second)
				ok(t, "AddLogouts", s.AddLogouts(ctx, []oidcstore.Logout{l, all}))
			}
			list, err := s.ListLogoutTargets(ctx, tc.q)
			ok(t, "ListLogoutTargets("+tc.name+")", err)
			// The order is client, subject, session.
			sort.SliceStable(tc.want, func(i, j int) bool {
				a, b := tc.want[i], tc.want[j]
				if a.ClientID != b.ClientID {
					return a.ClientID < b.ClientID
				}
				return a.Subject < b.Subject
			})
			same(t, "ListLogoutTargets("+tc.name+")", list, tc.want)
		}
	}},
	{"ClaimFinish", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "alpha")
		l1, l2, later := newLogout("alpha", 0), newLogout("alpha", time.Second), newLogout("alpha", time.Hour)
		ok(t, "AddLogouts", s.AddLogouts(ctx, []oidcstore.Logout{l1, l2, later}))
		wantErr(t, "AddLogouts(ID in use)", s.AddLogouts(ctx, []oidcstore.Logout{newLogout("alpha", 0), l1}), store.ErrConflict)
		wantErr(t, "AddLogouts(unknown client)", s.AddLogouts(ctx, []oidcstore.Logout{newLogout("nope", 0)}), store.ErrNotFound)
		got, err := s.GetLogout(ctx, l1.ID)
		ok(t, "GetLogout", err)
		same(t, "GetLogout", got, l1)

		claimed, err := s.ClaimLogouts(ctx, "a", at(time.Minute), at(2*time.Minute), 10)
		ok(t, "ClaimLogouts", err)
		same(t, "claimed (due, oldest first)", logoutIDs(claimed), logoutIDs([]oidcstore.Logout{l1, l2}))
		if claimed[0].LeaseOwner != "a" || !claimed[0].LeaseUntil.Equal(ms(at(2*time.Minute))) {
			t.Errorf("claimed without the lease: %+v", claimed[0])
		}
		again, err := s.ClaimLogouts(ctx, "b", at(time.Minute), at(3*time.Minute), 10)
		ok(t, "ClaimLogouts(leased)", err)
		if len(again) != 0 {
			t.Fatalf("leased entries claimed again: %+v", again)
		}
		// a failed: retry later.
		ok(t, "FinishLogout(retry)", s.FinishLogout(ctx, l1.ID, "a", oidcstore.LogoutOutcome{At: at(time.Minute), NextAttemptAt: at(10 * time.Minute), Error: "HTTP 503"}))
		got, _ = s.GetLogout(ctx, l1.ID)
		if got.Attempts != 1 || !got.DoneAt.IsZero() || got.LeaseOwner != "" || !got.LeaseUntil.IsZero() || got.LastError != "HTTP 503" || !got.NextAttemptAt.Equal(ms(at(10*time.Minute))) {
			t.Errorf("after a failed attempt: %+v", got)
		}
		wantErr(t, "FinishLogout(not the owner)", s.FinishLogout(ctx, l2.ID, "b", oidcstore.LogoutOutcome{At: at(time.Minute), Delivered: true}), store.ErrConflict)
		wantErr(t, "FinishLogout(unknown)", s.FinishLogout(ctx, "nope", "a", oidcstore.LogoutOutcome{At: at(time.Minute), Delivered: true}), store.ErrNotFound)

		// a's lease on l2 ran out: b takes it; a can no longer finish it.
		claimed, err = s.ClaimLogouts(ctx, "b", at(5*time.Minute), at(6*time.Minute), 10)
		ok(t, "ClaimLogouts(expired lease)", err)
		same(t, "claimed after the lease", logoutIDs(claimed), []string{l2.ID})
		wantErr(t, "FinishLogout(lost lease)", s.FinishLogout(ctx, l2.ID, "a", oidcstore.LogoutOutcome{At: at(5 * time.Minute), Delivered: true}), store.ErrConflict)
		ok(t, "FinishLogout(delivered)", s.FinishLogout(ctx, l2.ID, "b", oidcstore.LogoutOutcome{At: at(5 * time.Minute), Delivered: true}))
		got, _ = s.GetLogout(ctx, l2.ID)
		if !got.Delivered || !got.DoneAt.Equal(ms(at(5*time.Minute))) || got.Attempts != 1 {
			t.Errorf("after delivery: %+v", got)
		}
		wantErr(t, "FinishLogout(done)", s.FinishLogout(ctx, l2.ID, "b", oidcstore.LogoutOutcome{At: at(5 * time.Minute), Delivered: true}), store.ErrConflict)

		// Given up: done, not delivered, never claimed again.
		claimed, err = s.ClaimLogouts(ctx, "a", at(10*time.Minute), at(11*time.Minute), 10)
		ok(t, "ClaimLogouts(retry due)", err)
		same(t, "claimed for the retry", logoutIDs(claimed), []string{l1.ID})
		ok(t, "FinishLogout(give up)", s.FinishLogout(ctx, l1.ID, "a", oidcstore.LogoutOutcome{At: at(10 * time.Minute), GiveUp: true, Error: "timeout"}))
		got, _ = s.GetLogout(ctx, l1.ID)
		if got.Delivered || got.DoneAt.IsZero() || got.Attempts != 2 {
			t.Errorf("after giving up: %+v", got)
		}
		claimed, err = s.ClaimLogouts(ctx, "a", at(2*time.Hour), at(3*time.Hour), 10)
		ok(t, "ClaimLogouts(later)", err)
		same(t, "only the later entry is left", logoutIDs(claimed), []string{later.ID})

		n, err := s.DeleteFinishedLogouts(ctx, at(6*time.Minute))
		ok(t, "DeleteFinishedLogouts", err)
		if n != 1 {
			t.Errorf("DeleteFinishedLogouts removed %d, want the one done before", n)
		}
		wantErr(t, "GetLogout(deleted)", func() error { _, err := s.GetLogout(ctx, l2.ID); return err }(), store.ErrNotFound)
	}},
	{"ConcurrentClaimsDisjoint", func(t *testing.T, s OIDCStore) {
		ctx := context.Background()
		mustOIDCClient(t, s, "alpha")
		var ls []oidcstore.Logout
		for range 20 {
			ls = append(ls, newLogout("alpha", 0))
		}
		ok(t, "AddLogouts", s.AddLogouts(ctx, ls))
		var mu sync.Mutex
		seen := map[string]int{}
		errs := race(racers, func(i int) error {
			got, err := s.ClaimLogouts(ctx, fmt.Sprintf("owner-%d", i), at(time.Minute), at(2*time.Minute), 5)
			mu.Lock()
			defer mu.Unlock()
			for _, l := range got {
				seen[l.ID]++
			}
			return err
		})
		for _, err := range errs {
			ok(t, "ClaimLogouts", err)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("entry %s claimed %d times", id, n)
			}
		}
		if want := min(20, 5*racers); len(seen) != want {
			t.Errorf("%d entries claimed, want %d", len(seen), want)
		}
	}},
}
