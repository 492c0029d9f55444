package signin

// The registration campaign after a sign-in: whether to ask the user to add
// a passkey, snoozing, and recording what they chose.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// ErrNoSnoozesLeft: the user may not postpone registering any more.
var ErrNoSnoozesLeft = problem.New(http.StatusConflict, "no_snoozes_left",
	"You have postponed this as often as your organisation allows. Add a passkey now to continue, or sign out.")

// CampaignPrompt decides whether u should see the registration prompt now.
func (s *Service) CampaignPrompt(ctx context.Context, u store.User) (methods.Prompt, error) {
	p, err := s.Policy(ctx)
	if err != nil {
		return methods.Prompt{}, err
	}
	if !p.Campaign.Enabled {
		return methods.Prompt{Reason: "the registration campaign is off"}, nil
	}
	return s.campaignPrompt(ctx, p, u)
}

func (s *Service) campaignPrompt(ctx context.Context, p methods.Policy, u store.User) (methods.Prompt, error) {
	groups, usable, err := s.campaignFacts(ctx, p, u)
	if err != nil {
		return methods.Prompt{}, err
	}
	st, err := (&methods.Snoozes{Store: s.Store}).Get(ctx, u.ID)
	if err != nil {
		return methods.Prompt{}, err
	}
	return methods.ShouldPrompt(p.Campaign, groups, usable, st, s.Now()), nil
}

// campaignFacts returns what the campaign decides on besides the snooze
// state: u's groups and whether u has a passkey the policy accepts.
func (s *Service) campaignFacts(ctx context.Context, p methods.Policy, u store.User) ([]string, bool, error) {
	groups, err := s.Groups(ctx, u.ID)
	if err != nil {
		return nil, false, err
	}
	creds, err := s.Store.ListCredentials(ctx, u.ID)
	if err != nil {
		return nil, false, err
	}
	return groups, methods.HasUsablePasskey(p, groups, creds), nil
}

// SnoozeCampaign records that u chose "Not now". It refuses when no
// snooze is left; when the prompt does not apply (any more) it changes
// nothing. The count is checked and raised atomically in the store
// (methods.Snoozes.Snooze), so "Not now" sent several times at once gives
// no more snoozes than the policy allows.
func (s *Service) SnoozeCampaign(ctx context.Context, u store.User) (methods.SnoozeState, error) {
	p, err := s.Policy(ctx)
	if err != nil {
		return methods.SnoozeState{}, err
	}
	sz := &methods.Snoozes{Store: s.Store}
	if !p.Campaign.Enabled {
		return sz.Get(ctx, u.ID)
	}
	groups, usable, err := s.campaignFacts(ctx, p, u)
	if err != nil {
		return methods.SnoozeState{}, err
	}
	st, snoozed, err := sz.Snooze(ctx, u.ID, p.Campaign, groups, usable, s.Now())
	if errors.Is(err, methods.ErrNoSnoozesLeft) {
		s.RecordCampaign(ctx, u, "snooze_refused", nil)
		return st, ErrNoSnoozesLeft.WithDetail("%d snoozes used of %d", st.Count, p.Campaign.SnoozesAllowed)
	} else if err != nil || !snoozed {
		return st, err
	}
	s.RecordCampaign(ctx, u, "snoozed", map[string]any{
		"snoozes_used": st.Count, "snoozes_left": max(p.Campaign.SnoozesAllowed-st.Count, 0),
		"until": st.Until.UTC().Format(time.RFC3339),
	})
	return st, nil
}

// RecordCampaign writes an outcome of the prompt ("shown", "snoozed",
// "registered", ...) to the audit log, with u as the actor.
func (s *Service) RecordCampaign(ctx context.Context, u store.User, outcome string, detail map[string]any) {
	d := map[string]any{"outcome": outcome}
	for k, v := range detail {
		d[k] = v
	}
	audit.Log(ctx, s.Store, s.Now(), audit.Actor(u.Username), "campaign."+outcome, u.Username, d)
}
