package signin_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// TestRemovePasskeyAsksTheLockoutCheck: RemovePasskey asks
// CheckPasskeyRevocation about the passkey and its owner before anything
// else; a refusal leaves the passkey in place and tells
// no app that a session ended.
func TestRemovePasskeyAsksTheLockoutCheck(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sesame.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := &directory.Service{Store: st, Now: time.Now}
	lockout := problem.New(409, "admin_lockout", "no")
	var refuse bool
	var asked []string
	var ended int
	svc := &signin.Service{
		Store: st, Dir: dir, Now: time.Now,
		OnSessionEnd: func(context.Context, store.SessionEnd) { ended++ },
		CheckPasskeyRevocation: func(_ context.Context, u store.User, c store.Credential) error {
			asked = append(asked, u.Username+"/"+c.Name)
			if refuse {
				return lockout
			}
			return nil
		},
	}
	alice, err := dir.CreateUser(ctx, audit.CLI, directory.NewUser{Username: "alice", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	add := func(name string) store.Credential {
		c := store.Credential{ID: store.NewID(), UserID: alice.ID, CredentialID: []byte(name), PublicKey: []byte("k"), Algorithm: -7,
			AAGUID: make([]byte, 16), AttestationFormat: "none", AttestationTrust: "none", Name: name, CreatedAt: time.Now()}
		if err := st.CreateCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	k1, k2 := add("k1"), add("k2")

	refuse = true
	if _, err := svc.RemovePasskey(ctx, audit.Actor("alice"), alice.ID, k1.ID); !errors.Is(err, lockout) {
		t.Fatalf("RemovePasskey = %v, want the refusal", err)
	}
	if _, err := st.GetCredential(ctx, k1.ID); err != nil {
		t.Fatalf("the passkey after the refusal: %v", err)
	}
	if ended != 0 {
		t.Errorf("apps told of %d session ends on a refusal", ended)
	}

	refuse = false
	if _, err := svc.RemovePasskey(ctx, audit.Actor("alice"), alice.ID, k2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetCredential(ctx, k2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the revoked passkey: %v", err)
	}
	if len(asked) != 2 || asked[0] != "alice/k1" || asked[1] != "alice/k2" {
		t.Errorf("asked about %v", asked)
	}
	// Another user's passkey ID is unknown before the check is asked.
	asked = nil
	if _, err := svc.RemovePasskey(ctx, audit.CLI, "someone-else", k1.ID); !errors.Is(err, signin.ErrUnknownPasskey) || len(asked) != 0 {
		t.Errorf("someone else's passkey: %v, asked %v", err, asked)
	}
}
