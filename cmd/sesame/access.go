package main

// Conditional Access from the command line: policies as YAML files with
// tests, what-if, report-only impact and replay under `sesame policy`;
// named locations under `sesame location`; the sign-in log's export and
// retention under `sesame log`.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

func init() {
	policySubcommands = append(policySubcommands,
		(*env).accessListCmd, (*env).accessShowCmd, (*env).accessStateCmd, (*env).accessDeleteCmd,
		(*env).accessTemplateCmd, (*env).accessWhatIfCmd, (*env).accessExportCmd, (*env).accessImportCmd,
		(*env).accessTestCmd, (*env).accessReplayCmd, (*env).accessImpactCmd)
}

// geoipFlag adds --geoip-db (also SESAME_GEOIP_DB) to a command.
func geoipFlag(c *cobra.Command, path *string) {
	c.Flags().StringVar(path, "geoip-db", "", "MaxMind-format country database (e.g. GeoLite2-Country.mmdb) for country locations; without it every country is unknown")
}

// accessService is Conditional Access over an opened Sesame, with apps and
// custom strengths checked when policies name them. Close the returned
// function's result when done.
// accessService is the App's Conditional Access service, with the
// command's --geoip-db when one is given.
func accessService(a *app.App, geoipDB string) (*access.Service, func(), error) {
	return a.AccessWithCountries(geoipDB)
}

// satisfier answers "do these methods, with this passkey, meet the
// strength with this ID" with the methods policy's strengths.
func satisfier(custom []methods.Strength) func(used []string, pk *passkey.Facts, id string) bool {
	return func(used []string, pk *passkey.Facts, id string) bool {
		s, ok := methods.StrengthByID(id, custom)
		if !ok {
			return false
		}
		ms := make([]methods.Method, len(used))
		for i, m := range used {
			ms[i] = methods.Method(m)
		}
		return methods.Satisfies(s, ms, pk)
	}
}

// eventSatisfies is what a recorded sign-in met: its method (or methods,
// "password+totp"), with the facts of the passkey it used.
func eventSatisfies(sat func([]string, *passkey.Facts, string) bool) func(store.SignInEvent, string) bool {
	return func(ev store.SignInEvent, id string) bool {
		used := strings.FieldsFunc(ev.Method, func(r rune) bool { return r == '+' || r == ',' || r == ' ' })
		var pk *passkey.Facts
		if ev.PasskeyType != "" {
			aaguid, _ := hex.DecodeString(strings.ReplaceAll(ev.AAGUID, "-", ""))
			pk = &passkey.Facts{AAGUID: aaguid, BackupEligible: ev.PasskeyType == "synced"}
		}
		return sat(used, pk, id)
	}
}

func readAccessFile(cmd *cobra.Command, name string) ([]byte, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", name, err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, access.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	return b, nil
}

// fileError names the file in front of a problem with it.
func fileError(name string, err error) error {
	return fmt.Errorf("%s: %w", name, err)
}

// --- policies ---

func (e *env) accessListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the Conditional Access policies, in evaluation order",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			s, done, err := accessService(a, "")
			if err != nil {
				return err
			}
			defer done()
			doc, err := s.Document(cmd.Context())
			if err != nil {
				return err
			}
			if len(doc.Policies) == 0 {
				fmt.Fprintln(e.stdout, `No Conditional Access policies. Start from a template: sesame policy template`)
				return nil
			}
			tw := e.table()
			fmt.Fprintln(tw, "POLICY\tSTATE\tUSERS\tAPPS\tCONDITIONS\tGRANT")
			for _, p := range doc.Policies {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.State, usersText(p.Users), appsText(p.Apps), conditionsText(p.Conditions), grantText(p))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "\nVersion %d, changed %s by %s.\n", doc.Version, when(doc.UpdatedAt), dash(doc.UpdatedBy))
			return nil
		}),
	}
}

func usersText(u access.Users) string {
	var in, out []string
	if u.All {
		in = append(in, "all users")
	}
	in = append(in, u.Include...)
	for _, g := range u.IncludeGroups {
		in = append(in, "group "+g)
	}
	for _, r := range u.IncludeRoles {
		in = append(in, r+"s")
	}
	out = append(out, u.Exclude...)
	for _, g := range u.ExcludeGroups {
		out = append(out, "group "+g)
	}
	for _, r := range u.ExcludeRoles {
		out = append(out, r+"s")
	}
	return inOut(in, out)
}

func appsText(a access.Apps) string {
	if len(a.Actions) > 0 {
		return "action " + strings.Join(a.Actions, ", ")
	}
	var in []string
	if a.All {
		in = append(in, "all apps")
	}
	return inOut(append(in, a.Include...), a.Exclude)
}

func conditionsText(c access.Conditions) string {
	var parts []string
	if l := c.Locations; len(l.Include) > 0 || len(l.Exclude) > 0 {
		parts = append(parts, "location "+inOut(l.Include, l.Exclude))
	}
	if len(c.ClientTypes) > 0 {
		var ts []string
		for _, t := range c.ClientTypes {
			ts = append(ts, string(t))
		}
		parts = append(parts, "client "+strings.Join(ts, ", "))
	}
	if d := c.Devices; len(d.Include) > 0 || len(d.Exclude) > 0 {
		parts = append(parts, "device "+inOut(d.Include, d.Exclude))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

func grantText(p access.Policy) string {
	var s string
	switch {
	case p.Grant.Block:
		s = "block"
	case p.Grant.RequiredStrength() != "":
		s = "require " + access.StrengthLabel(p.Grant.RequiredStrength())
	}
	if f := p.Session.SignInFrequency; f != nil {
		if s != "" {
			s += "; "
		}
		s += "sign in " + f.String()
	}
	return s
}

func inOut(in, out []string) string {
	s := strings.Join(in, ", ")
	if s == "" {
		s = "any"
	}
	if len(out) > 0 {
		s += " except " + strings.Join(out, ", ")
	}
	return s
}

func (e *env) accessShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Print one Conditional Access policy as YAML",
		Args:  exactArgs(1, "a policy NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			doc, err := (&access.Service{Store: a.Store, Now: a.Now}).Document(cmd.Context())
			if err != nil {
				return err
			}
			for _, p := range doc.Policies {
				if strings.EqualFold(p.Name, strings.TrimSpace(args[0])) {
					b, err := access.ExportYAML(access.Document{Policies: []access.Policy{p}})
					if err != nil {
						return err
					}
					_, err = e.stdout.Write(b)
					return err
				}
			}
			return access.ErrUnknownPolicy
		}),
	}
}

func (e *env) accessStateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "state NAME on|off|report-only",
		Short: "Switch a Conditional Access policy on, off or to report-only",
		Long: `Switch a Conditional Access policy on (enforced), off, or to report-only
(evaluated and recorded in the sign-in log, never enforced). Check what it
would do first: "sesame policy impact NAME" for a report-only policy,
"sesame policy replay --policy NAME" for any.`,
		Args: exactArgs(2, "a policy NAME and a state (on, off or report-only)"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			s, done, err := accessService(a, "")
			if err != nil {
				return err
			}
			defer done()
			ch, err := s.SetState(cmd.Context(), audit.CLI, args[0], access.State(strings.ToLower(args[1])))
			if err != nil {
				return err
			}
			p, _ := findPolicyByName(ch.Document, args[0])
			fmt.Fprintf(e.stdout, "%s is now %s (version %d).\n", p.Name, p.State, ch.Document.Version)
			e.warnings(ch.Warnings)
			return nil
		}),
	}
}

func findPolicyByName(d access.Document, name string) (access.Policy, bool) {
	for _, p := range d.Policies {
		if strings.EqualFold(p.Name, strings.TrimSpace(name)) {
			return p, true
		}
	}
	return access.Policy{}, false
}

func (e *env) warnings(ws []string) {
	for _, w := range ws {
		fmt.Fprintln(e.stderr, "Warning: "+w+".")
	}
}

func (e *env) accessDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a Conditional Access policy",
		Args:  exactArgs(1, "a policy NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			s, done, err := accessService(a, "")
			if err != nil {
				return err
			}
			defer done()
			ch, err := s.DeletePolicy(cmd.Context(), audit.CLI, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Deleted the policy %s (version %d).\n", strings.TrimSpace(args[0]), ch.Document.Version)
			return nil
		}),
	}
}

func (e *env) accessTemplateCmd() *cobra.Command {
	var users, groups []string
	var name string
	c := &cobra.Command{
		Use:   "template [ID --exclude-user USER | --exclude-group GROUP]",
		Short: "List policy templates, or add a policy from one (in report-only)",
		Long: `Without an ID, list the templates. With one, add its policy in report-only,
excluding the break-glass accounts given: emergency accounts that no policy
may lock out (at least one user or group is required). Watch its impact
with "sesame policy impact", then switch it on with "sesame policy state".`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				tw := e.table()
				fmt.Fprintln(tw, "TEMPLATE\tPOLICY\tWHAT IT DOES")
				for _, t := range access.Templates() {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Name, t.Description)
				}
				return tw.Flush()
			}
			return e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
				p, err := access.FromTemplate(args[0], name, access.BreakGlass{Users: users, Groups: groups})
				if err != nil {
					return err
				}
				s, done, err := accessService(a, "")
				if err != nil {
					return err
				}
				defer done()
				ch, err := s.PutPolicy(cmd.Context(), audit.CLI, p, false)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Added %q in report-only (version %d). See what it would do: sesame policy impact %q\n",
					p.Name, ch.Document.Version, p.Name)
				e.warnings(ch.Warnings)
				return nil
			})(cmd, args)
		},
	}
	c.Flags().StringArrayVar(&users, "exclude-user", nil, "break-glass user to exclude (repeatable)")
	c.Flags().StringArrayVar(&groups, "exclude-group", nil, "break-glass group to exclude (repeatable)")
	c.Flags().StringVar(&name, "name", "", "name of the new policy (default: the template's)")
	return c
}

// --- what-if ---

func (e *env) accessWhatIfCmd() *cobra.Command {
	var req access.WhatIfRequest
	var client, authAge, file, geoip string
	var devices []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "whatif --user USER [--app APP] [--ip IP] [--client browser|legacy] [--device trusted]",
		Short: "Which Conditional Access policies apply to a sign-in, which do not and why, and what is required",
		Long: `Evaluate a sign-in that did not happen: the user (their groups and role
come from the directory), the app (client ID; empty for Sesame itself), the
address (resolved to a country with --geoip-db, or given with --country),
the client type and the device. Every policy is listed: those that apply
with what they require, those that do not with the condition that left the
sign-in out. --satisfies names strengths the sign-in already met (for
example mfa for password + TOTP); without it every requirement is shown as
unmet. --file evaluates a policy file instead of the policies in force.`,
		Args: cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			if req.Username == "" {
				return usageError{errors.New("--user is required (see sesame policy whatif --help)")}
			}
			s, done, err := accessService(a, geoip)
			if err != nil {
				return err
			}
			defer done()
			var set *access.Set
			if file != "" {
				cur, err := s.Document(cmd.Context())
				if err != nil {
					return err
				}
				if set, err = e.compileFile(cmd, file, cur.Locations); err != nil {
					return err
				}
			}
			req.Client = access.ClientType(client)
			for _, d := range devices {
				switch d {
				case access.DeviceTrusted:
					req.Device.Trusted = true
				case access.DeviceBoundPasskey:
					req.Device.BoundPasskey = true
				default:
					return usageError{fmt.Errorf("--device %q: use %s or %s", d, access.DeviceTrusted, access.DeviceBoundPasskey)}
				}
			}
			if authAge != "" {
				if req.AuthAge, err = access.ParseAge(authAge); err != nil {
					return usageError{fmt.Errorf("--auth-age: %w", err)}
				}
			}
			w, err := s.WhatIf(cmd.Context(), set, req)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, whatIfJSON(w))
			}
			e.printWhatIf(w)
			return nil
		}),
	}
	f := c.Flags()
	f.StringVar(&req.Username, "user", "", "username (required)")
	f.StringVar(&req.App, "app", "", "client ID of the app (empty: Sesame itself)")
	f.StringVar(&req.Action, "action", "", "a user action instead of an app sign-in: "+access.ActionRegisterSecurityInfo)
	f.StringVar(&req.IP, "ip", "", "address the sign-in comes from")
	f.StringVar(&req.Country, "country", "", "country code of the address (default: from --geoip-db)")
	f.StringVar(&client, "client", "browser", "client type: browser or legacy")
	f.StringArrayVar(&devices, "device", nil, "device state: trusted or device-bound-passkey (repeatable)")
	f.StringArrayVar(&req.Satisfies, "satisfies", nil, "a strength the sign-in already met, e.g. mfa (repeatable)")
	f.StringVar(&authAge, "auth-age", "", "how long ago the user authenticated, e.g. 13h or 2d (default: within this sign-in)")
	f.StringVar(&file, "file", "", "evaluate this policy file instead of the policies in force")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	geoipFlag(c, &geoip)
	return c
}

func (e *env) printWhatIf(w access.WhatIf) {
	c, d := w.Context, w.Decision
	target := "to " + c.App
	if c.App == "" {
		target = "to Sesame itself"
	}
	if c.Action != "" {
		target = "for " + c.Action
	}
	where := "from no address"
	if c.IP.IsValid() {
		where = "from " + c.IP.String()
	}
	country := c.Country
	if country == "" {
		country = "unknown"
	}
	var device []string
	if c.Device.Trusted {
		device = append(device, "trusted")
	}
	if c.Device.BoundPasskey {
		device = append(device, "with a device-bound passkey")
	}
	if len(device) == 0 {
		device = append(device, "not trusted")
	}
	fmt.Fprintf(e.stdout, "%s signs in %s %s (country %s), %s client, device %s", c.Username, target, where, country, c.Client, strings.Join(device, ", "))
	if len(c.Groups) > 0 {
		fmt.Fprintf(e.stdout, "; groups %s", strings.Join(c.Groups, ", "))
	}
	if c.Admin {
		fmt.Fprint(e.stdout, "; admin")
	}
	fmt.Fprintln(e.stdout, ".")
	switch d.Access {
	case access.AccessBlock:
		fmt.Fprintf(e.stdout, "\nResult: blocked by %q.\n", d.BlockedBy)
	case access.AccessStepUp:
		var need []string
		for _, s := range d.Unmet {
			need = append(need, access.StrengthLabel(s))
		}
		if d.Reauth {
			need = append(need, "a fresh sign-in")
		}
		fmt.Fprintf(e.stdout, "\nResult: more is required: %s.\n", strings.Join(need, " and "))
	default:
		fmt.Fprintln(e.stdout, "\nResult: allowed.")
	}
	if len(d.Strengths) > 0 {
		var all []string
		for _, s := range d.Strengths {
			all = append(all, access.StrengthLabel(s))
		}
		fmt.Fprintf(e.stdout, "Required strengths: %s.\n", strings.Join(all, ", "))
	}
	switch {
	case d.EveryTime:
		fmt.Fprintln(e.stdout, "Sign-in frequency: every time.")
	case d.MaxAuthAge > 0:
		fmt.Fprintf(e.stdout, "Sign-in frequency: at most %s since the last sign-in.\n", d.MaxAuthAge)
	}
	var applied, notApplied []access.Result
	for _, r := range d.Results {
		if r.Applied() {
			applied = append(applied, r)
		} else {
			notApplied = append(notApplied, r)
		}
	}
	e.printResults("\nPolicies that apply:", applied, func(r access.Result) string { return r.Label() })
	e.printResults("\nPolicies that do not apply:", notApplied, func(r access.Result) string { return r.Reason.String() })
}

func (e *env) printResults(title string, rs []access.Result, what func(access.Result) string) {
	fmt.Fprintln(e.stdout, title)
	if len(rs) == 0 {
		fmt.Fprintln(e.stdout, "  none")
		return
	}
	tw := e.table()
	for _, r := range rs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Policy, r.State, what(r))
	}
	tw.Flush()
}

type whatIfOut struct {
	User      string          `json:"user"`
	Groups    []string        `json:"groups"`
	Admin     bool            `json:"admin"`
	App       string          `json:"app"`
	Action    string          `json:"action,omitempty"`
	IP        string          `json:"ip,omitempty"`
	Country   string          `json:"country"`
	Client    string          `json:"client"`
	Device    access.Device   `json:"device"`
	Access    access.Access   `json:"access"`
	BlockedBy string          `json:"blocked_by,omitempty"`
	Strengths []string        `json:"strengths"`
	Unmet     []string        `json:"unmet"`
	Reauth    bool            `json:"reauth"`
	EveryTime bool            `json:"every_time,omitempty"`
	MaxAge    string          `json:"max_auth_age,omitempty"`
	Results   []access.Result `json:"results"`
}

func whatIfJSON(w access.WhatIf) whatIfOut {
	c, d := w.Context, w.Decision
	o := whatIfOut{User: c.Username, Groups: c.Groups, Admin: c.Admin, App: c.App, Action: c.Action, Country: c.Country,
		Client: string(c.Client), Device: c.Device, Access: d.Access, BlockedBy: d.BlockedBy, Strengths: d.Strengths,
		Unmet: d.Unmet, Reauth: d.Reauth, EveryTime: d.EveryTime, Results: d.Results}
	if c.IP.IsValid() {
		o.IP = c.IP.String()
	}
	if d.MaxAuthAge > 0 {
		o.MaxAge = d.MaxAuthAge.String()
	}
	if o.Groups == nil {
		o.Groups = []string{}
	}
	if o.Strengths == nil {
		o.Strengths = []string{}
	}
	if o.Unmet == nil {
		o.Unmet = []string{}
	}
	return o
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// compileFile reads and compiles a policy file; names of users, groups and
// apps are not checked against the directory (import does that). A file
// without named locations uses the ones given (those in force).
func (e *env) compileFile(cmd *cobra.Command, name string, locations []access.Location) (*access.Set, error) {
	b, err := readAccessFile(cmd, name)
	if err != nil {
		return nil, err
	}
	doc, _, err := access.ImportDraftYAML(b, access.Known{Strengths: access.AnyStrength}, locations)
	if err != nil {
		return nil, fileError(name, err)
	}
	return access.Compile(doc)
}

// --- files ---

func (e *env) accessExportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "export [FILE]",
		Short: "Write the named locations and Conditional Access policies as YAML (to FILE or standard output)",
		Long: `Write the named locations and Conditional Access policies as a YAML file:
keep it in git, change it, check it with "sesame policy test", and load it
back with "sesame policy import".`,
		Args: cobra.MaximumNArgs(1),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			doc, err := (&access.Service{Store: a.Store, Now: a.Now}).Document(cmd.Context())
			if err != nil {
				return err
			}
			b, err := access.ExportYAML(doc)
			if err != nil {
				return err
			}
			if len(args) == 0 || args[0] == "-" {
				_, err = e.stdout.Write(b)
				return err
			}
			if err := os.WriteFile(args[0], b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Wrote %d named locations and %d policies (version %d) to %s.\n", len(doc.Locations), len(doc.Policies), doc.Version, args[0])
			return nil
		}),
	}
}

func (e *env) accessImportCmd() *cobra.Command {
	var dryRun bool
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Replace all named locations and Conditional Access policies with those of a YAML file",
		Long: `Replace all named locations and Conditional Access policies with those in
FILE (- for standard input), in the format of "sesame policy export". The
file is checked as a whole: unknown fields, wrong types, invalid ranges, and
users, groups, apps, locations or strengths that do not exist are reported
with the path and line of the field, and then nothing changes. The change
is recorded in the audit log and takes effect on every instance within a
second. --dry-run only checks and shows what would change.`,
		Args: exactArgs(1, "a FILE"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			ctx := cmd.Context()
			b, err := readAccessFile(cmd, args[0])
			if err != nil {
				return err
			}
			s, done, err := accessService(a, "")
			if err != nil {
				return err
			}
			defer done()
			known, err := s.Known(ctx)
			if err != nil {
				return err
			}
			doc, warnings, err := access.ImportYAML(b, known)
			if err != nil {
				return fileError(args[0], err)
			}
			cur, err := s.Document(ctx)
			if err != nil {
				return err
			}
			changes := describeChanges(cur, doc)
			if dryRun {
				e.warnings(warnings)
				fmt.Fprintf(e.stdout, "%s is valid: %d named locations, %d policies.\n", args[0], len(doc.Locations), len(doc.Policies))
				printChanges(e.stdout, changes, "Would ")
				return nil
			}
			ch, err := s.Import(ctx, audit.CLI, doc)
			if err != nil {
				return err
			}
			e.warnings(ch.Warnings)
			fmt.Fprintf(e.stdout, "Imported %d named locations and %d policies (version %d).\n", len(doc.Locations), len(doc.Policies), ch.Document.Version)
			printChanges(e.stdout, changes, "")
			return nil
		}),
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "check the file and show what would change, without changing anything")
	return c
}

type change struct{ verb, what, name string }

func describeChanges(before, after access.Document) []change {
	var out []change
	diff := func(what string, old, new map[string]string, order []string, oldOrder []string) {
		for _, n := range order {
			o, had := old[n]
			switch {
			case !had:
				out = append(out, change{"add", what, n})
			case o != new[n]:
				out = append(out, change{"change", what, n})
			}
		}
		for _, n := range oldOrder {
			if _, kept := new[n]; !kept {
				out = append(out, change{"remove", what, n})
			}
		}
	}
	index := func(names []string, items []any) map[string]string {
		m := map[string]string{}
		for i, n := range names {
			b, _ := json.Marshal(items[i])
			m[n] = string(b)
		}
		return m
	}
	var bl, al, bp, ap []string
	var bli, ali, bpi, api []any
	for _, l := range before.Locations {
		bl, bli = append(bl, l.Name), append(bli, l)
	}
	for _, l := range after.Locations {
		al, ali = append(al, l.Name), append(ali, l)
	}
	for _, p := range before.Policies {
		bp, bpi = append(bp, p.Name), append(bpi, p)
	}
	for _, p := range after.Policies {
		ap, api = append(ap, p.Name), append(api, p)
	}
	diff("named location", index(bl, bli), index(al, ali), al, bl)
	diff("policy", index(bp, bpi), index(ap, api), ap, bp)
	return out
}

func printChanges(w io.Writer, cs []change, prefix string) {
	if len(cs) == 0 {
		fmt.Fprintln(w, "Nothing changes.")
		return
	}
	past := map[string]string{"add": "Added", "change": "Changed", "remove": "Removed"}
	for _, c := range cs {
		verb := past[c.verb]
		if prefix != "" {
			verb = prefix + c.verb
		}
		fmt.Fprintf(w, "  %s %s %s\n", verb, c.what, c.name)
	}
}

// --- tests ---

func (e *env) accessTestCmd() *cobra.Command {
	var policies, geoip string
	c := &cobra.Command{
		Use:   "test FILE",
		Short: "Run declarative policy tests: sign-ins and the outcome each must have",
		Long: `Run the cases in FILE (YAML) against the Conditional Access policies and
report each as PASS or FAIL with what was expected and what came; the exit
code is 1 when any case fails, so CI can guard a policy repository.

The policies are those of --policies FILE, or of the "policies:" file named
in FILE (relative to it), or else those in force (then the database is
opened). A case:

  cases:
    - name: password + TOTP from home needs a passkey
      context:
        user: alice
        groups: [staff]
        app: grafana
        ip: 192.0.2.55
        satisfies: [mfa]          # or methods: [password, totp]
      expect:
        access: step-up           # allow, step-up or block
        require: [passwordless-mfa]
        policies:
          Require a passkey outside trusted locations: step-up

Context fields: user, groups, admin, app, action, ip, country, client
(browser or legacy), device ([trusted, device-bound-passkey]), satisfies or
methods, auth_age (e.g. 13h; omitted: authenticated within the sign-in).
Expect fields: access, blocked_by, require, reauth, and policies (each
policy's outcome: not-applied, satisfied, block or step-up).`,
		Args: exactArgs(1, "a FILE of cases"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			b, err := readAccessFile(cmd, args[0])
			if err != nil {
				return err
			}
			cases, err := access.ParseCases(b)
			if err != nil {
				return fileError(args[0], err)
			}
			if policies == "" && cases.Policies != "" {
				policies = cases.Policies
				if !filepath.IsAbs(policies) && args[0] != "-" {
					policies = filepath.Join(filepath.Dir(args[0]), policies)
				}
			}
			opt := access.CaseOptions{Now: time.Now()}
			if geoip != "" {
				countries, err := access.OpenCountries(geoip)
				if err != nil {
					return err
				}
				defer countries.Close()
				opt.Countries = countries
			}
			var set *access.Set
			var custom []methods.Strength
			if policies != "" {
				if set, err = e.compileFile(cmd, policies, nil); err != nil {
					return err
				}
			} else {
				a, err := e.open(ctx, true)
				if err != nil {
					return err
				}
				defer a.Close()
				s, done, err := accessService(a, "")
				if err != nil {
					return err
				}
				defer done()
				if set, err = s.Policies(ctx); err != nil {
					return err
				}
				if custom, err = a.CustomStrengths(ctx); err != nil {
					return err
				}
				known, err := s.Known(ctx)
				if err != nil {
					return err
				}
				opt.Strengths = known.Strengths
				opt.Now = a.Now()
			}
			sat := satisfier(custom)
			opt.MethodsSatisfy = func(used []string, id string) bool { return sat(used, nil, id) }
			results, err := access.RunCases(set, cases, opt)
			if err != nil {
				return fileError(args[0], err)
			}
			if !access.WriteCaseReport(e.stdout, results) {
				failed := 0
				for _, r := range results {
					if !r.Pass {
						failed++
					}
				}
				return fmt.Errorf("%d of %d policy tests failed", failed, len(results))
			}
			return nil
		},
	}
	c.Flags().StringVar(&policies, "policies", "", "test this policy file instead of the policies in force")
	geoipFlag(c, &geoip)
	return c
}

// --- impact and replay ---

// loadRecorded reads the successful sign-ins since a time from the log.
func loadRecorded(ctx context.Context, a *app.App, s *access.Service, since time.Time) ([]access.Recorded, error) {
	evs, err := a.Store.ListSignIns(ctx, store.SignInFilter{Since: since, Result: store.ResultSuccess, Limit: 1 << 30})
	if err != nil {
		return nil, err
	}
	custom, err := a.CustomStrengths(ctx)
	if err != nil {
		return nil, err
	}
	return s.Recorded(ctx, evs, eventSatisfies(satisfier(custom)))
}

func windows(now time.Time, since string) ([]access.Window, error) {
	if since == "" {
		return access.StandardWindows(now), nil
	}
	t, err := parseTime(since, now)
	if err != nil {
		return nil, usageError{fmt.Errorf("--since: %w", err)}
	}
	return []access.Window{{Name: "since " + t.Local().Format("2006-01-02 15:04"), Since: t, Until: now}}, nil
}

func (e *env) printImpacts(title string, ims []access.Impact, asJSON bool) error {
	if asJSON {
		return writeJSON(e.stdout, ims)
	}
	fmt.Fprintln(e.stdout, title)
	tw := e.table()
	fmt.Fprintln(tw, "PERIOD\tSIGN-INS\tUSERS\tAPPLIES\tWOULD BLOCK\tWOULD STEP UP")
	for _, im := range ims {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", im.Window.Name, im.SignIns, im.Users,
			ofUsers(im.Applied, im.AppliedUsers), ofUsers(im.Blocked, im.BlockedUsers), ofUsers(im.StepUp, im.StepUpUsers))
	}
	tw.Flush()
	if len(ims) > 0 {
		last := ims[len(ims)-1]
		fmt.Fprintf(e.stdout, "Over %s: %s.\n", last.Window.Name, last.Summary())
	}
	return nil
}

func ofUsers(n, users int) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%d users)", n, users)
}

func (e *env) accessReplayCmd() *cobra.Command {
	var file, name, since, geoip string
	var asJSON bool
	c := &cobra.Command{
		Use:   "replay [--file FILE] [--policy NAME]",
		Short: "Run a draft policy against the recorded sign-ins and show what it would have done",
		Long: `Evaluate a policy, as if it were switched on, against the successful
sign-ins recorded over the last 24 hours, 7 days and 30 days (or --since),
and show how many sign-ins of how many users it would have blocked or sent
to a step-up. The policy comes from --file (a policy file; --policy picks
one when it has several; its named locations are used when it has any,
else those in force), or is a stored policy named by --policy, whatever
its state. Each sign-in is rebuilt from its record: user, groups as of
now, app, address and country, and what its method satisfied. Nothing is
changed.`,
		Args: cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			ctx := cmd.Context()
			s, done, err := accessService(a, geoip)
			if err != nil {
				return err
			}
			defer done()
			cur, err := s.Document(ctx)
			if err != nil {
				return err
			}
			doc := cur
			if file != "" {
				b, err := readAccessFile(cmd, file)
				if err != nil {
					return err
				}
				draft, _, err := access.ImportDraftYAML(b, access.Known{Strengths: access.AnyStrength}, cur.Locations)
				if err != nil {
					return fileError(file, err)
				}
				switch {
				case name == "" && len(draft.Policies) == 1:
					name = draft.Policies[0].Name
				case name == "":
					return usageError{fmt.Errorf("%s has %d policies: say which with --policy", file, len(draft.Policies))}
				}
				p, ok := findPolicyByName(draft, name)
				if !ok {
					return fmt.Errorf("%s has no policy %q", file, name)
				}
				doc = access.Document{Locations: draft.Locations, Policies: []access.Policy{p}}
			} else if name == "" {
				return usageError{errors.New("give --file with a draft policy, or --policy with the name of a stored one")}
			}
			p, ok := findPolicyByName(doc, name)
			if !ok {
				return access.ErrUnknownPolicy
			}
			set, err := access.Compile(access.Document{Locations: doc.Locations, Policies: []access.Policy{p}})
			if err != nil {
				return err
			}
			ws, err := windows(a.Now(), since)
			if err != nil {
				return err
			}
			recs, err := loadRecorded(ctx, a, s, earliest(ws))
			if err != nil {
				return err
			}
			var ims []access.Impact
			for _, w := range ws {
				ims = append(ims, access.Replay(set, p.Name, recs, w))
			}
			return e.printImpacts(fmt.Sprintf("Replay of %q (%s) against recorded sign-ins, as if it were on:", p.Name, grantText(p)), ims, asJSON)
		}),
	}
	c.Flags().StringVar(&file, "file", "", "policy file with the draft policy")
	c.Flags().StringVar(&name, "policy", "", "name of the policy (in --file, or stored)")
	c.Flags().StringVar(&since, "since", "", "one period from this time to now: a date, an RFC 3339 time, or an age such as 14d")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	geoipFlag(c, &geoip)
	return c
}

func earliest(ws []access.Window) time.Time {
	t := ws[0].Since
	for _, w := range ws {
		if w.Since.Before(t) {
			t = w.Since
		}
	}
	return t
}

func (e *env) accessImpactCmd() *cobra.Command {
	var since, geoip string
	var asJSON bool
	c := &cobra.Command{
		Use:   "impact [NAME...]",
		Short: "What report-only policies would have done: sign-ins and users they would have blocked or stepped up",
		Long: `For each report-only policy (or each policy named), count over the last 24
hours, 7 days and 30 days (or --since) the sign-ins it applied to, and how
many of them, of how many users, it would have blocked or sent to a step-up
had it been on. The results recorded with each sign-in are used; a sign-in
recorded without them is re-evaluated against the policy as it is now.`,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			ctx := cmd.Context()
			s, done, err := accessService(a, geoip)
			if err != nil {
				return err
			}
			defer done()
			set, err := s.Policies(ctx)
			if err != nil {
				return err
			}
			doc := set.Document()
			names := args
			if len(names) == 0 {
				for _, p := range doc.Policies {
					if p.State == access.StateReportOnly {
						names = append(names, p.Name)
					}
				}
				if len(names) == 0 {
					fmt.Fprintln(e.stdout, "No policy is in report-only. Name one, or try a draft with: sesame policy replay")
					return nil
				}
			}
			ws, err := windows(a.Now(), since)
			if err != nil {
				return err
			}
			recs, err := loadRecorded(ctx, a, s, earliest(ws))
			if err != nil {
				return err
			}
			var all []access.Impact
			for i, n := range names {
				p, ok := findPolicyByName(doc, n)
				if !ok {
					return fmt.Errorf("%w (%q)", access.ErrUnknownPolicy, n)
				}
				var ims []access.Impact
				for _, w := range ws {
					ims = append(ims, access.ImpactOf(set, p.Name, recs, w))
				}
				if asJSON {
					all = append(all, ims...)
					continue
				}
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				if err := e.printImpacts(fmt.Sprintf("%s (%s, %s):", p.Name, p.State, grantText(p)), ims, false); err != nil {
					return err
				}
				if r := ims[len(ims)-1].Replayed; r > 0 {
					fmt.Fprintf(e.stdout, "(%d of these sign-ins carry no recorded policy results and were re-evaluated.)\n", r)
				}
			}
			if asJSON {
				return writeJSON(e.stdout, all)
			}
			return nil
		}),
	}
	c.Flags().StringVar(&since, "since", "", "one period from this time to now: a date, an RFC 3339 time, or an age such as 14d")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	geoipFlag(c, &geoip)
	return c
}

// parseTime reads a point in time as operators write it: RFC 3339, a date
// (local midnight), or an age before now ("24h", "7d").
func parseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if age, err := access.ParseAge(s); err == nil {
		return now.Add(-age), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use 2026-03-01, 2026-03-01T12:00:00Z, or an age such as 24h or 7d", s)
}

// --- named locations ---

// locationCmd is `sesame location`: named locations for Conditional Access.
func (e *env) locationCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "location",
		Short: "Named locations for Conditional Access: IP ranges (optionally trusted) and countries",
	}
	var ranges, countries []string
	var trusted, unknown, replace bool
	add := &cobra.Command{
		Use:   "add NAME (--range CIDR ... [--trusted] | --country CODE ... [--include-unknown])",
		Short: "Add (or with --replace, change) a named location",
		Long: `Add a named location: either IP ranges (IPv4 or IPv6 CIDR prefixes, or
single addresses), which may be marked trusted, or countries (two-letter
ISO codes, resolved from the address with the country database given to
the server). --include-unknown makes a country location also match
addresses whose country is unknown.`,
		Args: exactArgs(1, "a location NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			s, done, err := accessService(a, "")
			if err != nil {
				return err
			}
			defer done()
			l := access.Location{Name: args[0], Ranges: ranges, Trusted: trusted, Countries: countries, IncludeUnknown: unknown}
			ch, err := s.PutLocation(cmd.Context(), audit.CLI, l, replace)
			if err != nil {
				return err
			}
			verb := "Added"
			if replace {
				verb = "Saved"
			}
			fmt.Fprintf(e.stdout, "%s the named location %s (version %d).\n", verb, strings.TrimSpace(args[0]), ch.Document.Version)
			e.warnings(ch.Warnings)
			return nil
		}),
	}
	add.Flags().StringArrayVar(&ranges, "range", nil, "IP range in CIDR form, e.g. 203.0.113.0/24 (repeatable, or comma-separated)")
	add.Flags().StringArrayVar(&countries, "country", nil, "country code, e.g. DE (repeatable, or comma-separated)")
	add.Flags().BoolVar(&trusted, "trusted", false, "mark the ranges as a trusted location")
	add.Flags().BoolVar(&unknown, "include-unknown", false, "also match addresses whose country is unknown")
	add.Flags().BoolVar(&replace, "replace", false, "replace a location of the same name")
	add.PreRun = func(*cobra.Command, []string) {
		ranges, countries = splitCommas(ranges), splitCommas(countries)
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List named locations and the policies that use them",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			doc, err := (&access.Service{Store: a.Store, Now: a.Now}).Document(cmd.Context())
			if err != nil {
				return err
			}
			if len(doc.Locations) == 0 {
				fmt.Fprintln(e.stdout, "No named locations. Add one: sesame location add Office --range 203.0.113.0/24 --trusted")
				return nil
			}
			tw := e.table()
			fmt.Fprintln(tw, "LOCATION\tKIND\tTRUSTED\tRANGES OR COUNTRIES\tUSED BY")
			for _, l := range doc.Locations {
				kind, items := "ranges", strings.Join(l.Ranges, ", ")
				if len(l.Countries) > 0 {
					kind, items = "countries", strings.Join(l.Countries, ", ")
					if l.IncludeUnknown {
						items += " + unknown"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Name, kind, map[bool]string{true: "yes", false: "no"}[l.Trusted], items,
					dash(strings.Join(access.PoliciesUsingLocation(doc, l.Name), ", ")))
			}
			return tw.Flush()
		}),
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a named location no policy uses",
		Args:  exactArgs(1, "a location NAME"),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			s, done, err := accessService(a, "")
			if err != nil {
				return err
			}
			defer done()
			ch, err := s.DeleteLocation(cmd.Context(), audit.CLI, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Deleted the named location %s (version %d).\n", strings.TrimSpace(args[0]), ch.Document.Version)
			return nil
		}),
	}
	c.AddCommand(add, list, del)
	return c
}

func splitCommas(l []string) []string {
	var out []string
	for _, s := range l {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// --- sign-in log ---

// logCmd is `sesame log`: export of the sign-in log and its retention.
func (e *env) logCmd() *cobra.Command {
	c := &cobra.Command{Use: "log", Short: "The sign-in log: export and retention"}

	var format, user, appID, result, policy, since, until, output string
	export := &cobra.Command{
		Use:   "export [--format jsonl|csv] [--user USER] [--app APP] [--result success|failure] [--since T] [--until T]",
		Short: "Export sign-in records as JSON lines or CSV, newest first",
		Long: `Export sign-in records, newest first, as JSON lines (one object per line)
or CSV (with a header row; cells a spreadsheet would run as formulas are
prefixed with an apostrophe). Filters: --user (username), --app (client ID;
"sesame" for Sesame itself), --result, --policy (sign-ins a Conditional
Access policy applied to), --since and --until (a date, an RFC 3339 time,
or an age such as 7d; --until is exclusive).`,
		Args: cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			ctx := cmd.Context()
			now := a.Now()
			f := access.LogFilter{App: appID, Result: result, Policy: policy, Limit: 1 << 30}
			switch result {
			case "", store.ResultSuccess, store.ResultFailure:
			default:
				return usageError{fmt.Errorf("--result %q: use %s or %s", result, store.ResultSuccess, store.ResultFailure)}
			}
			var err error
			if since != "" {
				if f.Since, err = parseTime(since, now); err != nil {
					return usageError{fmt.Errorf("--since: %w", err)}
				}
			}
			if until != "" {
				if f.Until, err = parseTime(until, now); err != nil {
					return usageError{fmt.Errorf("--until: %w", err)}
				}
			}
			if user != "" {
				f.User = strings.ToLower(strings.TrimSpace(user))
				if u, err := a.Store.GetUserByUsername(ctx, f.User); err == nil {
					f.UserID = u.ID
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			write := access.WriteJSONLines
			switch format {
			case "jsonl", "json":
			case "csv":
				write = access.WriteCSV
			default:
				return usageError{fmt.Errorf("--format %q: use jsonl or csv", format)}
			}
			// A user deleted since has no ID any more: the store reads all
			// records and the filter matches the username they carry.
			evs, err := a.Store.ListSignIns(ctx, f.StoreFilter())
			if err != nil {
				return err
			}
			evs = f.Filter(evs)
			w := e.stdout
			if output != "" && output != "-" {
				file, err := os.Create(output)
				if err != nil {
					return err
				}
				defer file.Close()
				w = file
			}
			if err := write(w, evs); err != nil {
				return err
			}
			if output != "" && output != "-" {
				fmt.Fprintf(e.stdout, "Wrote %d sign-in records to %s.\n", len(evs), output)
			}
			return nil
		}),
	}
	ef := export.Flags()
	ef.StringVar(&format, "format", "jsonl", "jsonl or csv")
	ef.StringVar(&user, "user", "", "only this username")
	ef.StringVar(&appID, "app", "", "only this app (client ID; sesame for Sesame itself)")
	ef.StringVar(&result, "result", "", "only success or failure")
	ef.StringVar(&policy, "policy", "", "only sign-ins this Conditional Access policy applied to")
	ef.StringVar(&since, "since", "", "from this time (inclusive): a date, an RFC 3339 time, or an age such as 7d")
	ef.StringVar(&until, "until", "", "up to this time (exclusive)")
	ef.StringVarP(&output, "output", "o", "", "write to this file instead of standard output")

	retention := &cobra.Command{
		Use:   "retention [DAYS]",
		Short: "Show or set how many days sign-in records are kept (0: for ever)",
		Long: `Show, or set, how many days sign-in records are kept; 0 keeps them for
ever (the default). Expiry is the only way a sign-in record is ever
deleted. Report-only impact looks back up to 30 days, so keep at least
that.`,
		Args: cobra.MaximumNArgs(1),
		RunE: e.run(func(cmd *cobra.Command, a *app.App, args []string) error {
			s := &access.Service{Store: a.Store, Now: a.Now}
			if len(args) == 0 {
				days, err := s.Retention(cmd.Context())
				if err != nil {
					return err
				}
				if days == 0 {
					fmt.Fprintln(e.stdout, "Sign-in records are kept for ever.")
				} else {
					fmt.Fprintf(e.stdout, "Sign-in records are kept %d days.\n", days)
				}
				return nil
			}
			days, err := strconv.Atoi(strings.TrimSpace(args[0]))
			if err != nil {
				return usageError{errors.New("DAYS must be a whole number of days, or 0 to keep records for ever")}
			}
			if err := s.SetRetention(cmd.Context(), audit.CLI, days); err != nil {
				return err
			}
			if days == 0 {
				fmt.Fprintln(e.stdout, "Sign-in records are now kept for ever.")
				return nil
			}
			fmt.Fprintf(e.stdout, "Sign-in records are now kept %d days.\n", days)
			if days < 30 {
				fmt.Fprintln(e.stderr, "Warning: report-only impact and replay look back 30 days; fewer days of records give smaller figures.")
			}
			return nil
		}),
	}
	c.AddCommand(export, retention)
	return c
}
