// Package scim is Sesame's SCIM 2.0 service provider (RFC 7643, RFC 7644)
// at /scim/v2: HR systems and other directories create, update, disable
// and delete users and groups with a bearer token. Changes go through the
// directory (validation, the last-admin rule, ending sessions, audit), with
// the token's name as the actor.
package scim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/store"
)

// Directory is what provisioning changes go through (*directory.Service).
type Directory interface {
	CreateUser(ctx context.Context, actor audit.Actor, in directory.NewUser) (store.User, error)
	UpdateProfile(ctx context.Context, actor audit.Actor, id string, p directory.Profile) (store.User, error)
	SetDisabled(ctx context.Context, actor audit.Actor, username string, disabled bool) (store.User, error)
	DeleteUser(ctx context.Context, actor audit.Actor, username string) error
	CreateProvisionedGroup(ctx context.Context, actor audit.Actor, name, externalID string) (store.Group, error)
	SetMemberByID(ctx context.Context, actor audit.Actor, groupID, userID string, member bool) error
	// ChangeGroup makes a group's rename, external ID and membership
	// changes all or nothing; a rename rewrites the policies naming the
	// group (directory.Service.GroupRenamed).
	ChangeGroup(ctx context.Context, actor audit.Actor, id string, c directory.GroupChange) (store.Group, error)
	DeleteGroup(ctx context.Context, actor audit.Actor, name string) error
}

// Server serves /scim/v2.
type Server struct {
	Store  store.Store // reads
	Dir    Directory   // writes
	Tokens *Tokens
	// BaseURL is the public URL of /scim/v2 (for meta.location), without
	// a trailing slash.
	BaseURL string
	Log     *slog.Logger
	Now     func() time.Time
}

// Prefix is where the service lives.
const Prefix = "/scim/v2"

const (
	maxBody         = 1 << 20 // a group with many thousands of members still fits
	defaultCount    = 100
	maxCount        = 200
	authFailWindow  = time.Minute
	authFailLimit   = 20 // failed token checks per address per window
	authFailKeyBase = "scim-auth:"
)

// Handler is the SCIM service, every route behind the bearer token.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"/ServiceProviderConfig", s.serviceProviderConfig)
	mux.HandleFunc("GET "+Prefix+"/ResourceTypes", s.resourceTypes)
	mux.HandleFunc("GET "+Prefix+"/ResourceTypes/{name}", s.resourceType)
	mux.HandleFunc("GET "+Prefix+"/Schemas", s.schemas)
	mux.HandleFunc("GET "+Prefix+"/Schemas/{id}", s.schema)

	mux.HandleFunc("GET "+Prefix+"/Users", s.listUsers)
	mux.HandleFunc("POST "+Prefix+"/Users", s.createUser)
	mux.HandleFunc("GET "+Prefix+"/Users/{id}", s.getUser)
	mux.HandleFunc("PUT "+Prefix+"/Users/{id}", s.replaceUser)
	mux.HandleFunc("PATCH "+Prefix+"/Users/{id}", s.patchUser)
	mux.HandleFunc("DELETE "+Prefix+"/Users/{id}", s.deleteUser)

	mux.HandleFunc("GET "+Prefix+"/Groups", s.listGroups)
	mux.HandleFunc("POST "+Prefix+"/Groups", s.createGroup)
	mux.HandleFunc("GET "+Prefix+"/Groups/{id}", s.getGroup)
	mux.HandleFunc("PUT "+Prefix+"/Groups/{id}", s.replaceGroup)
	mux.HandleFunc("PATCH "+Prefix+"/Groups/{id}", s.patchGroup)
	mux.HandleFunc("DELETE "+Prefix+"/Groups/{id}", s.deleteGroup)

	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.Log, &Error{Status: http.StatusNotFound, Detail: "There is no SCIM endpoint at " + r.URL.Path + " for " + r.Method + "; Sesame serves Users, Groups, ServiceProviderConfig, ResourceTypes and Schemas (no Bulk, no /Me)."})
	})
	return s.authenticate(mux)
}

type ctxKey struct{}

// actor is the audit actor of a request: the token's name.
func actor(r *http.Request) audit.Actor {
	name, _ := r.Context().Value(ctxKey{}).(string)
	return audit.Actor("scim:" + name)
}

// authenticate requires a valid bearer token. Failures are counted per
// address in the store (shared by every instance) and throttled.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		var name string
		ok := false
		if strings.EqualFold(scheme, "Bearer") && token != "" {
			var err error
			if name, ok, err = s.Tokens.Authenticate(r.Context(), strings.TrimSpace(token)); err != nil {
				writeError(w, r, s.Log, err)
				return
			}
		}
		if !ok {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			n, err := s.Store.CountHit(r.Context(), authFailKeyBase+host, authFailWindow, s.Now())
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			if n > authFailLimit {
				w.Header().Set("Retry-After", "60")
				writeError(w, r, s.Log, &Error{Status: http.StatusTooManyRequests, Detail: "Too many requests with a wrong token from this address; try again in a minute."})
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="sesame-scim"`)
			writeError(w, r, s.Log, &Error{Status: http.StatusUnauthorized, Detail: "A valid SCIM bearer token is required (Authorization: Bearer ...). Issue one with `sesame scim token issue NAME`."})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, name)))
	})
}

// readBody reads a size-limited JSON body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != contentType && mt != "application/json") {
			return nil, &Error{Status: http.StatusUnsupportedMediaType, Detail: "Send the body as application/scim+json."}
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is larger than " + strconv.Itoa(maxBody) + " bytes."}
	} else if err != nil {
		return nil, errInvalidSyntax("The request body could not be read.")
	}
	return b, nil
}

func (s *Server) write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own values always marshal
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(b)
}

// writeResource answers with a resource, with the attributes the request
// chose, and its ETag.
func (s *Server) writeResource(w http.ResponseWriter, status int, res resource, sel Selection) {
	if v := res.version(); v != "" {
		w.Header().Set("ETag", v)
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", res.location())
	}
	s.write(w, status, sel.apply(res))
}

// checkIfMatch refuses a change to a resource that changed since the client
// read it (RFC 7644 section 3.14), when the client says which version it
// read.
func checkIfMatch(r *http.Request, current resource) error {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil
	}
	v := current.version()
	for _, e := range strings.Split(h, ",") {
		if e = strings.TrimSpace(e); e == v || "W/"+e == v {
			return nil
		}
	}
	return &Error{Status: http.StatusPreconditionFailed, Detail: "The resource changed since that version was read; read it again."}
}

// --- users ---

func (s *Server) userResource(ctx context.Context, u store.User, withGroups bool) (*userResource, error) {
	var groups []store.Group
	if withGroups {
		var err error
		if groups, err = s.Store.ListUserGroups(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	return newUserResource(s.BaseURL, u, groups, withGroups), nil
}

func (s *Server) loadUser(r *http.Request) (store.User, error) {
	u, err := s.Store.GetUser(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return u, errNotFound("There is no user with id " + strconv.Quote(r.PathValue("id")) + ".")
	}
	return u, err
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r, userFilterShapes...)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	ctx := r.Context()
	var users []store.User
	if q.filter == nil {
		users, err = s.Store.ListUsers(ctx)
	} else {
		users, err = s.filterUsers(ctx, q.filter)
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	page := q.page(len(users))
	res := make([]any, 0, len(page))
	for _, i := range page {
		ur, err := s.userResource(ctx, users[i], q.sel.readsGroups())
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		res = append(res, q.sel.apply(ur))
	}
	s.write(w, http.StatusOK, q.response(len(users), res))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	sel, err := ParseSelection(r.URL.Query())
	var u store.User
	if err == nil {
		u, err = s.loadUser(r)
	}
	var res *userResource
	if err == nil {
		res, err = s.userResource(r.Context(), u, sel.readsGroups())
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.writeResource(w, http.StatusOK, res, sel)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	// The selection is checked first, so that a bad one creates nothing.
	sel, err := ParseSelection(r.URL.Query())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	m, err := decodeUser(body)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	ctx := r.Context()
	if err := s.externalIDFree(ctx, m.ExternalID, ""); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	u, err := s.Dir.CreateUser(ctx, actor(r), directory.NewUser{
		Username: m.UserName, Email: m.Email, DisplayName: m.finalDisplayName(), ExternalID: m.ExternalID,
	})
	if err == nil && !m.Active {
		u, err = s.Dir.SetDisabled(ctx, actor(r), u.Username, true)
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	res, err := s.userResource(ctx, u, sel.readsGroups())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.writeResource(w, http.StatusCreated, res, sel)
}

// externalIDFree refuses an external ID another user has.
func (s *Server) externalIDFree(ctx context.Context, ext, self string) error {
	if strings.TrimSpace(ext) == "" {
		return nil
	}
	o, err := s.Store.GetUserByExternalID(ctx, strings.TrimSpace(ext))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	case o.ID != self:
		return errUniqueness("Another user already has the externalId " + strconv.Quote(ext) + ".")
	}
	return nil
}

func modelOfUser(u store.User) userModel {
	return userModel{UserName: u.Username, DisplayName: u.DisplayName, Email: u.Email, ExternalID: u.ExternalID, Active: !u.Disabled}
}

// saveUser writes m over u: the profile in one step (a taken username,
// email or external ID changes nothing), then the active flag, which
// disabling a user turns into ending their sessions and tokens.
func (s *Server) saveUser(r *http.Request, u store.User, m userModel) (store.User, error) {
	ctx := r.Context()
	if err := s.externalIDFree(ctx, m.ExternalID, u.ID); err != nil {
		return u, err
	}
	u, err := s.Dir.UpdateProfile(ctx, actor(r), u.ID, directory.Profile{
		Username: m.UserName, Email: m.Email, DisplayName: m.finalDisplayName(), ExternalID: m.ExternalID,
	})
	if err != nil {
		return u, err
	}
	if u.Disabled == m.Active {
		return s.Dir.SetDisabled(ctx, actor(r), u.Username, !m.Active)
	}
	return u, nil
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) {
	s.changeUser(w, r, func(_ userModel, body []byte) (userModel, error) {
		m, err := decodeUser(body)
		return m, err
	})
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) {
	s.changeUser(w, r, func(cur userModel, body []byte) (userModel, error) {
		ops, err := decodePatch(body)
		if err != nil {
			return cur, err
		}
		return patchUser(cur, ops)
	})
}

// changeUser is PUT and PATCH: read, compute the new user, check, write.
func (s *Server) changeUser(w http.ResponseWriter, r *http.Request, change func(userModel, []byte) (userModel, error)) {
	sel, err := ParseSelection(r.URL.Query())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	u, err := s.loadUser(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	ctx := r.Context()
	cur, err := s.userResource(ctx, u, true)
	if err == nil {
		err = checkIfMatch(r, cur)
	}
	var m userModel
	if err == nil {
		m, err = change(modelOfUser(u), body)
	}
	if err == nil {
		u, err = s.saveUser(r, u, m)
	}
	var res *userResource
	if err == nil {
		res, err = s.userResource(ctx, u, sel.readsGroups())
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.writeResource(w, http.StatusOK, res, sel)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.loadUser(r)
	var cur *userResource
	if err == nil {
		cur, err = s.userResource(r.Context(), u, true)
	}
	if err == nil {
		err = checkIfMatch(r, cur)
	}
	if err == nil {
		err = s.Dir.DeleteUser(r.Context(), actor(r), u.Username)
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- groups ---

func (s *Server) groupResource(ctx context.Context, g store.Group, withMembers bool) (*groupResource, error) {
	var members []store.User
	if withMembers {
		var err error
		if members, err = s.Store.ListMembers(ctx, g.ID); err != nil {
			return nil, err
		}
	}
	return newGroupResource(s.BaseURL, g, members, withMembers), nil
}

func (s *Server) loadGroup(r *http.Request) (store.Group, error) {
	g, err := s.Store.GetGroup(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return g, errNotFound("There is no group with id " + strconv.Quote(r.PathValue("id")) + ".")
	}
	return g, err
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r, groupFilterShapes...)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	ctx := r.Context()
	var groups []store.Group
	if q.filter == nil {
		groups, err = s.Store.ListGroups(ctx)
	} else {
		groups, err = s.filterGroups(ctx, q.filter)
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	page := q.page(len(groups))
	res := make([]any, 0, len(page))
	for _, i := range page {
		gr, err := s.groupResource(ctx, groups[i], q.sel.readsMembers())
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		res = append(res, q.sel.apply(gr))
	}
	s.write(w, http.StatusOK, q.response(len(groups), res))
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	sel, err := ParseSelection(r.URL.Query())
	var g store.Group
	if err == nil {
		g, err = s.loadGroup(r)
	}
	var res *groupResource
	if err == nil {
		res, err = s.groupResource(r.Context(), g, sel.readsMembers())
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.writeResource(w, http.StatusOK, res, sel)
}

// checkMembers refuses member IDs that are not users, before anything is
// written.
func (s *Server) checkMembers(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if _, err := s.Store.GetUser(ctx, id); errors.Is(err, store.ErrNotFound) {
			return errInvalidValue("There is no user with id " + strconv.Quote(id) + " to make a member.")
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	sel, err := ParseSelection(r.URL.Query())
	var body []byte
	if err == nil {
		body, err = readBody(w, r)
	}
	var m groupModel
	if err == nil {
		m, err = decodeGroup(body)
	}
	ctx := r.Context()
	if err == nil {
		err = s.checkMembers(ctx, m.Members)
	}
	var g store.Group
	if err == nil {
		g, err = s.Dir.CreateProvisionedGroup(ctx, actor(r), m.DisplayName, m.ExternalID)
	}
	if err == nil && len(m.Members) > 0 {
		// All members in one step; if that is refused (a member deleted
		// since checkMembers), the new group goes too, so that a refused
		// POST leaves nothing behind.
		created := g
		if g, err = s.Dir.ChangeGroup(ctx, actor(r), created.ID, directory.GroupChange{Add: m.Members}); err != nil {
			if derr := s.Dir.DeleteGroup(context.WithoutCancel(ctx), actor(r), created.Name); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}
	var res *groupResource
	if err == nil {
		res, err = s.groupResource(ctx, g, sel.readsMembers())
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.writeResource(w, http.StatusCreated, res, sel)
}

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request) {
	s.changeGroup(w, r, func(_ groupModel, body []byte) (groupModel, error) { return decodeGroup(body) })
}

func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) {
	s.changeGroup(w, r, func(cur groupModel, body []byte) (groupModel, error) {
		ops, err := decodePatch(body)
		if err != nil {
			return cur, err
		}
		return patchGroup(cur, ops)
	})
}

func (s *Server) changeGroup(w http.ResponseWriter, r *http.Request, change func(groupModel, []byte) (groupModel, error)) {
	sel, err := ParseSelection(r.URL.Query())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	ctx := r.Context()
	g, err := s.loadGroup(r)
	var cur *groupResource
	if err == nil {
		cur, err = s.groupResource(ctx, g, true)
	}
	if err == nil {
		err = checkIfMatch(r, cur)
	}
	old := groupModel{DisplayName: g.Name, ExternalID: g.ExternalID}
	if cur != nil {
		for _, m := range cur.Members {
			old.Members = append(old.Members, m.Value)
		}
	}
	var m groupModel
	if err == nil {
		m, err = change(old, body)
	}
	if err == nil {
		err = s.checkMembers(ctx, m.Members)
	}
	if err == nil {
		g, err = s.saveGroup(r, g, old, m)
	}
	var res *groupResource
	if err == nil {
		res, err = s.groupResource(ctx, g, sel.readsMembers())
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	// Entra ID and Okta accept 200 with the group, or 204; RFC 7644
	// section 3.5.2 wants 200 when attributes is given.
	s.writeResource(w, http.StatusOK, res, sel)
}

// saveGroup writes the difference between old and m as one change: a
// taken name or external ID, an unknown member or a failing database
// changes nothing, so a provisioning client that retries the request
// starts from the group it last saw.
func (s *Server) saveGroup(r *http.Request, g store.Group, old, m groupModel) (store.Group, error) {
	return s.Dir.ChangeGroup(r.Context(), actor(r), g.ID, groupChange(g, old, m))
}

// groupChange is the change that turns group g, whose members are
// old.Members, into m: a name or external ID only when it differs
// (compared as the directory keeps them, trimmed), the members m has that
// old has not, and those old has that m has not.
func groupChange(g store.Group, old, m groupModel) directory.GroupChange {
	var c directory.GroupChange
	if name := strings.TrimSpace(m.DisplayName); name != g.Name {
		c.Name = &name
	}
	if ext := strings.TrimSpace(m.ExternalID); ext != g.ExternalID {
		c.ExternalID = &ext
	}
	for _, id := range m.Members {
		if !slices.Contains(old.Members, id) {
			c.Add = append(c.Add, id)
		}
	}
	for _, id := range old.Members {
		if !slices.Contains(m.Members, id) {
			c.Remove = append(c.Remove, id)
		}
	}
	return c
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.loadGroup(r)
	var cur *groupResource
	if err == nil {
		cur, err = s.groupResource(r.Context(), g, true)
	}
	if err == nil {
		err = checkIfMatch(r, cur)
	}
	if err == nil {
		err = s.Dir.DeleteGroup(r.Context(), actor(r), g.Name)
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- listing ---

type listQuery struct {
	filter     []Term // nil: no filter
	startIndex int    // 1-based
	count      int
	sel        Selection // applies to every resource in the list
}

func parseListQuery(r *http.Request, filterShapes ...string) (listQuery, error) {
	v := r.URL.Query()
	q := listQuery{startIndex: 1, count: defaultCount}
	var err error
	if q.sel, err = ParseSelection(v); err != nil {
		return q, err
	}
	if f := v.Get("filter"); v.Has("filter") {
		terms, err := ParseListFilter(f, filterShapes...)
		if err != nil {
			return q, err
		}
		for _, t := range terms {
			if _, ok := t.Value.(string); !ok && t.Value != nil {
				return q, errInvalidFilter("Compare " + t.Path.String() + " with a quoted string.")
			}
			if t.Path.Filter != nil {
				if _, ok := t.Path.Filter.Value.(string); !ok {
					return q, errInvalidFilter("Compare " + t.Path.Filter.Attr + " in " + t.Path.Attr + "[...] with a quoted string.")
				}
			}
		}
		q.filter = terms
	}
	if s := v.Get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, errInvalidValue("startIndex must be a whole number.")
		}
		q.startIndex = max(n, 1) // RFC 7644: less than 1 means 1
	}
	if s := v.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, errInvalidValue("count must be a whole number.")
		}
		q.count = min(max(n, 0), maxCount) // negative means 0
	}
	return q, nil
}

// page returns the indexes of the page of total results.
func (q listQuery) page(total int) []int {
	var idx []int
	for i := q.startIndex - 1; i < total && len(idx) < q.count; i++ {
		idx = append(idx, i)
	}
	return idx
}

type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

func (q listQuery) response(total int, res []any) listResponse {
	return listResponse{Schemas: []string{ListSchema}, TotalResults: total, StartIndex: q.startIndex, ItemsPerPage: len(res), Resources: res}
}

// --- resources ---

type resource interface {
	version() string
	location() string
	// attributes are the resource's schema and attributes, for
	// Selection.apply.
	attributes() (schema string, defs []attrDef)
}

type meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location"`
	Version      string `json:"version,omitempty"`
}

// weakVersion is a weak ETag over the resource's content (meta.version
// left empty while it is computed).
func weakVersion(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return `W/"` + hex.EncodeToString(h[:8]) + `"`
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	// What the store keeps: milliseconds, so a version computed from a
	// value just written equals the one computed after reading it back.
	return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

type email struct {
	Value   string `json:"value"`
	Type    string `json:"type"`
	Primary bool   `json:"primary"`
}

type ref struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref,omitempty"`
	Type    string `json:"type,omitempty"`
}

type userResource struct {
	Schemas     []string          `json:"schemas"`
	ID          string            `json:"id"`
	ExternalID  string            `json:"externalId,omitempty"`
	UserName    string            `json:"userName"`
	DisplayName string            `json:"displayName"`
	Name        map[string]string `json:"name"`
	Active      bool              `json:"active"`
	Emails      []email           `json:"emails,omitempty"`
	Groups      []ref             `json:"groups,omitempty"`
	Meta        meta              `json:"meta"`
}

func newUserResource(base string, u store.User, groups []store.Group, withGroups bool) *userResource {
	res := &userResource{
		Schemas: []string{UserSchema}, ID: u.ID, ExternalID: u.ExternalID, UserName: u.Username,
		DisplayName: u.DisplayName, Name: map[string]string{"formatted": u.DisplayName}, Active: !u.Disabled,
		Meta: meta{ResourceType: "User", Created: timestamp(u.CreatedAt), LastModified: timestamp(u.UpdatedAt), Location: base + "/Users/" + u.ID},
	}
	if u.Email != "" {
		res.Emails = []email{{Value: u.Email, Type: "work", Primary: true}}
	}
	for _, g := range groups {
		res.Groups = append(res.Groups, ref{Value: g.ID, Display: g.Name, Ref: base + "/Groups/" + g.ID, Type: "direct"})
	}
	if withGroups {
		// The version covers the groups too, so it is computed only when
		// they were read.
		res.Meta.Version = weakVersion(res)
	}
	return res
}

func (u *userResource) version() string                 { return u.Meta.Version }
func (u *userResource) location() string                { return u.Meta.Location }
func (u *userResource) attributes() (string, []attrDef) { return UserSchema, userDefs }

type groupResource struct {
	Schemas     []string `json:"schemas"`
	ID          string   `json:"id"`
	ExternalID  string   `json:"externalId,omitempty"`
	DisplayName string   `json:"displayName"`
	Members     []ref    `json:"members,omitempty"`
	Meta        meta     `json:"meta"`
}

func newGroupResource(base string, g store.Group, members []store.User, withMembers bool) *groupResource {
	res := &groupResource{
		Schemas: []string{GroupSchema}, ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.Name,
		Meta: meta{ResourceType: "Group", Created: timestamp(g.CreatedAt), Location: base + "/Groups/" + g.ID},
	}
	for _, u := range members {
		res.Members = append(res.Members, ref{Value: u.ID, Display: u.DisplayName, Ref: base + "/Users/" + u.ID, Type: "User"})
	}
	if withMembers {
		res.Meta.Version = weakVersion(res)
	}
	return res
}

func (g *groupResource) version() string                 { return g.Meta.Version }
func (g *groupResource) location() string                { return g.Meta.Location }
func (g *groupResource) attributes() (string, []attrDef) { return GroupSchema, groupDefs }
