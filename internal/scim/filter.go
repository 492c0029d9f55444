package scim

import (
	"encoding/json"
	"slices"
	"strings"
)

// Filters and attribute paths (RFC 7644 sections 3.4.2.2 and 3.5.2). Sesame
// supports the part of the grammar provisioning clients use: a comparison
// `attr eq value` (inside a PATCH path such as members[value eq "id"]),
// and, as a list filter, such comparisons and value filters
// (members[value eq "id"], emails[type eq "work"].value eq "x") joined by
// "and", which is all Microsoft Entra ID sends. Anything else (or, not,
// parentheses, other operators) is refused with a clear invalidFilter /
// invalidPath error instead of being half understood.

// Filter is one equality comparison.
type Filter struct {
	Attr  string // lower-case attribute path, e.g. "username", "emails.type"
	Value any    // string or bool
}

// coreUserURN and coreGroupURN may prefix an attribute name.
const (
	coreUserURN  = "urn:ietf:params:scim:schemas:core:2.0:user:"
	coreGroupURN = "urn:ietf:params:scim:schemas:core:2.0:group:"
)

var otherOperators = map[string]bool{"ne": true, "co": true, "sw": true, "ew": true, "pr": true, "gt": true, "ge": true, "lt": true, "le": true}

// ParseFilter parses `attrPath eq compValue` where compValue is a JSON
// string, true or false. Attribute names are case-insensitive (returned
// lower-cased); allowed lists those accepted (lower-case).
func ParseFilter(s string, allowed ...string) (Filter, error) {
	f, err := parseComparison(s)
	if err != nil {
		return Filter{}, err
	}
	for _, a := range allowed {
		if a == f.Attr {
			return f, nil
		}
	}
	attr, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	return Filter{}, errInvalidFilter("Filtering by \"" + attr + "\" is not supported; supported: " + strings.Join(allowed, ", ") + ".")
}

// parseComparison parses `attrPath eq compValue` for any attribute path.
func parseComparison(s string) (Filter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Filter{}, errInvalidFilter("The filter is empty.")
	}
	attr, rest, _ := strings.Cut(s, " ")
	lower := strings.ToLower(attr)
	switch {
	case strings.HasPrefix(attr, "("):
		return Filter{}, errInvalidFilter("Grouping with parentheses is not supported: use one comparison such as userName eq \"alice\".")
	case lower == "not":
		return Filter{}, errInvalidFilter("\"not\" is not supported: use one comparison such as userName eq \"alice\".")
	case strings.ContainsAny(attr, "[]"):
		return Filter{}, errInvalidFilter("Complex attribute filters are not supported: use one comparison such as userName eq \"alice\".")
	}
	value, err := parseEqValue(rest)
	if err != nil {
		return Filter{}, err
	}
	lower = strings.TrimPrefix(strings.TrimPrefix(lower, coreUserURN), coreGroupURN)
	if !isAttrPath(lower) {
		return Filter{}, errInvalidFilter("\"" + attr + "\" is not an attribute name.")
	}
	return Filter{Attr: lower, Value: value}, nil
}

// parseEqValue parses what follows an attribute path: `eq compValue`.
func parseEqValue(rest string) (any, error) {
	rest = strings.TrimLeft(rest, " ")
	op, value, _ := strings.Cut(rest, " ")
	value = strings.TrimSpace(value)
	op = strings.ToLower(op)
	switch {
	case op == "":
		return nil, errInvalidFilter("The filter has no operator: use attribute eq \"value\".")
	case otherOperators[op]:
		return nil, errInvalidFilter("The operator \"" + op + "\" is not supported: only eq is.")
	case op != "eq":
		return nil, errInvalidFilter("\"" + op + "\" is not a filter operator: use attribute eq \"value\".")
	case value == "":
		return nil, errInvalidFilter("The filter compares with nothing: use attribute eq \"value\".")
	}
	switch {
	case strings.HasPrefix(value, `"`):
		var str string
		dec := json.NewDecoder(strings.NewReader(value))
		if err := dec.Decode(&str); err != nil {
			return nil, errInvalidFilter("The value is not a well-formed quoted string.")
		}
		if tail := strings.TrimSpace(value[dec.InputOffset():]); tail != "" {
			w, _, _ := strings.Cut(strings.ToLower(tail), " ")
			if w == "and" || w == "or" {
				return nil, errInvalidFilter("\"" + w + "\" is not supported: use one comparison such as userName eq \"alice\".")
			}
			return nil, errInvalidFilter("Unexpected text after the value: " + quoteShort(tail) + ".")
		}
		return str, nil
	case strings.EqualFold(value, "true"), strings.EqualFold(value, "false"):
		return strings.EqualFold(value, "true"), nil
	default:
		w := strings.Fields(value)
		if len(w) > 1 && (strings.EqualFold(w[1], "and") || strings.EqualFold(w[1], "or")) {
			return nil, errInvalidFilter("\"" + strings.ToLower(w[1]) + "\" is not supported: use one comparison such as userName eq \"alice\".")
		}
		return nil, errInvalidFilter("The value must be a quoted string, true or false.")
	}
}

// Term is one comparison of a list filter: Path eq Value, or, when Path
// is a value filter with no sub-attribute (members[value eq "id"]), the
// test "has such a value" by itself, with Value nil.
type Term struct {
	Path  Path
	Value any
}

// shape is the term's path without values, e.g. "emails[type].value",
// for matching against what a resource type supports.
func (t Term) shape() string {
	s := t.Path.Attr
	if t.Path.Filter != nil {
		s += "[" + t.Path.Filter.Attr + "]"
	}
	if t.Path.Sub != "" {
		s += "." + t.Path.Sub
	}
	return s
}

// ParseListFilter parses a list filter: one or more terms joined by "and"
// (any case), each `attrPath eq value`, `attr[sub eq value]` or
// `attr[sub eq value].sub2 eq value`. That is the grammar Microsoft Entra
// ID's provisioning service uses (eq and and only); "or", "not",
// parentheses and other operators are refused rather than half
// understood. allowed are the term shapes accepted (see Term.shape),
// compared case-insensitively, and named in the error as written.
func ParseListFilter(s string, allowed ...string) ([]Term, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errInvalidFilter("The filter is empty.")
	}
	var terms []Term
	for _, part := range splitAnd(s) {
		t, err := parseTerm(part)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, t.shape()) }) {
			return nil, errInvalidFilter("Filtering by " + t.shape() + " is not supported; supported: " + strings.Join(allowed, ", ") + ".")
		}
		terms = append(terms, t)
	}
	return terms, nil
}

// splitAnd splits s at the word "and" (any case) where it stands between
// spaces outside quoted strings and brackets. A dangling "and" leaves an
// empty part, which parseTerm refuses.
func splitAnd(s string) []string {
	var parts []string
	var q quotes
	start, depth := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if q.skip(c) {
			continue
		}
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth = max(depth-1, 0)
		case c == ' ' && depth == 0 && i+4 <= len(s) && strings.EqualFold(s[i+1:i+4], "and") && (i+4 == len(s) || s[i+4] == ' '):
			parts = append(parts, s[start:i])
			start = i + 4
			i += 3
		}
	}
	return append(parts, s[start:])
}

// quotes follows a scan of a filter through its quoted strings (JSON
// strings: a backslash escapes the next character).
type quotes struct{ in, escaped bool }

// skip reports whether c belongs to a quoted string, its quotes included,
// and moves the state past it.
func (q *quotes) skip(c byte) bool {
	switch {
	case q.in:
		switch {
		case q.escaped:
			q.escaped = false
		case c == '\\':
			q.escaped = true
		case c == '"':
			q.in = false
		}
		return true
	case c == '"':
		q.in = true
		return true
	}
	return false
}

// parseTerm parses one term of a list filter.
func parseTerm(s string) (Term, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Term{}, errInvalidFilter("\"and\" must join two comparisons such as userName eq \"alice\".")
	}
	open := strings.IndexByte(s, '[')
	if sp := strings.IndexByte(s, ' '); open < 0 || sp >= 0 && sp < open {
		f, err := parseComparison(s)
		if err != nil {
			return Term{}, err
		}
		attr, sub, _ := strings.Cut(f.Attr, ".")
		return Term{Path: Path{Attr: attr, Sub: sub}, Value: f.Value}, nil
	}
	closing := closingBracket(s, open)
	if closing < 0 {
		return Term{}, errInvalidFilter(quoteShort(s) + " has an unclosed [.")
	}
	end := len(s)
	if sp := strings.IndexByte(s[closing:], ' '); sp >= 0 {
		end = closing + sp
	}
	p, err := ParsePath(s[:end], "value", "type", "primary", "display")
	if err != nil {
		return Term{}, errInvalidFilter(err.(*Error).Detail)
	}
	rest := strings.TrimSpace(s[end:])
	switch {
	case rest == "" && p.Sub == "":
		return Term{Path: p}, nil
	case rest == "":
		return Term{}, errInvalidFilter("The filter has no operator: use attribute eq \"value\".")
	case p.Sub == "":
		return Term{}, errInvalidFilter("A value filter such as members[value eq \"id\"] is a comparison by itself; it is not compared with a value.")
	}
	v, err := parseEqValue(rest)
	if err != nil {
		return Term{}, err
	}
	return Term{Path: p, Value: v}, nil
}

// closingBracket is the index of the ] closing s[open], skipping quoted
// strings, or -1.
func closingBracket(s string, open int) int {
	var q quotes
	for i := open + 1; i < len(s); i++ {
		if !q.skip(s[i]) && s[i] == ']' {
			return i
		}
	}
	return -1
}

// isAttrPath: ATTRNAME *1("." ATTRNAME), ATTRNAME = ALPHA *(nameChar).
func isAttrPath(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || !(p[0] >= 'a' && p[0] <= 'z' || p[0] == '$') {
			return false
		}
		for _, r := range p[1:] {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return `"` + s + `"`
}

// Path is a PATCH operation's target: attr, attr.sub, attr[filter] or
// attr[filter].sub, all lower-cased.
type Path struct {
	Attr   string
	Filter *Filter // a value filter on the multi-valued attribute
	Sub    string
}

func (p Path) String() string {
	s := p.Attr
	if p.Filter != nil {
		s += "[" + p.Filter.Attr + " eq ...]"
	}
	if p.Sub != "" {
		s += "." + p.Sub
	}
	return s
}

// ParsePath parses a PATCH path. filterAttrs are the sub-attributes a
// value filter may compare (e.g. "value", "type", "primary").
func ParsePath(s string, filterAttrs ...string) (Path, error) {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	if len(lower) != len(s) {
		return Path{}, errInvalidPath("\"" + s + "\" is not an attribute path.")
	}
	lower = strings.TrimPrefix(strings.TrimPrefix(lower, coreUserURN), coreGroupURN)
	if lower == "" {
		return Path{}, errInvalidPath("The path is empty.")
	}
	open := strings.IndexByte(lower, '[')
	if open < 0 {
		if !isAttrPath(lower) {
			return Path{}, errInvalidPath("\"" + s + "\" is not an attribute path.")
		}
		attr, sub, _ := strings.Cut(lower, ".")
		return Path{Attr: attr, Sub: sub}, nil
	}
	closing := strings.LastIndexByte(lower, ']')
	if closing < open {
		return Path{}, errInvalidPath("\"" + s + "\" has an unclosed [.")
	}
	attr := lower[:open]
	if !isAttrPath(attr) || strings.Contains(attr, ".") {
		return Path{}, errInvalidPath("\"" + s + "\" is not an attribute path.")
	}
	// The filter keeps the original case of its value.
	inner := s[len(s)-len(lower)+open+1 : len(s)-len(lower)+closing]
	f, err := ParseFilter(inner, filterAttrs...)
	if err != nil {
		return Path{}, errInvalidPath("The filter in \"" + s + "\": " + err.(*Error).Detail)
	}
	p := Path{Attr: attr, Filter: &f}
	if tail := lower[closing+1:]; tail != "" {
		if !strings.HasPrefix(tail, ".") || !isAttrPath(tail[1:]) || strings.Contains(tail[1:], ".") {
			return Path{}, errInvalidPath("\"" + s + "\" is not an attribute path.")
		}
		p.Sub = tail[1:]
	}
	return p, nil
}
