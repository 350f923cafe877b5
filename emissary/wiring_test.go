package emissary

import (
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/plugin"
	"github.com/argo-eci/argo-eci/recovery"
)

// retriedWorkflow is Workflow wf whose step "<wf>[0].<tmpl>" is a retry node with one finished
// attempt (phase, message) and a second one running, as Argo records them.
func retriedWorkflow(wf, tmpl string, phase wfv1.NodePhase, message string) *wfv1.Workflow {
	step := wf + "[0]." + tmpl
	return &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: wf, Namespace: "argo"},
		Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowRunning, Nodes: wfv1.Nodes{
			wf + "-1": {ID: wf + "-1", Name: step, Type: wfv1.NodeTypeRetry, Phase: wfv1.NodeRunning, Children: []string{wf + "-2", wf + "-3"}},
			wf + "-2": {ID: wf + "-2", Name: step + "(0)", Type: wfv1.NodeTypePod, Phase: phase, Message: message},
			wf + "-3": {ID: wf + "-3", Name: step + "(1)", Type: wfv1.NodeTypePod, Phase: wfv1.NodePending},
		}},
	}
}

// retryPod is the pod of attempt 1 of the step in retriedWorkflow.
func retryPod(wf string, tmpl *wfv1.Template) *corev1.Pod {
	pod := argoPod(wf, tmpl)
	pod.Annotations[common.AnnotationKeyNodeName] = wf + "[0]." + tmpl.Name + "(1)"
	pod.Annotations[common.AnnotationKeyNodeID] = wf + "-3"
	return pod
}

const spotProfiles = `default: p
profiles:
  p:
    spot: {strategy: SpotAsPriceGo, fallback: true}
    zones: {vswitches: [vsw-a, vsw-b, vsw-c]}
    retry: {limit: 3}
`

func TestShapePodRecovery(t *testing.T) {
	tests := []struct {
		name     string
		profiles string
		phase    wfv1.NodePhase
		message  string
		want     map[string]string // annotation → value; "" = absent, "*" = present
		specs    string            // eci-use-specs prefix
		memLimit string            // main container memory limit after shaping ("" = unchanged)
		failures []recovery.Failure
	}{
		{name: "first attempt on spot: api-evict only", profiles: spotProfiles,
			want:  map[string]string{eci.AnnotationSpotStrategy: "SpotAsPriceGo", eci.AnnotationSpotReleaseStrategy: eci.SpotReleaseAPIEvict, recovery.AnnotationRecovery: ""},
			specs: "1-2Gi,"},
		{name: "after BidFailed: pay-as-you-go", profiles: spotProfiles, phase: wfv1.NodeFailed, message: "BidFailed: the spot instance was released",
			want:     map[string]string{eci.AnnotationSpotStrategy: "", eci.AnnotationSpotFallback: "", eci.AnnotationSpotReleaseStrategy: "", recovery.AnnotationRecovery: "*"},
			specs:    "1-2Gi,",
			failures: []recovery.Failure{recovery.FailureSpotReclaim}},
		{name: "after an eviction: pay-as-you-go", profiles: spotProfiles, phase: wfv1.NodeError, message: recovery.MessageDeleted,
			want:     map[string]string{eci.AnnotationSpotStrategy: "", recovery.AnnotationRecovery: "*"},
			failures: []recovery.Failure{recovery.FailureEvicted}},
		{name: "after BidFailed with spotAfterReclaim: still spot", profiles: spotProfiles + "    recovery: {spotAfterReclaim: true}\n",
			phase: wfv1.NodeFailed, message: "BidFailed",
			want: map[string]string{eci.AnnotationSpotStrategy: "SpotAsPriceGo"}},
		{name: "after OOMKilled: more memory", profiles: spotProfiles, phase: wfv1.NodeFailed, message: "main: OOMKilled (exit code 137)",
			want:  map[string]string{recovery.AnnotationRecovery: "*"},
			specs: "1-4Gi,", memLimit: "4Gi",
			failures: []recovery.Failure{recovery.FailureOOMKilled}},
		{name: "after OOMKilled with maxMemorySteps 0: same spec", profiles: spotProfiles + "    recovery: {maxMemorySteps: 0}\n",
			phase: wfv1.NodeFailed, message: "main: OOMKilled (exit code 137)",
			specs: "1-2Gi,", memLimit: "2Gi", failures: []recovery.Failure{recovery.FailureOOMKilled}},
		{name: "after ProviderFailed: specs and zones rotated", profiles: spotProfiles, phase: wfv1.NodeFailed, message: "ProviderFailed: no stock of 1-2Gi",
			want:  map[string]string{eci.AnnotationVSwitch: "vsw-b,vsw-c,vsw-a", recovery.AnnotationRecovery: "*"},
			specs: "1-4Gi,", failures: []recovery.Failure{recovery.FailureStockOut}},
		{name: "after the user's own failure: nothing changes", profiles: spotProfiles, phase: wfv1.NodeFailed, message: "Error (exit code 1)",
			want:  map[string]string{eci.AnnotationSpotStrategy: "SpotAsPriceGo", eci.AnnotationVSwitch: "vsw-a,vsw-b,vsw-c"},
			specs: "1-2Gi,"},
		{name: "apiEvict false", profiles: spotProfiles + "    recovery: {apiEvict: false}\n",
			want: map[string]string{eci.AnnotationSpotStrategy: "SpotAsPriceGo", eci.AnnotationSpotReleaseStrategy: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := containerTmpl("shard", res("1", "2Gi", "", ""))
			var wf *wfv1.Workflow
			pod := argoPod("wf", tm)
			if tt.phase != "" {
				wf = retriedWorkflow("wf", "shard", tt.phase, tt.message)
				pod = retryPod("wf", tm)
			}
			res, err := NewEngine(mustProfiles(t, tt.profiles)).ShapePod(pod, wf)
			if err != nil {
				t.Fatal(err)
			}
			ann := res.Pod.Annotations
			for k, want := range tt.want {
				got, ok := ann[k]
				switch {
				case want == "" && ok:
					t.Errorf("%s = %q, want absent", k, got)
				case want == "*" && !ok:
					t.Errorf("%s absent", k)
				case want != "" && want != "*" && got != want:
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !strings.HasPrefix(ann[eci.AnnotationUseSpecs]+",", tt.specs) {
				t.Errorf("eci-use-specs = %q, want %s...", ann[eci.AnnotationUseSpecs], tt.specs)
			}
			if tt.memLimit != "" {
				if got := container(res.Pod, "main").Resources.Limits[corev1.ResourceMemory]; got.String() != tt.memLimit {
					t.Errorf("main memory limit = %s, want %s", got.String(), tt.memLimit)
				}
			}
			if len(res.Recovered) != len(tt.failures) || (len(tt.failures) > 0 && res.Recovered[0] != tt.failures[0]) {
				t.Errorf("Recovered = %v, want %v", res.Recovered, tt.failures)
			}
			if _, _, ok := DecisionKeys(ann); !ok {
				t.Errorf("decision record %q does not match the pod's annotations", ann[AnnotationDecision])
			}
			again, err := NewEngine(mustProfiles(t, tt.profiles)).ShapePod(res.Pod, wf)
			if err != nil || again.Pod.Annotations[eci.AnnotationUseSpecs] != ann[eci.AnnotationUseSpecs] ||
				again.Pod.Annotations[eci.AnnotationSpotStrategy] != ann[eci.AnnotationSpotStrategy] {
				t.Errorf("second pass: %v, eci-use-specs %q spot %q", err, again.Pod.Annotations[eci.AnnotationUseSpecs], again.Pod.Annotations[eci.AnnotationSpotStrategy])
			}
		})
	}
}

func TestWorkflowRetryStrategyAdded(t *testing.T) {
	tests := []struct {
		name, spec string
		added      bool
	}{
		{"no retryStrategy anywhere", "", true},
		{"template's own", "", false},
		{"workflow-level spec.retryStrategy", "  retryStrategy: {limit: 1}\n", false},
		{"templateDefaults", "  templateDefaults: {retryStrategy: {limit: 1}}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own := ""
			if tt.name == "template's own" {
				own = "    retryStrategy: {limit: 9, retryPolicy: OnError}\n"
			}
			wf, _ := shapeYAML(t, NewEngine(mustProfiles(t, spotProfiles)), "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: r-}\nspec:\n  entrypoint: main\n"+
				tt.spec+"  templates:\n  - name: main\n"+own+"    container: {image: alpine, command: [\"true\"], resources: {limits: {cpu: \"1\", memory: 2Gi}}}\n")
			rs := tmplByName(&wf.Spec, "main").RetryStrategy
			switch {
			case tt.added && (rs == nil || rs.Expression != recovery.RetryExpression() || rs.RetryPolicy != wfv1.RetryPolicyAlways ||
				rs.Limit.IntValue() != 3 || rs.Backoff == nil || rs.Backoff.Duration != recovery.RetryBackoff):
				t.Errorf("retryStrategy = %+v, want recovery.RetryStrategy(3)", rs)
			case !tt.added && own != "" && (rs == nil || rs.Limit.IntValue() != 9 || rs.Expression != ""):
				t.Errorf("the template's own retryStrategy was replaced: %+v", rs)
			case !tt.added && own == "" && rs != nil:
				t.Errorf("retryStrategy %+v added where Argo applies the user's", rs)
			}
		})
	}
}

func TestParseProfilesWiringFields(t *testing.T) {
	p, err := ParseProfiles([]byte("profiles: {a: {}, b: {sizing: learned, agent: {patchRate: 500ms}, recovery: {spotAfterReclaim: true, maxMemorySteps: 4, apiEvict: false}}, c: {agent: {patchRate: 0s}}}"))
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := p.Profiles["a"], p.Profiles["b"], p.Profiles["c"]
	if a.Sizing != SizingDeclared || a.AgentPatchRate != plugin.DefaultAgentPatchRate || a.Recovery != recovery.DefaultOptions() {
		t.Errorf("defaults: sizing %q patchRate %s recovery %+v", a.Sizing, a.AgentPatchRate, a.Recovery)
	}
	if b.Sizing != SizingLearned || b.AgentPatchRate != 500*time.Millisecond ||
		b.Recovery != (recovery.Options{SpotAfterReclaim: true, MaxMemorySteps: 4, APIEvict: false}) {
		t.Errorf("b: sizing %q patchRate %s recovery %+v", b.Sizing, b.AgentPatchRate, b.Recovery)
	}
	if c.AgentPatchRate != 0 {
		t.Errorf("c: patchRate %s, want 0 (leave the controller's)", c.AgentPatchRate)
	}
	for doc, path := range map[string]string{
		"profiles: {a: {recovery: {maxMemorySteps: 5}}}":   "profiles.a.recovery.maxMemorySteps",
		"profiles: {a: {recovery: {maxMemorySteps: -1}}}":  "profiles.a.recovery.maxMemorySteps",
		"profiles: {a: {recovery: {spotAfterReclaim: 1}}}": "profiles.a.recovery.spotAfterReclaim",
		"profiles: {a: {recovery: {retries: 1}}}":          "profiles.a.recovery.retries",
		"profiles: {a: {agent: {patchRate: fast}}}":        "profiles.a.agent.patchRate",
		"profiles: {a: {agent: {patchRate: -1s}}}":         "profiles.a.agent.patchRate",
		"profiles: {a: {agent: {patchRate: 2h}}}":          "profiles.a.agent.patchRate",
		"profiles: {a: {sizing: measured}}":                "profiles.a.sizing",
	} {
		_, err := ParseProfiles([]byte(doc))
		fe, ok := badinput.As(err)
		if !ok || fe.Field() != path {
			t.Errorf("%s: error %v, want one naming %s", doc, err, path)
		}
	}
}

// bigPluginAgentPod is the agent pod with an executor-plugin sidecar that declares more than the
// agent itself.
func bigPluginAgentPod() *corev1.Pod {
	pod := agentPod()
	pod.Spec.Containers[0].Resources = res("1", "2Gi", "", "")
	return pod
}

func TestShapeAgentPod(t *testing.T) {
	tests := []struct {
		name, profiles string
		rate           string // ARGO_AGENT_PATCH_RATE on init and main ("" = absent)
	}{
		{"defaults", "default: p\nprofiles: {p: {}}", "1s"},
		{"spot profile", spotProfiles, "1s"},
		{"patchRate 250ms", "default: p\nprofiles: {p: {agent: {patchRate: 250ms}}}", "250ms"},
		{"patchRate 0s leaves the controller's", "default: p\nprofiles: {p: {agent: {patchRate: 0s}}}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := NewEngine(mustProfiles(t, tt.profiles)).ShapePod(bigPluginAgentPod(), nil)
			if err != nil || res.Outcome != OutcomeShaped {
				t.Fatalf("%v %+v", err, res)
			}
			pod := res.Pod
			if got := pod.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "0.25-0.5Gi,") {
				t.Errorf("eci-use-specs = %q (%s), want 0.25-0.5Gi first: the plugin sidecar must not raise it", got, res.Reason)
			}
			for _, k := range []string{eci.AnnotationSpotStrategy, eci.AnnotationSpotFallback, eci.AnnotationSpotReleaseStrategy} {
				if v, ok := pod.Annotations[k]; ok {
					t.Errorf("agent pod got %s=%q; it never runs on spot", k, v)
				}
			}
			if v, _ := envOf(&pod.Spec.Containers[0], eci.EnvResourceIgnore); v != "TRUE" {
				t.Error("plugin sidecar not marked " + eci.EnvResourceIgnore)
			}
			if _, ok := envOf(container(pod, "main"), eci.EnvResourceIgnore); ok {
				t.Error("agent main marked ignored")
			}
			for _, c := range []*corev1.Container{&pod.Spec.InitContainers[0], container(pod, "main")} {
				if v, _ := envOf(c, plugin.AgentPatchRateEnv); v != tt.rate {
					t.Errorf("%s: %s = %q, want %q", c.Name, plugin.AgentPatchRateEnv, v, tt.rate)
				}
			}
			if _, ok := envOf(&pod.Spec.Containers[0], plugin.AgentPatchRateEnv); ok {
				t.Errorf("plugin sidecar got %s", plugin.AgentPatchRateEnv)
			}
		})
	}
}

func TestWithoutRecoveredMemory(t *testing.T) {
	tests := []struct {
		name, ann, limit, want string
	}{
		{"raised by recovery", "2Gi,4Gi", "4Gi", "2Gi"},
		{"limit changed since", "2Gi,4Gi", "6Gi", "6Gi"},
		{"never upwards", "100Gi,4Gi", "4Gi", "4Gi"},
		{"zero", "0,4Gi", "4Gi", "4Gi"},
		{"malformed", "4Gi", "4Gi", "4Gi"},
		{"not a quantity", "lots,4Gi", "4Gi", "4Gi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := argoPod("wf", containerTmpl("work", res("1", tt.limit, "", "")))
			pod.Annotations[AnnotationRecoveryMemory] = tt.ann
			before := pod.DeepCopy()
			got := WithoutRecoveredMemory(pod)
			if lim := container(got, "main").Resources.Limits[corev1.ResourceMemory]; lim.String() != tt.want {
				t.Errorf("main memory limit %s, want %s", lim.String(), tt.want)
			}
			if lim := container(pod, "main").Resources.Limits[corev1.ResourceMemory]; lim.String() != container(before, "main").Resources.Limits.Memory().String() {
				t.Error("the input pod was modified")
			}
		})
	}
}
