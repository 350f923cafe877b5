package emissary

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/argo-eci/argo-eci/badinput"
)

// Bad user input (an unknown profile named by an annotation, an invalid spec string, a malformed
// profile document or conflicting annotations) is a *badinput.Error whose problems name the field
// (`metadata.annotations["argo-eci.io/specs"]`, `profiles.standard.fallbackSpecs`). The webhook
// turns it into a denial of the admission request (the object would otherwise run unshaped or
// mis-shaped); render and lint exit non-zero with its message. Classify it with errors.As.

// fieldError is bad input at path, msg saying what was found and expected.
func fieldError(path, msg string) *badinput.Error {
	return &badinput.Error{Errs: field.ErrorList{badinput.Invalid(path, msg)}}
}

func fieldErrorf(path, format string, args ...any) *badinput.Error {
	return fieldError(path, fmt.Sprintf(format, args...))
}
