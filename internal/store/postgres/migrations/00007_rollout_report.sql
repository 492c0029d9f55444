-- +goose Up
-- Counters for the roll-out report (store.ReportStore), kept up to date by
-- AppendSignIn in the same transaction as the record, so the report reads a
-- few thousand rows instead of grouping a million. Days are UTC day
-- numbers since 1970-01-01.

-- Counted sign-ins per day, group ('' for all users) and method.
CREATE TABLE signin_daily (
    day      integer NOT NULL,
    group_id text    NOT NULL,
    method   text    NOT NULL,
    count    bigint  NOT NULL,
    PRIMARY KEY (day, group_id, method)
);

-- What report-only policies would have done, per day.
CREATE TABLE report_only_daily (
    day     integer NOT NULL,
    policy  text    NOT NULL,
    outcome text    NOT NULL,
    count   bigint  NOT NULL,
    PRIMARY KEY (day, policy, outcome)
);

-- ... and to whom: one row per policy, user and outcome.
CREATE TABLE report_only_users (
    policy  text        NOT NULL,
    user_id text        NOT NULL,
    outcome text        NOT NULL,
    count   bigint      NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (policy, user_id, outcome)
);

CREATE INDEX report_only_users_last ON report_only_users (last_at);

-- Registrations per day.
CREATE INDEX credentials_created ON credentials (created_at);
-- Campaign progress reads the campaign.* records only.
CREATE INDEX audit_events_action ON audit_events (action, target);

-- The records already in the log.
INSERT INTO signin_daily (day, group_id, method, count)
SELECT day, group_id, method, count(*) FROM (
    SELECT floor(extract(epoch FROM s.time) / 86400)::integer AS day, '' AS group_id, s.method AS method
    FROM signins s
    WHERE s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
    UNION ALL
    SELECT floor(extract(epoch FROM s.time) / 86400)::integer, m.group_id, s.method
    FROM signins s JOIN group_members m ON m.user_id = s.user_id
    WHERE s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
) x GROUP BY day, group_id, method;

INSERT INTO report_only_daily (day, policy, outcome, count)
SELECT floor(extract(epoch FROM s.time) / 86400)::integer, r->>'policy', r->>'outcome', count(*)
FROM signins s, jsonb_array_elements(s.access::jsonb) r
WHERE s.access LIKE '[%'
  AND s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
  AND r->>'state' = 'report-only' AND r->>'outcome' IN ('block', 'step-up')
GROUP BY 1, 2, 3;

INSERT INTO report_only_users (policy, user_id, outcome, count, last_at)
SELECT r->>'policy', s.user_id, r->>'outcome', count(*), max(s.time)
FROM signins s, jsonb_array_elements(s.access::jsonb) r
WHERE s.access LIKE '[%'
  AND s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
  AND r->>'state' = 'report-only' AND r->>'outcome' IN ('block', 'step-up')
GROUP BY 1, 2, 3;

-- +goose Down
DROP INDEX audit_events_action;
DROP INDEX credentials_created;
DROP TABLE report_only_users;
DROP TABLE report_only_daily;
DROP TABLE signin_daily;
