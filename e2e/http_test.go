package e2e

// End to end over HTTP with a software authenticator: the whole passkey
// life (pass, register, sign in both ways) and every refusal, each with a
// clear JSON error and no change to stored data.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
)

// AAGUIDs of two well-known models, to check that the model is recognised.
const (
	aaguid1Password  = "bada5566-a7aa-401f-bd96-45619a55120d"
	aaguidYubiKey5   = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	modelUnknownName = "Passkey"
)

func TestPasskeyLifecycleOverHTTP(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	alice := inst.createUser(t, "alice", false)
	pass := inst.issueTAP(t, alice, 0, false)

	// Day one: the pass signs alice in, only to add a passkey.
	c := inst.newClient(t)
	if c.signedIn(t) {
		t.Fatal("signed in before signing in")
	}
	c.signInWithTAP(t, "Alice", pass) // usernames are case-insensitive
	if m := c.whoami(t); m.Username != "alice" || !slices.Equal(m.Methods, []string{"tap"}) {
		t.Fatalf("after the pass: %+v, want alice signed in with [tap]", m)
	}
	if ev := inst.lastSignIn(t); ev.Method != "tap" || ev.Result != store.ResultSuccess || ev.UserID != alice.ID {
		t.Errorf("sign-in record of the pass: %+v", ev)
	}

	// A synced passkey from a known password manager...
	synced := newSoftPasskey(t, inst, softOptions{Synced: true, AAGUID: aaguid1Password})
	reg := c.registerPasskey(t, synced, "")
	if reg.Model != "1Password" || reg.Type != "synced" || reg.Name != "1Password" {
		t.Errorf("registered synced passkey = %+v, want model and name 1Password, type synced", reg)
	}
	if string(synced.userHandle) != alice.ID {
		t.Errorf("user handle %q, want the user ID %q", synced.userHandle, alice.ID)
	}
	// ...and a device-bound security key with a counter, named by the user.
	key := newSoftPasskey(t, inst, softOptions{AAGUID: aaguidYubiKey5, Counter: 7})
	regKey := c.registerPasskey(t, key, "Blue key")
	if regKey.Model != "YubiKey 5 Series" || regKey.Type != "device-bound" || regKey.Name != "Blue key" {
		t.Errorf("registered security key = %+v", regKey)
	}
	creds := inst.credentials(t, alice)
	if len(creds) != 2 {
		t.Fatalf("alice has %d passkeys, want 2", len(creds))
	}
	if c := creds[0]; !c.BackupEligible || !c.BackupState || !bytes.Equal(c.CredentialID, synced.credentialID()) || !c.LastUsedAt.IsZero() || c.Algorithm != -7 {
		t.Errorf("stored synced passkey: %+v", c)
	}
	if c := creds[1]; c.BackupEligible || c.BackupState || c.SignCount != 7 {
		t.Errorf("stored security key: %+v", c)
	}

	// The same authenticator cannot be registered twice: Sesame excludes it.
	cer := c.beginRegistration(t)
	if !strings.Contains(string(cer.Options), b64(synced.credentialID())) || !strings.Contains(string(cer.Options), b64(key.credentialID())) {
		t.Errorf("registration options do not exclude the existing passkeys: %s", cer.Options)
	}
	before := inst.snapshot(t)
	expectRefusal(t, c.finishRegistration(t, cer, synced.attestation(t, cer.Options, forge{}), ""), http.StatusConflict, "already_registered")
	inst.assertUnchanged(t, before)

	// Usernameless (discoverable) sign-in on another device.
	d := inst.newClient(t)
	cer = d.beginSignIn(t, "")
	if len(allowList(t, cer)) != 0 {
		t.Errorf("a usernameless ceremony names passkeys: %s", cer.Options)
	}
	if !strings.Contains(string(cer.Options), `"userVerification":"required"`) {
		t.Errorf("sign-in options do not require user verification: %s", cer.Options)
	}
	r := d.finishSignIn(t, cer, synced.assertion(t, cer.Options, forge{}))
	if r.Status != http.StatusOK || !setsSessionCookie(r) {
		t.Fatalf("usernameless sign-in: %s", r)
	}
	var fin struct{ Redirect, User string }
	json.Unmarshal(r.Body, &fin)
	if fin.User != "alice" || fin.Redirect != "/my" {
		t.Errorf("finish answered %s", r.Body)
	}
	if m := d.whoami(t); m.ID != alice.ID || !slices.Equal(m.Methods, []string{"passkey"}) {
		t.Errorf("after usernameless sign-in: %+v", m)
	}
	ev := inst.lastSignIn(t)
	if ev.Result != store.ResultSuccess || ev.Method != "passkey" || ev.UserID != alice.ID || ev.CredentialID != creds[0].ID ||
		ev.Model != "1Password" || ev.PasskeyType != "synced" || ev.UserAgent != "sesame-e2e" || ev.IP != "127.0.0.1" {
		t.Errorf("sign-in record: %+v", ev)
	}
	if got := inst.credentials(t, alice)[0]; got.LastUsedAt.IsZero() {
		t.Error("last use of the synced passkey not recorded")
	}

	// Username-first sign-in with the security key: the ceremony names
	// alice's passkeys, and the counter moves forward.
	e := inst.newClient(t)
	cer = e.beginSignIn(t, "alice")
	if allow := allowList(t, cer); !slices.Contains(allow, b64(key.credentialID())) || !slices.Contains(allow, b64(synced.credentialID())) {
		t.Errorf("username-first ceremony allow list %v lacks alice's passkeys", allow)
	}
	r = e.finishSignIn(t, cer, key.assertion(t, cer.Options, forge{}))
	if r.Status != http.StatusOK {
		t.Fatalf("username-first sign-in: %s", r)
	}
	if got := inst.credentials(t, alice)[1]; got.SignCount != 8 || got.LastUsedAt.IsZero() {
		t.Errorf("security key after sign-in: count %d, last used %v; want 8 and set", got.SignCount, got.LastUsedAt)
	}
	if m := e.whoami(t); m.ID != alice.ID {
		t.Errorf("after username-first sign-in: %+v", m)
	}

	// An unknown username gets a discoverable ceremony, exactly as an
	// account without passkeys would: the form does not reveal accounts.
	if allow := allowList(t, e.beginSignIn(t, "nobody")); len(allow) != 0 {
		t.Errorf("unknown username got an allow list %v", allow)
	}
}

// refusalFixture is a user with two registered passkeys (one counting),
// signed in on one client, used by the refusal tests.
type refusalFixture struct {
	inst   *instance
	alice  store.User
	bob    store.User
	c      *client      // alice, signed in
	synced *softPasskey // alice's synced passkey (counter 0)
	key    *softPasskey // alice's security key (counter 100 and up)
	bobPK  *softPasskey // bob's passkey
	other  *client      // a client with no session
}

func newRefusalFixture(t *testing.T) *refusalFixture {
	inst := startSesame(t, sesameOptions{})
	c, synced := inst.onboard(t, "alice", softOptions{Synced: true})
	key := newSoftPasskey(t, inst, softOptions{Counter: 100})
	c.registerPasskey(t, key, "Key")
	_, bobPK := inst.onboard(t, "bob", softOptions{})
	return &refusalFixture{
		inst: inst, alice: inst.user(t, "alice"), bob: inst.user(t, "bob"),
		c: c, synced: synced, key: key, bobPK: bobPK, other: inst.newClient(t),
	}
}

// refuse runs one sign-in attempt that must be refused: it checks the
// status and code, that no session cookie is set, that stored data did not
// change, and that the sign-in log recorded the failure with that reason.
func (f *refusalFixture) refuse(t *testing.T, status int, code string, attempt func(c *client) response) store.SignInEvent {
	t.Helper()
	before := f.inst.snapshot(t)
	logged := len(f.inst.signIns(t, nil))
	r := attempt(f.other)
	expectRefusal(t, r, status, code)
	if setsSessionCookie(r) {
		t.Errorf("a refused sign-in set a session cookie")
	}
	f.inst.assertUnchanged(t, before)
	evs := f.inst.signIns(t, nil)
	if len(evs) != logged+1 {
		t.Fatalf("the refusal added %d sign-in records, want 1", len(evs)-logged)
	}
	if ev := evs[0]; ev.Result != store.ResultFailure || ev.Reason != code || ev.Method != "passkey" {
		t.Errorf("sign-in record of the refusal: %+v, want failure %q", ev, code)
	}
	return evs[0]
}

func TestPasskeySignInRefusals(t *testing.T) {
	f := newRefusalFixture(t)
	inst := f.inst

	t.Run("replayed challenge", func(t *testing.T) {
		cer := f.other.beginSignIn(t, "")
		body := f.synced.assertion(t, cer.Options, forge{})
		if r := f.other.finishSignIn(t, cer, body); r.Status != http.StatusOK {
			t.Fatalf("first use: %s", r)
		}
		f.other = inst.newClient(t)
		// The same ceremony and response again: the challenge is gone.
		f.refuse(t, http.StatusBadRequest, "challenge_unknown", func(c *client) response {
			return c.finishSignIn(t, cer, body)
		})
	})

	t.Run("replayed response in a new ceremony", func(t *testing.T) {
		cer := f.other.beginSignIn(t, "")
		body := f.synced.assertion(t, cer.Options, forge{})
		f.refuse(t, http.StatusUnauthorized, "verification_failed", func(c *client) response {
			return c.finishSignIn(t, c.beginSignIn(t, ""), body)
		})
	})

	t.Run("ceremony of another kind", func(t *testing.T) {
		// A registration ceremony's ID cannot finish a sign-in.
		reg := f.c.beginRegistration(t)
		f.refuse(t, http.StatusBadRequest, "challenge_unknown", func(c *client) response {
			sign := c.beginSignIn(t, "")
			return c.finishSignIn(t, reg, f.synced.assertion(t, sign.Options, forge{}))
		})
	})

	t.Run("expired challenge", func(t *testing.T) {
		f.refuse(t, http.StatusBadRequest, "challenge_expired", func(c *client) response {
			cer := c.beginSignIn(t, "")
			inst.clock.Advance(inst.Config.ChallengeTTL + time.Second)
			return c.finishSignIn(t, cer, f.synced.assertion(t, cer.Options, forge{}))
		})
	})

	t.Run("counter regression", func(t *testing.T) {
		// One honest sign-in moves the key's counter to 101.
		cer := f.other.beginSignIn(t, "alice")
		if r := f.other.finishSignIn(t, cer, f.key.assertion(t, cer.Options, forge{})); r.Status != http.StatusOK {
			t.Fatalf("honest sign-in: %s", r)
		}
		f.other = inst.newClient(t)
		for _, n := range []uint32{101, 50, 0} {
			f.refuse(t, http.StatusUnauthorized, "counter_regression", func(c *client) response {
				cer := c.beginSignIn(t, "")
				return c.finishSignIn(t, cer, f.key.assertion(t, cer.Options, forge{Counter: &n}))
			})
		}
	})

	t.Run("bad signature", func(t *testing.T) {
		f.refuse(t, http.StatusUnauthorized, "verification_failed", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, f.synced.assertion(t, cer.Options, forge{WrongKey: true}))
		})
	})

	t.Run("wrong RP ID hash", func(t *testing.T) {
		ev := f.refuse(t, http.StatusBadRequest, "rp_id_mismatch", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, f.synced.assertion(t, cer.Options, forge{RPID: "evil.example"}))
		})
		if !ev.Phishing {
			t.Errorf("a response for another RP ID is not recorded as possible phishing: %+v", ev)
		}
	})

	t.Run("response made for another origin", func(t *testing.T) {
		ev := f.refuse(t, http.StatusBadRequest, "origin_mismatch", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, f.synced.assertion(t, cer.Options, forge{Origin: "http://localhost:1"}))
		})
		if !ev.Phishing {
			t.Errorf("a response for another origin is not recorded as possible phishing: %+v", ev)
		}
		// Another scheme on the same host is another origin too.
		f.refuse(t, http.StatusBadRequest, "origin_mismatch", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, f.synced.assertion(t, cer.Options, forge{Origin: strings.Replace(inst.Origin, "http:", "https:", 1)}))
		})
	})

	t.Run("user verification missing", func(t *testing.T) {
		f.refuse(t, http.StatusUnauthorized, "user_not_verified", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, f.synced.assertion(t, cer.Options, forge{NoUV: true}))
		})
	})

	t.Run("unknown credential", func(t *testing.T) {
		stranger := newSoftPasskey(t, inst, softOptions{})
		stranger.userHandle = []byte(f.alice.ID)
		f.refuse(t, http.StatusUnauthorized, "unknown_credential", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, stranger.assertion(t, cer.Options, forge{}))
		})
	})

	t.Run("passkey not in the username-first allow list", func(t *testing.T) {
		// Bob's ceremony, answered with alice's passkey.
		f.refuse(t, http.StatusUnauthorized, "user_handle_mismatch", func(c *client) response {
			cer := c.beginSignIn(t, "bob")
			return c.finishSignIn(t, cer, f.synced.assertion(t, cer.Options, forge{}))
		})
	})

	t.Run("wrong user handle", func(t *testing.T) {
		// Alice's passkey claiming to be bob's.
		f.refuse(t, http.StatusUnauthorized, "user_handle_mismatch", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, f.synced.assertion(t, cer.Options, forge{UserHandle: []byte(f.bob.ID)}))
		})
	})

	t.Run("backup eligibility changed", func(t *testing.T) {
		// BE cannot change after registration: a response without it is not
		// from the registered passkey.
		f.refuse(t, http.StatusUnauthorized, "verification_failed", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, f.synced.assertion(t, cer.Options, forge{NoBackupFlags: true}))
		})
	})

	t.Run("malformed response", func(t *testing.T) {
		f.refuse(t, http.StatusBadRequest, "malformed_response", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, json.RawMessage(`{"id":"AAAA","type":"public-key","response":{"clientDataJSON":"!!"}}`))
		})
		// Authenticator data too short to hold the RP ID hash and flags.
		f.refuse(t, http.StatusBadRequest, "malformed_response", func(c *client) response {
			cer := c.beginSignIn(t, "")
			body := f.synced.assertion(t, cer.Options, forge{})
			var m map[string]any
			json.Unmarshal(body, &m)
			m["response"].(map[string]any)["authenticatorData"] = b64([]byte{1, 2, 3})
			b, _ := json.Marshal(m)
			return c.finishSignIn(t, cer, b)
		})
	})

	t.Run("disabled user", func(t *testing.T) {
		_, carolPK := inst.onboard(t, "carol", softOptions{})
		inst.disableUser(t, "carol")
		f.refuse(t, http.StatusForbidden, "user_disabled", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, carolPK.assertion(t, cer.Options, forge{}))
		})
		// Username-first for a disabled user looks like any other username.
		if allow := allowList(t, f.other.beginSignIn(t, "carol")); len(allow) != 0 {
			t.Errorf("a disabled user's ceremony names passkeys: %v", allow)
		}
	})

	t.Run("revoked passkey", func(t *testing.T) {
		dc, davePK := inst.onboard(t, "dave", softOptions{})
		dave := inst.user(t, "dave")
		cred := inst.credentials(t, dave)[0]
		// dave signs in with it, then an admin revokes it: the session made
		// with it ends too.
		dc.signInWithPasskey(t, davePK, "")
		if _, err := inst.App.SignIn.RemovePasskey(t.Context(), audit.Actor("admin"), dave.ID, cred.ID); err != nil {
			t.Fatal(err)
		}
		if dc.signedIn(t) {
			t.Error("the session made with a revoked passkey still works")
		}
		f.refuse(t, http.StatusUnauthorized, "unknown_credential", func(c *client) response {
			cer := c.beginSignIn(t, "")
			return c.finishSignIn(t, cer, davePK.assertion(t, cer.Options, forge{}))
		})
	})

	// The signed-in client was never disturbed by any of this.
	if m := f.c.whoami(t); m.ID != f.alice.ID {
		t.Errorf("alice's session: %+v", m)
	}
}

// TestMalformedRequests sends bodies that cannot be parsed: refused before
// any ceremony work, with a JSON error, and nothing stored.
func TestMalformedRequests(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	c, pk := inst.onboard(t, "alice", softOptions{})

	check := func(t *testing.T, status int, code string, send func() response) {
		t.Helper()
		before := inst.snapshot(t)
		r := send()
		expectRefusal(t, r, status, code)
		if setsSessionCookie(r) {
			t.Error("a refused request set a session cookie")
		}
		inst.assertUnchanged(t, before)
	}

	endpoints := []string{"/signin/passkey/begin", "/signin/passkey/finish", "/my/passkeys/register/begin", "/my/passkeys/register/finish"}
	for _, path := range endpoints {
		t.Run("malformed JSON "+path, func(t *testing.T) {
			check(t, http.StatusBadRequest, "bad_request", func() response {
				return c.postJSON(t, path, []byte(`{"ceremony": "abc", "credential": {`))
			})
			check(t, http.StatusBadRequest, "bad_request", func() response {
				return c.postJSON(t, path, []byte(`["not", "an", "object"]`))
			})
		})
		t.Run("oversized body "+path, func(t *testing.T) {
			big := `{"ceremony":"` + strings.Repeat("a", 70<<10) + `"}`
			check(t, http.StatusRequestEntityTooLarge, "body_too_large", func() response {
				return c.postJSON(t, path, []byte(big))
			})
		})
		t.Run("not JSON "+path, func(t *testing.T) {
			check(t, http.StatusUnsupportedMediaType, "bad_content_type", func() response {
				return c.do(t, http.MethodPost, path, "text/plain", []byte(`{}`), "Accept", "application/json")
			})
		})
	}

	t.Run("malformed CBOR in a registration", func(t *testing.T) {
		cer := c.beginRegistration(t)
		other := newSoftPasskey(t, inst, softOptions{})
		body := other.attestation(t, cer.Options, forge{})
		var m map[string]any
		json.Unmarshal(body, &m)
		// A CBOR map header that promises more than there is.
		m["response"].(map[string]any)["attestationObject"] = b64([]byte{0xbf, 0x63, 'f', 'm', 't', 0xff, 0x00})
		b, _ := json.Marshal(m)
		check(t, http.StatusBadRequest, "malformed_response", func() response {
			return c.finishRegistration(t, cer, b, "")
		})
	})

	t.Run("malformed CBOR public key in a registration", func(t *testing.T) {
		cer := c.beginRegistration(t)
		other := newSoftPasskey(t, inst, softOptions{})
		body := other.attestation(t, cer.Options, forge{})
		var m map[string]any
		json.Unmarshal(body, &m)
		att, _ := base64.RawURLEncoding.DecodeString(m["response"].(map[string]any)["attestationObject"].(string))
		// Cut the attestation object inside the authenticator data's COSE key.
		m["response"].(map[string]any)["attestationObject"] = b64(att[:len(att)-20])
		b, _ := json.Marshal(m)
		check(t, http.StatusBadRequest, "malformed_response", func() response {
			return c.finishRegistration(t, cer, b, "")
		})
	})

	t.Run("credential that is not a credential", func(t *testing.T) {
		cer := c.beginSignIn(t, "")
		check(t, http.StatusBadRequest, "malformed_response", func() response {
			return c.finishSignIn(t, cer, json.RawMessage(`"just a string"`))
		})
	})

	// Still works after all that.
	inst.newClient(t).signInWithPasskey(t, pk, "")
}

// TestRegistrationRefusals covers the registration side: responses for
// another origin (recorded as possible phishing), missing user
// verification, another user's ceremony, and registering without a session.
func TestRegistrationRefusals(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	c, _ := inst.onboard(t, "alice", softOptions{})
	bc, _ := inst.onboard(t, "bob", softOptions{})

	check := func(t *testing.T, status int, code string, send func() response) {
		t.Helper()
		before := inst.snapshot(t)
		expectRefusal(t, send(), status, code)
		inst.assertUnchanged(t, before)
	}

	t.Run("another origin", func(t *testing.T) {
		pk := newSoftPasskey(t, inst, softOptions{})
		check(t, http.StatusBadRequest, "origin_mismatch", func() response {
			cer := c.beginRegistration(t)
			return c.finishRegistration(t, cer, pk.attestation(t, cer.Options, forge{Origin: "http://localhost:1"}), "")
		})
		if ev := inst.audit(t)[0]; ev.Action != "passkey.register_refused" || !strings.Contains(ev.Detail, "origin_mismatch") {
			t.Errorf("the refused registration is not in the audit log: %+v", ev)
		}
	})
	t.Run("another RP ID", func(t *testing.T) {
		pk := newSoftPasskey(t, inst, softOptions{})
		check(t, http.StatusBadRequest, "rp_id_mismatch", func() response {
			cer := c.beginRegistration(t)
			return c.finishRegistration(t, cer, pk.attestation(t, cer.Options, forge{RPID: "evil.example"}), "")
		})
	})
	t.Run("user verification missing", func(t *testing.T) {
		pk := newSoftPasskey(t, inst, softOptions{})
		check(t, http.StatusUnauthorized, "user_not_verified", func() response {
			cer := c.beginRegistration(t)
			return c.finishRegistration(t, cer, pk.attestation(t, cer.Options, forge{NoUV: true}), "")
		})
	})
	t.Run("bad signature", func(t *testing.T) {
		pk := newSoftPasskey(t, inst, softOptions{})
		check(t, http.StatusUnauthorized, "verification_failed", func() response {
			cer := c.beginRegistration(t)
			return c.finishRegistration(t, cer, pk.attestation(t, cer.Options, forge{BadSignature: true}), "")
		})
	})
	t.Run("another user's ceremony", func(t *testing.T) {
		pk := newSoftPasskey(t, inst, softOptions{})
		check(t, http.StatusBadRequest, "challenge_unknown", func() response {
			cer := c.beginRegistration(t)
			return bc.finishRegistration(t, cer, pk.attestation(t, cer.Options, forge{}), "")
		})
	})
	t.Run("expired ceremony", func(t *testing.T) {
		pk := newSoftPasskey(t, inst, softOptions{})
		check(t, http.StatusBadRequest, "challenge_expired", func() response {
			cer := c.beginRegistration(t)
			inst.clock.Advance(inst.Config.ChallengeTTL + time.Second)
			return c.finishRegistration(t, cer, pk.attestation(t, cer.Options, forge{}), "")
		})
	})
	t.Run("bad name", func(t *testing.T) {
		pk := newSoftPasskey(t, inst, softOptions{})
		check(t, http.StatusBadRequest, "bad_request", func() response {
			cer := c.beginRegistration(t)
			return c.finishRegistration(t, cer, pk.attestation(t, cer.Options, forge{}), strings.Repeat("x", 65))
		})
	})
	t.Run("no session", func(t *testing.T) {
		anon := inst.newClient(t)
		check(t, http.StatusUnauthorized, "no_session", func() response {
			return anon.postJSON(t, "/my/passkeys/register/begin", map[string]any{})
		})
	})
}

// TestTemporaryAccessPassRefusals: expired, reused one-time, and wrong
// passes (rate limited after a few tries). The pass form is an HTML form,
// so the refusal is the form again with the message and the status; the
// sign-in log carries the machine-readable reason.
func TestTemporaryAccessPassRefusals(t *testing.T) {
	inst := startSesame(t, sesameOptions{})

	// check runs one refused attempt.
	check := func(t *testing.T, c *client, username, pass string, status int, code, message string) {
		t.Helper()
		before := inst.snapshot(t)
		r := c.submitTAP(t, username, pass)
		if r.Status != status {
			t.Errorf("want HTTP %d, got %s", status, r)
		}
		if !strings.Contains(string(r.Body), html.EscapeString(message)) {
			t.Errorf("the page does not say %q: %s", message, r)
		}
		if setsSessionCookie(r) {
			t.Error("a refused pass set a session cookie")
		}
		inst.assertUnchanged(t, before)
		if ev := inst.lastSignIn(t); ev.Result != store.ResultFailure || ev.Reason != code || ev.Method != "tap" {
			t.Errorf("sign-in record: %+v, want a tap failure %q", ev, code)
		}
	}

	t.Run("expired", func(t *testing.T) {
		u := inst.createUser(t, "erin", false)
		pass := inst.issueTAP(t, u, 10*time.Minute, false)
		inst.clock.Advance(10*time.Minute + time.Second)
		check(t, inst.newClient(t), "erin", pass, http.StatusUnauthorized, "tap_expired", methods.ErrTAPExpired.Message)
	})

	t.Run("one-time pass used twice", func(t *testing.T) {
		u := inst.createUser(t, "olga", false)
		pass := inst.issueTAP(t, u, 0, true)
		inst.newClient(t).signInWithTAP(t, "olga", pass)
		if tap, err := inst.App.Store.GetTAP(t.Context(), u.ID); err != nil || tap.UsedAt.IsZero() {
			t.Fatalf("the one-time pass is not marked used: %+v %v", tap, err)
		}
		check(t, inst.newClient(t), "olga", pass, http.StatusUnauthorized, "tap_used", methods.ErrTAPUsed.Message)
	})

	t.Run("a new pass replaces the old one", func(t *testing.T) {
		u := inst.createUser(t, "pete", false)
		old := inst.issueTAP(t, u, 0, false)
		fresh := inst.issueTAP(t, u, 0, false)
		check(t, inst.newClient(t), "pete", old, http.StatusUnauthorized, "tap_invalid", methods.ErrTAPInvalid.Message)
		inst.newClient(t).signInWithTAP(t, "pete", fresh)
	})

	t.Run("wrong pass, rate limited", func(t *testing.T) {
		u := inst.createUser(t, "walt", false)
		pass := inst.issueTAP(t, u, 0, false)
		c := inst.newClient(t)
		for i := range methods.TAPAttemptLimit {
			check(t, c, "walt", "wrongpass"+string(rune('a'+i)), http.StatusUnauthorized, "tap_invalid", methods.ErrTAPInvalid.Message)
		}
		// Now even the right pass is refused, for this account.
		check(t, c, "walt", "one-more-wrong", http.StatusTooManyRequests, "rate_limited", methods.ErrTooManyAttempts.Message)
		check(t, inst.newClient(t), "walt", pass, http.StatusTooManyRequests, "rate_limited", methods.ErrTooManyAttempts.Message)
		// The limit is per account: another user is not affected...
		x := inst.createUser(t, "xena", false)
		inst.newClient(t).signInWithTAP(t, "xena", inst.issueTAP(t, x, 0, false))
		// ...and it ends with its window.
		inst.clock.Advance(methods.TAPAttemptWindow + time.Second)
		inst.newClient(t).signInWithTAP(t, "walt", pass)
	})

	t.Run("unknown user reads like a wrong pass", func(t *testing.T) {
		check(t, inst.newClient(t), "nobody", "abcdefghjkmn", http.StatusUnauthorized, "tap_invalid", methods.ErrTAPInvalid.Message)
	})

	t.Run("disabled user", func(t *testing.T) {
		u := inst.createUser(t, "dora", false)
		pass := inst.issueTAP(t, u, 0, false)
		inst.disableUser(t, "dora")
		check(t, inst.newClient(t), "dora", pass, http.StatusForbidden, "user_disabled", signin.ErrUserDisabled.Message)
	})

	t.Run("a pass session ends with the pass", func(t *testing.T) {
		u := inst.createUser(t, "tess", false)
		pass := inst.issueTAP(t, u, 10*time.Minute, false)
		c := inst.newClient(t)
		c.signInWithTAP(t, "tess", pass)
		inst.clock.Advance(10*time.Minute + time.Second)
		if c.signedIn(t) {
			t.Error("a session made with a pass outlived the pass")
		}
	})
}

func TestSessions(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	c, pk := inst.onboard(t, "alice", softOptions{})

	t.Run("new session token at sign-in", func(t *testing.T) {
		d := inst.newClient(t)
		d.setSessionCookie("planted-by-an-attacker")
		if d.signedIn(t) {
			t.Fatal("a made-up session token was accepted")
		}
		d.setSessionCookie("planted-by-an-attacker")
		d.signInWithPasskey(t, pk, "")
		if tok := d.sessionCookie(); tok == "" || tok == "planted-by-an-attacker" {
			t.Errorf("session token after sign-in: %q", tok)
		}
		// Signing in again on a signed-in client rotates the token too.
		first := d.sessionCookie()
		d.signInWithPasskey(t, pk, "")
		if second := d.sessionCookie(); second == first {
			t.Error("signing in again kept the same session token")
		}
		// The TAP session of onboarding got its own token as well.
		if c.sessionCookie() == first {
			t.Error("two sign-ins share a session token")
		}
	})

	t.Run("sign-out ends the session on the server", func(t *testing.T) {
		d := inst.newClient(t)
		d.signInWithPasskey(t, pk, "")
		token := d.sessionCookie()
		n := inst.countRows(t, "sessions")
		r := d.postForm(t, "/signout", url.Values{})
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/signin") {
			t.Errorf("sign-out answered %s (Location %q)", r, r.Header.Get("Location"))
		}
		if d.sessionCookie() != "" {
			t.Error("sign-out left the cookie in the browser")
		}
		if got := inst.countRows(t, "sessions"); got != n-1 {
			t.Errorf("sessions after sign-out: %d, want %d", got, n-1)
		}
		// A copy of the old cookie is worthless now.
		d.setSessionCookie(token)
		if d.signedIn(t) {
			t.Error("the signed-out session token still works")
		}
	})

	t.Run("idle timeout", func(t *testing.T) {
		d := inst.newClient(t)
		d.signInWithPasskey(t, pk, "")
		inst.clock.Advance(inst.Config.SessionIdle - 10*time.Minute)
		if !d.signedIn(t) {
			t.Fatal("session ended before its idle timeout")
		}
		// Activity just now keeps it alive for another idle period...
		inst.clock.Advance(inst.Config.SessionIdle - 10*time.Minute)
		if !d.signedIn(t) {
			t.Fatal("an active session ended")
		}
		// ...but not for longer.
		inst.clock.Advance(inst.Config.SessionIdle + time.Second)
		r := d.get(t, "/api/me")
		expectRefusal(t, r, http.StatusUnauthorized, "no_session")
		// Pages send the user to sign in again.
		if r := d.get(t, "/my"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/signin") {
			t.Errorf("GET /my after the idle timeout: %s, Location %q", r, r.Header.Get("Location"))
		}
	})

	t.Run("absolute timeout", func(t *testing.T) {
		d := inst.newClient(t)
		d.signInWithPasskey(t, pk, "")
		step := inst.Config.SessionIdle / 2
		elapsed := time.Duration(0)
		for elapsed+step < inst.Config.SessionMax {
			inst.clock.Advance(step)
			elapsed += step
			if !d.signedIn(t) {
				t.Fatalf("an active session ended after %v, before the absolute timeout %v", elapsed, inst.Config.SessionMax)
			}
		}
		inst.clock.Advance(inst.Config.SessionMax - elapsed + time.Second)
		if d.signedIn(t) {
			t.Errorf("an active session outlived the absolute timeout %v", inst.Config.SessionMax)
		}
	})

	t.Run("disabling a user ends their sessions", func(t *testing.T) {
		bc, bpk := inst.onboard(t, "bob", softOptions{})
		bd := inst.newClient(t)
		bd.signInWithPasskey(t, bpk, "")
		inst.disableUser(t, "bob")
		if bc.signedIn(t) || bd.signedIn(t) {
			t.Error("a disabled user's session still works")
		}
	})
}

// TestPerAddressRateLimit is the one test with the per-address limit on:
// a burst of credential checks from one address is cut off with 429.
func TestPerAddressRateLimit(t *testing.T) {
	inst := startSesame(t, sesameOptions{RateLimit: 0.5}) // burst of 3, then one every 2s
	c := inst.newClient(t)
	limited := 0
	for range 20 {
		r := c.postJSON(t, "/signin/passkey/begin", map[string]string{})
		switch r.Status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			expectRefusal(t, r, http.StatusTooManyRequests, "rate_limited")
			limited++
		default:
			t.Fatalf("unexpected answer %s", r)
		}
	}
	if limited == 0 {
		t.Error("20 sign-in requests in a row were never rate limited")
	}
	// Pages are not limited.
	if r := c.get(t, "/signin"); r.Status != http.StatusOK {
		t.Errorf("GET /signin while limited: %s", r)
	}
}
