package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// SAMLStore is a backend that keeps Sesame's core records and SAML apps.
type SAMLStore interface {
	store.Store
	store.SAMLStore
}

// RunSAML runs the conformance suite of store.SAMLStore. open must return
// a new, empty store for each test.
func RunSAML(t *testing.T, open func(t *testing.T) SAMLStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s SAMLStore)
	}{
		{"CreateGet", samlCreateGet},
		{"Unique", samlUnique},
		{"ListOrdered", samlList},
		{"Update", samlUpdate},
		{"Delete", samlDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.run(t, s)
		})
	}
}

func newSAMLApp(name string) store.SAMLApp {
	return store.SAMLApp{Name: name, EntityID: "https://" + name + ".example/saml", Metadata: []byte("<EntityDescriptor entityID=\"" + name + "\"/>"),
		NameIDFormat: "email", CreatedAt: at(0), UpdatedAt: at(time.Second)}
}

func sameSAMLApp(t *testing.T, got, want store.SAMLApp) {
	t.Helper()
	if got.Name != want.Name || got.EntityID != want.EntityID || !bytes.Equal(got.Metadata, want.Metadata) ||
		got.MetadataURL != want.MetadataURL || got.NameIDFormat != want.NameIDFormat || got.RequiredACR != want.RequiredACR ||
		!got.CreatedAt.Equal(ms(want.CreatedAt)) || !got.UpdatedAt.Equal(ms(want.UpdatedAt)) ||
		got.CreatedAt.Location() != time.UTC {
		t.Errorf("SAML app read back as %+v, want %+v", got, want)
	}
}

func samlCreateGet(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	a := newSAMLApp("wiki")
	a.MetadataURL, a.RequiredACR = "https://wiki.example/saml/metadata", "phr"
	if err := s.CreateSAMLApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSAMLApp(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	sameSAMLApp(t, got, a)
	got, err = s.GetSAMLAppByEntityID(ctx, a.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	sameSAMLApp(t, got, a)
	if _, err := s.GetSAMLApp(ctx, "WIKI"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSAMLApp compares exactly: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetSAMLAppByEntityID(ctx, "https://nope.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSAMLAppByEntityID of an unknown SP: %v, want ErrNotFound", err)
	}
}

func samlUnique(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	if err := s.CreateSAMLApp(ctx, newSAMLApp("wiki")); err != nil {
		t.Fatal(err)
	}
	dupName := newSAMLApp("wiki")
	dupName.EntityID = "https://other.example"
	if err := s.CreateSAMLApp(ctx, dupName); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same name: %v, want ErrConflict", err)
	}
	dupEntity := newSAMLApp("other")
	dupEntity.EntityID = newSAMLApp("wiki").EntityID
	if err := s.CreateSAMLApp(ctx, dupEntity); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same entity ID: %v, want ErrConflict", err)
	}
	if l, _ := s.ListSAMLApps(ctx); len(l) != 1 {
		t.Errorf("refused creations left %d apps, want 1", len(l))
	}
}

func samlList(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	for _, n := range []string{"zeta", "Alpha", "beta"} {
		if err := s.CreateSAMLApp(ctx, newSAMLApp(n)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.ListSAMLApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range l {
		names = append(names, a.Name)
	}
	if len(names) != 3 || names[0] != "Alpha" || names[1] != "beta" || names[2] != "zeta" {
		t.Errorf("ListSAMLApps = %v, want byte order [Alpha beta zeta]", names)
	}
}

func samlUpdate(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	a := newSAMLApp("wiki")
	if err := s.CreateSAMLApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := newSAMLApp("other")
	if err := s.CreateSAMLApp(ctx, b); err != nil {
		t.Fatal(err)
	}
	a.EntityID, a.Metadata, a.MetadataURL, a.NameIDFormat, a.RequiredACR, a.UpdatedAt =
		"https://wiki2.example", []byte("<x/>"), "https://wiki2.example/md", "persistent", "phrh", at(time.Hour)
	upd := a
	upd.CreatedAt = at(time.Minute) // not changed by Update
	if err := s.UpdateSAMLApp(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSAMLApp(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	sameSAMLApp(t, got, a)
	clash := a
	clash.EntityID = b.EntityID
	if err := s.UpdateSAMLApp(ctx, clash); !errors.Is(err, store.ErrConflict) {
		t.Errorf("update to another app's entity ID: %v, want ErrConflict", err)
	}
	if err := s.UpdateSAMLApp(ctx, newSAMLApp("ghost")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of an unknown app: %v, want ErrNotFound", err)
	}
}

func samlDelete(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	if err := s.CreateSAMLApp(ctx, newSAMLApp("wiki")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSAMLApp(ctx, "wiki"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSAMLApp(ctx, "wiki"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSAMLApp(ctx, "wiki"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	// The entity ID is free again.
	if err := s.CreateSAMLApp(ctx, newSAMLApp("wiki")); err != nil {
		t.Errorf("re-create after delete: %v", err)
	}
}
