-- +goose Up
-- Challenges and sessions are written on every sign-in (a challenge inserted
-- and deleted, a session inserted). As rowid tables with a text or blob
-- primary key, each row lives in two b-trees: the table and the key's
-- automatic index. Keyed by that primary key alone (WITHOUT ROWID), a write
-- changes one b-tree fewer, so fewer pages go to the WAL per sign-in
-- (docs/performance.md, issue 14). Nothing refers to either table.
CREATE TABLE challenges_new (
    id         TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO challenges_new (id, kind, user_id, data, expires_at)
    SELECT id, kind, user_id, data, expires_at FROM challenges;
DROP TABLE challenges;
ALTER TABLE challenges_new RENAME TO challenges;
CREATE INDEX challenges_expires ON challenges (expires_at);

CREATE TABLE sessions_new (
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
) STRICT, WITHOUT ROWID;
INSERT INTO sessions_new (token_hash, user_id, methods, credential_id, auth_time, created_at,
        last_seen_at, expires_at, ip, user_agent)
    SELECT token_hash, user_id, methods, credential_id, auth_time, created_at,
        last_seen_at, expires_at, ip, user_agent FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_credential ON sessions (credential_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
