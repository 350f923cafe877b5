package sizing

import (
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argo-eci/argo-eci/eci"
)

func TestOwnerOf(t *testing.T) {
	tests := []struct {
		name  string
		meta  metav1.ObjectMeta
		ref   *wfv1.WorkflowTemplateRef
		kind  OwnerKind
		owner string
	}{
		{"cron", metav1.ObjectMeta{Name: "n-1", Labels: map[string]string{"workflows.argoproj.io/cron-workflow": "nightly", "workflows.argoproj.io/workflow-template": "wt"}}, nil, OwnerCronWorkflow, "nightly"},
		{"workflow template label", metav1.ObjectMeta{Name: "b-x", Labels: map[string]string{"workflows.argoproj.io/workflow-template": "build"}}, nil, OwnerWorkflowTemplate, "build"},
		{"cluster template label", metav1.ObjectMeta{Name: "b-x", Labels: map[string]string{"workflows.argoproj.io/cluster-workflow-template": "shared"}}, nil, OwnerClusterWorkflowTemplate, "shared"},
		{"workflowTemplateRef", metav1.ObjectMeta{Name: "b-x"}, &wfv1.WorkflowTemplateRef{Name: "build"}, OwnerWorkflowTemplate, "build"},
		{"clusterWorkflowTemplateRef", metav1.ObjectMeta{Name: "b-x"}, &wfv1.WorkflowTemplateRef{Name: "shared", ClusterScope: true}, OwnerClusterWorkflowTemplate, "shared"},
		{"generateName", metav1.ObjectMeta{Name: "etl-abcde", GenerateName: "etl-"}, nil, OwnerWorkflow, "etl"},
		{"plain name", metav1.ObjectMeta{Name: "one-off"}, nil, OwnerWorkflow, "one-off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wf := &wfv1.Workflow{ObjectMeta: tt.meta, Spec: wfv1.WorkflowSpec{WorkflowTemplateRef: tt.ref}}
			if kind, owner := OwnerOf(wf); kind != tt.kind || owner != tt.owner {
				t.Errorf("got %s/%s, want %s/%s", kind, owner, tt.kind, tt.owner)
			}
		})
	}
}

func res(cpu, mem string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Limits: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}
}

func TestRunsOf(t *testing.T) {
	start := metav1.NewTime(t0)
	end := metav1.NewTime(t0.Add(90 * time.Second))
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: "build-x7k2p", Namespace: "ci", GenerateName: "build-",
			Labels: map[string]string{"workflows.argoproj.io/workflow-template": "build"}},
		Status: wfv1.WorkflowStatus{
			StoredWorkflowSpec: &wfv1.WorkflowSpec{Templates: []wfv1.Template{
				{Name: "compile", Container: &corev1.Container{Resources: res("3", "5Gi")}},
				{Name: "pinned", Metadata: wfv1.Metadata{Annotations: map[string]string{eci.AnnotationUseSpecs: "1-2Gi,2-4Gi"}},
					Script: &wfv1.ScriptTemplate{Container: corev1.Container{Resources: res("8", "32Gi")}}},
				{Name: "bare", Container: &corev1.Container{}},
			}},
			StoredTemplates: map[string]wfv1.Template{
				"namespaced/lib/upload": {Name: "upload", Container: &corev1.Container{Resources: res("500m", "1Gi")},
					Sidecars: []wfv1.UserContainer{{Container: corev1.Container{Resources: res("500m", "512Mi")}}}},
			},
			Nodes: wfv1.Nodes{
				"build-x7k2p":           {ID: "build-x7k2p", Name: "build-x7k2p", Type: wfv1.NodeTypeSteps, Phase: wfv1.NodeSucceeded, StartedAt: start, FinishedAt: end},
				"build-x7k2p-1":         {ID: "build-x7k2p-1", Name: "build-x7k2p[0].compile", TemplateName: "compile", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded, StartedAt: start, FinishedAt: end},
				"build-x7k2p-2":         {ID: "build-x7k2p-2", Name: "build-x7k2p[1].pinned", TemplateName: "pinned", Type: wfv1.NodeTypePod, Phase: wfv1.NodeFailed, Message: "main: OOMKilled (exit code 137)", StartedAt: start, FinishedAt: end},
				"build-x7k2p-3":         {ID: "build-x7k2p-3", Name: "build-x7k2p[2].upload", TemplateRef: &wfv1.TemplateRef{Name: "lib", Template: "upload"}, Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded, StartedAt: start, FinishedAt: end},
				"build-x7k2p-4":         {ID: "build-x7k2p-4", Name: "build-x7k2p[3].bare", TemplateName: "bare", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded, StartedAt: start, FinishedAt: end},
				"build-x7k2p-running":   {ID: "build-x7k2p-running", Name: "build-x7k2p[4].compile", TemplateName: "compile", Type: wfv1.NodeTypePod, Phase: wfv1.NodeRunning, StartedAt: start},
				"build-x7k2p-never-ran": {ID: "build-x7k2p-never-ran", Name: "build-x7k2p[5].compile", TemplateName: "compile", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSkipped},
			},
		},
	}
	got := map[string]PodRun{}
	for _, r := range RunsOf(wf) {
		got[r.Identity.Template] = r
	}
	if len(got) != 4 {
		t.Fatalf("runs %+v, want compile, pinned, upload, bare", got)
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte("build-x7k2p[0].compile"))
	wantPod := fmt.Sprintf("build-x7k2p-compile-%d", h.Sum32())
	c := got["compile"]
	if c.Pod != wantPod || c.Identity != (Identity{"ci", OwnerWorkflowTemplate, "build", "compile"}) || c.End.Sub(c.Start) != 90*time.Second {
		t.Errorf("compile: %+v, want pod %s", c, wantPod)
	}
	for tmpl, want := range map[string]string{"compile": "4-8Gi", "pinned": "1-2Gi", "upload": "1-2Gi", "bare": "2-4Gi"} {
		if got[tmpl].Declared.String() != want {
			t.Errorf("%s declared %s, want %s", tmpl, got[tmpl].Declared, want)
		}
	}
	if !got["pinned"].OOMKilled || got["compile"].OOMKilled {
		t.Error("OOMKilled not read from the node message")
	}

	wf.Annotations = map[string]string{"workflows.argoproj.io/pod-name-format": "v1"}
	for _, r := range RunsOf(wf) {
		if r.Identity.Template == "compile" && r.Pod != "build-x7k2p-1" {
			t.Errorf("v1 pod name %s, want the node ID", r.Pod)
		}
	}
}

func TestIdentityOfObject(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "nightly", Namespace: "ci"}
	tests := []struct {
		obj  runtime.Object
		want Identity
		ok   bool
	}{
		{&wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "etl-x", GenerateName: "etl-", Namespace: "ci"}}, Identity{"ci", OwnerWorkflow, "etl", "t"}, true},
		{&wfv1.CronWorkflow{ObjectMeta: meta}, Identity{"ci", OwnerCronWorkflow, "nightly", "t"}, true},
		{&wfv1.WorkflowTemplate{ObjectMeta: meta}, Identity{"ci", OwnerWorkflowTemplate, "nightly", "t"}, true},
		{&wfv1.ClusterWorkflowTemplate{ObjectMeta: metav1.ObjectMeta{Name: "shared"}}, Identity{}, false},
		{&corev1.Pod{}, Identity{}, false},
	}
	for _, tt := range tests {
		got, ok := IdentityOfObject(tt.obj, "t")
		if got != tt.want || ok != tt.ok {
			t.Errorf("%T: %v %v, want %v %v", tt.obj, got, ok, tt.want, tt.ok)
		}
	}
}
