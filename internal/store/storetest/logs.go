package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var signInTests = []test{
	{"AppendRoundTrip", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		full := store.SignInEvent{
			ID: -5, Time: at(0), UserID: store.NewID(), Username: "alice", IP: "2001:db8::1",
			UserAgent: "Mozilla/5.0", App: "grafana", Method: "passkey", Result: store.ResultFailure,
			Reason: "origin_mismatch", Detail: `expected "https://id.example.com", got "https://evil.example"`,
			CredentialID: store.NewID(), AAGUID: "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", Model: "Google Password Manager",
			PasskeyType: "synced", Phishing: true,
			Client: "browser", Country: "NL", Action: "register-security-info", TrustedDevice: true,
			BoundPasskeyDevice: true, Access: `[{"policy":"admins","result":"report-only"}]`,
		}
		empty := store.SignInEvent{Time: at(time.Second), Method: "tap", Result: store.ResultFailure}
		var last int64
		for _, e := range []store.SignInEvent{full, empty} {
			id, err := s.AppendSignIn(ctx, e)
			ok(t, "AppendSignIn", err)
			if id <= last {
				t.Fatalf("AppendSignIn ID %d after %d, want increasing", id, last)
			}
			last = id
		}
		list, err := s.ListSignIns(ctx, store.SignInFilter{})
		ok(t, "ListSignIns", err)
		if len(list) != 2 {
			t.Fatalf("ListSignIns returned %d records, want 2", len(list))
		}
		full.ID, empty.ID = list[1].ID, last
		same(t, "ListSignIns", list, []store.SignInEvent{empty, full})
	}},
	{"AppendConcurrent", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		ids := make([]int64, racers)
		errs := race(racers, func(i int) error {
			var err error
			ids[i], err = s.AppendSignIn(ctx, store.SignInEvent{Time: at(0), Result: store.ResultSuccess})
			return err
		})
		for _, err := range errs {
			ok(t, "AppendSignIn", err)
		}
		slices.Sort(ids)
		if len(slices.Compact(ids)) != racers {
			t.Fatalf("concurrent appends got IDs %v, want %d distinct", ids, racers)
		}
	}},
	{"ListFilters", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob := store.NewID(), store.NewID()
		events := []store.SignInEvent{
			{Time: at(0), UserID: alice, Result: store.ResultSuccess, App: "grafana"},
			{Time: at(1 * time.Second), UserID: bob, Result: store.ResultFailure, App: "grafana"},
			{Time: at(2 * time.Second), UserID: alice, Result: store.ResultFailure},
			{Time: at(2 * time.Second), UserID: "", Result: store.ResultFailure}, // same time, appended later
			{Time: at(3 * time.Second), UserID: alice, Result: store.ResultSuccess},
			{Time: at(-time.Second), UserID: alice, Result: store.ResultSuccess}, // appended last, oldest
		}
		for i := range events {
			id, err := s.AppendSignIn(ctx, events[i])
			ok(t, "AppendSignIn", err)
			events[i].ID = id
		}
		pick := func(idx ...int) []store.SignInEvent {
			var out []store.SignInEvent
			for _, i := range idx {
				out = append(out, events[i])
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    store.SignInFilter
			want []store.SignInEvent
		}{
			{"all, newest first", store.SignInFilter{}, pick(4, 3, 2, 1, 0, 5)},
			{"user", store.SignInFilter{UserID: alice}, pick(4, 2, 0, 5)},
			{"unknown user", store.SignInFilter{UserID: store.NewID()}, nil},
			{"result", store.SignInFilter{Result: store.ResultFailure}, pick(3, 2, 1)},
			{"since is inclusive", store.SignInFilter{Since: at(2 * time.Second)}, pick(4, 3, 2)},
			{"until is exclusive", store.SignInFilter{Until: at(2 * time.Second)}, pick(1, 0, 5)},
			{"since and until", store.SignInFilter{Since: at(time.Second), Until: at(3 * time.Second)}, pick(3, 2, 1)},
			{"empty range", store.SignInFilter{Since: at(time.Second), Until: at(time.Second)}, nil},
			{"user and result", store.SignInFilter{UserID: alice, Result: store.ResultSuccess}, pick(4, 0, 5)},
			{"everything", store.SignInFilter{UserID: alice, Result: store.ResultFailure, Since: at(0), Until: at(time.Hour)}, pick(2)},
			{"app", store.SignInFilter{App: "grafana"}, pick(1, 0)},
			{"app and user", store.SignInFilter{App: "grafana", UserID: alice}, pick(0)},
			{"limit", store.SignInFilter{Limit: 2}, pick(4, 3)},
			{"limit with filter", store.SignInFilter{UserID: alice, Limit: 3}, pick(4, 2, 0)},
			{"limit above count", store.SignInFilter{Limit: 1000}, pick(4, 3, 2, 1, 0, 5)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListSignIns(ctx, tc.f)
				ok(t, "ListSignIns", err)
				same(t, "ListSignIns", got, tc.want)
			})
		}
	}},
	{"RetentionDelete", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for i := range 5 {
			_, err := s.AppendSignIn(ctx, store.SignInEvent{Time: at(time.Duration(i) * time.Hour), Result: store.ResultSuccess})
			ok(t, "AppendSignIn", err)
		}
		n, err := s.DeleteSignInsBefore(ctx, at(2*time.Hour))
		ok(t, "DeleteSignInsBefore", err)
		if n != 2 {
			t.Fatalf("DeleteSignInsBefore removed %d, want 2", n)
		}
		got, err := s.ListSignIns(ctx, store.SignInFilter{})
		ok(t, "ListSignIns", err)
		if len(got) != 3 || !got[2].Time.Equal(ms(at(2*time.Hour))) {
			t.Fatalf("after retention: %d records, oldest %v; want 3 from %v", len(got), got[len(got)-1].Time, at(2*time.Hour))
		}
	}},
	{"DefaultLimit", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for i := range 105 {
			_, err := s.AppendSignIn(ctx, store.SignInEvent{Time: at(time.Duration(i) * time.Second), Result: store.ResultSuccess})
			ok(t, "AppendSignIn", err)
		}
		for _, limit := range []int{0, -1} {
			got, err := s.ListSignIns(ctx, store.SignInFilter{Limit: limit})
			ok(t, "ListSignIns", err)
			if len(got) != 100 {
				t.Fatalf("ListSignIns(Limit: %d) returned %d, want the default 100", limit, len(got))
			}
			same(t, "newest", got[0].Time, at(104*time.Second))
		}
	}},
}

var auditTests = []test{
	{"AppendList", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		events := []store.AuditEvent{
			{ID: 42, Time: at(0), Actor: "cli", Action: "user.create", Target: "alice", Detail: `{"admin":true}`},
			{Time: at(time.Second), Actor: "alice", Action: "passkey.revoke", Target: store.NewID()},
			{Time: at(time.Second), Actor: "system", Action: "tap.expire", Target: "bob", Detail: "ü ✓ ?"},
			{Time: at(-time.Hour), Actor: "", Action: "", Target: "", Detail: ""},
		}
		var last int64
		for i := range events {
			id, err := s.AppendAudit(ctx, events[i])
			ok(t, "AppendAudit", err)
			if id <= last {
				t.Fatalf("AppendAudit ID %d after %d, want increasing", id, last)
			}
			events[i].ID, last = id, id
		}
		for _, tc := range []struct {
			limit int
			want  []store.AuditEvent
		}{
			{0, []store.AuditEvent{events[2], events[1], events[0], events[3]}},
			{-1, []store.AuditEvent{events[2], events[1], events[0], events[3]}},
			{2, []store.AuditEvent{events[2], events[1]}},
			{10, []store.AuditEvent{events[2], events[1], events[0], events[3]}},
		} {
			got, err := s.ListAudit(ctx, tc.limit)
			ok(t, "ListAudit", err)
			same(t, "ListAudit", got, tc.want)
		}
	}},
	{"DefaultLimit", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		list, err := s.ListAudit(ctx, 0)
		ok(t, "ListAudit(empty)", err)
		if len(list) != 0 {
			t.Fatalf("ListAudit on an empty store = %v", list)
		}
		for i := range 101 {
			_, err := s.AppendAudit(ctx, store.AuditEvent{Time: at(time.Duration(i) * time.Second), Actor: "cli", Action: "x"})
			ok(t, "AppendAudit", err)
		}
		list, err = s.ListAudit(ctx, 0)
		ok(t, "ListAudit", err)
		if len(list) != 100 {
			t.Fatalf("ListAudit(0) returned %d, want the default 100", len(list))
		}
	}},
}
