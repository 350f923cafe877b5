package sizing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	"k8s.io/apimachinery/pkg/runtime"
)

// OwnerKind says what a template's workflow came from.
type OwnerKind string

// Owner kinds, strongest first in [OwnerOf].
const (
	OwnerCronWorkflow            OwnerKind = "CronWorkflow"
	OwnerWorkflowTemplate        OwnerKind = "WorkflowTemplate"
	OwnerClusterWorkflowTemplate OwnerKind = "ClusterWorkflowTemplate"
	// OwnerWorkflow: a workflow submitted on its own; Owner is its generateName prefix (or its name).
	OwnerWorkflow OwnerKind = "Workflow"
)

var kindShort = map[OwnerKind]string{
	OwnerCronWorkflow:            "cron",
	OwnerWorkflowTemplate:        "wt",
	OwnerClusterWorkflowTemplate: "cwt",
	OwnerWorkflow:                "wf",
}

// Identity names one template across all its runs.
type Identity struct {
	Namespace string
	Kind      OwnerKind
	Owner     string
	Template  string
}

// String renders the identity for people: "ci/WorkflowTemplate/build/compile".
func (id Identity) String() string {
	return id.Namespace + "/" + string(id.Kind) + "/" + id.Owner + "/" + id.Template
}

// maxKeyLen is the longest ConfigMap data key Kubernetes accepts.
const maxKeyLen = 253

var configMapKeyRE = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// Key is the identity's data key in the argo-eci-sizing ConfigMap: namespace, owner kind, owner and
// template joined by "_" (which none of those names may contain), e.g. "ci_wt_build_compile".
// Identities too long for a key end in a hash of their owner and template. ok is false when the
// identity has a part that cannot appear in a key.
func (id Identity) Key() (key string, ok bool) {
	short, known := kindShort[id.Kind]
	if !known || id.Namespace == "" || id.Owner == "" || id.Template == "" {
		return "", false
	}
	for _, part := range []string{id.Namespace, id.Owner, id.Template} {
		if strings.Contains(part, "_") || !configMapKeyRE.MatchString(part) {
			return "", false
		}
	}
	key = id.Namespace + "_" + short + "_" + id.Owner + "_" + id.Template
	if len(key) <= maxKeyLen {
		return key, true
	}
	sum := sha256.Sum256([]byte(id.Owner + "/" + id.Template))
	return id.Namespace + "_" + short + "_" + hex.EncodeToString(sum[:16]), true
}

// OwnerOf returns what workflow wf came from: a CronWorkflow, a (Cluster)WorkflowTemplate (by
// Argo's labels or spec.workflowTemplateRef), else its generateName prefix, else its name.
func OwnerOf(wf *wfv1.Workflow) (OwnerKind, string) {
	l := wf.Labels
	switch {
	case l[common.LabelKeyCronWorkflow] != "":
		return OwnerCronWorkflow, l[common.LabelKeyCronWorkflow]
	case l[common.LabelKeyWorkflowTemplate] != "":
		return OwnerWorkflowTemplate, l[common.LabelKeyWorkflowTemplate]
	case l[common.LabelKeyClusterWorkflowTemplate] != "":
		return OwnerClusterWorkflowTemplate, l[common.LabelKeyClusterWorkflowTemplate]
	}
	if ref := wf.Spec.WorkflowTemplateRef; ref != nil && ref.Name != "" {
		if ref.ClusterScope {
			return OwnerClusterWorkflowTemplate, ref.Name
		}
		return OwnerWorkflowTemplate, ref.Name
	}
	if p := strings.TrimRight(wf.GenerateName, "-."); p != "" {
		return OwnerWorkflow, p
	}
	return OwnerWorkflow, wf.Name
}

// IdentityOf is the identity of template (the name Argo gives the pod's template, which is
// templateRef.template for a templateRef step) run by workflow wf. The webhook calls it with the
// pod's Workflow and the template name from the pod; recommend with each node of the Workflow.
func IdentityOf(wf *wfv1.Workflow, template string) Identity {
	kind, owner := OwnerOf(wf)
	return Identity{Namespace: wf.Namespace, Kind: kind, Owner: owner, Template: template}
}

// Validate reports what is wrong with id, for error messages.
func (id Identity) Validate() error {
	if _, ok := kindShort[id.Kind]; !ok {
		return fmt.Errorf("kind %q is not one of CronWorkflow, WorkflowTemplate, ClusterWorkflowTemplate, Workflow", id.Kind)
	}
	if _, ok := id.Key(); !ok {
		return fmt.Errorf("namespace, owner and template must be non-empty and use only letters, digits, '-' and '.' (got %s)", id)
	}
	return nil
}

// IdentityOfObject is the identity of template in an object render shapes: a Workflow (as
// [IdentityOf]), a CronWorkflow or a WorkflowTemplate (their runs are learned under their own
// name). ok is false for other objects, ClusterWorkflowTemplates included (their runs are learned
// per namespace, which the template alone does not name).
func IdentityOfObject(obj runtime.Object, template string) (Identity, bool) {
	switch o := obj.(type) {
	case *wfv1.Workflow:
		return IdentityOf(o, template), true
	case *wfv1.CronWorkflow:
		return Identity{Namespace: o.Namespace, Kind: OwnerCronWorkflow, Owner: o.Name, Template: template}, true
	case *wfv1.WorkflowTemplate:
		return Identity{Namespace: o.Namespace, Kind: OwnerWorkflowTemplate, Owner: o.Name, Template: template}, true
	}
	return Identity{}, false
}
