package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/samlidp"
	"github.com/sesame-idp/sesame/internal/store"
)

// SAML 2.0: crewjam/saml's ServiceProvider (code no one here wrote) signs
// users in through Sesame's IdP over the real HTTP server, and checks the
// signatures, subject, attributes and authentication context itself.

// newSP makes a service provider whose ACS is on loopback (only its URL is
// used: the test posts the response to the SP's parser itself).
func newSP(t testing.TB, inst *instance, name string, signRequests bool) *saml.ServiceProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	r := inst.newClient(t).get(t, samlidp.PathMetadata)
	if r.Status != http.StatusOK {
		t.Fatalf("IdP metadata: %s", r)
	}
	idpMD, err := samlsp.ParseMetadata(r.Body)
	if err != nil {
		t.Fatalf("parsing the IdP metadata: %v", err)
	}
	base, _ := url.Parse("http://127.0.0.1:9/" + name)
	sp := &saml.ServiceProvider{EntityID: base.String() + "/metadata", Key: key, Certificate: cert,
		MetadataURL: *base.JoinPath("metadata"), AcsURL: *base.JoinPath("acs"), SloURL: *base.JoinPath("slo"),
		IDPMetadata: idpMD, AuthnNameIDFormat: saml.UnspecifiedNameIDFormat, AllowIDPInitiated: true}
	if signRequests {
		sp.SignatureMethod = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	}
	return sp
}

func registerSP(t testing.TB, inst *instance, name string, sp *saml.ServiceProvider, format, strength string) {
	t.Helper()
	md, err := xml.Marshal(sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.App.SAML.AddApp(context.Background(), audit.CLI, samlidp.NewApp{Name: name, Metadata: md,
		NameIDFormat: format, RequiredStrength: strength}); err != nil {
		t.Fatalf("registering SAML app %s: %v", name, err)
	}
}

var (
	samlResponseField = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)
	relayStateField   = regexp.MustCompile(`name="RelayState" value="([^"]*)"`)
)

// samlForm is what the IdP's auto-posting form carries to the ACS.
func samlForm(t testing.TB, r response) (samlResponse, relayState string) {
	t.Helper()
	m := samlResponseField.FindSubmatch(r.Body)
	if r.Status != http.StatusOK || m == nil {
		t.Fatalf("want an auto-posting SAML response form, got %s", r)
	}
	if rs := relayStateField.FindSubmatch(r.Body); rs != nil {
		relayState = html.UnescapeString(string(rs[1]))
	}
	return html.UnescapeString(string(m[1])), relayState
}

// acs hands a SAMLResponse to the SP as its ACS would receive it.
func acs(sp *saml.ServiceProvider, samlResponse string, requestIDs ...string) (*saml.Assertion, error) {
	form := url.Values{"SAMLResponse": {samlResponse}}
	req, _ := http.NewRequest(http.MethodPost, sp.AcsURL.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := req.ParseForm(); err != nil {
		return nil, err
	}
	a, err := sp.ParseResponse(req, requestIDs)
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) {
		err = ire.PrivateErr
	}
	return a, err
}

func redirectRequest(t testing.TB, sp *saml.ServiceProvider, relayState string) (path, id string) {
	t.Helper()
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	u, err := req.Redirect(relayState, sp)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI(), req.ID
}

func attributes(a *saml.Assertion) map[string][]string {
	out := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				out[at.Name] = append(out[at.Name], v.Value)
			}
		}
	}
	return out
}

func classRef(a *saml.Assertion) string {
	for _, s := range a.AuthnStatements {
		if s.AuthnContext.AuthnContextClassRef != nil {
			return s.AuthnContext.AuthnContextClassRef.Value
		}
	}
	return ""
}

func TestSAMLServiceProvider(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	ctx := context.Background()
	tapClient, pk := inst.onboard(t, "alice", softOptions{}) // a device-bound passkey
	if _, err := inst.App.Dir.CreateGroup(ctx, audit.CLI, "staff", ""); err != nil {
		t.Fatal(err)
	}
	if err := inst.App.Dir.SetMember(ctx, audit.CLI, "staff", "alice", true); err != nil {
		t.Fatal(err)
	}
	c := inst.newClient(t)
	c.signInWithPasskey(t, pk, "alice")

	wiki := newSP(t, inst, "wiki", false)
	registerSP(t, inst, "wiki", wiki, "email", "")

	t.Run("SPInitiatedRedirect", func(t *testing.T) {
		path, id := redirectRequest(t, wiki, "state-1")
		resp, relay := samlForm(t, c.get(t, path))
		if relay != "state-1" {
			t.Errorf("RelayState = %q, want state-1", relay)
		}
		a, err := acs(wiki, resp, id)
		if err != nil {
			t.Fatalf("the SP refused Sesame's response: %v", err)
		}
		if a.Subject.NameID.Value != "alice@example.com" || a.Subject.NameID.Format != string(saml.EmailAddressNameIDFormat) {
			t.Errorf("NameID = %+v, want alice@example.com in the email format", a.Subject.NameID)
		}
		at := attributes(a)
		if at["email"][0] != "alice@example.com" || at["name"][0] != "Alice" || len(at["groups"]) != 1 || at["groups"][0] != "staff" {
			t.Errorf("attributes = %v, want email, name and groups", at)
		}
		if got := classRef(a); got != samlidp.ClassRef("phrh") {
			t.Errorf("AuthnContextClassRef = %q, want the device-bound passkey class %q", got, samlidp.ClassRef("phrh"))
		}
		if a.Signature == nil {
			t.Error("the assertion is not signed")
		}
		ev := inst.lastSignIn(t)
		if ev.App != "wiki" || ev.Result != store.ResultSuccess || ev.UserID == "" {
			t.Errorf("sign-in record = %+v, want a success for wiki", ev)
		}
	})

	t.Run("SPInitiatedPost", func(t *testing.T) {
		req, err := wiki.MakeAuthenticationRequest(wiki.GetSSOBindingLocation(saml.HTTPPostBinding), saml.HTTPPostBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		doc := etree.NewDocument()
		doc.SetRoot(req.Element())
		buf, _ := doc.WriteToBytes()
		r := c.postForm(t, samlidp.PathSSO, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(buf)}, "RelayState": {"post-state"}})
		resp, relay := samlForm(t, r)
		if relay != "post-state" {
			t.Errorf("RelayState = %q", relay)
		}
		if _, err := acs(wiki, resp, req.ID); err != nil {
			t.Fatalf("the SP refused the response: %v", err)
		}
	})

	t.Run("IdPInitiated", func(t *testing.T) {
		resp, _ := samlForm(t, c.get(t, "/saml/idp/wiki?RelayState=home"))
		a, err := acs(wiki, resp)
		if err != nil {
			t.Fatalf("the SP refused the unsolicited response: %v", err)
		}
		if a.Subject.NameID.Value != "alice@example.com" {
			t.Errorf("NameID = %q", a.Subject.NameID.Value)
		}
		expectPage(t, c.get(t, "/saml/idp/nope"), http.StatusNotFound, "unknown_app")
	})

	t.Run("TamperedResponseRefusedBySP", func(t *testing.T) {
		path, id := redirectRequest(t, wiki, "")
		resp, _ := samlForm(t, c.get(t, path))
		raw, _ := base64.StdEncoding.DecodeString(resp)
		// The assertion is encrypted to the SP's key (its metadata offers
		// one); the response around it is signed. Change one character of
		// the response's signature value.
		i := bytes.Index(raw, []byte("SignatureValue>"))
		if i < 0 {
			t.Fatal("the response is not signed")
		}
		forged := bytes.Clone(raw)
		j := i + len("SignatureValue>")
		if forged[j] == 'A' {
			forged[j] = 'B'
		} else {
			forged[j] = 'A'
		}
		if _, err := acs(wiki, base64.StdEncoding.EncodeToString(forged), id); err == nil {
			t.Fatal("a response with a changed signature was accepted")
		}
		// A response for wiki presented to another SP (same keys, other
		// entity ID) is for the wrong audience.
		other := *wiki
		other.EntityID = "http://127.0.0.1:9/other/metadata"
		other.MetadataURL = *mustURL(t, other.EntityID)
		other.AcsURL = *mustURL(t, "http://127.0.0.1:9/other/acs")
		if _, err := acs(&other, resp, id); err == nil {
			t.Fatal("another SP accepted a response made for wiki")
		}
		if _, err := acs(wiki, resp, id); err != nil {
			t.Fatalf("the untouched response: %v", err)
		}
	})

	t.Run("PersistentNameID", func(t *testing.T) {
		crm := newSP(t, inst, "crm", false)
		crm.AuthnNameIDFormat = saml.PersistentNameIDFormat
		registerSP(t, inst, "crm", crm, "persistent", "")
		var got []string
		for range 2 {
			path, id := redirectRequest(t, crm, "")
			resp, _ := samlForm(t, c.get(t, path))
			a, err := acs(crm, resp, id)
			if err != nil {
				t.Fatal(err)
			}
			if a.Subject.NameID.Format != string(saml.PersistentNameIDFormat) {
				t.Errorf("format %q", a.Subject.NameID.Format)
			}
			got = append(got, a.Subject.NameID.Value)
		}
		if got[0] != got[1] || strings.Contains(got[0], "alice") {
			t.Errorf("persistent NameIDs %v: want the same opaque value twice", got)
		}
	})

	t.Run("SignedRequestsRequired", func(t *testing.T) {
		signer := newSP(t, inst, "hr", true)
		registerSP(t, inst, "hr", signer, "email", "")
		path, id := redirectRequest(t, signer, "")
		resp, _ := samlForm(t, c.get(t, path))
		if _, err := acs(signer, resp, id); err != nil {
			t.Fatal(err)
		}
		// The same signed request again is a replay.
		expectPage(t, c.get(t, path), http.StatusBadRequest, "request_replayed")
		// Tampered: the RelayState the signature covers changed.
		path, _ = redirectRequest(t, signer, "original")
		expectPage(t, c.get(t, strings.Replace(path, "RelayState=original", "RelayState=changed", 1)), http.StatusBadRequest, "bad_signature")
		// Unsigned, from an SP whose metadata says it signs.
		unsigned := *signer
		unsigned.SignatureMethod = ""
		path, _ = redirectRequest(t, &unsigned, "")
		expectPage(t, c.get(t, path), http.StatusBadRequest, "bad_signature")
		// Made for another identity provider (signed Destination elsewhere).
		req, err := signer.MakeAuthenticationRequest("https://elsewhere.example.com/sso", saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		u, err := req.Redirect("", signer)
		if err != nil {
			t.Fatal(err)
		}
		expectPage(t, c.get(t, samlidp.PathSSO+"?"+u.RawQuery), http.StatusBadRequest, "wrong_destination")
		// Signed with a key the SP did not register.
		impostor := newSP(t, inst, "hr", true)
		path, _ = redirectRequest(t, impostor, "")
		expectPage(t, c.get(t, path), http.StatusBadRequest, "bad_signature")
	})

	t.Run("UnknownSP", func(t *testing.T) {
		stranger := newSP(t, inst, "stranger", false)
		path, _ := redirectRequest(t, stranger, "")
		expectPage(t, c.get(t, path), http.StatusNotFound, "unknown_app")
		expectPage(t, c.get(t, samlidp.PathSSO+"?SAMLRequest=%25%25%25"), http.StatusBadRequest, "")
	})

	t.Run("BadRegistrations", func(t *testing.T) {
		before := inst.snapshot(t)
		for _, in := range []samlidp.NewApp{
			{Name: "junk", Metadata: []byte("<not metadata")},
			{Name: "noacs", Metadata: []byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"></SPSSODescriptor></EntityDescriptor>`)},
			{Name: "plainhttp", ACSURL: "http://wiki.example.com/acs", EntityID: "e"},
			{Name: "half", ACSURL: "https://wiki.example.com/acs"},
			{Name: "wiki", ACSURL: "https://other.example.com/acs", EntityID: "other"},
			{Name: "Bad Name", ACSURL: "https://x.example.com/acs", EntityID: "x"},
			{Name: "fmt", ACSURL: "https://x.example.com/acs", EntityID: "x", NameIDFormat: "transient"},
		} {
			_, err := inst.App.SAML.AddApp(ctx, audit.CLI, in)
			if p := problem.As(err); err == nil || p.Status >= 500 {
				t.Errorf("AddApp(%s) = %v, want a 4xx refusal", in.Name, err)
			}
		}
		inst.assertUnchanged(t, before)
	})

	t.Run("NotSignedInGoesThroughSignIn", func(t *testing.T) {
		fresh := inst.newClient(t)
		path, id := redirectRequest(t, wiki, "later")
		r := fresh.get(t, path)
		loc := r.Header.Get("Location")
		if r.Status != http.StatusFound || !strings.HasPrefix(loc, "/signin?") {
			t.Fatalf("want a redirect to sign in, got %s (Location %q)", r, loc)
		}
		u, _ := url.Parse(loc)
		back := u.Query().Get("return_to")
		if !strings.HasPrefix(back, samlidp.PathContinue+"?id=") {
			t.Fatalf("return_to = %q", back)
		}
		fresh.signInWithPasskey(t, pk, "alice")
		resp, relay := samlForm(t, fresh.get(t, back))
		if relay != "later" {
			t.Errorf("RelayState = %q", relay)
		}
		if _, err := acs(wiki, resp, id); err != nil {
			t.Fatal(err)
		}
		expectPage(t, fresh.get(t, back), http.StatusBadRequest, "request_gone")
	})

	t.Run("ForceAuthnAndIsPassive", func(t *testing.T) {
		yes := true
		req, err := wiki.MakeAuthenticationRequest(wiki.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		req.ForceAuthn = &yes
		u, _ := req.Redirect("", wiki)
		r := c.get(t, u.RequestURI())
		if loc := r.Header.Get("Location"); r.Status != http.StatusFound || !strings.Contains(loc, "prompt=login") {
			t.Fatalf("ForceAuthn with a session: want a new sign-in, got %s (%q)", r, loc)
		}
		// IsPassive without a session: the SP hears NoPassive, no page.
		req, _ = wiki.MakeAuthenticationRequest(wiki.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		req.IsPassive = &yes
		u, _ = req.Redirect("", wiki)
		resp, _ := samlForm(t, inst.newClient(t).get(t, u.RequestURI()))
		raw, _ := base64.StdEncoding.DecodeString(resp)
		if _, err := acs(wiki, resp, req.ID); err == nil || !bytes.Contains(raw, []byte("status:NoPassive")) {
			t.Errorf("IsPassive without a session: want a NoPassive status, got %v\n%s", err, raw)
		}
	})

	t.Run("IdPInitiatedNotSignedIn", func(t *testing.T) {
		fresh := inst.newClient(t)
		r := fresh.get(t, "/saml/idp/wiki?RelayState=dash")
		u, _ := url.Parse(r.Header.Get("Location"))
		if r.Status != http.StatusFound || u.Path != "/signin" {
			t.Fatalf("want a redirect to sign in, got %s", r)
		}
		fresh.signInWithPasskey(t, pk, "alice")
		resp, relay := samlForm(t, fresh.get(t, u.Query().Get("return_to")))
		if relay != "dash" {
			t.Errorf("RelayState = %q", relay)
		}
		if _, err := acs(wiki, resp); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("AppStrengthAndConditionalAccess", func(t *testing.T) {
		// The TAP session cannot meet a phishing-resistant floor: sign in again.
		vault := newSP(t, inst, "vault", false)
		registerSP(t, inst, "vault", vault, "email", "phishing-resistant-mfa")
		path, _ := redirectRequest(t, vault, "")
		r := tapClient.get(t, path)
		if loc := r.Header.Get("Location"); r.Status != http.StatusFound || !strings.Contains(loc, "prompt=login") {
			t.Fatalf("a TAP session at an app requiring phishing-resistant MFA: want a new sign-in, got %s (%q)", r, loc)
		}
		// The passkey session meets it.
		path, id := redirectRequest(t, vault, "")
		resp, _ := samlForm(t, c.get(t, path))
		if _, err := acs(vault, resp, id); err != nil {
			t.Fatal(err)
		}

		payroll := newSP(t, inst, "payroll", false)
		registerSP(t, inst, "payroll", payroll, "email", "")
		inst.putPolicy(t, access.Policy{Name: "No payroll", State: access.StateOn, Users: access.Users{All: true},
			Apps: access.Apps{Include: []string{"payroll"}}, Grant: access.Grant{Block: true}})
		inst.putPolicy(t, access.Policy{Name: "Pilot wiki block", State: access.StateReportOnly, Users: access.Users{All: true},
			Apps: access.Apps{Include: []string{"wiki"}}, Grant: access.Grant{Block: true}})
		path, _ = redirectRequest(t, payroll, "")
		expectPage(t, c.get(t, path), http.StatusForbidden, "access_blocked")
		ev := inst.lastSignIn(t)
		if ev.App != "payroll" || ev.Reason != "access_blocked" || resultOf(t, ev, "No payroll").Outcome != access.OutcomeBlock {
			t.Errorf("blocked SAML sign-in recorded as %+v", ev)
		}
		// Report-only: the sign-in goes through, the result is recorded.
		path, id = redirectRequest(t, wiki, "")
		resp, _ = samlForm(t, c.get(t, path))
		if _, err := acs(wiki, resp, id); err != nil {
			t.Fatal(err)
		}
		ev = inst.lastSignIn(t)
		if ev.App != "wiki" || ev.Result != store.ResultSuccess || resultOf(t, ev, "Pilot wiki block").Outcome != access.OutcomeBlock {
			t.Errorf("report-only result not recorded: %+v", ev)
		}
	})

	t.Run("SingleLogout", func(t *testing.T) {
		portal := newSP(t, inst, "portal", true) // signs its logout requests
		portal.LogoutBindings = []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding}
		registerSP(t, inst, "portal", portal, "email", "")
		path, id := redirectRequest(t, portal, "")
		resp, _ := samlForm(t, c.get(t, path))
		a, err := acs(portal, resp, id)
		if err != nil {
			t.Fatal(err)
		}
		var index string
		for _, s := range a.AuthnStatements {
			index = s.SessionIndex
		}
		u, err := portal.MakeRedirectLogoutRequest(a.Subject.NameID.Value, "bye", saml.WithSessionIndex(index))
		if err != nil {
			t.Fatal(err)
		}
		r := c.get(t, u.RequestURI())
		if r.Status >= 400 {
			t.Fatalf("logout request refused: %s", r)
		}
		if c.signedIn(t) {
			t.Error("still signed in to Sesame after single logout")
		}
	})
}

// expectPage checks an HTML error page's status and code.
func expectPage(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && !bytes.Contains(r.Body, []byte(code))) {
		t.Fatalf("want HTTP %d with %q, got %s", status, code, r)
	}
}

// The admin JSON API and console manage SAML apps; bad input is refused
// with a clear error and changes nothing.
func TestSAMLAppsAPIAndConsole(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	admin := inst.createUser(t, "root", true)
	c := inst.newClient(t)
	c.signInWithTAP(t, "root", inst.issueTAP(t, admin, 0, false))

	r := c.postJSON(t, "/api/admin/saml-apps", map[string]string{"name": "wiki", "acs_url": "https://wiki.example.com/acs",
		"entity_id": "https://wiki.example.com/saml", "nameid_format": "persistent", "strength": "phishing-resistant-mfa"})
	if r.Status != http.StatusCreated || !bytes.Contains(r.Body, []byte(`"entity_id":"https://wiki.example.com/saml"`)) {
		t.Fatalf("create: %s", r)
	}
	r = c.get(t, "/api/admin/saml-apps")
	if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`"name":"wiki"`)) || !bytes.Contains(r.Body, []byte(inst.URL+"/saml/metadata")) {
		t.Fatalf("list: %s", r)
	}
	if r = c.get(t, "/api/admin/saml-apps/wiki"); r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`"required_acr":"phr"`)) {
		t.Fatalf("get: %s", r)
	}
	if r = c.do(t, http.MethodPut, "/api/admin/saml-apps/wiki/strength", "application/json", []byte(`{"strength":"mfa"}`)); r.Status != http.StatusOK {
		t.Fatalf("set strength: %s", r)
	}

	before := inst.snapshot(t)
	for _, body := range []string{
		`{"name":"x"}`,
		`{"name":"x","acs_url":"https://x.example.com/acs","entity_id":"x","colour":"red"}`,
		`{"name":"x","metadata":"<EntityDescriptor"}`,
		`{"name":"dup","acs_url":"https://wiki.example.com/acs","entity_id":"https://wiki.example.com/saml"}`,
		`not json`,
	} {
		r := c.postJSON(t, "/api/admin/saml-apps", []byte(body))
		if r.Status < 400 || r.Status >= 500 || r.errorCode() == "" {
			t.Errorf("POST %s: want a 4xx with a code, got %s", body, r)
		}
	}
	if r = c.get(t, "/api/admin/saml-apps/nope"); r.Status != http.StatusNotFound || r.errorCode() != "unknown_app" {
		t.Errorf("unknown app: %s", r)
	}
	inst.assertUnchanged(t, before)

	// Console.
	r = c.get(t, "/admin/saml-apps")
	if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`data-app="wiki"`)) {
		t.Fatalf("console: %s", r)
	}
	r = c.postForm(t, "/admin/saml-apps", url.Values{"name": {"crm"}, "acs_url": {"https://crm.example.com/acs"}, "entity_id": {"crm"}})
	if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`id="saml-app-added"`)) {
		t.Fatalf("console add: %s", r)
	}
	r = c.postForm(t, "/admin/saml-apps", url.Values{"name": {"bad"}, "metadata": {"<nope"}})
	if r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte(`id="app-error"`)) {
		t.Fatalf("console bad metadata: %s", r)
	}
	if r = c.postForm(t, "/admin/saml-apps/crm/delete", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("console delete: %s", r)
	}
	if r = c.do(t, http.MethodDelete, "/api/admin/saml-apps/wiki", "", nil); r.Status != http.StatusNoContent {
		t.Fatalf("API delete: %s", r)
	}
	if r = c.get(t, "/api/admin/saml-apps"); !bytes.Contains(r.Body, []byte(`"apps":[]`)) {
		t.Errorf("after deletes: %s", r)
	}
	// Non-admins are kept out.
	if r = inst.newClient(t).get(t, "/api/admin/saml-apps"); r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
		t.Errorf("anonymous API access: %s", r)
	}
}

// The unauthenticated SAML endpoints share the sign-in rate limit.
func TestSAMLRateLimited(t *testing.T) {
	inst := startSesame(t, sesameOptions{RateLimit: 0.001}) // a burst of one, then one per 1000 s
	c := inst.newClient(t)
	limited := false
	for range 20 {
		r := c.get(t, samlidp.PathSSO+"?SAMLRequest=x")
		if r.Status == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("20 SSO requests from one address were never limited")
	}
	if r := c.get(t, samlidp.PathMetadata); r.Status != http.StatusOK {
		t.Errorf("the metadata is not rate-limited: %s", r)
	}
}
