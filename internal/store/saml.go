package store

import (
	"context"
	"time"
)

// SAMLApp is a SAML 2.0 service provider registered as an app. The SP's
// metadata (as registered, or built from an ACS URL and entity ID) is kept
// whole: it is what the identity provider reads the assertion consumer
// services, signing keys and signing wishes from.
type SAMLApp struct {
	Name         string // the app's name, as in the sign-in log and Conditional Access
	EntityID     string // the SP's entity ID, unique
	Metadata     []byte // the SP's EntityDescriptor XML
	MetadataURL  string // where the metadata was fetched from, "" when given as a file or built
	NameIDFormat string // "email" or "persistent"
	RequiredACR  string // the acr value of the strength every sign-in must meet; "" for none
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// SAMLStore keeps SAML apps. It is a separate interface from Store (like
// the OpenID provider's oidcstore.Store) so that a backend without it
// simply offers no SAML; both shipped backends implement it and pass
// storetest.RunSAML.
//
// Names and entity IDs are each unique (ErrConflict); lookups compare
// exactly. Update replaces every field but Name and CreatedAt.
type SAMLStore interface {
	CreateSAMLApp(ctx context.Context, a SAMLApp) error
	GetSAMLApp(ctx context.Context, name string) (SAMLApp, error)
	GetSAMLAppByEntityID(ctx context.Context, entityID string) (SAMLApp, error)
	ListSAMLApps(ctx context.Context) ([]SAMLApp, error) // ordered by name
	UpdateSAMLApp(ctx context.Context, a SAMLApp) error
	DeleteSAMLApp(ctx context.Context, name string) error
}
