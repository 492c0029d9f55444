// Package problem is Sesame's one error type: an error that carries a
// message safe to show to the person at the browser or terminal, a stable
// machine code, an HTTP status, and a detail for the operator's log only.
package problem

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sesame-idp/sesame/internal/store"
)

// Error is returned by domain code whenever a request is refused.
type Error struct {
	Status  int    // HTTP status to answer with
	Code    string // stable, machine-readable: "unknown_credential", "origin_mismatch", ...
	Message string // for the user: plain words, no library text, no secrets
	Detail  string // for the log: what exactly went wrong
	Err     error  // underlying cause, if any
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// New makes a refusal with a user-safe message.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// WithDetail returns a copy with an operator detail added.
func (e *Error) WithDetail(format string, args ...any) *Error {
	c := *e
	c.Detail = fmt.Sprintf(format, args...)
	return &c
}

// Wrap returns a copy carrying cause as the underlying error.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// As extracts an *Error from err. Anything else is an internal error whose
// text must not reach the user.
func As(err error) *Error {
	var p *Error
	if errors.As(err, &p) {
		return p
	}
	if errors.Is(err, store.ErrUnavailable) {
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "Sesame cannot reach its database right now. Please try again in a moment.", Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal",
		Message: "Something went wrong on our side. Please try again.", Err: err}
}

// BadRequest is a malformed request.
func BadRequest(message string) *Error {
	return New(http.StatusBadRequest, "bad_request", message)
}
