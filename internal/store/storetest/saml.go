package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
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
		{"MetadataTimes", samlMetadataTimes},
		{"ClaimMetadataCheck", samlClaimMetadataCheck},
		{"ClaimOnce", samlClaimOnce},
		{"RecordMetadata", samlRecordMetadata},
		{"SetStrength", samlSetStrength},
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
		got.CreatedAt.Location() != time.UTC || !sameOptionalTime(got.MetadataFetchedAt, want.MetadataFetchedAt) ||
		!sameOptionalTime(got.MetadataCheckedAt, want.MetadataCheckedAt) {
		t.Errorf("SAML app read back as %+v, want %+v", got, want)
	}
}

// sameOptionalTime compares a "not yet" time: zero reads back as zero.
func sameOptionalTime(got, want time.Time) bool {
	if want.IsZero() {
		return got.IsZero()
	}
	return got.Equal(ms(want)) && got.Location() == time.UTC
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

// urlSAMLApp is an app registered from a metadata URL, fetched at created.
func urlSAMLApp(name string, fetched time.Time) store.SAMLApp {
	a := newSAMLApp(name)
	a.MetadataURL = "https://" + name + ".example/saml/metadata"
	a.CreatedAt, a.UpdatedAt, a.MetadataFetchedAt, a.MetadataCheckedAt = fetched, fetched, fetched, fetched
	return a
}

func samlMetadataTimes(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	// Zero fetch times (an app from a file or an ACS URL) read back as zero;
	// set ones read back as given.
	if err := s.CreateSAMLApp(ctx, newSAMLApp("file")); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSAMLApp(ctx, "file")
	if err != nil {
		t.Fatal(err)
	}
	if !got.MetadataFetchedAt.IsZero() || !got.MetadataCheckedAt.IsZero() {
		t.Errorf("an app never fetched has fetch times %v / %v", got.MetadataFetchedAt, got.MetadataCheckedAt)
	}
	a := urlSAMLApp("wiki", at(time.Minute))
	a.MetadataCheckedAt = at(2 * time.Minute)
	if err := s.CreateSAMLApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetSAMLApp(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	sameSAMLApp(t, got, a)
	l, err := s.ListSAMLApps(ctx)
	if err != nil || len(l) != 2 {
		t.Fatalf("ListSAMLApps = %d apps, %v", len(l), err)
	}
	sameSAMLApp(t, l[1], a)

	// Update leaves the fetch times alone: they belong to the refresh.
	upd := a
	upd.RequiredACR, upd.UpdatedAt = "phr", at(time.Hour)
	upd.MetadataFetchedAt, upd.MetadataCheckedAt = time.Time{}, at(time.Second)
	if err := s.UpdateSAMLApp(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetSAMLApp(ctx, "wiki")
	want := a
	want.RequiredACR, want.UpdatedAt = "phr", at(time.Hour)
	sameSAMLApp(t, got, want)
}

func samlClaimMetadataCheck(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	if err := s.CreateSAMLApp(ctx, urlSAMLApp("wiki", at(0))); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSAMLApp(ctx, newSAMLApp("file")); err != nil {
		t.Fatal(err)
	}
	never := urlSAMLApp("never", at(0))
	never.MetadataFetchedAt, never.MetadataCheckedAt = time.Time{}, time.Time{}
	if err := s.CreateSAMLApp(ctx, never); err != nil {
		t.Fatal(err)
	}
	claim := func(name string, dueBefore, now time.Time) bool {
		t.Helper()
		ok, err := s.ClaimSAMLMetadataCheck(ctx, name, dueBefore, now)
		if err != nil {
			t.Fatalf("ClaimSAMLMetadataCheck(%s): %v", name, err)
		}
		return ok
	}
	// Checked at 0: not due when due means "checked before 0" ...
	if claim("wiki", at(0), at(time.Hour)) {
		t.Error("an app checked at the due time itself was claimed")
	}
	// ... due when checked before 1 ms.
	if !claim("wiki", at(time.Millisecond), at(time.Hour)) {
		t.Error("a due app was not claimed")
	}
	got, _ := s.GetSAMLApp(ctx, "wiki")
	if !got.MetadataCheckedAt.Equal(ms(at(time.Hour))) || !got.MetadataFetchedAt.Equal(ms(at(0))) || !got.UpdatedAt.Equal(ms(at(0))) {
		t.Errorf("a claim moved checked to %v, fetched to %v, updated to %v; want only checked at +1h",
			got.MetadataCheckedAt, got.MetadataFetchedAt, got.UpdatedAt)
	}
	// Claimed: no longer due for the same round.
	if claim("wiki", at(time.Millisecond), at(time.Hour)) {
		t.Error("a claimed app was claimed again")
	}
	if !claim("never", at(0), at(time.Hour)) {
		t.Error("an app never checked was not due")
	}
	if claim("file", at(24*time.Hour), at(time.Hour)) {
		t.Error("an app without a metadata URL was claimed")
	}
	if claim("ghost", at(24*time.Hour), at(time.Hour)) {
		t.Error("an unknown app was claimed")
	}
	if got, _ := s.GetSAMLApp(ctx, "file"); !got.MetadataCheckedAt.IsZero() {
		t.Errorf("a refused claim set checked to %v", got.MetadataCheckedAt)
	}
}

// Instances claiming one due refresh at once: exactly one wins.
func samlClaimOnce(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	if err := s.CreateSAMLApp(ctx, urlSAMLApp("wiki", at(0))); err != nil {
		t.Fatal(err)
	}
	const n = 8
	wins := make(chan bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.ClaimSAMLMetadataCheck(ctx, "wiki", at(time.Hour), at(time.Hour+time.Duration(i)*time.Millisecond))
			if err != nil {
				t.Error(err)
			}
			wins <- ok
		}()
	}
	wg.Wait()
	close(wins)
	won := 0
	for ok := range wins {
		if ok {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent claims won, want exactly 1", won, n)
	}
}

func samlRecordMetadata(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	a := urlSAMLApp("wiki", at(0))
	a.RequiredACR = "phr"
	if err := s.CreateSAMLApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	// Unchanged: only the fetch times move.
	if err := s.RecordSAMLMetadata(ctx, "wiki", nil, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetSAMLApp(ctx, "wiki")
	want := a
	want.MetadataFetchedAt, want.MetadataCheckedAt = at(time.Hour), at(time.Hour)
	sameSAMLApp(t, got, want)
	// Changed: the metadata and the app's update time too.
	md := []byte(`<EntityDescriptor entityID="wiki" rotated="1"/>`)
	if err := s.RecordSAMLMetadata(ctx, "wiki", md, at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetSAMLApp(ctx, "wiki")
	want.Metadata, want.UpdatedAt, want.MetadataFetchedAt, want.MetadataCheckedAt = md, at(2*time.Hour), at(2*time.Hour), at(2*time.Hour)
	sameSAMLApp(t, got, want)
	if err := s.RecordSAMLMetadata(ctx, "ghost", md, at(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record for an unknown app: %v, want ErrNotFound", err)
	}
}

// samlSetStrength: the strength is set alone, so a refresh stored between
// an admin's read of the app and the change is kept.
func samlSetStrength(t *testing.T, s SAMLStore) {
	ctx := context.Background()
	a := urlSAMLApp("wiki", at(0))
	a.MetadataCheckedAt = at(time.Minute) // a failed attempt after the fetch
	if err := s.CreateSAMLApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	other := newSAMLApp("other")
	if err := s.CreateSAMLApp(ctx, other); err != nil {
		t.Fatal(err)
	}
	// A refresh stores new metadata after the admin read the app.
	read, err := s.GetSAMLApp(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	md := []byte(`<EntityDescriptor entityID="wiki" rotated="1"/>`)
	if err := s.RecordSAMLMetadata(ctx, "wiki", md, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSAMLAppStrength(ctx, read.Name, "phr", at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSAMLApp(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	want := a
	want.Metadata, want.MetadataFetchedAt, want.MetadataCheckedAt = md, at(time.Hour), at(time.Hour)
	want.RequiredACR, want.UpdatedAt = "phr", at(2*time.Hour)
	sameSAMLApp(t, got, want)
	// Back to none.
	if err := s.SetSAMLAppStrength(ctx, "wiki", "", at(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetSAMLApp(ctx, "wiki")
	want.RequiredACR, want.UpdatedAt = "", at(3*time.Hour)
	sameSAMLApp(t, got, want)
	// Other apps are untouched; an unknown app is not found.
	got, _ = s.GetSAMLApp(ctx, "other")
	sameSAMLApp(t, got, other)
	if err := s.SetSAMLAppStrength(ctx, "ghost", "phr", at(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("set strength of an unknown app: %v, want ErrNotFound", err)
	}
}
