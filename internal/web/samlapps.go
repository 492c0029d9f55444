package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/samlidp"
)

// SAMLRegistry registers and lists SAML apps (samlidp.IdP); every change
// is audited by it.
type SAMLRegistry interface {
	ListApps(ctx context.Context) ([]samlidp.App, error)
	App(ctx context.Context, name string) (samlidp.App, error)
	AddApp(ctx context.Context, actor audit.Actor, in samlidp.NewApp) (samlidp.App, error)
	DeleteApp(ctx context.Context, actor audit.Actor, name string) error
	SetRequiredStrength(ctx context.Context, actor audit.Actor, name, strength string) (samlidp.App, error)
	RefreshApp(ctx context.Context, actor audit.Actor, name string) (samlidp.Refreshed, error)
	Endpoints() samlidp.Endpoints
}

var errNoSAML = problem.New(http.StatusNotFound, "saml_unavailable", "SAML apps cannot be managed here: this database backend does not store them.")

func (s *Server) samlAdmin(h http.HandlerFunc) http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request) {
		if s.SAMLApps == nil {
			s.fail(w, r, errNoSAML)
			return
		}
		h(w, r)
	})
}

func (s *Server) samlRoutes(mux *http.ServeMux) {
	mux.Handle("GET /admin/saml-apps", s.samlAdmin(s.adminSAMLApps))
	mux.Handle("POST /admin/saml-apps", s.samlAdmin(s.adminAddSAMLApp))
	mux.Handle("POST /admin/saml-apps/{name}/delete", s.samlAdmin(s.adminDeleteSAMLApp))
	mux.Handle("POST /admin/saml-apps/{name}/refresh", s.samlAdmin(s.adminRefreshSAMLApp))
	mux.Handle("GET /api/admin/saml-apps", s.samlAdmin(s.apiListSAMLApps))
	mux.Handle("POST /api/admin/saml-apps", s.samlAdmin(s.apiAddSAMLApp))
	mux.Handle("GET /api/admin/saml-apps/{name}", s.samlAdmin(s.apiGetSAMLApp))
	mux.Handle("PUT /api/admin/saml-apps/{name}/strength", s.samlAdmin(s.apiSetSAMLStrength))
	mux.Handle("POST /api/admin/saml-apps/{name}/refresh", s.samlAdmin(s.apiRefreshSAMLApp))
	mux.Handle("DELETE /api/admin/saml-apps/{name}", s.samlAdmin(s.apiDeleteSAMLApp))
}

func (s *Server) renderSAMLApps(w http.ResponseWriter, r *http.Request, status int, data map[string]any) {
	apps, err := s.SAMLApps.ListApps(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data["Title"] = "SAML apps"
	data["Apps"] = apps
	data["Endpoints"] = s.SAMLApps.Endpoints()
	if r.URL.Query().Get("notice") == "deleted" {
		data["NoticeText"] = "SAML app deleted."
	}
	s.renderStatus(w, r, status, "admin_saml_apps", data)
}

func (s *Server) adminSAMLApps(w http.ResponseWriter, r *http.Request) {
	s.renderSAMLApps(w, r, http.StatusOK, map[string]any{})
}

func (s *Server) adminAddSAMLApp(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, problem.New(http.StatusBadRequest, "bad_form", "The form could not be read (metadata is at most 1 MB)."))
		return
	}
	f := r.PostForm
	in := samlidp.NewApp{Name: strings.TrimSpace(f.Get("name")), Metadata: []byte(strings.TrimSpace(f.Get("metadata"))),
		MetadataURL: f.Get("metadata_url"), ACSURL: f.Get("acs_url"), EntityID: f.Get("entity_id"),
		NameIDFormat: f.Get("nameid_format"), RequiredStrength: f.Get("strength")}
	added, err := s.SAMLApps.AddApp(r.Context(), adminActor(r), in)
	if err != nil {
		if p := problem.As(err); p.Status < 500 || p.Status == http.StatusBadGateway {
			s.renderSAMLApps(w, r, p.Status, map[string]any{"AppError": p.Message + " " + p.Detail, "Form": f})
			return
		}
		s.fail(w, r, err)
		return
	}
	s.renderSAMLApps(w, r, http.StatusOK, map[string]any{"Added": added})
}

func (s *Server) adminDeleteSAMLApp(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.SAMLApps.DeleteApp(r.Context(), adminActor(r), r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/saml-apps?notice=deleted", http.StatusSeeOther)
}

// adminRefreshSAMLApp fetches the app's metadata URL again and shows the
// page with the outcome; a refused refresh (fetch failed, invalid
// metadata, another entity ID, no metadata URL) is shown beside the app,
// which keeps its metadata.
func (s *Server) adminRefreshSAMLApp(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	name := r.PathValue("name")
	res, err := s.SAMLApps.RefreshApp(r.Context(), adminActor(r), name)
	if err != nil {
		if p := problem.As(err); p.Code != samlidp.ErrUnknownApp.Code && (p.Status < 500 || p.Status == http.StatusBadGateway) {
			msg := p.Message
			if refreshReasonShown(p) {
				msg += " " + p.Detail
			}
			s.renderSAMLApps(w, r, p.Status, map[string]any{"RefreshFailed": name, "RefreshError": msg})
			return
		}
		s.fail(w, r, err)
		return
	}
	notice := "The metadata of " + res.Name + " was fetched again: unchanged."
	if res.Changed {
		notice = "The metadata of " + res.Name + " was fetched again: it changed, and the new metadata is in use."
	}
	s.renderSAMLApps(w, r, http.StatusOK, map[string]any{"NoticeText": notice})
}

// --- JSON API ---

func (s *Server) apiListSAMLApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.SAMLApps.ListApps(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if apps == nil {
		apps = []samlidp.App{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": apps, "idp": s.SAMLApps.Endpoints()})
}

func (s *Server) apiGetSAMLApp(w http.ResponseWriter, r *http.Request) {
	a, err := s.SAMLApps.App(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

var errSAMLBody = problem.New(http.StatusBadRequest, "bad_json",
	`The body must be a JSON object: {"name", and "metadata" (XML) or "metadata_url" or "acs_url" with "entity_id"; optional "nameid_format", "strength"}.`)

func (s *Server) apiAddSAMLApp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name         string `json:"name"`
		Metadata     string `json:"metadata"`
		MetadataURL  string `json:"metadata_url"`
		ACSURL       string `json:"acs_url"`
		EntityID     string `json:"entity_id"`
		NameIDFormat string `json:"nameid_format"`
		Strength     string `json:"strength"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		s.fail(w, r, errSAMLBody.WithDetail("%v", err))
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		s.fail(w, r, errSAMLBody.WithDetail("trailing data after the object"))
		return
	}
	a, err := s.SAMLApps.AddApp(r.Context(), adminActor(r), samlidp.NewApp{Name: body.Name, Metadata: []byte(body.Metadata),
		MetadataURL: body.MetadataURL, ACSURL: body.ACSURL, EntityID: body.EntityID, NameIDFormat: body.NameIDFormat,
		RequiredStrength: body.Strength})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) apiSetSAMLStrength(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Strength string `json:"strength"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		s.fail(w, r, problem.New(http.StatusBadRequest, "bad_json", `The body must be {"strength": "..."}.`).WithDetail("%v", err))
		return
	}
	a, err := s.SAMLApps.SetRequiredStrength(r.Context(), adminActor(r), r.PathValue("name"), body.Strength)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// apiRefreshSAMLApp fetches the app's metadata URL again: the app as GET
// shows it, with "changed" saying whether the metadata differed. A refused
// refresh (fetch failed, invalid metadata, another entity ID) answers with
// its problem and leaves the app as it was.
func (s *Server) apiRefreshSAMLApp(w http.ResponseWriter, r *http.Request) {
	a, err := s.SAMLApps.RefreshApp(r.Context(), adminActor(r), r.PathValue("name"))
	if p := problem.As(err); err != nil && refreshReasonShown(p) {
		writeJSON(w, p.Status, map[string]string{"error": p.Message, "code": p.Code, "detail": p.Detail})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// refreshReasonShown says whether a refused refresh's detail is shown to
// the admin (API and console): the admin needs the reason (a status, a TLS
// error, the other entity ID) to act on, and it names only what the admin
// registered.
func refreshReasonShown(p *problem.Error) bool {
	return p.Detail != "" && (p.Code == samlidp.ErrFetch.Code || p.Code == samlidp.ErrMetadata.Code || p.Code == samlidp.ErrEntityChanged.Code)
}

func (s *Server) apiDeleteSAMLApp(w http.ResponseWriter, r *http.Request) {
	if err := s.SAMLApps.DeleteApp(r.Context(), adminActor(r), r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
