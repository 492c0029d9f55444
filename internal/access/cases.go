package access

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CaseFile is a file of declarative policy tests (`sesame policy test`):
// sign-in contexts and the outcome each must have, so admins can keep
// their policies in git and let CI say when a change breaks an intention.
type CaseFile struct {
	// Policies, when set, is the policy file (relative to the case file)
	// to test instead of the policies in force.
	Policies string `yaml:"policies,omitempty"`
	Cases    []Case `yaml:"cases"`
}

// Case is one sign-in and what must come of it.
type Case struct {
	Name    string      `yaml:"name"`
	Context CaseContext `yaml:"context"`
	Expect  Expect      `yaml:"expect"`
}

// CaseContext describes a sign-in in file form.
type CaseContext struct {
	User    string   `yaml:"user"`
	Groups  []string `yaml:"groups,omitempty"`
	Admin   bool     `yaml:"admin,omitempty"`
	App     string   `yaml:"app,omitempty"`
	Action  string   `yaml:"action,omitempty"`
	IP      string   `yaml:"ip,omitempty"`
	Country string   `yaml:"country,omitempty"` // omitted: resolved from ip with the country database, if any
	Client  string   `yaml:"client,omitempty"`  // browser (default) or legacy
	Device  []string `yaml:"device,omitempty"`  // device-bound-passkey, trusted
	// Satisfies lists the strengths the sign-in already meets.
	Satisfies []string `yaml:"satisfies,omitempty"`
	// Methods lists the methods used (passkey, tap, password, totp), as
	// an alternative to Satisfies when a methods resolver is available.
	Methods []string `yaml:"methods,omitempty"`
	// AuthAge is how long ago the user last authenticated ("90m", "12h",
	// "3d"); omitted means the user authenticates within this sign-in.
	AuthAge string `yaml:"auth_age,omitempty"`
}

// Expect is what a case checks; fields left out are not checked.
type Expect struct {
	Access    string   `yaml:"access,omitempty"`     // allow, step-up or block
	BlockedBy string   `yaml:"blocked_by,omitempty"` // the blocking policy
	Require   []string `yaml:"require,omitempty"`    // the unmet strengths, exactly
	Reauth    *bool    `yaml:"reauth,omitempty"`
	// Policies maps policy names to their outcome: not-applied, satisfied,
	// block or step-up (report-only policies included).
	Policies map[string]string `yaml:"policies,omitempty"`
}

// CaseOptions supply what cases may need from outside.
type CaseOptions struct {
	// Now is the time of every case's sign-in.
	Now time.Time
	// Countries resolves ip when a case gives no country.
	Countries *Countries
	// MethodsSatisfy says whether methods meet a strength; needed only by
	// cases that list methods.
	MethodsSatisfy func(methods []string, strength string) bool
	// Strengths resolves strength names in cases to IDs; nil: AnyStrength.
	Strengths func(string) (string, bool)
}

func (o CaseOptions) strengths(l []string) []string {
	resolve := o.Strengths
	if resolve == nil {
		resolve = AnyStrength
	}
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		if id, ok := resolve(s); ok {
			out[i] = id
		} else {
			out[i] = s
		}
	}
	return out
}

// ParseCases reads a case file strictly and checks every case, so that a
// typo fails the run instead of making a case pass vacuously.
func ParseCases(data []byte) (CaseFile, error) {
	var f CaseFile
	lines, err := decodeYAML(data, &f)
	if err != nil {
		return f, err
	}
	var inv Invalid
	fail := func(path, format string, args ...any) {
		inv = append(inv, &FieldError{Path: path, Line: lines.lineOf(path), Message: fmt.Sprintf(format, args...)})
	}
	if len(f.Cases) == 0 {
		fail("cases", "the file has no cases")
	}
	names := map[string]bool{}
	for i, c := range f.Cases {
		p := idx("cases", i)
		switch {
		case strings.TrimSpace(c.Name) == "":
			fail(p+".name", "each case needs a name")
		case names[c.Name]:
			fail(p+".name", "another case is already called %q", c.Name)
		}
		names[c.Name] = true
		if _, err := c.Context.context(time.Time{}, nil, nil); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fail(p+".context."+fe.Path, "%s", fe.Message)
			} else {
				fail(p+".context", "%v", err)
			}
		}
		e := c.Expect
		if e.Access == "" && e.BlockedBy == "" && e.Require == nil && e.Reauth == nil && len(e.Policies) == 0 {
			fail(p+".expect", "say what to expect: access, blocked_by, require, reauth or policies")
		}
		switch Access(e.Access) {
		case "", AccessAllow, AccessStepUp, AccessBlock:
		default:
			fail(p+".expect.access", "%q is not an access: use allow, step-up or block", e.Access)
		}
		for name, o := range e.Policies {
			switch Outcome(o) {
			case OutcomeNotApplied, OutcomeSatisfied, OutcomeBlock, OutcomeStepUp:
			default:
				fail(p+".expect.policies["+strconv.Quote(name)+"]", "%q is not an outcome: use not-applied, satisfied, block or step-up", o)
			}
		}
	}
	if len(inv) > 0 {
		slices.SortStableFunc(inv, func(a, b *FieldError) int { return a.Line - b.Line })
		return f, inv
	}
	return f, nil
}

// context builds the evaluation context of a case.
func (cc CaseContext) context(now time.Time, countries *Countries, methodsSatisfy func([]string, string) bool) (Context, error) {
	c := Context{
		Username: strings.ToLower(strings.TrimSpace(cc.User)), Groups: cc.Groups, Admin: cc.Admin,
		App: cc.App, Action: cc.Action, Country: strings.ToUpper(cc.Country), Now: now, Fresh: true,
	}
	if c.Action != "" && c.Action != ActionRegisterSecurityInfo {
		return c, &FieldError{Path: "action", Message: fmt.Sprintf("%q is not a user action (the one action is %q)", c.Action, ActionRegisterSecurityInfo)}
	}
	if cc.IP != "" {
		ip, err := netip.ParseAddr(cc.IP)
		if err != nil {
			return c, &FieldError{Path: "ip", Message: fmt.Sprintf("%q is not an IP address", cc.IP)}
		}
		c.IP = ip.Unmap()
	}
	if c.Country == "" {
		c.Country = countries.Country(c.IP)
	}
	switch ClientType(cc.Client) {
	case "", ClientBrowser:
		c.Client = ClientBrowser
	case ClientLegacy:
		c.Client = ClientLegacy
	default:
		return c, &FieldError{Path: "client", Message: fmt.Sprintf("%q is not a client type: use browser or legacy", cc.Client)}
	}
	for i, d := range cc.Device {
		switch d {
		case DeviceBoundPasskey:
			c.Device.BoundPasskey = true
		case DeviceTrusted:
			c.Device.Trusted = true
		default:
			return c, &FieldError{Path: idx("device", i), Message: fmt.Sprintf("%q is not a device state: use %s or %s", d, DeviceBoundPasskey, DeviceTrusted)}
		}
	}
	if cc.AuthAge != "" {
		age, err := ParseAge(cc.AuthAge)
		if err != nil {
			return c, &FieldError{Path: "auth_age", Message: err.Error()}
		}
		c.Fresh, c.AuthTime = false, now.Add(-age)
	}
	if len(cc.Methods) > 0 && len(cc.Satisfies) > 0 {
		return c, &FieldError{Path: "methods", Message: "give methods or satisfies, not both"}
	}
	switch {
	case len(cc.Satisfies) > 0:
		met := cc.Satisfies
		c.Satisfies = func(s string) bool { return slices.Contains(met, s) }
	case len(cc.Methods) > 0:
		methods := cc.Methods
		c.Satisfies = func(s string) bool { return methodsSatisfy != nil && methodsSatisfy(methods, s) }
	}
	return c, nil
}

// ParseAge reads a duration as admins write it: Go durations ("90m",
// "12h") plus days ("3d").
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n >= 0 && n <= 36500 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a duration (e.g. 90m, 12h, 3d)", s)
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Name     string
	Pass     bool
	Diffs    []Diff
	Decision Decision
}

// Diff is one expectation that was not met.
type Diff struct {
	Field, Want, Got string
}

// RunCases runs every case against set.
func RunCases(set *Set, f CaseFile, opt CaseOptions) ([]CaseResult, error) {
	var out []CaseResult
	for i, c := range f.Cases {
		c.Context.Satisfies = opt.strengths(c.Context.Satisfies)
		c.Expect.Require = opt.strengths(c.Expect.Require)
		ctx, err := c.Context.context(opt.Now, opt.Countries, opt.MethodsSatisfy)
		if err == nil && len(c.Context.Methods) > 0 && opt.MethodsSatisfy == nil {
			err = &FieldError{Path: "methods", Message: "methods cannot be checked here; list the strengths met with satisfies"}
		}
		if err != nil {
			return nil, fmt.Errorf("cases[%d] (%s): context.%w", i, c.Name, err)
		}
		d := set.Evaluate(ctx)
		r := CaseResult{Name: c.Name, Decision: d}
		e := c.Expect
		diff := func(field, want, got string) {
			if want != got {
				r.Diffs = append(r.Diffs, Diff{field, want, got})
			}
		}
		if e.Access != "" {
			diff("access", e.Access, string(d.Access))
		}
		if e.BlockedBy != "" {
			diff("blocked_by", e.BlockedBy, orNone(d.BlockedBy))
		}
		if e.Require != nil {
			diff("require", listText(e.Require), listText(d.Unmet))
		}
		if e.Reauth != nil {
			diff("reauth", strconv.FormatBool(*e.Reauth), strconv.FormatBool(d.Reauth))
		}
		for _, name := range sortedMapKeys(e.Policies) {
			got := "(no such policy)"
			for _, res := range d.Results {
				if res.Policy == name {
					got = string(res.Outcome)
					if got != e.Policies[name] && res.Outcome == OutcomeNotApplied {
						got += " (" + res.Reason.String() + ")"
					}
				}
			}
			diff("policies["+strconv.Quote(name)+"]", e.Policies[name], got)
		}
		r.Pass = len(r.Diffs) == 0
		out = append(out, r)
	}
	return out, nil
}

// WriteCaseReport prints PASS/FAIL per case with a diff of what was
// expected against what came, and a closing "N passed, N failed" line. It
// reports whether every case passed.
func WriteCaseReport(w io.Writer, results []CaseResult) bool {
	passed, failed := 0, 0
	for _, r := range results {
		if r.Pass {
			passed++
			fmt.Fprintf(w, "PASS  %s\n", r.Name)
			continue
		}
		failed++
		fmt.Fprintf(w, "FAIL  %s\n", r.Name)
		// Align want and got under each other; a long field name (a
		// policy's) gets a line of its own.
		width := 0
		for _, d := range r.Diffs {
			if l := len(d.Field) + 1; l <= 24 {
				width = max(width, l)
			}
		}
		for _, d := range r.Diffs {
			label := d.Field + ":"
			if len(label) > width {
				fmt.Fprintf(w, "      %s\n", label)
				label = ""
			}
			fmt.Fprintf(w, "      %-*s  want %s\n      %-*s  got  %s\n", width, label, d.Want, width, "", d.Got)
		}
		var notes []string
		for _, res := range r.Decision.Results {
			if res.Applied() {
				notes = append(notes, res.Policy+": "+res.Label())
			}
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "      applied: %s\n", strings.Join(notes, "; "))
		} else {
			fmt.Fprintf(w, "      applied: none\n")
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	return failed == 0
}

func listText(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return "[" + strings.Join(s, ", ") + "]"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
