-- Sesame's first schema for PostgreSQL. It keeps what the SQLite schema
-- keeps, with PostgreSQL's types.
--
-- Conventions:
--   * Times are timestamptz; the store writes them truncated to the
--     millisecond (what every backend promises) and reads them in UTC. A
--     column that is "zero until something happens" (last_used_at, used_at)
--     is NULL instead.
--   * Names that lists are ordered by are COLLATE "C": byte (code point)
--     order, as in SQLite, whatever the database's locale.
--   * Foreign keys with ON DELETE CASCADE do the cleanup the store promises
--     (DeleteUser, DeleteGroup, DeleteCredential) in the same statement, so
--     no concurrent writer can leave an orphan behind.

-- +goose Up
CREATE TABLE users (
    id           text        NOT NULL PRIMARY KEY,
    username     text        COLLATE "C" NOT NULL UNIQUE, -- callers lower-case it
    email        text        COLLATE "C" NOT NULL,        -- callers lower-case it; '' when unset
    display_name text        NOT NULL,
    disabled     boolean     NOT NULL,
    admin        boolean     NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Email is optional, so only a set one has to be unique.
CREATE UNIQUE INDEX users_email ON users (email) WHERE email <> '';

CREATE TABLE groups (
    id          text        NOT NULL PRIMARY KEY,
    name        text        COLLATE "C" NOT NULL UNIQUE,
    description text        NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE group_members (
    group_id text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

-- ListUserGroups and the cascade from users.
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE credentials (
    id                 text        NOT NULL PRIMARY KEY,
    -- Insertion order, to list credentials created in the same millisecond
    -- in the order they were added (SQLite uses its rowid).
    seq                bigint      GENERATED ALWAYS AS IDENTITY,
    user_id            text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id      bytea       NOT NULL UNIQUE, -- WebAuthn's, unique across users
    public_key         bytea       NOT NULL,
    algorithm          bigint      NOT NULL,
    aaguid             bytea       NOT NULL,
    attestation_format text        NOT NULL,
    attestation_trust  text        NOT NULL,
    transports         text[]      NOT NULL,
    sign_count         bigint      NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295), -- uint32
    backup_eligible    boolean     NOT NULL,
    backup_state       boolean     NOT NULL,
    name               text        NOT NULL,
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz           -- NULL until first used to sign in
);

-- ListCredentials (ordered by creation) and the cascade from users.
CREATE INDEX credentials_user ON credentials (user_id, created_at, seq);

-- At most one pass per user: the user ID is the key.
CREATE TABLE taps (
    user_id    text        NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       bytea       NOT NULL,
    one_time   boolean     NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    starts_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz           -- NULL until first used
);

-- No foreign key on user_id: a challenge is short-lived ceremony state and
-- may name a user who is not (or no longer) in the directory.
CREATE TABLE challenges (
    id         text        NOT NULL PRIMARY KEY,
    kind       text        NOT NULL,
    user_id    text        NOT NULL,
    data       bytea       NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX challenges_expires ON challenges (expires_at);

-- The user's foreign key comes first, so a new session locks the user row
-- before the credential row, in the same order as DeleteUser's cascade.
CREATE TABLE sessions (
    token_hash    bytea       NOT NULL PRIMARY KEY,
    user_id       text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    methods       text[]      NOT NULL,
    -- NULL when no passkey was used. The foreign key ends the session when its
    -- passkey is deleted, and refuses a session for a passkey deleted a moment
    -- before, which a separate DELETE could race with.
    credential_id text        REFERENCES credentials (id) ON DELETE CASCADE,
    auth_time     timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    ip            text        NOT NULL,
    user_agent    text        NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_credential ON sessions (credential_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Append-only. No foreign key to users: the record outlives the user.
CREATE TABLE signins (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time          timestamptz NOT NULL,
    user_id       text        NOT NULL,
    username      text        NOT NULL,
    ip            text        NOT NULL,
    user_agent    text        NOT NULL,
    app           text        NOT NULL,
    method        text        NOT NULL,
    result        text        NOT NULL,
    reason        text        NOT NULL,
    detail        text        NOT NULL,
    credential_id text        NOT NULL,
    aaguid        text        NOT NULL,
    model         text        NOT NULL,
    passkey_type  text        NOT NULL,
    phishing      boolean     NOT NULL
);

CREATE INDEX signins_time ON signins (time, id);
CREATE INDEX signins_user_time ON signins (user_id, time, id);

-- Append-only.
CREATE TABLE audit_events (
    id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time   timestamptz NOT NULL,
    actor  text        NOT NULL,
    action text        NOT NULL,
    target text        NOT NULL,
    detail text        NOT NULL
);

CREATE INDEX audit_events_time ON audit_events (time, id);

-- Fixed-window rate-limit counters. The window start is Unix milliseconds:
-- it is only ever compared with other millisecond values.
CREATE TABLE hits (
    key          text    NOT NULL PRIMARY KEY,
    window_start bigint  NOT NULL,
    count        integer NOT NULL
);

CREATE TABLE settings (
    key   text  NOT NULL PRIMARY KEY,
    value bytea NOT NULL
);

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
