package scim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// The resources as plain values, and the pure functions that read them
// from request bodies and apply PATCH operations to them. Nothing here
// touches the store: a request is first turned into the resource it asks
// for, checked whole, and only then written, so bad input changes nothing.

const (
	UserSchema    = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema   = "urn:ietf:params:scim:schemas:core:2.0:Group"
	PatchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ListSchema    = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// userModel is what a client can say about a user.
type userModel struct {
	UserName    string
	DisplayName string
	Email       string
	ExternalID  string
	Active      bool
	// Sesame keeps one display name; given and family names only make
	// it when the client sends no displayName or name.formatted.
	GivenName, FamilyName string
}

// finalDisplayName is the display name to store.
func (m userModel) finalDisplayName() string {
	if m.DisplayName != "" {
		return m.DisplayName
	}
	return strings.TrimSpace(m.GivenName + " " + m.FamilyName)
}

// groupModel is what a client can say about a group.
type groupModel struct {
	DisplayName string
	ExternalID  string
	Members     []string // user IDs, no repeats, in the order given
}

// object decodes a JSON object with attribute names lower-cased (SCIM
// names are case-insensitive); a name given twice is refused.
func object(raw json.RawMessage, what string) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errInvalidSyntax(what + " must be a JSON object.")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errInvalidSyntax(what + " is not valid JSON.")
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		l := strings.ToLower(k)
		if _, dup := out[l]; dup {
			return nil, errInvalidSyntax(what + " names \"" + k + "\" twice.")
		}
		out[l] = v
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// str reads a string attribute; null is "".
func str(raw json.RawMessage, name string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errInvalidValue("\"" + name + "\" must be a string.")
	}
	return s, nil
}

// boolean reads a boolean; "True"/"False" strings are accepted because
// Entra ID sends them in PATCH operations.
func boolean(raw json.RawMessage, name string) (bool, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, errInvalidValue("\"" + name + "\" must be true or false.")
}

// checkSchemas requires the resource's schemas to be exactly the core one.
func checkSchemas(raw json.RawMessage, want string) error {
	if raw == nil {
		return errInvalidSyntax("\"schemas\" is missing: it must be [\"" + want + "\"].")
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		return errInvalidSyntax("\"schemas\" must be a list of schema URNs: [\"" + want + "\"].")
	}
	for _, s := range list {
		if !strings.EqualFold(s, want) {
			return errInvalidValue("The schema \"" + s + "\" is not supported here; use \"" + want + "\" only.")
		}
	}
	return nil
}

// readOnly attributes are ignored in requests (RFC 7643 section 7).
var readOnly = map[string]bool{"schemas": true, "id": true, "meta": true}

// decodeUser reads a whole user (POST, PUT).
func decodeUser(body []byte) (userModel, error) {
	m := userModel{Active: true}
	attrs, err := object(body, "The request body")
	if err != nil {
		return m, err
	}
	if err := checkSchemas(attrs["schemas"], UserSchema); err != nil {
		return m, err
	}
	for _, k := range slices.Sorted(mapKeys(attrs)) {
		if readOnly[k] || k == "groups" { // groups is readOnly on a user
			continue
		}
		if err := setUserAttr(&m, Path{Attr: k}, attrs[k], "add"); err != nil {
			return m, bodyError(err)
		}
	}
	if strings.TrimSpace(m.UserName) == "" {
		return m, errInvalidValue("\"userName\" is required.")
	}
	return m, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// notKept are the attributes of the core User schema (RFC 7643 section
// 4.1) that Sesame has no place for. Provisioning clients send several by
// default (Entra ID: title, preferredLanguage, addresses, phoneNumbers;
// Okta: locale), so they are accepted and dropped rather than failing
// every request; they are not in /Schemas, and are never returned.
// Attributes outside the schema are refused.
var notKept = map[string]bool{
	"nickname": true, "profileurl": true, "title": true, "usertype": true, "preferredlanguage": true,
	"locale": true, "timezone": true, "phonenumbers": true, "ims": true, "photos": true,
	"addresses": true, "entitlements": true, "roles": true, "x509certificates": true,
}

// setUserAttr applies an add or replace of one attribute path.
func setUserAttr(m *userModel, p Path, raw json.RawMessage, op string) error {
	var err error
	if notKept[p.Attr] {
		return nil
	}
	if p.Attr == "password" {
		return errInvalidValue("Sesame keeps no passwords: people sign in with passkeys. Turn off password sync for this client.")
	}
	noSub := p.Filter == nil && p.Sub == ""
	switch {
	case p.Attr == "username" && noSub:
		m.UserName, err = str(raw, "userName")
		if err == nil && strings.TrimSpace(m.UserName) == "" {
			err = errInvalidValue("\"userName\" cannot be empty.")
		}
	case p.Attr == "displayname" && noSub:
		m.DisplayName, err = str(raw, "displayName")
	case p.Attr == "externalid" && noSub:
		m.ExternalID, err = str(raw, "externalId")
	case p.Attr == "active" && noSub:
		m.Active, err = boolean(raw, "active")
	case p.Attr == "name" && noSub:
		if isNull(raw) {
			m.GivenName, m.FamilyName = "", ""
			return nil
		}
		attrs, err := object(raw, "\"name\"")
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(mapKeys(attrs)) {
			if err := setUserAttr(m, Path{Attr: "name", Sub: k}, attrs[k], op); err != nil {
				return err
			}
		}
	case p.Attr == "name" && p.Filter == nil:
		switch p.Sub {
		case "formatted":
			m.DisplayName, err = str(raw, "name.formatted")
		case "givenname":
			m.GivenName, err = str(raw, "name.givenName")
		case "familyname":
			m.FamilyName, err = str(raw, "name.familyName")
		default:
			return errInvalidPath("\"name." + p.Sub + "\" is not supported: Sesame keeps name.formatted, name.givenName and name.familyName.")
		}
	case p.Attr == "emails" && noSub:
		m.Email, err = emailFromList(raw)
	case p.Attr == "emails" && p.Filter != nil && p.Sub == "value":
		m.Email, err = str(raw, "emails.value")
	case p.Attr == "emails" && p.Filter != nil && p.Sub == "":
		var one json.RawMessage
		one, err = json.Marshal([]json.RawMessage{raw})
		if err == nil {
			m.Email, err = emailFromList(one)
		}
	default:
		return errInvalidPath("\"" + p.String() + "\" is not an attribute Sesame keeps for a user; supported: userName, displayName, name, emails, active, externalId.")
	}
	return err
}

// emailFromList picks the one address Sesame keeps: the primary one, or
// else the first.
func emailFromList(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", errInvalidValue("\"emails\" must be a list of {\"value\": ...} objects.")
	}
	chosen := ""
	for i, item := range list {
		attrs, err := object(item, "An email")
		if err != nil {
			return "", errInvalidValue("\"emails\" must be a list of {\"value\": ...} objects.")
		}
		v, err := str(attrs["value"], "emails.value")
		if err != nil {
			return "", err
		}
		for k := range attrs {
			if k != "value" && k != "type" && k != "primary" && k != "display" {
				return "", errInvalidPath("\"emails." + k + "\" is not supported.")
			}
		}
		primary := false
		if p, ok := attrs["primary"]; ok {
			if primary, err = boolean(p, "emails.primary"); err != nil {
				return "", err
			}
		}
		if i == 0 || primary {
			chosen = v
		}
		if primary {
			break
		}
	}
	return chosen, nil
}

// removeUserAttr applies a remove.
func removeUserAttr(m *userModel, p Path) error {
	switch {
	case notKept[p.Attr]:
	case p.Attr == "externalid" && p.Filter == nil && p.Sub == "":
		m.ExternalID = ""
	case p.Attr == "displayname" && p.Filter == nil && p.Sub == "":
		m.DisplayName = ""
	case p.Attr == "emails":
		if p.Sub != "" && p.Sub != "value" {
			return errInvalidPath("\"" + p.String() + "\" is not supported.")
		}
		m.Email = ""
	case p.Attr == "name" && p.Filter == nil:
		switch p.Sub {
		case "":
			m.GivenName, m.FamilyName = "", ""
		case "formatted":
			m.DisplayName = ""
		case "givenname":
			m.GivenName = ""
		case "familyname":
			m.FamilyName = ""
		default:
			return errInvalidPath("\"name." + p.Sub + "\" is not supported.")
		}
	case (p.Attr == "username" || p.Attr == "active") && p.Filter == nil && p.Sub == "":
		return errMutability("\"" + p.Attr + "\" is required and cannot be removed; set active to false to disable the user.")
	default:
		return errInvalidPath("\"" + p.String() + "\" is not an attribute Sesame keeps for a user.")
	}
	return nil
}

// patchOp is one PATCH operation.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// decodePatch reads a PatchOp request.
func decodePatch(body []byte) ([]patchOp, error) {
	attrs, err := object(body, "The request body")
	if err != nil {
		return nil, err
	}
	if err := checkSchemas(attrs["schemas"], PatchOpSchema); err != nil {
		return nil, err
	}
	for k := range attrs {
		if k != "schemas" && k != "operations" {
			return nil, errInvalidSyntax("A PATCH request has \"schemas\" and \"Operations\" only, not \"" + k + "\".")
		}
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(attrs["operations"], &raws); err != nil || len(raws) == 0 {
		return nil, errInvalidSyntax("\"Operations\" must be a non-empty list.")
	}
	ops := make([]patchOp, 0, len(raws))
	for _, r := range raws {
		o, err := object(r, "An operation")
		if err != nil {
			return nil, err
		}
		var op patchOp
		for k, v := range o {
			switch k {
			case "op":
				op.Op, err = str(v, "op")
			case "path":
				op.Path, err = str(v, "path")
			case "value":
				op.Value = v
			default:
				err = errInvalidSyntax("An operation has \"op\", \"path\" and \"value\" only, not \"" + k + "\".")
			}
			if err != nil {
				return nil, err
			}
		}
		op.Op = strings.ToLower(op.Op)
		switch op.Op {
		case "add", "replace":
			if op.Value == nil {
				return nil, errInvalidValue("The \"" + op.Op + "\" operation needs a value.")
			}
		case "remove":
			if strings.TrimSpace(op.Path) == "" {
				return nil, errNoTarget("The \"remove\" operation needs a path.")
			}
		default:
			return nil, errInvalidSyntax("\"" + op.Op + "\" is not a PATCH operation: use add, replace or remove.")
		}
		ops = append(ops, op)
	}
	return ops, nil
}

var valueFilterAttrs = []string{"value", "type", "primary"}

// patchUser applies the operations in order to a copy of m.
func patchUser(m userModel, ops []patchOp) (userModel, error) {
	for _, op := range ops {
		if op.Path == "" {
			attrs, err := object(op.Value, "The value of a \""+op.Op+"\" without a path")
			if err != nil {
				return m, err
			}
			for _, k := range slices.Sorted(mapKeys(attrs)) {
				if readOnly[k] {
					continue
				}
				p, err := ParsePath(k, valueFilterAttrs...)
				if err != nil {
					return m, err
				}
				if err := setUserAttr(&m, p, attrs[k], op.Op); err != nil {
					return m, err
				}
			}
			continue
		}
		p, err := ParsePath(op.Path, valueFilterAttrs...)
		if err != nil {
			return m, err
		}
		if op.Op == "remove" {
			err = removeUserAttr(&m, p)
		} else {
			err = setUserAttr(&m, p, op.Value, op.Op)
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// decodeGroup reads a whole group (POST, PUT).
func decodeGroup(body []byte) (groupModel, error) {
	var m groupModel
	attrs, err := object(body, "The request body")
	if err != nil {
		return m, err
	}
	if err := checkSchemas(attrs["schemas"], GroupSchema); err != nil {
		return m, err
	}
	for _, k := range slices.Sorted(mapKeys(attrs)) {
		if readOnly[k] {
			continue
		}
		if err := setGroupAttr(&m, Path{Attr: k}, attrs[k], "replace"); err != nil {
			return m, bodyError(err)
		}
	}
	if strings.TrimSpace(m.DisplayName) == "" {
		return m, errInvalidValue("\"displayName\" is required.")
	}
	return m, nil
}

func setGroupAttr(m *groupModel, p Path, raw json.RawMessage, op string) error {
	var err error
	if p.Filter != nil || p.Sub != "" {
		return errInvalidPath("\"" + p.String() + "\" cannot be set; add or remove members with the path \"members\", or remove one with members[value eq \"id\"].")
	}
	switch p.Attr {
	case "displayname":
		m.DisplayName, err = str(raw, "displayName")
		if err == nil && strings.TrimSpace(m.DisplayName) == "" {
			err = errInvalidValue("\"displayName\" cannot be empty.")
		}
	case "externalid":
		m.ExternalID, err = str(raw, "externalId")
	case "members":
		var ids []string
		if ids, err = memberIDs(raw); err != nil {
			return err
		}
		if op == "replace" {
			m.Members = nil
		}
		for _, id := range ids {
			if !slices.Contains(m.Members, id) {
				m.Members = append(m.Members, id)
			}
		}
	default:
		return errInvalidPath("\"" + p.String() + "\" is not an attribute Sesame keeps for a group; supported: displayName, externalId, members.")
	}
	return err
}

// memberIDs reads [{"value": "id"}, ...] (one object alone is accepted too).
func memberIDs(raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		raw = append(append([]byte{'['}, raw...), ']')
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errInvalidValue("\"members\" must be a list of {\"value\": \"user id\"} objects.")
	}
	var ids []string
	for _, item := range list {
		attrs, err := object(item, "A member")
		if err != nil {
			return nil, errInvalidValue("\"members\" must be a list of {\"value\": \"user id\"} objects.")
		}
		for k := range attrs {
			if k != "value" && k != "display" && k != "$ref" && k != "type" {
				return nil, errInvalidPath("\"members." + k + "\" is not supported.")
			}
		}
		id, err := str(attrs["value"], "members.value")
		if err != nil {
			return nil, err
		}
		if id == "" {
			return nil, errInvalidValue("Every member needs a \"value\": the user's id.")
		}
		if t, ok := attrs["type"]; ok {
			if ts, _ := str(t, "members.type"); ts != "" && !strings.EqualFold(ts, "User") {
				return nil, errInvalidValue("Groups cannot be members of groups in Sesame.")
			}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func removeGroupAttr(m *groupModel, p Path, raw json.RawMessage) error {
	switch {
	case p.Attr == "externalid" && p.Filter == nil && p.Sub == "":
		m.ExternalID = ""
	case p.Attr == "displayname" && p.Filter == nil && p.Sub == "":
		return errMutability("\"displayName\" is required and cannot be removed.")
	case p.Attr == "members" && p.Filter == nil && p.Sub == "":
		if raw == nil || isNull(raw) {
			m.Members = nil
			return nil
		}
		// Entra ID names the members to remove in the value.
		ids, err := memberIDs(raw)
		if err != nil {
			return err
		}
		m.Members = slices.DeleteFunc(m.Members, func(id string) bool { return slices.Contains(ids, id) })
	case p.Attr == "members" && p.Filter != nil && p.Sub == "":
		if p.Filter.Attr != "value" {
			return errInvalidPath("Members are selected by value: members[value eq \"id\"].")
		}
		id, _ := p.Filter.Value.(string)
		m.Members = slices.DeleteFunc(m.Members, func(m string) bool { return m == id })
	default:
		return errInvalidPath("\"" + p.String() + "\" is not an attribute Sesame keeps for a group.")
	}
	return nil
}

// patchGroup applies the operations in order to a copy of m.
func patchGroup(m groupModel, ops []patchOp) (groupModel, error) {
	m.Members = slices.Clone(m.Members)
	for _, op := range ops {
		if op.Path == "" {
			attrs, err := object(op.Value, "The value of a \""+op.Op+"\" without a path")
			if err != nil {
				return m, err
			}
			for _, k := range slices.Sorted(mapKeys(attrs)) {
				if readOnly[k] {
					continue
				}
				p, err := ParsePath(k, "value")
				if err != nil {
					return m, err
				}
				if err := setGroupAttr(&m, p, attrs[k], op.Op); err != nil {
					return m, err
				}
			}
			continue
		}
		p, err := ParsePath(op.Path, "value")
		if err != nil {
			return m, err
		}
		if op.Op == "remove" {
			err = removeGroupAttr(&m, p, op.Value)
		} else {
			err = setGroupAttr(&m, p, op.Value, op.Op)
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// bodyError: an unknown attribute in a whole resource is a body that does
// not follow the schema (invalidSyntax), where in a PATCH it is a bad path.
func bodyError(err error) error {
	if e, ok := err.(*Error); ok && e.SCIMType == "invalidPath" {
		return errInvalidSyntax(e.Detail)
	}
	return err
}
