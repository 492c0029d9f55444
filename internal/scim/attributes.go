package scim

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// Partial resources (RFC 7644 sections 3.4.2.5 and 3.9). A client may ask
// for "attributes" (only these, plus those always returned) or for
// "excludedAttributes" (the default set less these) on any operation that
// returns a resource: GET of one resource or of a list, and the answers to
// POST, PUT and PATCH. What each attribute does follows its "returned"
// characteristic (RFC 7643 section 7), the same values /Schemas declares
// (a test keeps the two equal).

// returned is an attribute's "returned" characteristic. Sesame has no
// "request" attributes.
type returned string

const (
	// returnedAlways attributes are in every response, whatever the client
	// asks: id, and schemas, which RFC 7643 section 3 makes part of every
	// resource (RFC 7644's own example of attributes=userName answers with
	// schemas, id and userName).
	returnedAlways returned = "always"
	// returnedDefault attributes are in a response unless excluded, or
	// unless the client lists the attributes it wants without them. meta
	// is one (RFC 7643 section 3.1: all its sub-attributes are "default").
	returnedDefault returned = "default"
	// returnedNever attributes are never in a response: name.givenName and
	// name.familyName, which Sesame does not keep.
	returnedNever returned = "never"
)

// attrDef is an attribute of a resource as Sesame returns it: its JSON
// name, its returned characteristic and its sub-attributes, in the order
// the resource is written.
type attrDef struct {
	name     string
	returned returned
	subs     []attrDef
}

func def(name string, r returned, subs ...attrDef) attrDef {
	return attrDef{name: name, returned: r, subs: subs}
}

func simple(names ...string) []attrDef {
	out := make([]attrDef, len(names))
	for i, n := range names {
		out[i] = def(n, returnedDefault)
	}
	return out
}

// The attributes of the two resources, in the order of the fields of
// userResource and groupResource (a test checks that a default projection
// writes exactly what the struct does).
var (
	metaDef = def("meta", returnedDefault, simple("resourceType", "created", "lastModified", "location", "version")...)
	refSubs = simple("value", "display", "$ref", "type")

	userDefs = []attrDef{
		def("schemas", returnedAlways),
		def("id", returnedAlways),
		def("externalId", returnedDefault),
		def("userName", returnedDefault),
		def("displayName", returnedDefault),
		def("name", returnedDefault, def("formatted", returnedDefault), def("givenName", returnedNever), def("familyName", returnedNever)),
		def("active", returnedDefault),
		def("emails", returnedDefault, simple("value", "type", "primary", "display")...),
		def("groups", returnedDefault, refSubs...),
		metaDef,
	}
	groupDefs = []attrDef{
		def("schemas", returnedAlways),
		def("id", returnedAlways),
		def("externalId", returnedDefault),
		def("displayName", returnedDefault),
		def("members", returnedDefault, refSubs...),
		metaDef,
	}
)

// AttrRef is one attribute named in attributes or excludedAttributes, in
// RFC 7644 section 3.10's notation, lower-cased: an optional schema URN,
// an attribute and an optional sub-attribute.
type AttrRef struct {
	URN  string // "" when the client left it out (allowed for core schemas)
	Attr string
	Sub  string
}

// Selection is what a request asks to be returned. The zero value is the
// default set.
type Selection struct {
	// Only: the request gave "attributes", so a response has the
	// always-returned attributes and Refs only. Otherwise Refs are the
	// excludedAttributes, taken out of the default set.
	Only bool
	Refs []AttrRef
}

// ParseSelection reads the attributes and excludedAttributes query
// parameters. Each is a comma-separated list of attribute names, case-
// insensitive, optionally prefixed with their schema URN; a parameter that
// names nothing is as if absent. The two are mutually exclusive (RFC 7644
// section 3.9): both at once is refused. Well-formed names of attributes a
// resource does not have are accepted and select nothing, as neither RFC
// asks a service provider to refuse them, and clients name attributes
// Sesame drops (title, the enterprise extension) or the other resource's.
//
// Errors are 400 invalidValue: RFC 7644's table of error types (section
// 3.12) names invalidValue for a value a GET does not accept, and keeps
// invalidSyntax for request bodies.
func ParseSelection(q url.Values) (Selection, error) {
	include := strings.Join(q["attributes"], ",")
	exclude := strings.Join(q["excludedAttributes"], ",")
	hasInclude, hasExclude := strings.Trim(include, " ,") != "", strings.Trim(exclude, " ,") != ""
	switch {
	case hasInclude && hasExclude:
		return Selection{}, errInvalidValue("Use either attributes or excludedAttributes, not both: they are mutually exclusive (RFC 7644 section 3.9).")
	case hasInclude:
		refs, err := parseAttrList(include, "attributes")
		return Selection{Only: true, Refs: refs}, err
	case hasExclude:
		refs, err := parseAttrList(exclude, "excludedAttributes")
		return Selection{Refs: refs}, err
	}
	return Selection{}, nil
}

func parseAttrList(list, param string) ([]AttrRef, error) {
	var refs []AttrRef
	for _, item := range strings.Split(list, ",") {
		name := strings.TrimSpace(item)
		if name == "" {
			return nil, errInvalidValue(param + " has an empty name: separate attribute names with single commas, e.g. userName,emails.value.")
		}
		ref, ok := parseAttrRef(name)
		if !ok {
			return nil, errInvalidValue(quoteShort(name) + " in " + param + " is not an attribute name: use names such as userName, name.givenName or emails.value, separated by commas.")
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// parseAttrRef parses [URN ":"] ATTRNAME ["." subAttr].
func parseAttrRef(s string) (AttrRef, bool) {
	lower := strings.ToLower(s)
	var ref AttrRef
	path := lower
	if strings.HasPrefix(lower, "urn:") {
		i := strings.LastIndex(lower, ":")
		ref.URN, path = lower[:i], lower[i+1:]
		if len(ref.URN) <= len("urn:") || !strings.HasPrefix(ref.URN, "urn:") {
			return AttrRef{}, false // "urn:name": no schema URN before the name
		}
	}
	if !isAttrPath(path) {
		return AttrRef{}, false
	}
	ref.Attr, ref.Sub, _ = strings.Cut(path, ".")
	return ref, true
}

// named tells whether the selection names attribute name of schema as a
// whole, and which of its sub-attributes (lower-case) it names.
func (sel Selection) named(schema, name string) (whole bool, subs map[string]bool) {
	schema, name = strings.ToLower(schema), strings.ToLower(name)
	for _, r := range sel.Refs {
		if (r.URN != "" && r.URN != schema) || r.Attr != name {
			continue
		}
		if r.Sub == "" {
			whole = true
		} else {
			if subs == nil {
				subs = map[string]bool{}
			}
			subs[r.Sub] = true
		}
	}
	return whole, subs
}

// keepSub is whether sub-attribute d of an attribute goes in a response.
func (sel Selection) keepSub(d attrDef, whole bool, subs map[string]bool) bool {
	switch {
	case d.returned == returnedAlways:
		return true
	case d.returned != returnedDefault:
		return false
	case sel.Only:
		return whole || subs[strings.ToLower(d.name)]
	default:
		return !subs[strings.ToLower(d.name)]
	}
}

// returns tells whether attribute d of schema goes in a response (when it
// has a value).
func (sel Selection) returns(schema string, d attrDef) bool {
	switch d.returned {
	case returnedAlways:
		return true
	case returnedNever:
		return false
	}
	whole, subs := sel.named(schema, d.name)
	if whole {
		return sel.Only
	}
	if len(d.subs) == 0 {
		// A sub-attribute of a simple attribute names nothing.
		return !sel.Only
	}
	for _, sd := range d.subs {
		if sel.keepSub(sd, false, subs) {
			return true
		}
	}
	return false
}

// readsGroups tells whether a user's groups must be read from the store
// for a response: when they are returned, or when meta.version, which
// covers them, is asked for by name. Otherwise they are not read, and the
// response has no meta.version and no ETag.
func (sel Selection) readsGroups() bool { return sel.reads(UserSchema, userDefs, "groups") }

// readsMembers is readsGroups for a group's members: leaving them out
// (Entra ID's excludedAttributes=members) spares reading a large group's
// members.
func (sel Selection) readsMembers() bool { return sel.reads(GroupSchema, groupDefs, "members") }

func (sel Selection) reads(schema string, defs []attrDef, rel string) bool {
	if sel.Only {
		if whole, subs := sel.named(schema, "meta"); whole || subs["version"] {
			return true
		}
	}
	for _, d := range defs {
		if d.name == rel {
			return sel.returns(schema, d)
		}
	}
	return true
}

// apply returns what to write for res: res itself for the default set,
// else the attributes chosen, in the resource's order.
func (sel Selection) apply(res resource) any {
	if len(sel.Refs) == 0 {
		return res
	}
	schema, defs := res.attributes()
	b, err := json.Marshal(res)
	if err != nil {
		panic(err) // our own values always marshal
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	return sel.project(schema, defs, v)
}

// project picks from v, a resource of schema as JSON decodes it, the
// attributes the selection returns. Attributes left with no value (a
// complex one whose every sub-attribute went) are left out.
func (sel Selection) project(schema string, defs []attrDef, v map[string]any) orderedObject {
	out := orderedObject{}
	for _, d := range defs {
		val, ok := v[d.name]
		if !ok || !sel.returns(schema, d) {
			continue
		}
		if len(d.subs) > 0 && d.returned != returnedAlways {
			whole, subs := sel.named(schema, d.name)
			keep := func(sd attrDef) bool { return sel.keepSub(sd, whole, subs) }
			if val, ok = projectComplex(d.subs, val, keep); !ok {
				continue
			}
		}
		out = append(out, member{d.name, val})
	}
	return out
}

// projectComplex keeps the sub-attributes keep chooses of a complex value
// or of each of a list of them.
func projectComplex(subs []attrDef, val any, keep func(attrDef) bool) (any, bool) {
	one := func(m map[string]any) orderedObject {
		o := orderedObject{}
		for _, sd := range subs {
			if sv, ok := m[sd.name]; ok && keep(sd) {
				o = append(o, member{sd.name, sv})
			}
		}
		return o
	}
	switch val := val.(type) {
	case map[string]any:
		o := one(val)
		return o, len(o) > 0
	case []any:
		var list []any
		for _, item := range val {
			if m, ok := item.(map[string]any); ok {
				if o := one(m); len(o) > 0 {
					list = append(list, o)
				}
			}
		}
		return list, len(list) > 0
	}
	return val, true
}

// orderedObject is a JSON object that keeps its members' order.
type orderedObject []member

type member struct {
	name  string
	value any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
