package access

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// signIns is a small log: alice signs in with password + TOTP from the
// office and from home, bob with a passkey from home, carol (deleted since)
// from home, a failure and an unidentified attempt.
func signIns() []store.SignInEvent {
	ev := func(id int64, ago time.Duration, userID, username, ip, method, result string) store.SignInEvent {
		return store.SignInEvent{ID: id, Time: t0.Add(-ago), UserID: userID, Username: username, IP: ip, App: "grafana", Client: "browser", Method: method, Result: result}
	}
	return []store.SignInEvent{
		ev(1, time.Hour, "u1", "alice", "203.0.113.7", "password+totp", store.ResultSuccess),
		ev(2, 2*time.Hour, "u1", "alice", "192.0.2.55", "password+totp", store.ResultSuccess),
		ev(3, 3*time.Hour, "u2", "bob", "192.0.2.56", "passkey", store.ResultSuccess),
		ev(4, 3*24*time.Hour, "u1", "alice", "192.0.2.55", "password+totp", store.ResultSuccess),
		ev(5, 3*24*time.Hour, "u9", "carol", "198.51.100.1", "tap", store.ResultSuccess),
		ev(6, 20*24*time.Hour, "u1", "alice", "192.0.2.55", "password+totp", store.ResultSuccess),
		ev(7, time.Hour, "u1", "alice", "192.0.2.55", "passkey", store.ResultFailure),
		ev(8, time.Hour, "", "", "192.0.2.57", "passkey", store.ResultFailure),
		ev(9, 40*24*time.Hour, "u1", "alice", "192.0.2.55", "password+totp", store.ResultSuccess),
	}
}

func methodSatisfies(ev store.SignInEvent, strength string) bool {
	switch ev.Method {
	case "passkey":
		return true
	case "password+totp", "tap":
		return strength == StrengthMFA
	}
	return false
}

func TestReplay(t *testing.T) {
	s := newService(directoryStore())
	recs, err := s.Recorded(t.Context(), signIns(), methodSatisfies)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 7 {
		t.Fatalf("%d records, want the 7 successful identified sign-ins", len(recs))
	}
	if !strings.Contains(strings.Join(recs[0].Context.Groups, ","), "pilot") || recs[2].Context.Admin != true {
		t.Errorf("groups and role not looked up: %+v", recs[:3])
	}

	draft, _, err := ImportYAML([]byte(`
locations: [{name: Office, ranges: [203.0.113.0/24], trusted: true}]
policies:
  - name: draft
    state: off
    users: {include_groups: [staff]}
    apps: {all: true}
    conditions: {locations: {exclude: [trusted]}}
    grant: {strength: Passwordless MFA}
  - name: block carol
    state: off
    users: {include: [carol]}
    apps: {all: true}
    grant: {block: true}
`), Known{})
	if err != nil {
		t.Fatal(err)
	}
	set := mustCompile(t, draft)
	w := StandardWindows(t0)
	day, week, month := Replay(set, "draft", recs, w[0]), Replay(set, "draft", recs, w[1]), Replay(set, "draft", recs, w[2])

	// Last 24 h: alice at the office (trusted, not applied), alice from home
	// (step-up), bob from home with a passkey (applies, satisfied).
	if day.SignIns != 3 || day.Users != 2 || day.Applied != 2 || day.AppliedUsers != 2 || day.StepUp != 1 || day.StepUpUsers != 1 || day.Blocked != 0 || day.Replayed != 3 {
		t.Errorf("24h: %+v", day)
	}
	// 7 days add alice from home again and carol (deleted: no groups, not in scope).
	if week.SignIns != 5 || week.Users != 3 || week.StepUp != 2 || week.StepUpUsers != 1 {
		t.Errorf("7d: %+v", week)
	}
	if month.SignIns != 6 || month.StepUp != 3 {
		t.Errorf("30d: %+v", month)
	}
	if got := week.Summary(); got != "would require a step-up for 2 sign-ins of 1 user (applies to 3 sign-ins of 2 users; 5 sign-ins of 3 users evaluated)" {
		t.Errorf("summary: %s", got)
	}
	blockCarol := Replay(set, "block carol", recs, w[1])
	if blockCarol.Blocked != 1 || blockCarol.BlockedUsers != 1 || !strings.HasPrefix(blockCarol.Summary(), "would block 1 sign-in of 1 user") {
		t.Errorf("block carol: %+v %s", blockCarol, blockCarol.Summary())
	}
	if none := Replay(set, "no such policy", recs, w[1]); none.SignIns != 0 || none.Summary() != "no sign-ins to evaluate in this period" {
		t.Errorf("unknown policy: %+v", none)
	}
}

func TestImpactOfRecordedResults(t *testing.T) {
	set := mustCompile(t, Document{Policies: []Policy{func() Policy { p := basePolicy(); p.State = StateReportOnly; return p }()}})
	recs := []Recorded{
		// Recorded results are taken as they are.
		{Time: t0.Add(-time.Hour), User: "u1", Results: []Result{{Policy: "P", State: StateReportOnly, Outcome: OutcomeBlock}}},
		{Time: t0.Add(-time.Hour), User: "u2", Results: []Result{{Policy: "P", State: StateReportOnly, Outcome: OutcomeSatisfied}}},
		// Results that do not mention the policy: it did not exist then.
		{Time: t0.Add(-time.Hour), User: "u3", Results: []Result{{Policy: "other", Outcome: OutcomeBlock}}},
		// No results at all: re-evaluated.
		{Time: t0.Add(-time.Hour), User: "u4", Context: baseContext()},
		// Outside the window.
		{Time: t0.Add(-48 * time.Hour), User: "u5", Results: []Result{{Policy: "P", Outcome: OutcomeBlock}}},
	}
	im := ImpactOf(set, "P", recs, StandardWindows(t0)[0])
	if im.SignIns != 3 || im.Users != 3 || im.Blocked != 1 || im.StepUp != 1 || im.Applied != 3 || im.Replayed != 1 {
		t.Errorf("impact %+v", im)
	}
}

func TestResultsRoundTrip(t *testing.T) {
	p := basePolicy()
	q := basePolicy()
	q.Name, q.State, q.Users.Exclude = "Q", StateReportOnly, []string{"alice"}
	d := mustCompile(t, Document{Policies: []Policy{p, q}}).Evaluate(baseContext())
	s := MarshalResults(d.Results)
	if s != `[{"policy":"P","state":"on","outcome":"step-up","strength":"passwordless-mfa","unmet":true},`+
		`{"policy":"Q","state":"report-only","outcome":"not-applied","reason":{"code":"user-excluded","detail":"alice"}}]` {
		t.Errorf("recorded as %s", s)
	}
	back, err := UnmarshalResults(s)
	if err != nil || !equalJSON(t, back, d.Results) {
		t.Errorf("read back %+v, %v", back, err)
	}
	if MarshalResults(nil) != "" {
		t.Error("no results are not empty")
	}
	if rs, err := UnmarshalResults(""); rs != nil || err != nil {
		t.Errorf("empty: %v %v", rs, err)
	}
	if rs, err := UnmarshalResults("[]"); rs == nil || err != nil {
		t.Errorf("recorded but empty must differ from not recorded: %v %v", rs, err)
	}
	if _, err := UnmarshalResults("{"); err == nil {
		t.Error("damaged results read")
	}
}

func TestLogFilterAndExport(t *testing.T) {
	evs := signIns()
	evs[0].UserAgent = "=HYPERLINK(\"http://evil\")"
	evs[0].Detail = "line one\nline two, with \"quotes\""
	evs[1].App = ""

	f := LogFilter{User: "alice", Result: store.ResultSuccess, Since: t0.Add(-10 * 24 * time.Hour)}
	got := f.Filter(evs)
	if len(got) != 3 || got[0].ID != 1 || got[2].ID != 4 {
		t.Errorf("filter: %d records", len(got))
	}
	if got := (LogFilter{App: AppSesame}).Filter(evs); len(got) != 1 || got[0].ID != 2 {
		t.Errorf("app filter for Sesame itself: %+v", got)
	}
	if got := (LogFilter{UserID: "u2"}).Filter(evs); len(got) != 1 {
		t.Errorf("user ID filter: %d", len(got))
	}
	if got := (LogFilter{Until: t0.Add(-2 * time.Hour)}).Filter(evs); len(got) != 5 {
		t.Errorf("until filter (exclusive): %d", len(got))
	}
	if got := (LogFilter{Policy: "P"}).Filter(evs); len(got) != 0 {
		t.Errorf("policy filter without recorded results: %d", len(got))
	}
	sf := f.StoreFilter()
	if sf.Result != store.ResultSuccess || !sf.Since.Equal(f.Since) {
		t.Errorf("store filter %+v", sf)
	}

	var jl bytes.Buffer
	if err := WriteJSONLines(&jl, evs[:2]); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(jl.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines", len(lines))
	}
	var l LogLine
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil || l.Username != "alice" || l.UserAgent != evs[0].UserAgent || !l.Time.Equal(evs[0].Time) {
		t.Errorf("JSON line %s: %+v %v", lines[0], l, err)
	}
	if !strings.Contains(lines[0], `"user_id":"u1"`) || !strings.Contains(lines[0], `"result":"success"`) {
		t.Errorf("JSON field names: %s", lines[0])
	}

	var cb bytes.Buffer
	if err := WriteCSV(&cb, evs[:2]); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("CSV rows: %q", rows)
	}
	if rows[1][5] != "'"+evs[0].UserAgent || rows[1][10] != evs[0].Detail || rows[1][3] != "alice" {
		t.Errorf("CSV row: %q", rows[1])
	}
}
