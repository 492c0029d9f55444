package access

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// LogFilter selects sign-in records by what an admin asks about. The
// store filters by user ID, result and time; Match does the rest.
type LogFilter struct {
	UserID string // set by the caller from User when the user exists
	User   string // username (matches records of deleted users too)
	App    string
	Result string // store.ResultSuccess or store.ResultFailure
	Policy string // only sign-ins where this policy applied
	Since  time.Time
	Until  time.Time
	Limit  int
}

// StoreFilter is the part of f the store applies.
func (f LogFilter) StoreFilter() store.SignInFilter {
	app := f.App
	if app == AppSesame { // stored as "": Match picks those out
		app = ""
	}
	return store.SignInFilter{UserID: f.UserID, App: app, Result: f.Result, Since: f.Since, Until: f.Until, Limit: f.Limit}
}

// Match applies the whole filter to one record.
func (f LogFilter) Match(ev store.SignInEvent) bool {
	switch {
	case f.UserID != "" && ev.UserID != f.UserID:
		return false
	case f.UserID == "" && f.User != "" && ev.Username != f.User:
		return false
	case f.App != "" && ev.App != f.App && !(f.App == AppSesame && ev.App == ""):
		return false
	case f.Result != "" && ev.Result != f.Result:
		return false
	case !f.Since.IsZero() && ev.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !ev.Time.Before(f.Until):
		return false
	}
	if f.Policy != "" {
		for _, r := range EventResults(ev) {
			if r.Policy == f.Policy && r.Applied() {
				return true
			}
		}
		return false
	}
	return true
}

// Filter returns the records that match f.
func (f LogFilter) Filter(evs []store.SignInEvent) []store.SignInEvent {
	var out []store.SignInEvent
	for _, ev := range evs {
		if f.Match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// LogLine is one sign-in record as exported: the stable, documented shape
// of a JSON line (and, flattened, of a CSV row).
type LogLine struct {
	ID           int64     `json:"id"`
	Time         time.Time `json:"time"`
	UserID       string    `json:"user_id,omitempty"`
	Username     string    `json:"username,omitempty"`
	IP           string    `json:"ip,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	App          string    `json:"app,omitempty"`
	Method       string    `json:"method,omitempty"`
	Result       string    `json:"result"`
	Reason       string    `json:"reason,omitempty"`
	Detail       string    `json:"detail,omitempty"`
	CredentialID string    `json:"credential_id,omitempty"`
	AAGUID       string    `json:"aaguid,omitempty"`
	Model        string    `json:"model,omitempty"`
	PasskeyType  string    `json:"passkey_type,omitempty"`
	Phishing     bool      `json:"phishing,omitempty"`
	Client       string    `json:"client,omitempty"`
	Country      string    `json:"country,omitempty"`
	Action       string    `json:"action,omitempty"`
	// TrustedDevice and BoundPasskeyDevice are the device signal the
	// sign-in carried.
	TrustedDevice      bool     `json:"trusted_device,omitempty"`
	BoundPasskeyDevice bool     `json:"bound_passkey_device,omitempty"`
	Access             []Result `json:"access,omitempty"`
}

// Line converts a record for export.
func Line(ev store.SignInEvent) LogLine {
	return LogLine{
		ID: ev.ID, Time: ev.Time.UTC(), UserID: ev.UserID, Username: ev.Username, IP: ev.IP, UserAgent: ev.UserAgent,
		App: ev.App, Method: ev.Method, Result: ev.Result, Reason: ev.Reason, Detail: ev.Detail,
		CredentialID: ev.CredentialID, AAGUID: ev.AAGUID, Model: ev.Model, PasskeyType: ev.PasskeyType,
		Phishing: ev.Phishing, Client: ev.Client, Country: ev.Country, Action: ev.Action,
		TrustedDevice: ev.TrustedDevice, BoundPasskeyDevice: ev.BoundPasskeyDevice, Access: EventResults(ev),
	}
}

// WriteJSONLines writes one JSON object per record and line.
func WriteJSONLines(w io.Writer, evs []store.SignInEvent) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, ev := range evs {
		if err := enc.Encode(Line(ev)); err != nil {
			return err
		}
	}
	return nil
}

// CSVHeader is the first row WriteCSV writes.
var CSVHeader = []string{"id", "time", "user_id", "username", "ip", "user_agent", "app", "method", "result", "reason",
	"detail", "credential_id", "aaguid", "model", "passkey_type", "phishing", "client", "country", "action", "device", "access"}

// WriteCSV writes a header and one row per record. The access column lists
// "policy: result" pairs separated by "; ". A cell that a spreadsheet
// would run as a formula (starting with = + - @ or a control character)
// is prefixed with an apostrophe: the user agent and detail come from
// outside.
func WriteCSV(w io.Writer, evs []store.SignInEvent) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, ev := range evs {
		l := Line(ev)
		var access []string
		for _, r := range l.Access {
			access = append(access, r.Policy+": "+r.Label())
		}
		row := []string{strconv.FormatInt(l.ID, 10), l.Time.Format(time.RFC3339Nano), l.UserID, l.Username, l.IP,
			l.UserAgent, l.App, l.Method, l.Result, l.Reason, l.Detail, l.CredentialID, l.AAGUID, l.Model,
			l.PasskeyType, strconv.FormatBool(l.Phishing), l.Client, l.Country, l.Action, deviceText(l), strings.Join(access, "; ")}
		for i := range row {
			row[i] = defuseCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// deviceText is the device signal in a CSV cell: "trusted",
// "device-bound-passkey", both joined by "+", or empty.
func deviceText(l LogLine) string {
	var d []string
	if l.TrustedDevice {
		d = append(d, DeviceTrusted)
	}
	if l.BoundPasskeyDevice {
		d = append(d, DeviceBoundPasskey)
	}
	return strings.Join(d, "+")
}

func defuseCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// RetentionKey is the setting holding how many days sign-in records are
// kept.
const RetentionKey = "log/retention-days"

// MaxRetentionDays bounds the retention setting (ten years).
const MaxRetentionDays = 3650

// Retention returns how many days sign-in records are kept; 0 means for
// ever (the default).
func (s *Service) Retention(ctx context.Context) (int, error) {
	raw, err := s.Store.GetSetting(ctx, RetentionKey)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	days, err := strconv.Atoi(string(raw))
	if err != nil || days < 0 {
		return 0, fmt.Errorf("the stored sign-in log retention %q is damaged", raw)
	}
	return days, nil
}

// SetRetention sets how many days sign-in records are kept (0: for ever),
// with an audit record. Expiry is the only way a sign-in record is ever
// deleted.
func (s *Service) SetRetention(ctx context.Context, actor audit.Actor, days int) error {
	if days < 0 || days > MaxRetentionDays {
		return problem.New(http.StatusBadRequest, "bad_retention",
			fmt.Sprintf("Retention is a number of days from 1 to %d, or 0 to keep sign-in records for ever.", MaxRetentionDays))
	}
	before, err := s.Retention(ctx)
	if err != nil {
		return err
	}
	if err := s.Store.PutSetting(ctx, RetentionKey, []byte(strconv.Itoa(days))); err != nil {
		return err
	}
	audit.Log(ctx, s.Store, s.Now(), actor, "log.retention", "sign-in log", map[string]int{"before": before, "after": days})
	return nil
}

// RetentionCutoff is the time before which sign-in records have expired
// under a retention of days (zero time for 0: nothing expires).
// App.Sweep deletes the records before it with store.DeleteSignInsBefore,
// the only deletion the append-only log allows.
func RetentionCutoff(now time.Time, days int) time.Time {
	if days <= 0 {
		return time.Time{}
	}
	return now.AddDate(0, 0, -days)
}

// Recorded turns sign-in records into what impact and replay need. Only
// successful sign-ins of identified users count: a failed ceremony was
// never a sign-in a policy could act on. Groups and the admin role are
// looked up now (the log does not keep them), once per user; the country
// is resolved from the address. satisfies says whether the method a
// record used meets a strength; nil means it meets none.
func (s *Service) Recorded(ctx context.Context, evs []store.SignInEvent, satisfies func(ev store.SignInEvent, strength string) bool) ([]Recorded, error) {
	type who struct {
		groups []string
		admin  bool
	}
	users := map[string]who{}
	var out []Recorded
	for _, ev := range evs {
		if ev.UserID == "" || ev.Result != store.ResultSuccess || BackChannel(ev) {
			continue
		}
		w, ok := users[ev.UserID]
		if !ok {
			u, err := s.Store.GetUser(ctx, ev.UserID)
			switch {
			case errors.Is(err, store.ErrNotFound): // deleted since: no groups, no role
			case err != nil:
				return nil, err
			default:
				w.admin = u.Admin
				gs, err := s.Store.ListUserGroups(ctx, ev.UserID)
				if err != nil {
					return nil, err
				}
				for _, g := range gs {
					w.groups = append(w.groups, g.Name)
				}
			}
			users[ev.UserID] = w
		}
		c := EventContext(ev)
		c.Groups, c.Admin = w.groups, w.admin
		if c.Country == "" {
			c.Country = s.Countries.Country(c.IP)
		}
		if satisfies != nil {
			ev := ev
			c.Satisfies = func(strength string) bool { return satisfies(ev, strength) }
		}
		out = append(out, Recorded{ID: ev.ID, Time: ev.Time, User: ev.UserID, Context: c, Results: EventResults(ev)})
	}
	return out, nil
}
