package store

import "context"

// SessionEnd says which sessions are ending, so that whoever must hear of
// it (OpenID Connect back-channel logout) can tell the apps. It is passed
// before the records go: the apps a session signed in to are found from
// grants that deleting a user or a passkey removes.
type SessionEnd struct {
	UserID string
	// SessionHashes are the token hashes of the sessions that end (a
	// sign-out); empty when the end is by passkey or for the whole user.
	SessionHashes [][]byte
	// CredentialID: every session made with this passkey ends (revoked).
	CredentialID string
	// AllSessions: every session of the user ends (disabled, deleted).
	AllSessions bool
	// Reason is recorded with the notifications: signout,
	// passkey_revoked, user_disabled or user_deleted.
	Reason string
}

// SessionEndHook is told of ending sessions. It must not block on the
// network (it queues) and handles its own errors: a session ends whether
// or not the apps can be told.
type SessionEndHook func(ctx context.Context, e SessionEnd)
