-- +goose Up
-- The SQLite store rebuilds its challenges and sessions tables WITHOUT
-- ROWID in this migration, so a sign-in writes fewer pages. PostgreSQL
-- keeps a table and its primary key index apart by design and has nothing
-- to change; this migration keeps the two numberings in step.
SELECT 1;
