-- +goose Up
-- Token buckets of the per-address burst limit (see the PostgreSQL
-- migration; SQLite servers keep the limit in process, but the store
-- offers the same buckets).
CREATE TABLE buckets (
    key        TEXT    NOT NULL PRIMARY KEY,
    tokens     REAL    NOT NULL,
    updated_at INTEGER NOT NULL,
    took       INTEGER NOT NULL
);

-- +goose Down
DROP TABLE buckets;
