// Package store defines Sesame's persistent records and the storage interface
// every backend implements. The records are plain values with no behaviour:
// decision logic lives in the domain packages (passkey, methods, signin, ...),
// which take and return these values. Backends live in sub-packages (sqlite,
// postgres) and must all pass the conformance suite in storetest, so a
// behaviour promised here is a behaviour promised by every backend.
//
// Rules that hold for every method unless its comment says otherwise:
//   - Times read back are the times written, truncated to the millisecond,
//     in UTC; a zero time.Time reads back as zero.
//   - A nil and an empty list or byte slice are not told apart: either may
//     read back for the other (compare with len).
//   - A Get, Update, Rename or Delete aimed at one record that does not exist
//     fails with ErrNotFound; so does creating a credential, TAP, session or
//     membership for a user, group or credential that does not exist.
//     (Challenges and log records may name any user.)
//   - Strings are compared exactly (byte for byte): the store changes no case.
//     Lists ordered by a string are in byte order, not a locale's.
//     Every string argument (and list element) is taken as CleanText of it,
//     whether it is written or looked up.
//   - The IDs of records are given by the caller (NewID), except the IDs of
//     log records, which the store assigns.
package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors every backend returns for the same situations, so callers can use
// errors.Is without knowing which database is underneath.
var (
	// ErrNotFound: no record matches (or it is no longer usable, for the
	// single-use operations such as TakeChallenge and UseTAP).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a uniqueness rule or a compare-and-set condition failed.
	ErrConflict = errors.New("store: conflict")
	// ErrReplayed: a single-use ceremony was already completed (see
	// SignInCompletion.Ceremony). Nothing was changed.
	ErrReplayed = errors.New("store: ceremony already used")
	// ErrUnavailable: the database cannot be reached right now (down,
	// restarting, network). Nothing was changed; the request may be
	// retried. Handlers answer 503 so load balancers and clients retry
	// rather than treat it as a bug.
	ErrUnavailable = errors.New("store: database unavailable")
)

// NewID returns a random, URL-safe, opaque identifier (128 bits). It is the
// one ID generator of Sesame: users, groups, credentials, challenges.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sesame: no randomness: " + err.Error())
	}
	return idEncoding.EncodeToString(b[:])
}

// CleanText is what every backend stores for a string: invalid UTF-8 and
// NUL bytes, which PostgreSQL cannot keep in text, become U+FFFD; anything
// else is unchanged. So a stray byte in a User-Agent header, or one cut in
// half by truncation, cannot fail a sign-in, and backends agree on what
// reads back.
func CleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// User is a person in the directory.
type User struct {
	ID          string // stable, opaque; also the WebAuthn user handle and later the OIDC "sub"
	Username    string // unique, stored lower-case
	Email       string // unique when set, stored lower-case
	DisplayName string
	// ExternalID is the provisioning client's identifier (SCIM externalId),
	// unique when set, compared exactly; "" when not provisioned.
	ExternalID string
	Disabled   bool
	Admin      bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Group is a named set of users (no nesting).
type Group struct {
	ID          string
	Name        string // unique
	Description string
	ExternalID  string // as for User: unique when set, "" when not provisioned
	CreatedAt   time.Time
}

// GroupChange is a change to one group that ChangeGroup makes as a whole.
type GroupChange struct {
	Name       *string  // the new name; nil keeps the name
	ExternalID *string  // the new external ID ("" clears it); nil keeps it
	Add        []string // IDs of users to make members
	Remove     []string // IDs of users to take out
}

// Empty reports whether c changes nothing.
func (c GroupChange) Empty() bool {
	return c.Name == nil && c.ExternalID == nil && len(c.Add) == 0 && len(c.Remove) == 0
}

// SCIMToken is a bearer token a provisioning client (an HR system, Entra ID,
// Okta) uses on /scim/v2. Only a hash of the token is kept.
type SCIMToken struct {
	Name      string // unique, chosen by the operator
	Hash      []byte
	CreatedBy string
	CreatedAt time.Time
}

// Credential is a registered passkey.
type Credential struct {
	ID                string // Sesame's own ID, used in URLs and logs
	UserID            string
	CredentialID      []byte // the WebAuthn credential ID, unique across users
	PublicKey         []byte // COSE_Key
	Algorithm         int64  // COSE algorithm identifier (-7 ES256, -8 EdDSA, -257 RS256)
	AAGUID            []byte // 16 bytes; all zero when the authenticator does not say
	AttestationFormat string // "none", "packed", "tpm", ...
	AttestationTrust  string // "none", "self", "basic", "attca", ... as verified at registration
	Transports        []string
	SignCount         uint32
	BackupEligible    bool // BE flag at registration; cannot change afterwards
	BackupState       bool // BS flag as last seen; the passkey is synced while true
	Name              string
	CreatedAt         time.Time
	LastUsedAt        time.Time // zero when never used to sign in
}

// CredentialUse is what a successful sign-in changes on a credential.
type CredentialUse struct {
	SignCount   uint32
	BackupState bool
	UsedAt      time.Time
}

// TAP is a temporary access pass. Only a keyed hash of the pass is kept.
type TAP struct {
	UserID    string
	Hash      []byte
	OneTime   bool
	CreatedBy string // user ID of the admin, or "cli"
	CreatedAt time.Time
	StartsAt  time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until first used, then the time of the latest use
}

// Challenge is the server side of a WebAuthn ceremony in progress. It is
// shared through the store (not process memory) so that a ceremony begun on
// one instance can finish on another, and consumed exactly once.
type Challenge struct {
	ID        string
	Kind      string // "login" or "register"
	UserID    string // set for registrations and username-first sign-ins
	Data      []byte // the ceremony state (go-webauthn SessionData as JSON)
	ExpiresAt time.Time
}

// SignInCompletion is what a successful passkey sign-in writes
// (Store.CompleteSignIn).
type SignInCompletion struct {
	// Ceremony, when its ID is set, is recorded as a challenge row that
	// marks the ceremony used until its ExpiresAt (the sweep of expired
	// challenges removes it): a sign-in ceremony whose state the browser
	// carries (sealed, so it writes nothing when it begins) is single-use
	// because this insert conflicts for the second completion.
	Ceremony     Challenge
	CredentialID string
	Use          CredentialUse
	Session      Session
	Event        SignInEvent
}

// Session is a signed-in browser. Only a hash of the cookie value is stored,
// so a copy of the database does not let anyone take over a session.
type Session struct {
	TokenHash    []byte
	UserID       string
	Methods      []string // how the user proved who they are: "passkey", "tap", "setup", ...
	CredentialID string   // Sesame credential ID used, when a passkey was used
	AuthTime     time.Time
	CreatedAt    time.Time
	LastSeenAt   time.Time
	ExpiresAt    time.Time // absolute expiry
	IP           string
	UserAgent    string
}

// Sign-in results.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// SignInEvent is one record of the append-only sign-in log.
type SignInEvent struct {
	ID           int64 // assigned by the store, increasing
	Time         time.Time
	UserID       string // empty when the user could not be identified
	Username     string
	IP           string
	UserAgent    string
	App          string // the app signed in to, empty for Sesame itself
	Method       string // "passkey", "tap", "setup"
	Result       string // ResultSuccess or ResultFailure
	Reason       string // machine-readable failure reason, e.g. "origin_mismatch"
	Detail       string // operator detail; never secrets
	CredentialID string
	AAGUID       string
	Model        string
	PasskeyType  string // "synced", "device-bound" or empty
	Phishing     bool   // the response was made for another origin or RP ID

	// The sign-in context Conditional Access saw, so what-if, report-only
	// impact and replay work from the record alone.
	Client             string // "browser" or "legacy"
	Country            string // ISO country code, "" when unknown
	Action             string // e.g. "register-security-info"; "" for a sign-in
	TrustedDevice      bool   // the browser is a remembered trusted device
	BoundPasskeyDevice bool   // a device-bound passkey of the user lives on this device
	Access             string // every policy's result (JSON, written by the access package)
}

// SignInFilter selects sign-in records, newest first (by Time, then by ID).
// Empty or zero fields do not filter.
type SignInFilter struct {
	UserID string
	App    string // the app's client ID; "" matches every app
	Result string
	Since  time.Time // inclusive: Time >= Since
	Until  time.Time // exclusive: Time < Until
	Limit  int       // 0 (or less) means the default, 100
}

// AuditEvent is one record of the append-only audit log: who changed what.
type AuditEvent struct {
	ID     int64
	Time   time.Time
	Actor  string // username of the admin, "cli", or "system"
	Action string // e.g. "user.create", "passkey.revoke", "tap.issue"
	Target string // e.g. the username or credential ID concerned
	Detail string // JSON or text with before/after; never secrets
}

// Store is everything Sesame keeps. Implementations must be safe for
// concurrent use by many goroutines and by many processes sharing the same
// database.
type Store interface {
	// Users. Usernames and emails are unique (ErrConflict); an empty email
	// is "not set" and may repeat. They are unique case-insensitively because
	// callers pass them lower-cased: the store itself compares exactly.
	// DeleteUser removes the user's credentials, TAP, sessions and
	// memberships in the same step; sign-in and audit records stay.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context) ([]User, error) // ordered by username
	CountUsers(ctx context.Context, adminsOnly bool) (int, error)
	UpdateUser(ctx context.Context, u User) error // by ID; all mutable fields
	DeleteUser(ctx context.Context, id string) error
	// GetUserByExternalID finds the user a provisioning client knows by
	// that external ID ("" never matches).
	GetUserByExternalID(ctx context.Context, externalID string) (User, error)

	// Groups. Names are unique (ErrConflict), compared exactly. Membership
	// operations are idempotent; AddMember with an unknown group or user is
	// ErrNotFound. DeleteGroup removes its memberships, not its members.
	CreateGroup(ctx context.Context, g Group) error
	GetGroup(ctx context.Context, id string) (Group, error)
	GetGroupByName(ctx context.Context, name string) (Group, error)
	// RenameGroup changes a group's name (ErrConflict if taken, ErrNotFound
	// if no such ID). Memberships follow the ID and are untouched.
	RenameGroup(ctx context.Context, id, name string) error
	// GetGroupByExternalID: as GetUserByExternalID. SetGroupExternalID
	// changes it (ErrConflict when another group has it).
	GetGroupByExternalID(ctx context.Context, externalID string) (Group, error)
	SetGroupExternalID(ctx context.Context, id, externalID string) error
	ListGroups(ctx context.Context) ([]Group, error) // ordered by name
	DeleteGroup(ctx context.Context, id string) error
	AddMember(ctx context.Context, groupID, userID string) error
	RemoveMember(ctx context.Context, groupID, userID string) error
	ListMembers(ctx context.Context, groupID string) ([]User, error)    // ordered by username
	ListUserGroups(ctx context.Context, userID string) ([]Group, error) // ordered by name
	// ChangeGroup makes c to group id in one transaction: the rename, the
	// external ID, then the additions and removals, all or nothing (a
	// provisioning client retries a whole request, so a half-made change
	// would be wrong data until then). ErrNotFound when the group or any
	// user in Add or Remove does not exist, ErrConflict when another group
	// has the name or external ID; either changes nothing. Adding a user who
	// is a member, or removing one who is not, is not an error and changes
	// nothing. It returns the change that undoes what it did: the old name
	// and external ID if they changed, the users it made members in Remove
	// and those it took out in Add, in the order of c.
	ChangeGroup(ctx context.Context, id string, c GroupChange) (undo GroupChange, err error)

	// SCIM bearer tokens. Names are unique (ErrConflict); DeleteSCIMToken
	// of an unknown name is ErrNotFound. ListSCIMTokens is ordered by name.
	CreateSCIMToken(ctx context.Context, t SCIMToken) error
	ListSCIMTokens(ctx context.Context) ([]SCIMToken, error)
	DeleteSCIMToken(ctx context.Context, name string) error

	// Credentials. CredentialID is unique across all users (ErrConflict).
	CreateCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, id string) (Credential, error)
	GetCredentialByCredentialID(ctx context.Context, credentialID []byte) (Credential, error)
	// GetCredentialWithUser returns the passkey with this WebAuthn credential ID
	// and the user it belongs to, read together (one statement). ErrNotFound
	// when no passkey has this ID.
	GetCredentialWithUser(ctx context.Context, credentialID []byte) (Credential, User, error)
	ListCredentials(ctx context.Context, userID string) ([]Credential, error) // ordered by creation
	// RecordCredentialUse stores the outcome of a sign-in. It is a
	// compare-and-set on the counter: when use.SignCount is non-zero it must
	// be greater than the stored count, otherwise ErrConflict and nothing
	// changes, so two racing sign-ins with a cloned key cannot both pass.
	RecordCredentialUse(ctx context.Context, id string, use CredentialUse) error
	RenameCredential(ctx context.Context, id, name string) error
	// CompleteSignIn writes everything a successful passkey sign-in leaves
	// as one atomic step (one transaction, and on PostgreSQL one round
	// trip): the ceremony marked used, the credential's use (as
	// RecordCredentialUse, with the same compare-and-set), the session (as
	// CreateSession) and the sign-in record (as AppendSignIn), whose
	// assigned ID it returns. Either all are written or nothing is:
	// ErrReplayed when the ceremony was already used, ErrConflict when the
	// counter did not move forward (or the session's token hash is taken),
	// ErrNotFound when the credential or the session's user does not exist.
	CompleteSignIn(ctx context.Context, c SignInCompletion) (int64, error)
	// DeleteCredential also ends the sessions created with it, in the same
	// step.
	DeleteCredential(ctx context.Context, id string) error

	// Temporary access passes: at most one per user; PutTAP replaces it
	// (including its UsedAt).
	PutTAP(ctx context.Context, t TAP) error
	GetTAP(ctx context.Context, userID string) (TAP, error)
	// UseTAP marks the user's TAP with this hash as used at now, atomically.
	// It fails with ErrNotFound when there is no such TAP, it has not
	// started, has expired, or is one-time and already used; so of two
	// concurrent uses of a one-time pass exactly one succeeds. A pass is
	// valid from StartsAt (inclusive) to ExpiresAt (exclusive). It returns
	// the TAP as updated.
	UseTAP(ctx context.Context, userID string, hash []byte, now time.Time) (TAP, error)
	DeleteTAP(ctx context.Context, userID string) error

	// Ceremony challenges. TakeChallenge deletes and returns the challenge
	// whatever its expiry (the caller decides what an expired one means);
	// a second take of the same ID gets ErrNotFound, however many callers
	// race. PutChallenge with an ID in use is ErrConflict. DeleteExpired*
	// remove records with ExpiresAt <= now and return how many.
	PutChallenge(ctx context.Context, c Challenge) error
	TakeChallenge(ctx context.Context, id string) (Challenge, error)
	DeleteExpiredChallenges(ctx context.Context, now time.Time) (int, error)

	// Sessions, keyed by the hash of the cookie value (ErrConflict when
	// taken). CreateSession with an unknown user or credential (for example
	// a passkey deleted a moment ago) is ErrNotFound and creates nothing.
	// TouchSession sets LastSeenAt to now but never moves it back.
	// DeleteSession and DeleteUserSessions succeed when there is nothing to
	// delete (signing out twice is not an error).
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, tokenHash []byte) (Session, error)
	// GetSessionWithUser returns the session with this token hash and its user,
	// read together (one statement). ErrNotFound when there is no such session
	// (or, should it ever happen, its user is gone).
	GetSessionWithUser(ctx context.Context, tokenHash []byte) (Session, User, error)
	TouchSession(ctx context.Context, tokenHash []byte, now time.Time) error
	DeleteSession(ctx context.Context, tokenHash []byte) error
	DeleteUserSessions(ctx context.Context, userID string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// Append-only logs. No method edits or deletes a record. Append ignores
	// the event's ID and returns the one assigned; IDs increase.
	AppendSignIn(ctx context.Context, e SignInEvent) (int64, error)
	ListSignIns(ctx context.Context, f SignInFilter) ([]SignInEvent, error)
	// DeleteSignInsBefore is the retention expiry, the one way sign-in
	// records are ever removed: those with Time before cutoff go.
	DeleteSignInsBefore(ctx context.Context, cutoff time.Time) (int, error)
	AppendAudit(ctx context.Context, e AuditEvent) (int64, error)
	ListAudit(ctx context.Context, limit int) ([]AuditEvent, error) // newest first (Time, then ID); limit <= 0 means 100

	// CountHit adds one hit to the counter named key and returns the number
	// of hits in the current fixed window (including this one). A window
	// starts at the first hit and lasts `window`; after it the count starts
	// again at 1. The increment and read are one atomic step, so parallel
	// requests cannot slip past a limit. ResetHits forgets the counter
	// (idempotent).
	CountHit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
	ResetHits(ctx context.Context, key string) error
	// DeleteHitsBefore forgets counters whose window started before
	// cutoff (the caller passes now minus the longest window in use), so
	// the table does not grow with every address ever seen. It returns
	// how many it removed.
	DeleteHitsBefore(ctx context.Context, cutoff time.Time) (int, error)

	// TakeToken takes one token from the token bucket named key and
	// reports whether there was one. A bucket holds at most burst tokens,
	// starts full, and refills at rate tokens per second of now (a now
	// earlier than the bucket's last take refills nothing and does not
	// move it back). Refill, take and answer are one atomic step, so
	// parallel takes from any number of processes never get more tokens
	// than there are. rate and burst are the caller's to keep the same for
	// a key. DeleteBucketsBefore forgets buckets last taken from before
	// cutoff (a bucket idle for burst/rate seconds is full again, so
	// forgetting it changes no answer) and returns how many.
	TakeToken(ctx context.Context, key string, rate, burst float64, now time.Time) (bool, error)
	DeleteBucketsBefore(ctx context.Context, cutoff time.Time) (int, error)

	// Settings: small named values (setup token hash, policies later).
	// GetSetting of an unknown key is ErrNotFound; PutSetting creates or
	// replaces.
	GetSetting(ctx context.Context, key string) ([]byte, error)
	PutSetting(ctx context.Context, key string, value []byte) error
	// DeleteSettingIf deletes key only when its value equals value, and
	// reports whether it did: a compare-and-delete for single-use tokens.
	DeleteSettingIf(ctx context.Context, key string, value []byte) (bool, error)
	// SwapSetting is a compare-and-set: it writes value under key only
	// when the stored value is still old (byte for byte), and otherwise
	// fails with ErrConflict and changes nothing. A nil old means "not
	// stored yet": the swap creates the key, and is ErrConflict when it
	// exists. So a read-modify-write of a document (policies, settings)
	// made from a copy someone else has since replaced cannot overwrite
	// their save: of two racing swaps from the same old value exactly one
	// succeeds.
	SwapSetting(ctx context.Context, key string, old, value []byte) error

	Close() error
}
