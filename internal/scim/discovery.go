package scim

import (
	"net/http"
	"strings"
)

// Discovery (RFC 7644 section 4): what this service provider supports, so
// a client can configure itself, and what it does not, so it does not try.

func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	s.write(w, http.StatusOK, map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/sesame-idp/sesame#provisioning-with-scim",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "A token issued with `sesame scim token issue NAME`, sent as Authorization: Bearer TOKEN.",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": s.BaseURL + "/ServiceProviderConfig"},
	})
}

func (s *Server) resourceTypeList() []map[string]any {
	return []map[string]any{
		{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
			"id":      "User", "name": "User", "endpoint": "/Users", "description": "A person who signs in to Sesame",
			"schema": UserSchema, "schemaExtensions": []any{},
			"meta": map[string]any{"resourceType": "ResourceType", "location": s.BaseURL + "/ResourceTypes/User"},
		},
		{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
			"id":      "Group", "name": "Group", "endpoint": "/Groups", "description": "A set of users (no nesting)",
			"schema": GroupSchema, "schemaExtensions": []any{},
			"meta": map[string]any{"resourceType": "ResourceType", "location": s.BaseURL + "/ResourceTypes/Group"},
		},
	}
}

func (s *Server) resourceTypes(w http.ResponseWriter, r *http.Request) {
	list := s.resourceTypeList()
	res := make([]any, len(list))
	for i, t := range list {
		res[i] = t
	}
	s.write(w, http.StatusOK, listResponse{Schemas: []string{ListSchema}, TotalResults: len(res), StartIndex: 1, ItemsPerPage: len(res), Resources: res})
}

func (s *Server) resourceType(w http.ResponseWriter, r *http.Request) {
	for _, t := range s.resourceTypeList() {
		if strings.EqualFold(t["id"].(string), r.PathValue("name")) {
			s.write(w, http.StatusOK, t)
			return
		}
	}
	writeError(w, r, s.Log, errNotFound("There is no resource type "+r.PathValue("name")+"; Sesame has User and Group."))
}

func attr(name, typ string, o map[string]any) map[string]any {
	a := map[string]any{
		"name": name, "type": typ, "multiValued": false, "description": "", "required": false,
		"caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
	}
	for k, v := range o {
		a[k] = v
	}
	return a
}

func (s *Server) schemaList() []map[string]any {
	sub := func(attrs ...map[string]any) map[string]any { return map[string]any{"subAttributes": attrs} }
	memberSubs := func(refType string) []map[string]any {
		return []map[string]any{
			attr("value", "string", map[string]any{"mutability": "immutable", "description": "The id of the " + strings.ToLower(refType)}),
			attr("display", "string", map[string]any{"mutability": "readOnly"}),
			attr("$ref", "reference", map[string]any{"referenceTypes": []string{refType}, "mutability": "immutable"}),
			attr("type", "string", map[string]any{"mutability": "immutable", "canonicalValues": []string{refType}}),
		}
	}
	user := []map[string]any{
		attr("userName", "string", map[string]any{"required": true, "uniqueness": "server",
			"description": "1 to 64 of letters, digits and . _ - @; Sesame keeps it lower-case (an email address works)"}),
		attr("externalId", "string", map[string]any{"caseExact": true, "uniqueness": "server"}),
		attr("displayName", "string", map[string]any{"description": "Defaults to name.givenName name.familyName, then to userName"}),
		attr("name", "complex", sub(
			attr("formatted", "string", map[string]any{"description": "The same as displayName"}),
			attr("givenName", "string", map[string]any{"description": "Only used to make displayName when none is given; not kept", "returned": "never"}),
			attr("familyName", "string", map[string]any{"description": "Only used to make displayName when none is given; not kept", "returned": "never"}),
		)),
		attr("active", "boolean", map[string]any{"description": "false disables the user: their sessions and app tokens end and they cannot sign in"}),
		attr("emails", "complex", map[string]any{"multiValued": true, "description": "Sesame keeps one address: the primary one, else the first",
			"subAttributes": []map[string]any{
				attr("value", "string", nil), attr("type", "string", nil), attr("primary", "boolean", nil), attr("display", "string", nil),
			}}),
		attr("groups", "complex", map[string]any{"multiValued": true, "mutability": "readOnly", "subAttributes": memberSubs("Group")}),
	}
	group := []map[string]any{
		attr("displayName", "string", map[string]any{"required": true, "uniqueness": "server", "caseExact": true,
			"description": "1 to 64 characters; changing it renames the group (its id and members stay)"}),
		attr("externalId", "string", map[string]any{"caseExact": true, "uniqueness": "server"}),
		attr("members", "complex", map[string]any{"multiValued": true, "subAttributes": memberSubs("User")}),
	}
	return []map[string]any{
		{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Schema"}, "id": UserSchema, "name": "User", "description": "User Account. Other core User attributes (title, locale, phoneNumbers, addresses, ...) are accepted and dropped; attributes outside the core schema, the enterprise extension and password are refused.",
			"attributes": user, "meta": map[string]any{"resourceType": "Schema", "location": s.BaseURL + "/Schemas/" + UserSchema}},
		{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Schema"}, "id": GroupSchema, "name": "Group", "description": "Group",
			"attributes": group, "meta": map[string]any{"resourceType": "Schema", "location": s.BaseURL + "/Schemas/" + GroupSchema}},
	}
}

func (s *Server) schemas(w http.ResponseWriter, r *http.Request) {
	list := s.schemaList()
	res := make([]any, len(list))
	for i, t := range list {
		res[i] = t
	}
	s.write(w, http.StatusOK, listResponse{Schemas: []string{ListSchema}, TotalResults: len(res), StartIndex: 1, ItemsPerPage: len(res), Resources: res})
}

func (s *Server) schema(w http.ResponseWriter, r *http.Request) {
	for _, t := range s.schemaList() {
		if strings.EqualFold(t["id"].(string), r.PathValue("id")) {
			s.write(w, http.StatusOK, t)
			return
		}
	}
	writeError(w, r, s.Log, errNotFound("There is no schema "+r.PathValue("id")+"."))
}
