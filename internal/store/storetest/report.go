package storetest

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// The roll-out report's aggregate reads (store.ReportStore).

func reportStore(t *testing.T, s store.Store) store.ReportStore {
	t.Helper()
	rs, ok := s.(store.ReportStore)
	if !ok {
		t.Fatalf("%T does not implement store.ReportStore", s)
	}
	return rs
}

// day0 is a UTC midnight, so tests can place records on either side of a
// day boundary.
var day0 = time.Date(2031, time.March, 14, 0, 0, 0, 0, time.UTC)

func signInAt(tm time.Time, u store.User, method string) store.SignInEvent {
	return store.SignInEvent{Time: tm, UserID: u.ID, Username: u.Username, Method: method,
		Result: store.ResultSuccess, Client: "browser"}
}

func mustAppend(t *testing.T, s store.Store, evs ...store.SignInEvent) {
	t.Helper()
	for _, e := range evs {
		if _, err := s.AppendSignIn(context.Background(), e); err != nil {
			t.Fatalf("AppendSignIn: %v", err)
		}
	}
}

var reportTests = []test{
	{"UserPasskeys", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		rs := reportStore(t, s)
		none := mustUser(t, s, "none")
		one := mustUser(t, s, "one")
		two := mustUser(t, s, "two")
		tap := mustUser(t, s, "tap")
		mustCredential(t, s, newCredential(one.ID)) // synced
		for range 2 {
			c := newCredential(two.ID)
			c.BackupEligible, c.BackupState = false, false
			c.Transports = []string{"usb", "nfc"}
			mustCredential(t, s, c)
		}
		laptop := newCredential(two.ID)
		laptop.BackupEligible, laptop.BackupState = false, false
		laptop.Transports = []string{"internal"}
		laptop.AAGUID = make([]byte, 16)
		mustCredential(t, s, laptop)
		if err := s.PutTAP(ctx, store.TAP{UserID: tap.ID, Hash: []byte("h"), CreatedBy: "cli",
			CreatedAt: at(0), StartsAt: at(0), ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		tap.Admin = true
		if err := s.UpdateUser(ctx, tap); err != nil {
			t.Fatal(err)
		}
		var got []store.UserPasskeys
		if err := rs.EachUserPasskeys(ctx, func(u store.UserPasskeys) error { got = append(got, u); return nil }); err != nil {
			t.Fatal(err)
		}
		want := []store.UserPasskeys{
			{UserID: none.ID, Username: "none"},
			{UserID: one.ID, Username: "one", Passkeys: 1, Synced: 1, Models: 1},
			{UserID: tap.ID, Username: "tap", Admin: true, HasTAP: true},
			{UserID: two.ID, Username: "two", Passkeys: 3, DeviceBound: 3, SecurityKeys: 2, Models: 2},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("EachUserPasskeys:\n got %+v\nwant %+v", got, want)
		}
	}},
	{"Memberships", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		rs := reportStore(t, s)
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		g := mustGroup(t, s, "pilot")
		for _, u := range []store.User{a, b} {
			if err := s.AddMember(ctx, g.ID, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]bool{}
		if err := rs.EachMembership(ctx, func(gid, uid string) error { got[gid+"/"+uid] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{g.ID + "/" + a.ID: true, g.ID + "/" + b.ID: true}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("EachMembership = %v, want %v", got, want)
		}
	}},
	{"SignInDays", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		rs := reportStore(t, s)
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		g := mustGroup(t, s, "pilot")
		if err := s.AddMember(ctx, g.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		failed := signInAt(day0.Add(time.Hour), a, "passkey")
		failed.Result = store.ResultFailure
		anonymous := signInAt(day0.Add(time.Hour), store.User{Username: "ghost"}, "passkey")
		backChannel := signInAt(day0.Add(time.Hour), a, "oidc")
		backChannel.App, backChannel.Client = "grafana", ""
		app := signInAt(day0.Add(time.Hour), a, "passkey")
		app.App = "grafana"
		mustAppend(t, s,
			signInAt(day0.Add(-time.Millisecond), a, "passkey"), // the day before
			signInAt(day0, a, "passkey"),
			signInAt(day0.Add(24*time.Hour-time.Millisecond), a, "passkey"),
			signInAt(day0.Add(2*time.Hour), b, "passkey"),
			signInAt(day0.Add(3*time.Hour), b, "tap"),
			signInAt(day0.Add(24*time.Hour), a, "password+totp"),
			failed, anonymous, backChannel, app,
		)
		got, err := rs.SignInDays(ctx, day0.Add(5*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		d1 := day0.Add(24 * time.Hour)
		want := []store.SignInDay{
			{Day: day0, GroupID: "", Method: "passkey", Count: 4},
			{Day: day0, GroupID: "", Method: "tap", Count: 1},
			{Day: day0, GroupID: g.ID, Method: "passkey", Count: 3},
			{Day: d1, GroupID: "", Method: "password+totp", Count: 1},
			{Day: d1, GroupID: g.ID, Method: "password+totp", Count: 1},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("SignInDays:\n got %+v\nwant %+v", got, want)
		}
		// Retention takes the counters of the days wholly before the cutoff.
		if _, err := s.DeleteSignInsBefore(ctx, day0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err = rs.SignInDays(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || !reflect.DeepEqual(got, want) {
			t.Errorf("after retention of the day before:\n got %+v\nwant %+v", got, want)
		}
		if _, err := s.DeleteSignInsBefore(ctx, d1); err != nil {
			t.Fatal(err)
		}
		if got, err = rs.SignInDays(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		} else if !reflect.DeepEqual(got, want[3:]) {
			t.Errorf("after retention of day0:\n got %+v\nwant %+v", got, want[3:])
		}
	}},
	{"SignInDaysConcurrent", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		rs := reportStore(t, s)
		a := mustUser(t, s, "a")
		g := mustGroup(t, s, "pilot")
		if err := s.AddMember(ctx, g.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.AppendSignIn(ctx, signInAt(day0.Add(time.Duration(i)*time.Second), a, "passkey")); err != nil {
					t.Errorf("AppendSignIn: %v", err)
				}
			}()
		}
		wg.Wait()
		got, err := rs.SignInDays(ctx, day0)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.SignInDay{
			{Day: day0, Method: "passkey", Count: racers},
			{Day: day0, GroupID: g.ID, Method: "passkey", Count: racers},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("SignInDays:\n got %+v\nwant %+v", got, want)
		}
	}},
	{"ReportOnly", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		rs := reportStore(t, s)
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		with := func(tm time.Time, u store.User, access string) store.SignInEvent {
			e := signInAt(tm, u, "passkey")
			e.Access = access
			return e
		}
		const blockAndStepUp = `[{"policy":"Require passkeys","state":"report-only","outcome":"block"},` +
			`{"policy":"Admins","state":"report-only","outcome":"step-up","strength":"mfa","unmet":true},` +
			`{"policy":"Enforced","state":"on","outcome":"block"},` +
			`{"policy":"Quiet","state":"report-only","outcome":"satisfied"}]`
		failed := with(day0.Add(time.Hour), a, blockAndStepUp)
		failed.Result = store.ResultFailure
		mustAppend(t, s,
			with(day0.Add(time.Hour), a, blockAndStepUp),
			with(day0.Add(2*time.Hour), a, blockAndStepUp),
			with(day0.Add(25*time.Hour), b, `[{"policy":"Require passkeys","state":"report-only","outcome":"block"}]`),
			with(day0.Add(3*time.Hour), b, `not json "report-only"`),
			with(day0.Add(3*time.Hour), b, ``),
			failed,
		)
		days, err := rs.ReportOnlyDays(ctx, day0)
		if err != nil {
			t.Fatal(err)
		}
		d1 := day0.Add(24 * time.Hour)
		wantDays := []store.ReportOnlyDay{
			{Day: day0, Policy: "Admins", Outcome: "step-up", Count: 2},
			{Day: day0, Policy: "Require passkeys", Outcome: "block", Count: 2},
			{Day: d1, Policy: "Require passkeys", Outcome: "block", Count: 1},
		}
		if !reflect.DeepEqual(days, wantDays) {
			t.Errorf("ReportOnlyDays:\n got %+v\nwant %+v", days, wantDays)
		}
		users, err := rs.ReportOnlyUsers(ctx, day0)
		if err != nil {
			t.Fatal(err)
		}
		wantUsers := []store.ReportOnlyUser{
			{Policy: "Admins", UserID: a.ID, Outcome: "step-up", Count: 2, Last: day0.Add(2 * time.Hour)},
			{Policy: "Require passkeys", UserID: a.ID, Outcome: "block", Count: 2, Last: day0.Add(2 * time.Hour)},
			{Policy: "Require passkeys", UserID: b.ID, Outcome: "block", Count: 1, Last: day0.Add(25 * time.Hour)},
		}
		if a.ID > b.ID {
			wantUsers[1], wantUsers[2] = wantUsers[2], wantUsers[1]
		}
		if !reflect.DeepEqual(users, wantUsers) {
			t.Errorf("ReportOnlyUsers:\n got %+v\nwant %+v", users, wantUsers)
		}
		if users, err = rs.ReportOnlyUsers(ctx, day0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		} else if len(users) != 1 || users[0].UserID != b.ID {
			t.Errorf("ReportOnlyUsers since a later time = %+v, want only b's", users)
		}
		if days, err = rs.ReportOnlyDays(ctx, d1); err != nil {
			t.Fatal(err)
		} else if !reflect.DeepEqual(days, wantDays[2:]) {
			t.Errorf("ReportOnlyDays since d1 = %+v, want %+v", days, wantDays[2:])
		}
		// Retention drops the users last seen before the cutoff.
		if _, err := s.DeleteSignInsBefore(ctx, d1); err != nil {
			t.Fatal(err)
		}
		if users, err = rs.ReportOnlyUsers(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		} else if len(users) != 1 || users[0].UserID != b.ID {
			t.Errorf("ReportOnlyUsers after retention = %+v, want only b's", users)
		}
		if days, err = rs.ReportOnlyDays(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		} else if !reflect.DeepEqual(days, wantDays[2:]) {
			t.Errorf("ReportOnlyDays after retention = %+v, want %+v", days, wantDays[2:])
		}
	}},
	{"RegistrationDays", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		rs := reportStore(t, s)
		a := mustUser(t, s, "a")
		for i, tm := range []time.Time{day0.Add(-time.Millisecond), day0, day0.Add(time.Hour), day0.Add(49 * time.Hour)} {
			c := newCredential(a.ID)
			c.CreatedAt = tm
			if i == 2 {
				c.BackupEligible, c.BackupState = false, false
			}
			mustCredential(t, s, c)
		}
		got, err := rs.RegistrationDays(ctx, day0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []store.RegistrationDay{
			{Day: day0, Synced: 1, DeviceBound: 1},
			{Day: day0.Add(48 * time.Hour), Synced: 1},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("RegistrationDays:\n got %+v\nwant %+v", got, want)
		}
	}},
	{"CampaignUsers", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		rs := reportStore(t, s)
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		for _, e := range []store.AuditEvent{
			{Actor: "a", Action: "campaign.shown", Target: "a"},
			{Actor: "a", Action: "campaign.shown", Target: "a"},
			{Actor: "a", Action: "campaign.snoozed", Target: "a"},
			{Actor: "b", Action: "campaign.registered", Target: "b"},
			{Actor: "x", Action: "campaign.shown", Target: "deleted-user"},
			{Actor: "admin", Action: "user.create", Target: "b"},
			{Actor: "admin", Action: "campaignx", Target: "b"},
		} {
			e.Time = at(0)
			if _, err := s.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := rs.CampaignUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.CampaignUser{{UserID: a.ID, Outcome: "shown"}, {UserID: a.ID, Outcome: "snoozed"}, {UserID: b.ID, Outcome: "registered"}}
		if a.ID > b.ID {
			want = []store.CampaignUser{{UserID: b.ID, Outcome: "registered"}, {UserID: a.ID, Outcome: "shown"}, {UserID: a.ID, Outcome: "snoozed"}}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("CampaignUsers = %+v, want %+v", got, want)
		}
	}},
}
