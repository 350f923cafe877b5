package emissary

import "fmt"

// FieldError is bad user input: an unknown profile named by an annotation, an invalid spec string, a
// malformed profile document or conflicting annotations. Path names the field
// (`metadata.annotations["argo-eci.io/specs"]`, `profiles.standard.fallbackSpecs`).
//
// The webhook turns a FieldError into a denial of the admission request (the object would otherwise
// run unshaped or mis-shaped); render and lint exit non-zero with its message. Use errors.As.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Msg) }

func fieldErrorf(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}
