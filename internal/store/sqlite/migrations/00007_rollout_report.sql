-- +goose Up
-- Counters for the roll-out report (store.ReportStore), kept up to date by
-- AppendSignIn in the same transaction as the record, so the report reads a
-- few thousand rows instead of grouping a million. Days are UTC day
-- numbers (Unix milliseconds / 86400000).

-- Counted sign-ins per day, group ('' for all users) and method.
CREATE TABLE signin_daily (
    day      INTEGER NOT NULL,
    group_id TEXT    NOT NULL,
    method   TEXT    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (day, group_id, method)
) STRICT, WITHOUT ROWID;

-- What report-only policies would have done, per day.
CREATE TABLE report_only_daily (
    day     INTEGER NOT NULL,
    policy  TEXT    NOT NULL,
    outcome TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (day, policy, outcome)
) STRICT, WITHOUT ROWID;

-- ... and to whom: one row per policy, user and outcome.
CREATE TABLE report_only_users (
    policy  TEXT    NOT NULL,
    user_id TEXT    NOT NULL,
    outcome TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (policy, user_id, outcome)
) STRICT, WITHOUT ROWID;

CREATE INDEX report_only_users_last ON report_only_users (last_at);

-- Registrations per day.
CREATE INDEX credentials_created ON credentials (created_at);
-- Campaign progress reads the campaign.* records only.
CREATE INDEX audit_events_action ON audit_events (action, target);

-- The records already in the log.
INSERT INTO signin_daily (day, group_id, method, count)
SELECT day, group_id, method, count(*) FROM (
    SELECT s.time / 86400000 AS day, '' AS group_id, s.method AS method
    FROM signins s
    WHERE s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
    UNION ALL
    SELECT s.time / 86400000, m.group_id, s.method
    FROM signins s JOIN group_members m ON m.user_id = s.user_id
    WHERE s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
) GROUP BY day, group_id, method;

INSERT INTO report_only_daily (day, policy, outcome, count)
SELECT s.time / 86400000, json_extract(r.value, '$.policy'), json_extract(r.value, '$.outcome'), count(*)
FROM signins s, json_each(s.access) r
WHERE s.access <> '' AND json_valid(s.access)
  AND s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
  AND json_extract(r.value, '$.state') = 'report-only'
  AND json_extract(r.value, '$.outcome') IN ('block', 'step-up')
GROUP BY 1, 2, 3;

INSERT INTO report_only_users (policy, user_id, outcome, count, last_at)
SELECT json_extract(r.value, '$.policy'), s.user_id, json_extract(r.value, '$.outcome'), count(*), max(s.time)
FROM signins s, json_each(s.access) r
WHERE s.access <> '' AND json_valid(s.access)
  AND s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
  AND json_extract(r.value, '$.state') = 'report-only'
  AND json_extract(r.value, '$.outcome') IN ('block', 'step-up')
GROUP BY 1, 2, 3;

-- +goose Down
DROP INDEX audit_events_action;
DROP INDEX credentials_created;
DROP TABLE report_only_users;
DROP TABLE report_only_daily;
DROP TABLE signin_daily;
