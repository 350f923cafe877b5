package plugin

import (
	"encoding/json"
	"errors"
	"fmt"

	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	"k8s.io/apimachinery/pkg/util/validation/field"

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
	if errs := badinput.DecodeJSON(raw, &req.Spec, root); len(errs) > 0 {
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
