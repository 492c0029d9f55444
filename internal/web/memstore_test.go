package web

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// memStore is just enough of a store for handler tests of this package,
// so they do not depend on a database backend. Methods it does not
// implement panic through the nil embedded interface, which fails the test
// that needed them loudly.
type memStore struct {
	store.Store

	mu       sync.Mutex
	users    map[string]store.User
	groups   map[string]store.Group
	members  map[[2]string]bool // group ID, user ID
	creds    map[string]store.Credential
	taps     map[string]store.TAP
	sessions map[string]store.Session
	signins  []store.SignInEvent
	audit    []store.AuditEvent
}

func newMemStore() *memStore {
	return &memStore{
		users: map[string]store.User{}, groups: map[string]store.Group{}, members: map[[2]string]bool{},
		creds: map[string]store.Credential{}, taps: map[string]store.TAP{}, sessions: map[string]store.Session{},
	}
}

func (m *memStore) CreateUser(_ context.Context, u store.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.users {
		if o.Username == u.Username || (u.Email != "" && o.Email == u.Email) {
			return store.ErrConflict
		}
	}
	m.users[u.ID] = u
	return nil
}

func (m *memStore) GetUser(_ context.Context, id string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return u, store.ErrNotFound
	}
	return u, nil
}

func (m *memStore) GetUserByUsername(_ context.Context, name string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.Username == name {
			return u, nil
		}
	}
	return store.User{}, store.ErrNotFound
}

func (m *memStore) ListUsers(context.Context) ([]store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]store.User, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b store.User) int { return strings.Compare(a.Username, b.Username) })
	return out, nil
}

func (m *memStore) UpdateUser(_ context.Context, u store.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.ID]; !ok {
		return store.ErrNotFound
	}
	m.users[u.ID] = u
	return nil
}

func (m *memStore) CreateGroup(_ context.Context, g store.Group) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.groups {
		if o.Name == g.Name {
			return store.ErrConflict
		}
	}
	m.groups[g.ID] = g
	return nil
}

func (m *memStore) GetGroupByName(_ context.Context, name string) (store.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.groups {
		if g.Name == name {
			return g, nil
		}
	}
	return store.Group{}, store.ErrNotFound
}

func (m *memStore) ListGroups(context.Context) ([]store.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]store.Group, 0, len(m.groups))
	for _, g := range m.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b store.Group) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memStore) DeleteGroup(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.groups[id]; !ok {
		return store.ErrNotFound
	}
	delete(m.groups, id)
	for k := range m.members {
		if k[0] == id {
			delete(m.members, k)
		}
	}
	return nil
}

func (m *memStore) AddMember(_ context.Context, groupID, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.members[[2]string{groupID, userID}] = true
	return nil
}

func (m *memStore) RemoveMember(_ context.Context, groupID, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.members, [2]string{groupID, userID})
	return nil
}

func (m *memStore) ListMembers(_ context.Context, groupID string) ([]store.User, error) {
	m.mu.Lock()
	var out []store.User
	for k := range m.members {
		if k[0] == groupID {
			out = append(out, m.users[k[1]])
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b store.User) int { return strings.Compare(a.Username, b.Username) })
	return out, nil
}

func (m *memStore) ListUserGroups(_ context.Context, userID string) ([]store.Group, error) {
	m.mu.Lock()
	var out []store.Group
	for k := range m.members {
		if k[1] == userID {
			out = append(out, m.groups[k[0]])
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Group) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memStore) CreateCredential(_ context.Context, c store.Credential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creds[c.ID] = c
	return nil
}

func (m *memStore) GetCredential(_ context.Context, id string) (store.Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[id]
	if !ok {
		return c, store.ErrNotFound
	}
	return c, nil
}

func (m *memStore) ListCredentials(_ context.Context, userID string) ([]store.Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Credential
	for _, c := range m.creds {
		if c.UserID == userID {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b store.Credential) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (m *memStore) RenameCredential(_ context.Context, id, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.creds[id]
	if !ok {
		return store.ErrNotFound
	}
	c.Name = name
	m.creds[id] = c
	return nil
}

func (m *memStore) DeleteCredential(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.creds[id]; !ok {
		return store.ErrNotFound
	}
	delete(m.creds, id)
	for k, s := range m.sessions {
		if s.CredentialID == id {
			delete(m.sessions, k)
		}
	}
	return nil
}

func (m *memStore) PutTAP(_ context.Context, t store.TAP) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.taps[t.UserID] = t
	return nil
}

func (m *memStore) GetTAP(_ context.Context, userID string) (store.TAP, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.taps[userID]
	if !ok {
		return t, store.ErrNotFound
	}
	return t, nil
}

func (m *memStore) CreateSession(_ context.Context, s store.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[string(s.TokenHash)] = s
	return nil
}

func (m *memStore) GetSession(_ context.Context, hash []byte) (store.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[string(hash)]
	if !ok {
		return s, store.ErrNotFound
	}
	return s, nil
}

func (m *memStore) TouchSession(_ context.Context, hash []byte, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[string(hash)]
	if !ok {
		return store.ErrNotFound
	}
	s.LastSeenAt = now
	m.sessions[string(hash)] = s
	return nil
}

func (m *memStore) DeleteSession(_ context.Context, hash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, string(hash))
	return nil
}

func (m *memStore) DeleteUserSessions(_ context.Context, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.sessions {
		if s.UserID == userID {
			delete(m.sessions, k)
		}
	}
	return nil
}

func (m *memStore) AppendSignIn(_ context.Context, e store.SignInEvent) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.ID = int64(len(m.signins) + 1)
	m.signins = append(m.signins, e)
	return e.ID, nil
}

func (m *memStore) ListSignIns(_ context.Context, f store.SignInFilter) ([]store.SignInEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.SignInEvent
	for i := len(m.signins) - 1; i >= 0; i-- {
		if e := m.signins[i]; f.UserID == "" || e.UserID == f.UserID {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) AppendAudit(_ context.Context, e store.AuditEvent) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.ID = int64(len(m.audit) + 1)
	m.audit = append(m.audit, e)
	return e.ID, nil
}

// auditActions lists the actions recorded so far, "actor action target".
func (m *memStore) auditActions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.audit {
		out = append(out, e.Actor+" "+e.Action+" "+e.Target)
	}
	return out
}

func (m *memStore) sessionCount(userID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.sessions {
		if s.UserID == userID {
			n++
		}
	}
	return n
}
