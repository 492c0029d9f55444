package access

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// memStore is the part of a store Conditional Access uses, in memory.
// Methods it does not implement panic through the nil embedded interface,
// so a test that reaches one fails loudly.
type memStore struct {
	store.Store
	mu       sync.Mutex
	settings map[string][]byte
	audit    []store.AuditEvent
	users    []store.User
	groups   map[string][]string // user ID -> group names
	puts     int
	// beforeSwap, when set, runs once at the next SwapSetting.
	beforeSwap func()
}

func newMemStore() *memStore {
	return &memStore{settings: map[string][]byte{}, groups: map[string][]string{}}
}

func (m *memStore) GetSetting(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.settings[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return slices.Clone(v), nil
}

func (m *memStore) PutSetting(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settings[key] = slices.Clone(value)
	m.puts++
	return nil
}

// SwapSetting is the store's compare-and-set; before, when set, runs
// just before the compare (a test's way to slip in a concurrent save).
func (m *memStore) SwapSetting(ctx context.Context, key string, old, value []byte) error {
	if m.beforeSwap != nil {
		f := m.beforeSwap
		m.beforeSwap = nil
		f()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.settings[key]
	if (old == nil && ok) || (old != nil && (!ok || string(cur) != string(old))) {
		return store.ErrConflict
	}
	m.settings[key] = slices.Clone(value)
	m.puts++
	return nil
}

func (m *memStore) AppendAudit(_ context.Context, e store.AuditEvent) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.ID = int64(len(m.audit) + 1)
	m.audit = append(m.audit, e)
	return e.ID, nil
}

func (m *memStore) ListUsers(context.Context) ([]store.User, error) {
	return slices.Clone(m.users), nil
}

func (m *memStore) GetUser(_ context.Context, id string) (store.User, error) {
	for _, u := range m.users {
		if u.ID == id {
			return u, nil
		}
	}
	return store.User{}, store.ErrNotFound
}

func (m *memStore) ListGroups(context.Context) ([]store.Group, error) {
	seen := map[string]bool{}
	var gs []store.Group
	for _, names := range m.groups {
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				gs = append(gs, store.Group{ID: n, Name: n})
			}
		}
	}
	slices.SortFunc(gs, func(a, b store.Group) int { return compare(a.Name, b.Name) })
	return gs, nil
}

func (m *memStore) ListUserGroups(_ context.Context, userID string) ([]store.Group, error) {
	var gs []store.Group
	for _, n := range m.groups[userID] {
		gs = append(gs, store.Group{ID: n, Name: n})
	}
	return gs, nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *memStore) addUser(id, username string, admin bool, groups ...string) {
	m.users = append(m.users, store.User{ID: id, Username: username, Admin: admin})
	m.groups[id] = groups
}

// testLocations are the named locations most tests use.
func testLocations() []Location {
	return []Location{
		{Name: "Office", Ranges: []string{"203.0.113.0/24", "2001:db8:1::/48"}, Trusted: true},
		{Name: "Branch", Ranges: []string{"198.51.100.0/24"}},
		{Name: "EU", Countries: []string{"DE", "FR"}},
		{Name: "Nowhere", Countries: []string{"AQ"}, IncludeUnknown: true},
	}
}

var (
	ipOffice    = netip.MustParseAddr("203.0.113.7")
	ipOffice6   = netip.MustParseAddr("2001:db8:1::7")
	ipBranch    = netip.MustParseAddr("198.51.100.9")
	ipElsewhere = netip.MustParseAddr("192.0.2.44")
	t0          = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// basePolicy applies to everyone everywhere and asks for a passkey.
func basePolicy() Policy {
	return Policy{
		Name:  "P",
		State: StateOn,
		Users: Users{All: true},
		Apps:  Apps{All: true},
		Grant: Grant{Strength: StrengthPasswordlessMFA},
	}
}

// baseContext is alice, a member of staff, signing in to grafana from an
// address in no named location, with a browser.
func baseContext() Context {
	return Context{
		Username: "alice",
		Groups:   []string{"staff", "pilot"},
		App:      "grafana",
		IP:       ipElsewhere,
		Client:   ClientBrowser,
		Now:      t0,
		Fresh:    true,
	}
}

func mustCompile(t testing.TB, doc Document) *Set {
	t.Helper()
	s, err := Compile(doc)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

func satisfies(strengths ...string) func(string) bool {
	return func(s string) bool { return slices.Contains(strengths, s) }
}

func equalJSON(t testing.TB, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func (m *memStore) GetUserByUsername(_ context.Context, username string) (store.User, error) {
	for _, u := range m.users {
		if u.Username == username {
			return u, nil
		}
	}
	return store.User{}, store.ErrNotFound
}
