package report

import (
	"context"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/store"
)

// Source is where Gather reads from.
type Source struct {
	Store   store.Store
	Reports store.ReportStore
	Access  *access.Service
	Methods *methods.Policies
}

// Gather reads the report's input at now.
func (s Source) Gather(ctx context.Context, now time.Time) (Input, error) {
	in := Input{Now: now, Members: map[string][]string{}}
	var err error
	if in.Groups, err = s.Store.ListGroups(ctx); err != nil {
		return in, err
	}
	if err := s.Reports.EachUserPasskeys(ctx, func(u store.UserPasskeys) error {
		in.Users = append(in.Users, u)
		return nil
	}); err != nil {
		return in, err
	}
	if err := s.Reports.EachMembership(ctx, func(g, u string) error {
		in.Members[g] = append(in.Members[g], u)
		return nil
	}); err != nil {
		return in, err
	}
	since := now.AddDate(0, 0, -ChartDays)
	if in.SignIns, err = s.Reports.SignInDays(ctx, since); err != nil {
		return in, err
	}
	if in.Registrations, err = s.Reports.RegistrationDays(ctx, since); err != nil {
		return in, err
	}
	if in.ReportOnlyDays, err = s.Reports.ReportOnlyDays(ctx, since); err != nil {
		return in, err
	}
	if in.ReportOnlyUsers, err = s.Reports.ReportOnlyUsers(ctx, now.Add(-30*24*time.Hour)); err != nil {
		return in, err
	}
	if in.Campaign, err = s.Reports.CampaignUsers(ctx); err != nil {
		return in, err
	}
	if s.Access != nil {
		if in.Policies, err = s.Access.Document(ctx); err != nil {
			return in, err
		}
	}
	if s.Methods != nil {
		p, err := s.Methods.Load(ctx)
		if err != nil {
			return in, err
		}
		in.CampaignConfig = p.Campaign
	}
	return in, nil
}

// Load gathers and builds the report for group ("" for all).
func (s Source) Load(ctx context.Context, now time.Time, group string) (Report, error) {
	in, err := s.Gather(ctx, now)
	if err != nil {
		return Report{}, err
	}
	return Build(in, group)
}
