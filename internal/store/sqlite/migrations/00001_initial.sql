-- Sesame's first schema for SQLite.
--
-- Conventions:
--   * Times are INTEGER Unix milliseconds in UTC (read them with
--     datetime(col / 1000, 'unixepoch')). Integers compare and index fast and
--     millisecond precision is what every backend promises. A column that is
--     "zero until something happens" (last_used_at, used_at) is NULL instead.
--   * Booleans are INTEGER 0/1; string lists are JSON arrays in TEXT.
--   * STRICT tables so a wrong type from Go is an error, not a silent cast.
--   * Foreign keys with ON DELETE CASCADE do the cleanup the store promises
--     (DeleteUser, DeleteGroup, DeleteCredential) in the same statement, so
--     no concurrent writer can leave an orphan behind. The connection must run
--     with PRAGMA foreign_keys = ON.

-- +goose Up
CREATE TABLE users (
    id           TEXT    NOT NULL PRIMARY KEY,
    username     TEXT    NOT NULL UNIQUE, -- callers lower-case it
    email        TEXT    NOT NULL,        -- callers lower-case it; '' when unset
    display_name TEXT    NOT NULL,
    disabled     INTEGER NOT NULL,
    admin        INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- Email is optional, so only a set one has to be unique.
CREATE UNIQUE INDEX users_email ON users (email) WHERE email <> '';

CREATE TABLE groups (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;

-- ListUserGroups and the cascade from users.
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE credentials (
    id                 TEXT    NOT NULL PRIMARY KEY,
    user_id            TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id      BLOB    NOT NULL UNIQUE, -- WebAuthn's, unique across users
    public_key         BLOB    NOT NULL,
    algorithm          INTEGER NOT NULL,
    aaguid             BLOB    NOT NULL,
    attestation_format TEXT    NOT NULL,
    attestation_trust  TEXT    NOT NULL,
    transports         TEXT    NOT NULL, -- JSON array
    sign_count         INTEGER NOT NULL,
    backup_eligible    INTEGER NOT NULL,
    backup_state       INTEGER NOT NULL,
    name               TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER           -- NULL until first used to sign in
) STRICT;

-- ListCredentials (ordered by creation) and the cascade from users.
CREATE INDEX credentials_user ON credentials (user_id, created_at);

-- At most one pass per user: the user ID is the key.
CREATE TABLE taps (
    user_id    TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       BLOB    NOT NULL,
    one_time   INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    starts_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER           -- NULL until first used
) STRICT;

-- No foreign key on user_id: a challenge is short-lived ceremony state and
-- may name a user who is not (or no longer) in the directory.
CREATE TABLE challenges (
    id         TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX challenges_expires ON challenges (expires_at);

CREATE TABLE sessions (
    token_hash    BLOB    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    methods       TEXT    NOT NULL, -- JSON array
    -- NULL when no passkey was used. The foreign key ends the session when its
    -- passkey is deleted, and refuses a session for a passkey deleted a moment
    -- before, which a separate DELETE could race with.
    credential_id TEXT    REFERENCES credentials (id) ON DELETE CASCADE,
    auth_time     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    ip            TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_credential ON sessions (credential_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Append-only. No foreign key to users: the record outlives the user.
CREATE TABLE signins (
    id            INTEGER NOT NULL PRIMARY KEY, -- rowid alias, increasing
    time          INTEGER NOT NULL,
    user_id       TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    ip            TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL,
    app           TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    result        TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    detail        TEXT    NOT NULL,
    credential_id TEXT    NOT NULL,
    aaguid        TEXT    NOT NULL,
    model         TEXT    NOT NULL,
    passkey_type  TEXT    NOT NULL,
    phishing      INTEGER NOT NULL
) STRICT;

CREATE INDEX signins_time ON signins (time);
CREATE INDEX signins_user_time ON signins (user_id, time);

-- Append-only.
CREATE TABLE audit_events (
    id     INTEGER NOT NULL PRIMARY KEY, -- rowid alias, increasing
    time   INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_events_time ON audit_events (time);

-- Fixed-window rate-limit counters.
CREATE TABLE hits (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE settings;
DROP TABLE hits;
DROP TABLE audit_events;
DROP TABLE signins;
DROP TABLE sessions;
DROP TABLE challenges;
DROP TABLE taps;
DROP TABLE credentials;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE users;
