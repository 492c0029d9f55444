package report

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// ErrNotMovable: the policy is not a report-only policy scoped to the
// group, so there is no next phase to move the group to with it.
var ErrNotMovable = problem.New(http.StatusConflict, "not_movable",
	"That policy is not in report-only for this group: reload the roll-out view.")

// MoveRequest asks to move a group a phase forward: switch its report-only
// policy on. Version is the policy document version the admin saw the
// what-if summary for; a move on any other version is refused.
type MoveRequest struct {
	Group   string `json:"group"`
	Policy  string `json:"policy"`
	Version int64  `json:"version"`
}

// Validate checks the request's shape.
func (m MoveRequest) Validate() error {
	switch {
	case strings.TrimSpace(m.Group) == "":
		return problem.BadRequest("Say which group to move (group).")
	case strings.TrimSpace(m.Policy) == "":
		return problem.BadRequest("Say which policy to switch on (policy).")
	case m.Version < 1:
		return problem.BadRequest("Give the policy version the what-if summary was made for (version, 1 or more).")
	}
	return nil
}

// CheckMovable says whether p is a report-only policy scoped to group.
func CheckMovable(p access.Policy, group string) error {
	if p.State != access.StateReportOnly || !slices.Contains(p.Users.IncludeGroups, group) {
		return ErrNotMovable.WithDetail("policy %q state %s groups %v, group %q", p.Name, p.State, p.Users.IncludeGroups, group)
	}
	return nil
}

// Move switches the group's report-only policy on, as one compare-and-set
// on the policy document's version, audited as "rollout.move".
func Move(ctx context.Context, st store.Store, svc *access.Service, actor audit.Actor, m MoveRequest) (access.Change, error) {
	if err := m.Validate(); err != nil {
		return access.Change{}, err
	}
	g, err := st.GetGroupByName(ctx, strings.TrimSpace(m.Group))
	if errors.Is(err, store.ErrNotFound) {
		return access.Change{}, ErrUnknownGroup.WithDetail("%q", m.Group)
	} else if err != nil {
		return access.Change{}, err
	}
	return svc.Update(ctx, actor, m.Version, func(d *access.Document) (access.Audit, error) {
		p, ok := d.Policy(m.Policy)
		if !ok {
			return access.Audit{}, access.ErrUnknownPolicy.WithDetail("%q", m.Policy)
		}
		if err := CheckMovable(*p, g.Name); err != nil {
			return access.Audit{}, err
		}
		p.State = access.StateOn
		return access.Audit{Action: "rollout.move", Target: p.Name,
			Before: map[string]any{"group": g.Name, "phase": PhaseReportOnly, "state": access.StateReportOnly},
			After:  map[string]any{"group": g.Name, "phase": PhaseEnforced, "state": access.StateOn}}, nil
	})
}

// MoveSummary is what the admin reads before confirming a move.
func MoveSummary(g GroupReport, policy string, impacts []access.Impact) []string {
	out := []string{fmt.Sprintf("Switch %q on: group %s moves from report-only to enforced.", policy, g.Name)}
	for _, im := range impacts {
		out = append(out, fmt.Sprintf("Last %s: %s.", im.Window.Name, im.Summary()))
	}
	if len(g.WouldBlock) > 0 {
		out = append(out, fmt.Sprintf("Would be blocked: %s.", strings.Join(g.WouldBlock, ", ")))
	}
	if g.Stats.NoPasskey > 0 {
		out = append(out, fmt.Sprintf("%d of %d members have no passkey yet.", g.Stats.NoPasskey, g.Stats.Users))
	}
	return out
}
