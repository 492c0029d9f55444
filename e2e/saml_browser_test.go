package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"fmt"
	"html"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/samlidp"
)

// startSAMLApp runs a web app protected by crewjam/saml's samlsp
// middleware (a SAML SP no one here wrote) on localhost, registered with
// Sesame from its own metadata. /hello needs a signed-in user and shows
// what the SP received.
func startSAMLApp(t testing.TB, inst *instance, name string) string {
	t.Helper()
	port := freePort(t)
	base := fmt.Sprintf("http://localhost:%d", port)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	idpMD, err := samlsp.FetchMetadata(context.Background(), http.DefaultClient, *mustURL(t, inst.URL+samlidp.PathMetadata))
	if err != nil {
		t.Fatalf("fetching Sesame's IdP metadata: %v", err)
	}
	mw, err := samlsp.New(samlsp.Options{URL: *mustURL(t, base), Key: key, Certificate: cert, IDPMetadata: idpMD, SignRequest: true})
	if err != nil {
		t.Fatal(err)
	}
	mw.ServiceProvider.AuthnNameIDFormat = saml.EmailAddressNameIDFormat
	md, err := xml.Marshal(mw.ServiceProvider.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.App.SAML.AddApp(context.Background(), audit.CLI, samlidp.NewApp{Name: name, Metadata: md}); err != nil {
		t.Fatalf("registering the SAML app: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/saml/", mw)
	mux.Handle("/hello", mw.RequireAccount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := samlsp.SessionFromContext(r.Context()).(samlsp.SessionWithAttributes)
		if s == nil {
			http.Error(w, "no session attributes", http.StatusInternalServerError)
			return
		}
		a := s.GetAttributes()
		fmt.Fprintf(w, `<!DOCTYPE html><title>sp</title><p id="sp-email">%s</p><p id="sp-name">%s</p><p id="sp-groups">%s</p>`,
			html.EscapeString(a.Get("email")), html.EscapeString(a.Get("name")), html.EscapeString(strings.Join(a["groups"], ",")))
	})))
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return base
}

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestBrowserSAMLApp: in Chromium, a person opens an app protected by a
// SAML SP, is sent to Sesame with a signed AuthnRequest, signs in with a
// passkey (virtual authenticator), and the SP accepts the signed (and
// encrypted) assertion with the expected attributes.
func TestBrowserSAMLApp(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	gina := inst.createUser(t, "gina", false)
	inst.joinGroup(t, "gina", "staff")
	pass := inst.issueTAP(t, gina, 0, false)
	ctx := newTab(t)
	addAuthenticator(t, ctx, false)
	browserSignInWithTAP(t, ctx, inst.URL, "gina", pass)
	browserAddPasskey(t, ctx, "")
	clearCookies(t, ctx)

	app := startSAMLApp(t, inst, "wiki")
	navigate(t, ctx, app+"/hello")
	waitFor(t, ctx, `location.origin === `+jsString(app)+` && !!document.querySelector("#sp-email")`)
	if got := text(t, ctx, "#sp-email"); got != "gina@example.com" {
		t.Errorf("the SP got email %q", got)
	}
	if got := text(t, ctx, "#sp-name"); got != "Gina" {
		t.Errorf("the SP got name %q", got)
	}
	if got := text(t, ctx, "#sp-groups"); got != "staff" {
		t.Errorf("the SP got groups %q", got)
	}
	ev := inst.lastSignIn(t)
	if ev.App != "wiki" || ev.Result != "success" || ev.UserID != gina.ID || ev.PasskeyType != "device-bound" {
		t.Errorf("sign-in record %+v", ev)
	}
}
