package web

// The roll-out view: the report (package report) as a page, as JSON, and
// moving a group from report-only to enforced.

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/report"
)

var errNoRollout = problem.New(http.StatusServiceUnavailable, "rollout_unavailable",
	"The roll-out view is not available with this database.")

func (s *Server) rolloutRoutes(mux *http.ServeMux) {
	ro := func(h http.HandlerFunc) http.Handler {
		return s.admin(func(w http.ResponseWriter, r *http.Request) {
			if s.Rollout == nil || s.Access == nil {
				s.fail(w, r, errNoRollout)
				return
			}
			h(w, r)
		})
	}
	mux.Handle("GET /admin/rollout", ro(s.adminRollout))
	mux.Handle("GET /admin/rollout/move", ro(s.adminRolloutMoveConfirm))
	mux.Handle("POST /admin/rollout/move", ro(s.adminRolloutMove))
	mux.Handle("GET /api/admin/rollout", ro(s.apiRollout))
	mux.Handle("POST /api/admin/rollout/move", ro(s.apiRolloutMove))
}

// rolloutParams reads the report's query parameters: group (optional).
// Anything else is refused, so a typo is not silently a different report.
func rolloutParams(q url.Values) (string, error) {
	for k, v := range q {
		switch {
		case k == "group" && len(v) == 1:
		case k == "notice" && len(v) == 1:
		case k == "group":
			return "", problem.BadRequest("Give group at most once.")
		default:
			return "", problem.BadRequest(fmt.Sprintf("Unknown parameter %q: the roll-out report takes only group.", k))
		}
	}
	g := q.Get("group")
	if len(g) > 200 || strings.ContainsAny(g, "\x00\r\n") {
		return "", problem.BadRequest("That is not a group name.")
	}
	return strings.TrimSpace(g), nil
}

func (s *Server) loadRollout(r *http.Request) (report.Report, error) {
	group, err := rolloutParams(r.URL.Query())
	if err != nil {
		return report.Report{}, err
	}
	return s.Rollout.Load(r.Context(), s.Now(), group)
}

func (s *Server) apiRollout(w http.ResponseWriter, r *http.Request) {
	rep, err := s.loadRollout(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

var rolloutNotices = map[string]string{
	"moved": "The group moved forward: its policy is now on.",
}

func (s *Server) adminRollout(w http.ResponseWriter, r *http.Request) {
	rep, err := s.loadRollout(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	doc, err := s.Access.Document(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "admin_rollout", map[string]any{
		"Title": "Passkey roll-out", "Report": rep, "Version": doc.Version, "StatsRows": statsRows(rep),
		"RegistrationsChart": registrationsChart(rep.Days), "ShareChart": shareChart(rep.Days),
		"NoticeText": rolloutNotices[r.URL.Query().Get("notice")],
	})
}

// moveForm reads a move from a form or query.
func moveForm(v url.Values) (report.MoveRequest, error) {
	m := report.MoveRequest{Group: v.Get("group"), Policy: v.Get("policy")}
	if raw := v.Get("version"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return m, problem.BadRequest(fmt.Sprintf("%q is not a policy version.", raw))
		}
		m.Version = n
	}
	return m, m.Validate()
}

// adminRolloutMoveConfirm shows the what-if summary of a move before the
// admin confirms it.
func (s *Server) adminRolloutMoveConfirm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	m, err := moveForm(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rep, err := s.Rollout.Load(ctx, s.Now(), m.Group)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	set, err := s.Access.Policies(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	doc := set.Document()
	if doc.Version != m.Version {
		s.fail(w, r, access.ErrStale.WithDetail("expected version %d, found %d", m.Version, doc.Version))
		return
	}
	p, ok := doc.Policy(m.Policy)
	if !ok {
		s.fail(w, r, access.ErrUnknownPolicy.WithDetail("%q", m.Policy))
		return
	}
	if err := report.CheckMovable(*p, rep.Groups[0].Name); err != nil {
		s.fail(w, r, err)
		return
	}
	ws := access.StandardWindows(s.Now())
	recs, err := s.recorded(r, ws[len(ws)-1].Since)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var ims []access.Impact
	for _, w := range ws {
		ims = append(ims, access.ImpactOf(set, p.Name, recs, w))
	}
	s.render(w, r, "admin_rollout_move", map[string]any{
		"Title": "Move " + rep.Groups[0].Name + " forward", "Group": rep.Groups[0], "Policy": p.Name,
		"Version": doc.Version, "Summary": report.MoveSummary(rep.Groups[0], p.Name, ims),
	})
}

func (s *Server) adminRolloutMove(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, problem.BadRequest("The form could not be read."))
		return
	}
	m, err := moveForm(r.PostForm)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := report.Move(r.Context(), s.Store, s.Access, adminActor(r), m); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/rollout?notice=moved", http.StatusSeeOther)
}

func (s *Server) apiRolloutMove(w http.ResponseWriter, r *http.Request) {
	var m report.MoveRequest
	if err := readStrictJSON(w, r, &m); err != nil {
		s.fail(w, r, err)
		return
	}
	ch, err := report.Move(r.Context(), s.Store, s.Access, adminActor(r), m)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": m.Group, "policy": m.Policy, "state": access.StateOn,
		"version": ch.Document.Version, "warnings": ch.Warnings})
}

// statsRow is one line of the adoption table.
type statsRow struct {
	Name, Key string
	S         report.Stats
	Share     string // passkey share over 1 / 7 / 30 days
}

func statsRows(rep report.Report) []statsRow {
	row := func(name, key string, st report.Stats) statsRow {
		var parts []string
		for _, w := range st.SignIns {
			parts = append(parts, fmt.Sprintf("%.0f%%", 100*w.PasskeyShare))
		}
		return statsRow{Name: name, Key: key, S: st, Share: strings.Join(parts, " / ")}
	}
	var rows []statsRow
	if rep.Group == "" {
		rows = append(rows, row("All users", "", rep.Overall))
	}
	for _, g := range rep.Groups {
		rows = append(rows, row(g.Name, g.Name, g.Stats))
	}
	return rows
}
