package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/sesame-idp/sesame/internal/store"
)

var textTests = []test{
	{"CleanText", func(t *testing.T, s store.Store) {
		for _, tc := range []struct{ in, want string }{
			{"", ""},
			{"plain ascii", "plain ascii"},
			{"ü ✓ 🔑 日本", "ü ✓ 🔑 日本"},
			{"nul\x00byte", "nul\uFFFDbyte"},
			{"bad \xff\xfe bytes", "bad \uFFFD bytes"},
			{"cut rune \xe2\x9c", "cut rune \uFFFD"},
		} {
			if got := store.CleanText(tc.in); got != tc.want {
				t.Errorf("CleanText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		}
	}},
	{"StoredClean", func(t *testing.T, s store.Store) {
		// Whatever a client sends ends up in these fields; no backend may
		// fail on it, and all must read back the same.
		ctx := context.Background()
		const dirty = "Mozilla/5.0 \x00 \xff ✓ \xe2\x9c"
		clean := store.CleanText(dirty)
		cleaned := func(l []string) []string {
			var out []string
			for _, v := range l {
				out = append(out, store.CleanText(v))
			}
			return out
		}

		u := newUser("alice")
		u.DisplayName = dirty
		ok(t, "CreateUser", s.CreateUser(ctx, u))
		got, err := s.GetUser(ctx, u.ID)
		ok(t, "GetUser", err)
		if got.DisplayName != clean {
			t.Fatalf("DisplayName = %q, want %q", got.DisplayName, clean)
		}

		g := store.Group{ID: store.NewID(), Name: "g\xff", Description: dirty, CreatedAt: at(0)}
		ok(t, "CreateGroup", s.CreateGroup(ctx, g))
		gotG, err := s.GetGroupByName(ctx, store.CleanText(g.Name))
		ok(t, "GetGroupByName(cleaned name)", err)
		if gotG.Description != clean {
			t.Fatalf("Description = %q, want %q", gotG.Description, clean)
		}

		c := newCredential(u.ID)
		c.Name, c.Transports = dirty, []string{"usb", dirty}
		mustCredential(t, s, c)
		gotC, err := s.GetCredential(ctx, c.ID)
		ok(t, "GetCredential", err)
		c.Name, c.Transports = clean, cleaned(c.Transports)
		same(t, "credential", gotC, c)
		ok(t, "RenameCredential", s.RenameCredential(ctx, c.ID, dirty+"!"))
		gotC, err = s.GetCredential(ctx, c.ID)
		ok(t, "GetCredential", err)
		if gotC.Name != store.CleanText(dirty+"!") {
			t.Fatalf("renamed to %q, want %q", gotC.Name, store.CleanText(dirty+"!"))
		}

		ss := newSession(u.ID, c.ID)
		ss.UserAgent, ss.IP, ss.Methods = dirty, dirty, []string{dirty}
		mustSession(t, s, ss)
		gotS, err := s.GetSession(ctx, ss.TokenHash)
		ok(t, "GetSession", err)
		ss.UserAgent, ss.IP, ss.Methods = clean, clean, cleaned(ss.Methods)
		same(t, "session", gotS, ss)

		e := store.SignInEvent{Time: at(0), Username: dirty, IP: dirty, UserAgent: dirty, Reason: dirty, Detail: dirty, Model: dirty}
		e.ID, err = s.AppendSignIn(ctx, e)
		ok(t, "AppendSignIn", err)
		list, err := s.ListSignIns(ctx, store.SignInFilter{})
		ok(t, "ListSignIns", err)
		e.Username, e.IP, e.UserAgent, e.Reason, e.Detail, e.Model = clean, clean, clean, clean, clean, clean
		same(t, "sign-in", list, []store.SignInEvent{e})

		a := store.AuditEvent{Time: at(0), Actor: dirty, Action: "x", Target: dirty, Detail: dirty}
		a.ID, err = s.AppendAudit(ctx, a)
		ok(t, "AppendAudit", err)
		audit, err := s.ListAudit(ctx, 0)
		ok(t, "ListAudit", err)
		a.Actor, a.Target, a.Detail = clean, clean, clean
		same(t, "audit", audit, []store.AuditEvent{a})

		n, err := s.CountHit(ctx, dirty, 0, at(0))
		ok(t, "CountHit(dirty key)", err)
		if n != 1 {
			t.Fatalf("CountHit = %d", n)
		}
		ok(t, "PutSetting(dirty key)", s.PutSetting(ctx, dirty, []byte(dirty)))
		v, err := s.GetSetting(ctx, clean)
		ok(t, "GetSetting(cleaned key)", err)
		if string(v) != dirty {
			t.Fatalf("setting value (bytes, kept as is) = %q, want %q", v, dirty)
		}
		if _, err := s.GetSetting(ctx, dirty); err != nil {
			t.Fatalf("GetSetting(dirty key): %v", err)
		}
		if _, err := s.GetUserByUsername(ctx, "alice\xff"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetUserByUsername(dirty) = %v, want ErrNotFound", err)
		}
	}},
}
