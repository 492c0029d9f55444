-- +goose Up
-- Token buckets of the per-address burst limit, shared by every instance
-- on the database: tokens left, when they were last counted (Unix ms),
-- and whether the latest take found a token.
CREATE TABLE buckets (
    key        text             NOT NULL PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at bigint           NOT NULL,
    took       boolean          NOT NULL
);

-- +goose Down
DROP TABLE buckets;
