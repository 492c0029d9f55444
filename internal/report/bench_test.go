package report

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// BenchmarkRolloutSQLite measures the whole roll-out report (the store's
// aggregate reads and Build) on SQLite with 100k users in 20 groups,
// 150k passkeys, 1M sign-ins over 30 days and a report-only policy that
// recorded outcomes for 40k users. The data is written with bulk SQL (a
// million AppendSignIn calls would take minutes); the counters are filled
// with the same statements migration 00007 uses for records already in
// the log, which is what AppendSignIn keeps them equal to.
//
//	go test -run '^$' -bench BenchmarkRolloutSQLite -benchtime 10x ./internal/report/
func BenchmarkRolloutSQLite(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "sesame.db")
	// SESAME_BENCH_ROLLOUT_DB keeps the generated database for the next run.
	keep := os.Getenv("SESAME_BENCH_ROLLOUT_DB")
	reuse := false
	if keep != "" {
		path = keep
		_, err := os.Stat(keep)
		reuse = err == nil
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	now := time.Now()
	nowMs := now.UnixMilli()
	const users, signIns = 100_000, 1_000_000
	for _, q := range setup(reuse) {
		if _, err := raw.ExecContext(ctx, q, nowMs); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	if !reuse {
		if err := backfill(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
	src := Source{Store: st, Reports: st}
	b.ResetTimer()
	for b.Loop() {
		r, err := src.Load(ctx, now, "")
		if err != nil {
			b.Fatal(err)
		}
		if r.Overall.Users != users || r.Overall.SignIns[2].Passkey+r.Overall.SignIns[2].Password+r.Overall.SignIns[2].TAP > signIns {
			b.Fatalf("unexpected report: %+v", r.Overall)
		}
	}
}

func setup(reuse bool) []string {
	if reuse {
		return nil
	}
	return []string{
		`PRAGMA foreign_keys = OFF`,
		`BEGIN`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
		 INSERT INTO users (id, username, email, display_name, disabled, admin, created_at, updated_at) SELECT 'u' || i, 'user' || i, '', 'User ' || i, 0, i % 1000 = 0, 0, 0 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
		 INSERT INTO groups (id, name, description, created_at) SELECT 'g' || i, 'group' || i, '', 0 FROM n`,
		`INSERT INTO group_members SELECT 'g' || (1 + substr(id, 2) % 20), id FROM users`,
		// 150k passkeys: two thirds of the users have one, a quarter of
		// those a second (device-bound, a security key).
		`INSERT INTO credentials SELECT 'c' || id, id, randomblob(32), x'00', -7, zeroblob(16), 'none', 'none',
			'["internal","hybrid"]', 0, 1, 1, 'p', ?1 - (substr(id, 2) % 30) * 86400000, NULL
		 FROM users WHERE substr(id, 2) % 3 <> 0`,
		`INSERT INTO credentials SELECT 'k' || id, id, randomblob(32), x'00', -7, randomblob(16), 'none', 'none',
			'["usb","nfc"]', 0, 0, 0, 'k', ?1 - (substr(id, 2) % 30) * 86400000, NULL
		 FROM users WHERE substr(id, 2) % 3 = 1 AND substr(id, 2) % 4 = 1`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
		 INSERT INTO signins (time, user_id, username, ip, user_agent, app, method, result, reason, detail,
			credential_id, aaguid, model, passkey_type, phishing, client, access)
		 SELECT ?1 - (i % 30) * 86400000 - i % 86400000, 'u' || (1 + i % 100000), 'user' || (1 + i % 100000), '', '', '',
			CASE WHEN i % 10 < 7 THEN 'passkey' WHEN i % 10 < 9 THEN 'password+totp' ELSE 'tap' END,
			'success', '', '', '', '', '', '', 0, 'browser',
			CASE WHEN i % 100000 < 40000 THEN '[{"policy":"Require passkeys","state":"report-only","outcome":"block"}]' ELSE '' END
		 FROM n`,
		`INSERT INTO audit_events (time, actor, action, target, detail)
		 SELECT ?1, username, 'campaign.shown', username, '' FROM users WHERE substr(id, 2) % 2 = 0`,
		`COMMIT`,
	}
}

// backfill fills the counters from the log with migration 00007's
// statements.
func backfill(ctx context.Context, db *sql.DB) error {
	for _, q := range []string{
		`INSERT INTO signin_daily (day, group_id, method, count)
		SELECT day, group_id, method, count(*) FROM (
			SELECT s.time / 86400000 AS day, '' AS group_id, s.method AS method FROM signins s
			WHERE s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
			UNION ALL
			SELECT s.time / 86400000, m.group_id, s.method FROM signins s JOIN group_members m ON m.user_id = s.user_id
			WHERE s.result = 'success' AND s.user_id <> '' AND NOT (s.app <> '' AND s.client = '')
		) GROUP BY day, group_id, method`,
		`INSERT INTO report_only_daily (day, policy, outcome, count)
		SELECT s.time / 86400000, json_extract(r.value, '$.policy'), json_extract(r.value, '$.outcome'), count(*)
		FROM signins s, json_each(s.access) r
		WHERE s.access <> '' AND json_valid(s.access) AND s.result = 'success' AND s.user_id <> ''
		  AND json_extract(r.value, '$.state') = 'report-only' AND json_extract(r.value, '$.outcome') IN ('block', 'step-up')
		GROUP BY 1, 2, 3`,
		`INSERT INTO report_only_users (policy, user_id, outcome, count, last_at)
		SELECT json_extract(r.value, '$.policy'), s.user_id, json_extract(r.value, '$.outcome'), count(*), max(s.time)
		FROM signins s, json_each(s.access) r
		WHERE s.access <> '' AND json_valid(s.access) AND s.result = 'success' AND s.user_id <> ''
		  AND json_extract(r.value, '$.state') = 'report-only' AND json_extract(r.value, '$.outcome') IN ('block', 'step-up')
		GROUP BY 1, 2, 3`,
		`ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM signin_daily`).Scan(&n); err != nil || n == 0 {
		return err
	}
	return nil
}
