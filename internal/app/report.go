package app

import (
	"github.com/sesame-idp/sesame/internal/report"
	"github.com/sesame-idp/sesame/internal/store"
)

// Rollout is where the roll-out report reads from; nil when the database
// backend does not answer the report's aggregate queries.
func (a *App) Rollout() *report.Source {
	rs, ok := a.Store.(store.ReportStore)
	if !ok {
		return nil
	}
	return &report.Source{Store: a.Store, Reports: rs, Access: a.Access, Methods: a.Policies}
}
