package scim

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/sesame-idp/sesame/internal/problem"
)

// ErrorSchema is the schema of every SCIM error response (RFC 7644
// section 3.12).
const ErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// Error is a SCIM error: an HTTP status, a scimType for 400s and a detail
// safe to show the provisioning client.
type Error struct {
	Status   int
	SCIMType string
	Detail   string
}

func (e *Error) Error() string {
	return "scim " + strconv.Itoa(e.Status) + " " + e.SCIMType + ": " + e.Detail
}

func errInvalidFilter(d string) *Error { return &Error{http.StatusBadRequest, "invalidFilter", d} }
func errInvalidPath(d string) *Error   { return &Error{http.StatusBadRequest, "invalidPath", d} }
func errInvalidValue(d string) *Error  { return &Error{http.StatusBadRequest, "invalidValue", d} }
func errInvalidSyntax(d string) *Error { return &Error{http.StatusBadRequest, "invalidSyntax", d} }
func errNoTarget(d string) *Error      { return &Error{http.StatusBadRequest, "noTarget", d} }
func errMutability(d string) *Error    { return &Error{http.StatusBadRequest, "mutability", d} }
func errUniqueness(d string) *Error    { return &Error{http.StatusConflict, "uniqueness", d} }
func errNotFound(d string) *Error      { return &Error{Status: http.StatusNotFound, Detail: d} }

// asSCIM turns any error into a SCIM error: the directory's refusals keep
// their status and user-safe message; anything else is a 500 (or 503)
// whose cause goes to the log only.
func asSCIM(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	p := problem.As(err)
	s := &Error{Status: p.Status, Detail: p.Message}
	switch p.Status {
	case http.StatusConflict:
		if p.Code == "user_exists" || p.Code == "group_exists" || p.Code == "external_id_taken" {
			s.SCIMType = "uniqueness"
		}
	case http.StatusBadRequest:
		s.SCIMType = "invalidValue"
	}
	return s
}

type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	SCIMType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e := asSCIM(err)
	if e.Status >= 500 {
		log.ErrorContext(r.Context(), "scim request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	b, _ := json.Marshal(errorBody{Schemas: []string{ErrorSchema}, Status: strconv.Itoa(e.Status), SCIMType: e.SCIMType, Detail: e.Detail})
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(e.Status)
	w.Write(b)
}

const contentType = "application/scim+json"
