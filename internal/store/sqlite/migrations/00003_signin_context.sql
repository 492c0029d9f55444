-- +goose Up
-- The sign-in context Conditional Access evaluated, kept with each record
-- so what-if, report-only impact and replay can work from the log alone.
ALTER TABLE signins ADD COLUMN client               TEXT    NOT NULL DEFAULT '';
ALTER TABLE signins ADD COLUMN country              TEXT    NOT NULL DEFAULT '';
ALTER TABLE signins ADD COLUMN action               TEXT    NOT NULL DEFAULT '';
ALTER TABLE signins ADD COLUMN trusted_device       INTEGER NOT NULL DEFAULT 0;
ALTER TABLE signins ADD COLUMN bound_passkey_device INTEGER NOT NULL DEFAULT 0;
ALTER TABLE signins ADD COLUMN access               TEXT    NOT NULL DEFAULT '';
CREATE INDEX signins_app_time ON signins (app, time);

-- +goose Down
DROP INDEX signins_app_time;
ALTER TABLE signins DROP COLUMN access;
ALTER TABLE signins DROP COLUMN bound_passkey_device;
ALTER TABLE signins DROP COLUMN trusted_device;
ALTER TABLE signins DROP COLUMN action;
ALTER TABLE signins DROP COLUMN country;
ALTER TABLE signins DROP COLUMN client;
