package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// The admin console: users, groups, passkeys, temporary access passes.
// Every change goes through the domain services, which write the audit log
// with the signed-in admin as the actor. Bad input is shown next to the
// form that caused it and changes nothing.

func adminActor(r *http.Request) audit.Actor { return audit.Actor(currentUser(r).Username) }

// adminUserRow is one line of the user list.
type adminUserRow struct {
	store.User
	Passkeys     int
	NonCompliant int // passkeys the policy no longer accepts
	AtRisk       bool
	RiskReasons  []string
	// SuggestKey: a privileged user who should add a roaming security key.
	SuggestKey bool
}

// adminGroupRow is one line of the group list.
type adminGroupRow struct {
	store.Group
	Members []store.User
}

// groupForm is what the create-group form holds, to fill it in again.
type groupForm struct{ Name, Description string }

var adminNotices = map[string]string{
	"user_created":     "User created.",
	"group_created":    "Group created.",
	"group_deleted":    "Group deleted.",
	"group_renamed":    "Group renamed; the policies that named it now use the new name.",
	"disabled":         "User disabled and signed out everywhere.",
	"enabled":          "User enabled.",
	"revoked":          "Passkey revoked.",
	"passwordless_on":  "The user is now passwordless-only: their password and authenticator app are removed, and no password works for them.",
	"passwordless_off": "The user is no longer passwordless-only. A password can be set again where the methods policy allows it.",
	"group_added":      "Added to the group.",
	"group_removed":    "Removed from the group.",
}

func (s *Server) adminHome(w http.ResponseWriter, r *http.Request) {
	s.renderAdminHome(w, r, http.StatusOK, map[string]any{})
}

// renderAdminHome shows the user and group lists; extra carries form
// values and errors when a create form is shown again.
func (s *Server) renderAdminHome(w http.ResponseWriter, r *http.Request, status int, extra map[string]any) {
	ctx := r.Context()
	users, err := s.Store.ListUsers(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]adminUserRow, 0, len(users))
	atRisk := 0
	for _, u := range users {
		// One query per user keeps the store interface small; fine for the
		// organisation sizes Sesame is for, and the lock-out report will get
		// an aggregate query when it exists.
		st, err := s.standingOf(ctx, u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		row := adminUserRow{User: u, Passkeys: len(st.Creds), NonCompliant: len(st.Creds) - len(st.Compliant),
			AtRisk: st.Risk.AtRisk, RiskReasons: st.Risk.Reasons, SuggestKey: u.Admin && st.Risk.SuggestSecurityKey}
		if row.AtRisk {
			atRisk++
		}
		rows = append(rows, row)
	}
	groups, err := s.Store.ListGroups(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	grows := make([]adminGroupRow, 0, len(groups))
	for _, g := range groups {
		members, err := s.Store.ListMembers(ctx, g.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		grows = append(grows, adminGroupRow{Group: g, Members: members})
	}
	data := map[string]any{
		"Title":      "Admin",
		"Users":      rows,
		"AtRisk":     atRisk,
		"Groups":     grows,
		"UserForm":   directory.NewUser{},
		"GroupForm":  groupForm{},
		"NoticeText": adminNotices[r.URL.Query().Get("notice")],
		// RenameGroup names the group whose rename was refused (RenameError).
		"RenameGroup": "",
	}
	for k, v := range extra {
		data[k] = v
	}
	s.renderStatus(w, r, status, "admin", data)
}

func (s *Server) adminCreateUser(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	f := r.PostForm
	in := directory.NewUser{Username: f.Get("username"), Email: f.Get("email"), DisplayName: f.Get("name"), Admin: f.Get("admin") == "yes"}
	u, err := s.Dir.CreateUser(r.Context(), adminActor(r), in)
	if err != nil {
		if p := problem.As(err); p.Status < 500 {
			s.renderAdminHome(w, r, p.Status, map[string]any{"UserForm": in, "UserError": p.Message})
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, userURL(u.Username)+"?notice=user_created", http.StatusSeeOther)
}

func (s *Server) adminCreateGroup(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	in := groupForm{Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description")}
	if len(in.Description) > 256 {
		s.renderAdminHome(w, r, http.StatusBadRequest, map[string]any{"GroupForm": in, "GroupError": "A description must be at most 256 characters."})
		return
	}
	if _, err := s.Dir.CreateGroup(r.Context(), adminActor(r), in.Name, in.Description); err != nil {
		if p := problem.As(err); p.Status < 500 {
			s.renderAdminHome(w, r, p.Status, map[string]any{"GroupForm": in, "GroupError": p.Message})
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin?notice=group_created", http.StatusSeeOther)
}

func (s *Server) adminDeleteGroup(w http.ResponseWriter, r *http.Request) {
	if err := s.Dir.DeleteGroup(r.Context(), adminActor(r), r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin?notice=group_deleted", http.StatusSeeOther)
}

// adminRenameGroup renames a group from the console; the policies that
// name it follow (directory.Service.GroupRenamed).
func (s *Server) adminRenameGroup(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	oldName := r.PathValue("name")
	if _, err := s.Dir.RenameGroup(r.Context(), adminActor(r), oldName, r.PostForm.Get("name")); err != nil {
		if p := problem.As(err); p.Status < 500 && p.Status != http.StatusNotFound {
			s.renderAdminHome(w, r, p.Status, map[string]any{"RenameGroup": oldName, "RenameError": p.Message})
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin?notice=group_renamed", http.StatusSeeOther)
}

// apiRenameGroup: POST /api/admin/groups/{name}/rename {"name": "NEW"}.
func (s *Server) apiRenameGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name *string `json:"name"`
	}
	if err := readJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Name == nil {
		s.fail(w, r, problem.BadRequest(`Send the new name as {"name": "NEW"}.`))
		return
	}
	g, err := s.Dir.RenameGroup(r.Context(), adminActor(r), r.PathValue("name"), *in.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": g.ID, "name": g.Name, "description": g.Description})
}

func userURL(username string) string { return "/admin/users/" + url.PathEscape(username) }

func (s *Server) adminUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.Dir.User(r.Context(), r.PathValue("username"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderAdminUser(w, r, http.StatusOK, u, map[string]any{"NoticeText": adminNotices[r.URL.Query().Get("notice")]})
}

// renderAdminUser shows one user's page; extra carries a just-issued pass
// or the error of the form that was sent.
func (s *Server) renderAdminUser(w http.ResponseWriter, r *http.Request, status int, u store.User, extra map[string]any) {
	ctx := r.Context()
	st, err := s.standingOf(ctx, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	legacy, err := s.legacyViewOf(r, u, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	signins, err := s.Store.ListSignIns(ctx, store.SignInFilter{UserID: u.ID, Limit: 20})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	member, err := s.Store.ListUserGroups(ctx, u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	all, err := s.Store.ListGroups(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in := map[string]bool{}
	for _, g := range member {
		in[g.ID] = true
	}
	var others []store.Group
	for _, g := range all {
		if !in[g.ID] {
			others = append(others, g)
		}
	}
	var tap *store.TAP
	tapState, tapStateText := "", ""
	if t, err := s.Store.GetTAP(ctx, u.ID); err == nil {
		tap = &t
		tapState, tapStateText = describeTAP(t, s.Now())
	} else if !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	policy := st.Policy.TAP.Policy
	data := map[string]any{
		"Title":        u.Username + " · Admin",
		"User":         u,
		"Passkeys":     withCompliance(viewPasskeys(st.Creds), st.Compliance),
		"RiskText":     lockoutRiskText(st),
		"KeyNudge":     u.Admin && st.Risk.SuggestSecurityKey,
		"Legacy":       legacy,
		"HasLegacy":    s.Legacy != nil,
		"SignIns":      signins,
		"Groups":       member,
		"OtherGroups":  others,
		"TAP":          tap,
		"TAPState":     tapState,
		"TAPStateText": tapStateText,
		"TAPLifetime":  methods.HumanDuration(policy.DefaultLifetime),
		"TAPOneTime":   false,
		"TAPMin":       methods.HumanDuration(policy.MinLifetime),
		"TAPMax":       methods.HumanDuration(policy.MaxLifetime),
		"IsSelf":       u.ID == currentUser(r).ID,
	}
	for k, v := range extra {
		data[k] = v
	}
	s.renderStatus(w, r, status, "admin_user", data)
}

// describeTAP says what state a stored pass is in, for the admin.
func describeTAP(t store.TAP, now time.Time) (state, text string) {
	switch methods.CheckTAP(t, now) {
	case methods.TAPNotStarted:
		return "not_started", "not valid yet"
	case methods.TAPExpired:
		return "expired", "expired"
	case methods.TAPUsed:
		return "used", "used (one-time)"
	}
	if !t.UsedAt.IsZero() {
		return "active", "active, used at least once"
	}
	return "active", "active, not used yet"
}

// lockoutRiskText explains to an admin why a user may get locked out, or
// "" (methods.LockoutRisk decides, over the passkeys that can sign in).
func lockoutRiskText(st standing) string {
	if !st.Risk.AtRisk {
		return ""
	}
	var reasons []string
	for _, r := range st.Risk.Reasons {
		if !strings.HasPrefix(r, "privileged account") {
			reasons = append(reasons, r)
		}
	}
	text := "At risk of lock-out: " + strings.Join(reasons, "; ") + "."
	if n := len(st.Creds) - len(st.Compliant); n > 0 {
		text += fmt.Sprintf(" (%d %s that the policy no longer accepts %s not counted.)", n, pluralWord(n, "passkey", "passkeys"), pluralWord(n, "is", "are"))
	}
	return text
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (s *Server) adminSetDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.Dir.SetDisabled(r.Context(), adminActor(r), r.PathValue("username"), disabled)
		if err != nil {
			p := problem.As(err)
			if p.Status >= 500 || errors.Is(err, directory.ErrUnknownUser) || u.ID == "" {
				s.fail(w, r, err)
				return
			}
			s.renderAdminUser(w, r, p.Status, u, map[string]any{"StatusError": p.Message})
			return
		}
		if disabled && u.ID == currentUser(r).ID {
			// Admins may disable themselves when another admin remains; their
			// own session has just ended.
			s.clearCookie(w)
			http.Redirect(w, r, "/signin?notice=session_ended", http.StatusSeeOther)
			return
		}
		notice := "enabled"
		if disabled {
			notice = "disabled"
		}
		http.Redirect(w, r, userURL(u.Username)+"?notice="+notice, http.StatusSeeOther)
	}
}

// adminIssueTAP issues a pass and shows it on the page it answers with: a
// pass never travels in a URL (history, logs) and is never shown again.
func (s *Server) adminIssueTAP(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.Dir.User(r.Context(), r.PathValue("username"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	lifetimeText := strings.TrimSpace(r.PostForm.Get("lifetime"))
	oneTime := r.PostForm.Get("one_time") == "yes"
	form := map[string]any{"TAPLifetime": lifetimeText, "TAPOneTime": oneTime}
	var lifetime time.Duration // zero: the policy's default
	if lifetimeText != "" {
		if lifetime, err = methods.ParseDuration(lifetimeText); err != nil {
			form["TAPError"] = "Write the lifetime like 30m, 1h, 8h or 7d."
			s.renderAdminUser(w, r, http.StatusBadRequest, u, form)
			return
		}
		if lifetime == 0 {
			min := methods.DefaultTAPPolicy.MinLifetime
			if p, err := s.SignIn.Policy(r.Context()); err == nil {
				min = p.TAP.Policy.MinLifetime
			}
			form["TAPError"] = "A temporary access pass must last at least " + methods.HumanDuration(min) + "."
			s.renderAdminUser(w, r, http.StatusBadRequest, u, form)
			return
		}
	}
	issued, err := s.TAPs.Issue(r.Context(), adminActor(r), u, lifetime, oneTime)
	if err != nil {
		if p := problem.As(err); p.Status < 500 {
			form["TAPError"] = tapErrorText(p)
			s.renderAdminUser(w, r, p.Status, u, form)
			return
		}
		s.fail(w, r, err)
		return
	}
	form["Issued"] = &issued
	s.renderAdminUser(w, r, http.StatusOK, u, form)
}

// tapErrorText turns the policy's refusal into a sentence for the form.
func tapErrorText(p *problem.Error) string {
	m := p.Message
	if m != "" {
		m = strings.ToUpper(m[:1]) + m[1:]
		if !strings.HasSuffix(m, ".") {
			m += "."
		}
	}
	return m
}

func (s *Server) adminRevoke(w http.ResponseWriter, r *http.Request) {
	u, err := s.Dir.User(r.Context(), r.PathValue("username"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.SignIn.RemovePasskey(r.Context(), adminActor(r), u.ID, r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, userURL(u.Username)+"?notice=revoked", http.StatusSeeOther)
}

// adminMembership adds the user to a group or removes them from one.
func (s *Server) adminMembership(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.Dir.User(r.Context(), r.PathValue("username"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var add bool
	switch r.PostForm.Get("action") {
	case "add":
		add = true
	case "remove":
	default:
		s.fail(w, r, problem.BadRequest("Choose whether to add the user to the group or remove them from it."))
		return
	}
	if err := s.Dir.SetMember(r.Context(), adminActor(r), r.PostForm.Get("group"), u.Username, add); err != nil {
		if p := problem.As(err); p.Status < 500 {
			s.renderAdminUser(w, r, p.Status, u, map[string]any{"GroupError": p.Message})
			return
		}
		s.fail(w, r, err)
		return
	}
	notice := "group_removed"
	if add {
		notice = "group_added"
	}
	http.Redirect(w, r, userURL(u.Username)+"?notice="+notice, http.StatusSeeOther)
}
