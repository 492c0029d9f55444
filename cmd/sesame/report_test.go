package main

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

func TestReportRollout(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }
	mustOK(t, run("user", "add", "alice"))
	mustOK(t, run("user", "add", "bob"))
	mustOK(t, run("group", "add", "pilot"))
	mustOK(t, run("group", "add-member", "pilot", "alice"))

	r := mustOK(t, run("report", "rollout"))
	for _, want := range []string{"(all users)", "pilot", "not started", "1 of 1 members have no passkey"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustOK(t, run("report", "rollout", "--group", "pilot", "--format", "json"))
	var rep struct {
		Overall struct {
			Users     int `json:"users"`
			NoPasskey int `json:"no_passkey"`
		} `json:"overall"`
		Groups []struct {
			Name  string `json:"name"`
			Phase string `json:"phase"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if rep.Overall.Users != 1 || rep.Overall.NoPasskey != 1 || len(rep.Groups) != 1 || rep.Groups[0].Phase != "not started" {
		t.Errorf("json report: %+v", rep)
	}
	r = mustOK(t, run("report", "rollout", "--format", "csv"))
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "scope" || rows[1][2] != "2" || rows[2][0] != "pilot" {
		t.Errorf("csv (%v): %q", err, rows)
	}
	mustFail(t, run("report", "rollout", "--group", "nobody"), 1, "no group with that name")
	mustFail(t, run("report", "rollout", "--format", "xml"), 2, "--format must be table, csv or json")
	mustFail(t, run("report", "rollout", "extra"), 2, "takes no arguments")
}
