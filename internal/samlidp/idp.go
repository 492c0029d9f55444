// Package samlidp is Sesame's SAML 2.0 identity provider, built on
// crewjam/saml (XML signatures are that library's and goxmldsig's, not
// Sesame's). SAML service providers are apps: a sign-in to one goes
// through exactly the decisions an OpenID Connect sign-in does (the
// provider's AuthorizeApp: session freshness, forced re-authentication,
// the app's required strength, Conditional Access with report-only
// results), and is written to the sign-in log with the app's name.
//
// Routes: /saml/metadata (the IdP metadata; its URL is the entity ID),
// /saml/sso (SP-initiated, HTTP-Redirect and HTTP-POST bindings),
// /saml/idp/{app} (IdP-initiated), /saml/continue (back from signing in)
// and /saml/slo (single logout).
package samlidp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/store"
)

// Routes.
const (
	PathPrefix    = "/saml/"
	PathMetadata  = "/saml/metadata"
	PathSSO       = "/saml/sso"
	PathSLO       = "/saml/slo"
	PathContinue  = "/saml/continue"
	pathIDPPrefix = "/saml/idp/"
)

// Sessions is the part of the sign-in flow the IdP needs (signin.Service).
type Sessions interface {
	Authenticate(ctx context.Context, token string) (store.Session, store.User, error)
	SignOut(ctx context.Context, token string) error
}

// Gate is the provider's app sign-in decision (oidc.Provider).
type Gate interface {
	AuthorizeApp(w http.ResponseWriter, r *http.Request, as oidc.AppSignIn, req oidc.AppRequirements) oidc.AppOutcome
	RecordSignIn(ctx context.Context, o oidc.AppOutcome)
	ErrorPage(w http.ResponseWriter, r *http.Request, status int, code, message string)
	App(ctx context.Context, clientID string) (oidc.App, error)
}

// Config is what the IdP is built from.
type Config struct {
	BaseURL string // Sesame's public URL
	Store   store.Store
	Apps    store.SAMLStore
	Gate    Gate
	// Sessions and the cookie describe the Sesame session (single logout
	// ends it).
	Sessions      Sessions
	CookieName    string
	SecureCookies bool
	// KeyEncryptionKey seals the signing key at rest; PairwiseKey makes
	// persistent NameIDs. 32 bytes each, derived from the server secret.
	KeyEncryptionKey []byte
	PairwiseKey      []byte
	Now              func() time.Time
	Log              *slog.Logger
	// HTTPClient fetches SP metadata (default: 15 s timeout).
	HTTPClient *http.Client
}

// IdP is the SAML identity provider.
type IdP struct {
	base     *url.URL
	store    store.Store
	apps     store.SAMLStore
	gate     Gate
	oidcApps interface {
		App(context.Context, string) (oidc.App, error)
	}
	sessions      Sessions
	cookieName    string
	secureCookies bool
	kek           []byte
	pairwise      []byte
	now           func() time.Time
	log           *slog.Logger
	client        *http.Client

	mu  sync.Mutex
	idp *saml.IdentityProvider
}

// New builds the IdP; the signing key is loaded (or made) at first use.
func New(cfg Config) (*IdP, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("samlidp: bad base URL %q", cfg.BaseURL)
	}
	if len(cfg.KeyEncryptionKey) != 32 || len(cfg.PairwiseKey) != 32 {
		return nil, errors.New("samlidp: the key-encryption and pairwise keys must be 32 bytes")
	}
	p := &IdP{base: base, store: cfg.Store, apps: cfg.Apps, gate: cfg.Gate, sessions: cfg.Sessions,
		cookieName: cfg.CookieName, secureCookies: cfg.SecureCookies, kek: cfg.KeyEncryptionKey, pairwise: cfg.PairwiseKey,
		now: cfg.Now, log: cfg.Log, client: cfg.HTTPClient}
	if cfg.Gate != nil {
		p.oidcApps = cfg.Gate
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.client == nil {
		p.client = &http.Client{Timeout: 15 * time.Second}
	}
	if p.client.CheckRedirect == nil {
		c := *p.client
		c.CheckRedirect = checkMetadataRedirect
		p.client = &c
	}
	return p, nil
}

// checkMetadataRedirect holds a redirect of an SP's metadata URL to the
// rule the URL itself passed (https://, or http:// on this host): the
// daily refresh follows it unattended, and a plain http:// hop would let
// anyone on the path swap in their own certificate and ACS.
func checkMetadataRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return fmt.Errorf("metadata URL redirected %d times", len(via))
	}
	if !validURL(req.URL.String()) {
		return fmt.Errorf("metadata URL redirected to %q, not an https:// URL", req.URL.Redacted())
	}
	return nil
}

// Endpoints lists the IdP's URLs.
func (p *IdP) Endpoints() Endpoints {
	b := p.base.String()
	return Endpoints{EntityID: b + PathMetadata, Metadata: b + PathMetadata, SSO: b + PathSSO, SLO: b + PathSLO}
}

// --- signing key ---

const keySetting = "saml.signing_key"

type sealedKey struct {
	Key  []byte `json:"key"`  // sealed PKCS#8
	Cert []byte `json:"cert"` // DER
}

func (p *IdP) aead() cipher.AEAD {
	b, _ := aes.NewCipher(p.kek)
	g, _ := cipher.NewGCM(b)
	return g
}

var sealAD = []byte("sesame/saml-signing-key")

// signingKey loads the IdP's key and certificate, making them on first
// use. Only the instance holding the key lock (a challenge record, which
// one instance alone can create) makes the key; the others wait for it and
// read it, so every instance signs with the key the metadata publishes.
func (p *IdP) signingKey(ctx context.Context) (*rsa.PrivateKey, *x509.Certificate, error) {
	for attempt := 0; attempt < 100; attempt++ {
		raw, err := p.store.GetSetting(ctx, keySetting)
		if err == nil {
			var sk sealedKey
			if err := json.Unmarshal(raw, &sk); err != nil {
				return nil, nil, fmt.Errorf("the SAML signing key is damaged: %w", err)
			}
			a := p.aead()
			if len(sk.Key) < a.NonceSize() {
				return nil, nil, errors.New("the SAML signing key is damaged")
			}
			plain, err := a.Open(nil, sk.Key[:a.NonceSize()], sk.Key[a.NonceSize():], sealAD)
			if err != nil {
				return nil, nil, errors.New("the SAML signing key cannot be opened: was the server secret changed?")
			}
			k, err := x509.ParsePKCS8PrivateKey(plain)
			if err != nil {
				return nil, nil, err
			}
			cert, err := x509.ParseCertificate(sk.Cert)
			if err != nil {
				return nil, nil, err
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, errors.New("the SAML signing key is not RSA")
			}
			return rk, cert, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		locked, err := p.lockKey(ctx)
		if err != nil {
			return nil, nil, err
		}
		if locked {
			if err := p.makeKey(ctx); err != nil {
				return nil, nil, err
			}
			continue
		}
		select { // another instance is making it
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, nil, errors.New("the SAML signing key is not there yet (another instance is making it); try again")
}

const keyLockID = "saml-signing-key-lock"

// lockKey takes the right to make the signing key: the one instance whose
// lock record is created. A lock left by an instance that died holding it
// expires and is swept with the other expired challenges.
func (p *IdP) lockKey(ctx context.Context) (bool, error) {
	err := p.store.PutChallenge(ctx, store.Challenge{ID: keyLockID, Kind: "saml-key-lock", ExpiresAt: p.now().Add(30 * time.Second)})
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

func (p *IdP) makeKey(ctx context.Context) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	now := p.now()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: p.base.Host + " SAML signing"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return err
	}
	plain, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	a := p.aead()
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	b, _ := json.Marshal(sealedKey{Key: a.Seal(nonce, nonce, plain, sealAD), Cert: der})
	return p.store.PutSetting(ctx, keySetting, b)
}

// provider is the crewjam IdentityProvider, built once the key is there.
func (p *IdP) provider(ctx context.Context) (*saml.IdentityProvider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idp != nil {
		return p.idp, nil
	}
	key, cert, err := p.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	at := func(path string) url.URL { u := *p.base; u.Path = path; return u }
	validity := 5 * time.Minute
	p.idp = &saml.IdentityProvider{
		Key: key, Certificate: cert, Logger: slogLogger{p.log},
		MetadataURL: at(PathMetadata), SSOURL: at(PathSSO), LogoutURL: at(PathSLO),
		ServiceProviderProvider: spLookup{p},
		SessionProvider:         sessionProvider{p},
		AssertionMaker:          saml.DefaultAssertionMaker{},
		ValidDuration:           &validity,
		NameIDFormats:           []saml.NameIDFormat{saml.EmailAddressNameIDFormat, saml.PersistentNameIDFormat},
		LogoutBindings:          []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding},
		ReplayCache:             replayCache{p},
		RejectSHA1Signatures:    true,
		SendErrorResponses:      true,
		OnError:                 p.onError,
	}
	return p.idp, nil
}

// slogLogger adapts slog to the library's logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(f string, v ...any) { s.l.Info("saml: " + fmt.Sprintf(f, v...)) }
func (s slogLogger) Print(v ...any)            { s.l.Info("saml: " + fmt.Sprint(v...)) }
func (s slogLogger) Println(v ...any)          { s.l.Info("saml: " + fmt.Sprint(v...)) }
func (s slogLogger) Fatal(v ...any)            { s.l.Error("saml: " + fmt.Sprint(v...)) }
func (s slogLogger) Fatalf(f string, v ...any) { s.l.Error("saml: " + fmt.Sprintf(f, v...)) }
func (s slogLogger) Panic(v ...any)            { s.l.Error("saml: " + fmt.Sprint(v...)) }
func (s slogLogger) Panicf(f string, v ...any) { s.l.Error("saml: " + fmt.Sprintf(f, v...)) }
func (s slogLogger) Panicln(v ...any)          { s.l.Error("saml: " + fmt.Sprint(v...)) }
func (s slogLogger) Fatalln(v ...any)          { s.l.Error("saml: " + fmt.Sprint(v...)) }

// --- service providers ---

type spLookup struct{ p *IdP }

// GetServiceProvider finds a registered SP by entity ID.
func (l spLookup) GetServiceProvider(r *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	a, err := l.p.apps.GetSAMLAppByEntityID(r.Context(), entityID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotExist
	} else if err != nil {
		return nil, err
	}
	return samlsp.ParseMetadata(a.Metadata)
}

// --- replay cache ---

// replayCache records signed AuthnRequests and LogoutRequests answered, in
// the store (shared by every instance) as challenges whose ID is a hash
// of the key: a second record of the same ID conflicts.
type replayCache struct{ p *IdP }

func (c replayCache) Consume(key string, expiresAt time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := sha256.Sum256([]byte(key))
	err := c.p.store.PutChallenge(ctx, store.Challenge{ID: "saml-replay-" + hex.EncodeToString(h[:16]), Kind: "saml-replay",
		ExpiresAt: expiresAt.Add(time.Minute)})
	if errors.Is(err, store.ErrConflict) {
		return saml.ErrAssertionReplayed
	}
	return err
}

// --- NameIDs and attributes ---

// nameID is the subject an SP gets: the email address, or a pairwise
// opaque ID (the same for the user at this SP, unrelated across SPs).
func (p *IdP) nameID(format string, entityID string, u store.User) (value, samlFormat string, err error) {
	if format == FormatPersistent {
		m := hmac.New(sha256.New, p.pairwise)
		m.Write([]byte(entityID + "\x00" + u.ID))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), string(saml.PersistentNameIDFormat), nil
	}
	if u.Email == "" {
		return "", "", errNoEmail
	}
	return u.Email, string(saml.EmailAddressNameIDFormat), nil
}

var (
	errNoEmail  = errors.New("the user has no email address for an email NameID")
	errNotExist = os.ErrNotExist
)

// requestedFormat is the format an AuthnRequest's NameIDPolicy asks for
// among those Sesame issues, "" when it asks for none of them.
func requestedFormat(req *saml.IdpAuthnRequest) string {
	if req.Request.NameIDPolicy == nil || req.Request.NameIDPolicy.Format == nil {
		return ""
	}
	switch *req.Request.NameIDPolicy.Format {
	case string(saml.EmailAddressNameIDFormat):
		return FormatEmail
	case string(saml.PersistentNameIDFormat):
		return FormatPersistent
	}
	return ""
}

// Attribute names Sesame sends (basic name format), beside the library's
// uid and mail OIDs.
const (
	AttrEmail  = "email"
	AttrName   = "name"
	AttrGroups = "groups"
)

func attr(name string, values ...string) saml.Attribute {
	a := saml.Attribute{FriendlyName: name, Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}
	for _, v := range values {
		a.Values = append(a.Values, saml.AttributeValue{Type: "xs:string", Value: v})
	}
	return a
}

// sessionIndex ties an assertion to the Sesame session, so a
// LogoutRequest names the session it ends.
func sessionIndex(sess store.Session) string {
	h := sha256.Sum256(append([]byte("saml-session-index\x00"), sess.TokenHash...))
	return hex.EncodeToString(h[:16])
}
