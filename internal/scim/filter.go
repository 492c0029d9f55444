package scim

import (
	"encoding/json"
	"strings"
)

// Filters and attribute paths (RFC 7644 sections 3.4.2.2 and 3.5.2). Sesame
// supports the part of the grammar provisioning clients use: one
// comparison `attr eq value` (as a list filter, and inside a PATCH path
// such as members[value eq "id"]). Anything else is refused with a clear
// invalidFilter / invalidPath error instead of being half understood.

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
	s = strings.TrimSpace(s)
	if s == "" {
		return Filter{}, errInvalidFilter("The filter is empty.")
	}
	attr, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimLeft(rest, " ")
	op, value, _ := strings.Cut(rest, " ")
	value = strings.TrimSpace(value)
	op = strings.ToLower(op)
	lower := strings.ToLower(attr)
	switch {
	case strings.HasPrefix(attr, "("):
		return Filter{}, errInvalidFilter("Grouping with parentheses is not supported: use one comparison such as userName eq \"alice\".")
	case lower == "not":
		return Filter{}, errInvalidFilter("\"not\" is not supported: use one comparison such as userName eq \"alice\".")
	case strings.ContainsAny(attr, "[]"):
		return Filter{}, errInvalidFilter("Complex attribute filters are not supported: use one comparison such as userName eq \"alice\".")
	case op == "":
		return Filter{}, errInvalidFilter("The filter has no operator: use attribute eq \"value\".")
	case otherOperators[op]:
		return Filter{}, errInvalidFilter("The operator \"" + op + "\" is not supported: only eq is.")
	case op != "eq":
		return Filter{}, errInvalidFilter("\"" + op + "\" is not a filter operator: use attribute eq \"value\".")
	case value == "":
		return Filter{}, errInvalidFilter("The filter compares with nothing: use attribute eq \"value\".")
	}
	lower = strings.TrimPrefix(strings.TrimPrefix(lower, coreUserURN), coreGroupURN)
	if !isAttrPath(lower) {
		return Filter{}, errInvalidFilter("\"" + attr + "\" is not an attribute name.")
	}
	f := Filter{Attr: lower}
	switch {
	case strings.HasPrefix(value, `"`):
		var str string
		dec := json.NewDecoder(strings.NewReader(value))
		if err := dec.Decode(&str); err != nil {
			return Filter{}, errInvalidFilter("The value is not a well-formed quoted string.")
		}
		if tail := strings.TrimSpace(value[dec.InputOffset():]); tail != "" {
			w, _, _ := strings.Cut(strings.ToLower(tail), " ")
			if w == "and" || w == "or" {
				return Filter{}, errInvalidFilter("\"" + w + "\" is not supported: use one comparison such as userName eq \"alice\".")
			}
			return Filter{}, errInvalidFilter("Unexpected text after the value: " + quoteShort(tail) + ".")
		}
		f.Value = str
	case strings.EqualFold(value, "true"), strings.EqualFold(value, "false"):
		f.Value = strings.EqualFold(value, "true")
	default:
		w := strings.Fields(value)
		if len(w) > 1 && (strings.EqualFold(w[1], "and") || strings.EqualFold(w[1], "or")) {
			return Filter{}, errInvalidFilter("\"" + strings.ToLower(w[1]) + "\" is not supported: use one comparison such as userName eq \"alice\".")
		}
		return Filter{}, errInvalidFilter("The value must be a quoted string, true or false.")
	}
	for _, a := range allowed {
		if a == f.Attr {
			return f, nil
		}
	}
	return Filter{}, errInvalidFilter("Filtering by \"" + attr + "\" is not supported; supported: " + strings.Join(allowed, ", ") + ".")
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
