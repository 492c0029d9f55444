// Package audit writes the append-only audit log: every change an admin (or
// the CLI, or the system) makes is recorded with who, what and when.
package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Actor names who made a change: an admin's username, "cli" or "system".
type Actor string

// CLI is the actor for changes made with the sesame command.
const CLI Actor = "cli"

// Log appends to the audit log. A failure to record is logged loudly but
// does not undo the change it describes: the change already happened.
func Log(ctx context.Context, s store.Store, now time.Time, actor Actor, action, target string, detail any) {
	var d string
	switch v := detail.(type) {
	case nil:
	case string:
		d = v
	default:
		b, _ := json.Marshal(v)
		d = string(b)
	}
	e := store.AuditEvent{Time: now, Actor: string(actor), Action: action, Target: target, Detail: d}
	if _, err := s.AppendAudit(ctx, e); err != nil {
		slog.ErrorContext(ctx, "audit log write failed", "action", action, "target", target, "err", err)
	}
}
