package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/dataset"
	"github.com/argo-eci/argo-eci/imagecache"
)

// Name is the plugin's name: templates with `plugin: {argo-eci: {...}}` are ours.
const Name = "argo-eci"

// Spec is the object under the template's `plugin.argo-eci` key: exactly one of its fields is set.
type Spec struct {
	// Dataset warms a Fluid dataset cache.
	Dataset *dataset.Spec `json:"dataset,omitempty"`
	// ImageCache pre-warms an ECI image cache.
	ImageCache *imagecache.Spec `json:"imageCache,omitempty"`
}

// Request is a decoded template.execute call for one of our templates.
type Request struct {
	// Workflow identifies the calling workflow (name, namespace, UID).
	Workflow executorplugins.ObjectMeta
	// Template is the template's name, for logs.
	Template string
	// Spec is the validated argo-eci object.
	Spec Spec
}

// errProtocol marks a request the agent would never send (not JSON, no workflow or template):
// answered with 400 because it says nothing about any template.
var errProtocol = errors.New("malformed template.execute request")

// DecodeRequest decodes a template.execute body. mine is false (and err nil) for templates that are
// not argo-eci's. A protocol problem wraps errProtocol; bad argo-eci input is a
// *badinput.Error naming the field (the node fails with its message).
func DecodeRequest(body []byte) (req *Request, mine bool, err error) {
	var args executorplugins.ExecuteTemplateArgs
	if err := json.Unmarshal(body, &args); err != nil {
		return nil, false, fmt.Errorf("%w: %w", errProtocol, err)
	}
	if args.Workflow == nil || args.Template == nil {
		return nil, false, fmt.Errorf("%w: workflow and template are required", errProtocol)
	}
	if args.Template.Plugin == nil || len(args.Template.Plugin.Value) == 0 {
		return nil, false, nil
	}
	var plugins map[string]json.RawMessage
	if err := json.Unmarshal(args.Template.Plugin.Value, &plugins); err != nil {
		return nil, false, fmt.Errorf("%w: template.plugin: %w", errProtocol, err)
	}
	raw, ok := plugins[Name]
	if !ok {
		return nil, false, nil
	}
	wf := args.Workflow.ObjectMeta
	if wf.UID == "" || wf.Namespace == "" || wf.Name == "" {
		return nil, true, fmt.Errorf("%w: workflow.metadata name, namespace and uid are required", errProtocol)
	}
	req = &Request{Workflow: wf, Template: args.Template.Name}
	root := field.NewPath(Name)
	if errs := decodeStrict(raw, &req.Spec, root); len(errs) > 0 {
		return nil, true, &badinput.Error{Errs: errs}
	}
	var errs field.ErrorList
	switch s := req.Spec; {
	case s.Dataset != nil && s.ImageCache != nil:
		errs = append(errs, field.Forbidden(root, "set exactly one of dataset or imageCache, not both"))
	case s.Dataset != nil:
		errs = s.Dataset.Validate(root.Child("dataset"))
	case s.ImageCache != nil:
		errs = s.ImageCache.Validate(root.Child("imageCache"))
	default:
		errs = append(errs, field.Required(root, "set exactly one of dataset or imageCache"))
	}
	if len(errs) > 0 {
		return nil, true, &badinput.Error{Errs: errs}
	}
	return req, true, nil
}

// decodeStrict decodes raw into v rejecting unknown and duplicate fields and wrong types, with errors
// that name the field (root.dataset.timeout) and say what was expected. Unknown and duplicate fields
// are told apart by decoding once per strictness option, never by reading error text.
func decodeStrict(raw []byte, v any, root *field.Path) field.ErrorList {
	unknown, err := sigsjson.UnmarshalStrict(raw, v, sigsjson.DisallowUnknownFields)
	if err != nil {
		// Decode again with encoding/json only to learn which field had the wrong type.
		var ute *json.UnmarshalTypeError
		if errors.As(json.Unmarshal(raw, new(Spec)), &ute) {
			return field.ErrorList{invalid(fieldPath(root, ute.Field), field.ErrorTypeTypeInvalid,
				fmt.Sprintf("expected %s, got %s", typeName(ute.Type), ute.Value))}
		}
		if isSyntax, _ := sigsjson.SyntaxErrorOffset(err); isSyntax {
			return field.ErrorList{invalid(root, field.ErrorTypeInvalid, "not valid JSON: "+err.Error())}
		}
		return field.ErrorList{invalid(root, field.ErrorTypeInvalid, strings.TrimPrefix(err.Error(), "json: "))}
	}
	duplicate, _ := sigsjson.UnmarshalStrict(raw, new(Spec), sigsjson.DisallowDuplicateFields)
	var errs field.ErrorList
	for _, group := range []struct {
		errs []error
		msg  string
	}{{unknown, "unknown field"}, {duplicate, "duplicate field"}} {
		for _, e := range group.errs {
			var fe sigsjson.FieldError
			if errors.As(e, &fe) {
				errs = append(errs, field.Forbidden(fieldPath(root, fe.FieldPath()), group.msg))
				continue
			}
			errs = append(errs, field.Invalid(root, "", e.Error()))
		}
	}
	return errs
}

// invalid is a field error whose (unknown or unhelpful) value is left out of the message.
func invalid(p *field.Path, t field.ErrorType, detail string) *field.Error {
	return &field.Error{Type: t, Field: p.String(), BadValue: field.OmitValueType{}, Detail: detail}
}

// fieldPath turns "dataset.load.paths" (dots, maybe [i]) into a field.Path below root.
func fieldPath(root *field.Path, dotted string) *field.Path {
	p := root
	for _, part := range strings.Split(dotted, ".") {
		if part != "" {
			p = p.Child(part)
		}
	}
	return p
}

// typeName says what a Go type means in a template.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}
