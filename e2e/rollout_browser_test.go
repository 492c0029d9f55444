package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/store"
)

// TestBrowserRolloutPilotToEnforced: a pilot group with the scripted mix of
// users (no passkey, one synced passkey, two device-bound security keys,
// a temporary access pass only) and a report-only policy scoped to it.
// The admin opens the roll-out view in Chromium, the numbers on the page
// equal what the store holds, and the admin moves the group from
// report-only to enforced through the what-if confirmation.
func TestBrowserRolloutPilotToEnforced(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	bg := context.Background()
	st := inst.App.Store
	root := inst.createUser(t, "root", true)
	pilot := store.Group{ID: store.NewID(), Name: "pilot", CreatedAt: inst.clock.Now()}
	if err := st.CreateGroup(bg, pilot); err != nil {
		t.Fatal(err)
	}
	mix := map[string]store.User{}
	for _, name := range []string{"nopasskey", "synced", "twokeys", "taponly"} {
		u := inst.createUser(t, name, false)
		mix[name] = u
		if err := st.AddMember(bg, pilot.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	cred := func(u store.User, synced bool, transports ...string) {
		c := store.Credential{ID: store.NewID(), UserID: u.ID, CredentialID: []byte(store.NewID()), PublicKey: []byte{1},
			Algorithm: -7, AAGUID: make([]byte, 16), AttestationFormat: "none", AttestationTrust: "none",
			Transports: transports, BackupEligible: synced, BackupState: synced, Name: "key", CreatedAt: inst.clock.Now()}
		if !synced {
			c.AAGUID = []byte(store.NewID())[:16]
		}
		if err := st.CreateCredential(bg, c); err != nil {
			t.Fatal(err)
		}
	}
	cred(mix["synced"], true, "internal", "hybrid")
	cred(mix["twokeys"], false, "usb")
	cred(mix["twokeys"], false, "nfc")
	inst.issueTAP(t, mix["taponly"], 0, false)

	const policy = "Pilot needs a passkey"
	inst.putPolicy(t, access.Policy{Name: policy, State: access.StateReportOnly,
		Users: access.Users{IncludeGroups: []string{"pilot"}}, Apps: access.Apps{All: true},
		Grant: access.Grant{Strength: access.StrengthPasswordlessMFA}})
	// What report-only recorded: the two without a passkey signed in with a
	// pass and would have been asked for a passkey; the others passed.
	record := func(u store.User, method string, outcome access.Outcome) {
		ev := store.SignInEvent{Time: inst.clock.Now(), UserID: u.ID, Username: u.Username, Method: method,
			Result: store.ResultSuccess, Client: string(access.ClientBrowser),
			Access: access.MarshalResults([]access.Result{{Policy: policy, State: access.StateReportOnly, Outcome: outcome}})}
		if _, err := st.AppendSignIn(bg, ev); err != nil {
			t.Fatal(err)
		}
	}
	record(mix["nopasskey"], "tap", access.OutcomeStepUp)
	record(mix["taponly"], "tap", access.OutcomeStepUp)
	record(mix["synced"], "passkey", access.OutcomeSatisfied)
	record(mix["twokeys"], "passkey", access.OutcomeSatisfied)

	// What the store holds for the group.
	want := map[string]int{}
	for _, u := range mix {
		creds := inst.credentials(t, u)
		want["users"]++
		switch len(creds) {
		case 0:
			want["no-passkey"]++
			if _, err := st.GetTAP(bg, u.ID); err == nil {
				want["tap-only"]++
			}
		case 1:
			want["one-passkey"]++
		default:
			want["two-or-more"]++
		}
		synced, bound, keys := 0, 0, 0
		for _, c := range creds {
			if c.BackupEligible {
				synced++
			} else {
				bound++
				for _, tr := range c.Transports {
					if tr == "usb" || tr == "nfc" || tr == "ble" {
						keys++
						break
					}
				}
			}
		}
		want["with-synced"] += min(synced, 1)
		want["with-device-bound"] += min(bound, 1)
		want["with-security-key"] += min(keys, 1)
	}

	ctx := newTab(t)
	browserSignInWithTAP(t, ctx, inst.URL, "root", inst.issueTAP(t, root, 0, false))
	navigate(t, ctx, inst.URL+"/admin/rollout")
	waitPage(t, ctx, "/admin/rollout")
	row := `tr.stats[data-scope="pilot"]`
	for cell, n := range want {
		got := text(t, ctx, fmt.Sprintf(`%s td.%s`, row, cell))
		if strings.TrimSpace(got) != strconv.Itoa(n) {
			t.Errorf("pilot %s on the page = %q, the store holds %d", cell, got, n)
		}
	}
	if got := text(t, ctx, `tr.group[data-group="pilot"] td.phase`); got != "report-only" {
		t.Errorf("pilot phase = %q", got)
	}
	if got := text(t, ctx, `tr.policy[data-policy="`+policy+`"] td.stepup-users`); got != "nopasskey, taponly" {
		t.Errorf("users report-only would step up = %q", got)
	}
	if !exists(t, ctx, "#chart-registrations") || !exists(t, ctx, "#chart-share") {
		t.Errorf("charts missing:\n%s", pageSummary(ctx))
	}

	// Move the group forward: the what-if summary first, then confirm.
	click(t, ctx, `tr.group[data-group="pilot"] a.move-group`)
	waitPage(t, ctx, "/admin/rollout/move")
	if s := text(t, ctx, "#move-summary"); !strings.Contains(s, "from report-only to enforced") || !strings.Contains(s, "2 of 4 members have no passkey") {
		t.Errorf("what-if summary:\n%s", s)
	}
	click(t, ctx, "#move-confirm")
	waitFor(t, ctx, `location.pathname === "/admin/rollout" && location.search.includes("notice=moved") && document.readyState === "complete"`)
	if got := text(t, ctx, `tr.group[data-group="pilot"] td.phase`); got != "enforced" {
		t.Errorf("pilot phase after the move = %q", got)
	}
	doc, err := inst.App.Access.Document(bg)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := doc.Policy(policy); p.State != access.StateOn {
		t.Errorf("policy state after the move = %s", p.State)
	}
	moved := false
	for _, ev := range inst.audit(t) {
		moved = moved || (ev.Action == "rollout.move" && ev.Actor == "root" && ev.Target == policy)
	}
	if !moved {
		t.Error("the move is not in the audit log")
	}
}
