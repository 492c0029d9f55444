-- +goose Up
-- The sign-in context Conditional Access evaluated, kept with each record
-- so what-if, report-only impact and replay can work from the log alone.
ALTER TABLE signins
    ADD COLUMN client               text    NOT NULL DEFAULT '',
    ADD COLUMN country              text    NOT NULL DEFAULT '',
    ADD COLUMN action               text    NOT NULL DEFAULT '',
    ADD COLUMN trusted_device       boolean NOT NULL DEFAULT false,
    ADD COLUMN bound_passkey_device boolean NOT NULL DEFAULT false,
    ADD COLUMN access               text    NOT NULL DEFAULT '';
CREATE INDEX signins_app_time ON signins (app, time, id);

-- +goose Down
DROP INDEX signins_app_time;
ALTER TABLE signins
    DROP COLUMN access,
    DROP COLUMN bound_passkey_device,
    DROP COLUMN trusted_device,
    DROP COLUMN action,
    DROP COLUMN country,
    DROP COLUMN client;
