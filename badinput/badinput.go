// Package badinput is argo-eci's one error type for bad input: a profiles.yaml, an annotation, a
// workflow, an executor-plugin template, an artifact configuration or an argo-eci-sizing ConfigMap
// entry that does not decode or does not validate. Every decoder of user input returns an *Error
// holding the problems as a field.ErrorList, each naming its field and what was expected, and every
// caller classifies it with errors.As and never reads its text:
//
//   - the webhook denies the admission request with 400 and the message;
//   - the executor plugin answers a Failed node whose message names the field;
//   - the artifact plugin answers "invalid artifact configuration";
//   - the CLI exits with its bad-input code.
//
// DecodeYAML and DecodeJSON are the one strict decoder of such input: typed structs, unknown and
// duplicate fields refused, every problem a field.Error with its full path; each input's own
// Validate(*field.Path) field.ErrorList then checks the values.
//
// The package imports only apimachinery's field package and the YAML and JSON libraries Kubernetes
// itself uses (sigs.k8s.io/yaml, sigs.k8s.io/json, go.yaml.in/yaml/v3), so every package can
// import it.
package badinput

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Error is bad input: every problem found, each with the field it concerns (Kubernetes field-path
// syntax: `profiles.standard.fallbackSpecs`, `argo-eci.dataset.timeout`, `data[key].spec`) and what
// was expected.
type Error struct {
	// Input names the document when the field paths alone do not ("configuration"); it prefixes
	// the message. Empty for most inputs.
	Input string
	// Errs are the problems, in the order found. An Error always has at least one.
	Errs field.ErrorList
}

// New returns an *Error for errs, or nil when errs is empty (so `return badinput.New(...)` is a
// nil error for valid input).
func New(input string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return &Error{Input: input, Errs: errs}
}

// Errorf is one problem at path (a field path as text; "" for the input as a whole) whose value is
// not repeated: the message says what is wrong and what was expected.
func Errorf(path, format string, args ...any) *Error {
	return &Error{Errs: field.ErrorList{Invalid(path, fmt.Sprintf(format, args...))}}
}

// Invalid is a problem at path (text) whose message already says what was found and expected.
func Invalid(path, detail string) *field.Error {
	return &field.Error{Type: field.ErrorTypeInvalid, Field: path, BadValue: field.OmitValueType{}, Detail: detail}
}

// As returns the *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Error lists every problem: `[input: ]field: message; field: message`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Input != "" {
		b.WriteString(e.Input)
		b.WriteString(": ")
	}
	if len(e.Errs) == 0 {
		b.WriteString("invalid input")
		return b.String()
	}
	b.WriteString(problem(e.Errs[0]))
	if len(e.Errs) > 1 {
		b.WriteString("; ")
		b.WriteString(e.rest())
	}
	return b.String()
}

// Field is the path of the first problem ("" when it concerns the input as a whole).
func (e *Error) Field() string {
	if len(e.Errs) == 0 {
		return ""
	}
	return e.Errs[0].Field
}

// Message says what is wrong without the first problem's path (which Field returns): the first
// problem's message, then every further problem with its path.
func (e *Error) Message() string {
	if len(e.Errs) == 0 {
		return "invalid input"
	}
	if len(e.Errs) == 1 {
		return message(e.Errs[0])
	}
	return message(e.Errs[0]) + "; " + e.rest()
}

func (e *Error) rest() string {
	msgs := make([]string, 0, len(e.Errs)-1)
	for _, fe := range e.Errs[1:] {
		msgs = append(msgs, problem(fe))
	}
	return strings.Join(msgs, "; ")
}

// problem is one problem with its path.
func problem(fe *field.Error) string {
	if fe.Field == "" {
		return message(fe)
	}
	return fe.Field + ": " + message(fe)
}

// message is one problem without its path: Kubernetes' wording ("Invalid value: 9: expected
// 0..3"), or only the detail when the value is omitted because the detail says it.
func message(fe *field.Error) string {
	if _, omitted := fe.BadValue.(field.OmitValueType); omitted && fe.Type == field.ErrorTypeInvalid && fe.Detail != "" {
		return fe.Detail
	}
	return fe.ErrorBody()
}
