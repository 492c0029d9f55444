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
	UpdatedAt    time.Time // the last change of the app, its metadata included
	// For an app registered from a metadata URL: the last successful fetch
	// of it, and the last attempt (successful or not). Zero otherwise.
	MetadataFetchedAt time.Time
	MetadataCheckedAt time.Time
}

// SAMLStore keeps SAML apps. It is a separate interface from Store (like
// the OpenID provider's oidcstore.Store) so that a backend without it
// simply offers no SAML; both shipped backends implement it and pass
// storetest.RunSAML.
//
// Names and entity IDs are each unique (ErrConflict); lookups compare
// exactly. Update replaces every field but Name, CreatedAt and the two
// metadata fetch times, which only the refresh methods below move (so an
// admin's change made while a refresh runs does not set them back).
//
// ClaimSAMLMetadataCheck is how one of several instances takes a due
// refresh: it sets MetadataCheckedAt to now, and reports true, only if the
// app has a metadata URL and was last checked before dueBefore (or never);
// of instances claiming at once, exactly one wins. RecordSAMLMetadata
// stores a successful fetch: MetadataFetchedAt and MetadataCheckedAt
// become fetchedAt; given metadata (non-nil) replaces the stored one and
// sets UpdatedAt to fetchedAt, nil keeps it (the fetch found no change);
// it returns ErrNotFound for an unknown app (a claim of one is just false).
//
// SetSAMLAppStrength sets only RequiredACR and UpdatedAt (ErrNotFound for
// an unknown app). A change of one setting must not read the whole app and
// write it back with UpdateSAMLApp: a refresh that stored new metadata in
// between would be silently undone.
type SAMLStore interface {
	CreateSAMLApp(ctx context.Context, a SAMLApp) error
	GetSAMLApp(ctx context.Context, name string) (SAMLApp, error)
	GetSAMLAppByEntityID(ctx context.Context, entityID string) (SAMLApp, error)
	ListSAMLApps(ctx context.Context) ([]SAMLApp, error) // ordered by name
	UpdateSAMLApp(ctx context.Context, a SAMLApp) error
	SetSAMLAppStrength(ctx context.Context, name, acr string, updatedAt time.Time) error
	DeleteSAMLApp(ctx context.Context, name string) error
	ClaimSAMLMetadataCheck(ctx context.Context, name string, dueBefore, now time.Time) (bool, error)
	RecordSAMLMetadata(ctx context.Context, name string, metadata []byte, fetchedAt time.Time) error
}
