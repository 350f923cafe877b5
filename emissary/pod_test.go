package emissary

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/plugin"
)

func TestShapePod(t *testing.T) {
	std := mustProfiles(t, fullProfiles)
	plain := mustProfiles(t, "default: p\nprofiles: {p: {}}")
	gpuTmpl := containerTmpl("train", res("4", "16Gi", "", ""))
	gpuTmpl.Container.Resources.Limits[eci.ResourceGPU] = *mustQuantity("1")

	tests := []struct {
		name     string
		profiles *Profiles
		pod      func() *corev1.Pod
		wf       *wfv1.Workflow
		outcome  Outcome
		ann      map[string]string // expected annotations ("" = must be absent)
		codes    []string          // findings that must be present
		err      string            // bad-input field path
	}{
		{
			name: "typical step, full profile", profiles: std,
			pod:     func() *corev1.Pod { return argoPod("fanout-7xk2p", containerTmpl("work", res("1", "2Gi", "1", "2Gi"))) },
			outcome: OutcomeShaped,
			ann: map[string]string{
				eci.AnnotationUseSpecs:         "1-2Gi,1-4Gi,1-8Gi",
				AnnotationSpecReason:           "sum of limits 1 vCPU/2Gi (wait ignored) → 1-2Gi; fallbacks 1-4Gi,1-8Gi",
				AnnotationShapedBy:             "standard",
				eci.AnnotationInstanceFamily:   "ecs.c6,ecs.g6",
				eci.AnnotationSpotStrategy:     "SpotWithPriceLimit",
				eci.AnnotationSpotPriceLimit:   "0.25",
				eci.AnnotationSpotDuration:     "1",
				eci.AnnotationSpotFallback:     "true",
				eci.AnnotationVSwitch:          "vsw-a,vsw-b",
				eci.AnnotationScheduleStrategy: "VSwitchRandom",
				eci.AnnotationFailStrategy:     "fail-fast",
				eci.AnnotationAutoIMC:          "true",
				eci.AnnotationExtraEphemeral:   "50Gi",
				eci.AnnotationRAMRoleName:      "argo-artifacts",
				eci.AnnotationCustomTags:       "workflow:fanout-7xk2p,template:work,team:data",
			},
		},
		{
			name: "wait pushes 2-4Gi to the next spec unless ignored", profiles: plain,
			pod: func() *corev1.Pod { return argoPod("wf", containerTmpl("work", res("2", "4Gi", "", ""))) },
			ann: map[string]string{eci.AnnotationUseSpecs: "2-4Gi,2-8Gi,2-16Gi"}, outcome: OutcomeShaped,
		},
		{
			name: "executorResources count: wait bumps the spec", profiles: mustProfiles(t, "default: p\nprofiles: {p: {executorResources: count, fallbackSpecs: 0}}"),
			pod: func() *corev1.Pod { return argoPod("wf", containerTmpl("work", res("2", "4Gi", "", ""))) },
			ann: map[string]string{eci.AnnotationUseSpecs: "4-8Gi"}, codes: []string{CodeWaitBumpsSpec}, outcome: OutcomeShaped,
		},
		{
			name: "requests when no limits, init as max", profiles: mustProfiles(t, "default: p\nprofiles: {p: {fallbackSpecs: 0}}"),
			pod: func() *corev1.Pod {
				tm := containerTmpl("work", res("", "", "500m", "1Gi"))
				tm.Sidecars = []wfv1.UserContainer{{Container: corev1.Container{Name: "proxy", Image: "envoy", Command: []string{"envoy"}, Resources: res("1", "1Gi", "", "")}}}
				p := argoPod("wf", tm)
				p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "fetch", Image: "busybox", Resources: res("4", "1Gi", "", "")})
				return p
			},
			ann:     map[string]string{eci.AnnotationUseSpecs: "4-2Gi", AnnotationSpecReason: "sum of limits/requests 4 vCPU/2Gi (wait ignored) → 4-2Gi"},
			outcome: OutcomeShaped,
		},
		{
			name: "no resources: 2-4Gi default and a warning", profiles: plain,
			pod:     func() *corev1.Pod { return argoPod("wf", containerTmpl("work", corev1.ResourceRequirements{})) },
			ann:     map[string]string{eci.AnnotationUseSpecs: "2-4Gi,2-8Gi,2-16Gi"},
			codes:   []string{CodeNoResources},
			outcome: OutcomeShaped,
		},
		{
			name: "user's k8s.aliyun.com annotations win", profiles: std,
			pod: func() *corev1.Pod {
				tm := containerTmpl("work", res("1", "2Gi", "", ""))
				tm.Metadata.Annotations = map[string]string{eci.AnnotationUseSpecs: "ecs.c6.large,2-4Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo", eci.AnnotationFailStrategy: "fail-back"}
				return argoPod("wf", tm)
			},
			ann: map[string]string{eci.AnnotationUseSpecs: "ecs.c6.large,2-4Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo",
				eci.AnnotationSpotPriceLimit: "", eci.AnnotationFailStrategy: "fail-back", AnnotationSpecReason: "eci-use-specs set by the user: kept"},
			outcome: OutcomeShaped,
		},
		{
			name: "template annotations override the workflow's", profiles: std,
			pod: func() *corev1.Pod {
				tm := containerTmpl("work", res("1", "2Gi", "", ""))
				tm.Metadata.Annotations = map[string]string{AnnotationSpecs: "ecs.c6.large,ecs.c5.large", AnnotationSpot: "false"}
				return argoPod("wf", tm)
			},
			wf: &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "wf", Annotations: map[string]string{AnnotationSpecs: "8-16Gi", AnnotationFailStrategy: "fail-over"}}},
			ann: map[string]string{eci.AnnotationUseSpecs: "ecs.c6.large,ecs.c5.large", eci.AnnotationSpotStrategy: "",
				eci.AnnotationFailStrategy: "fail-over", eci.AnnotationCustomTags: "workflow:wf,template:work,team:data"},
			outcome: OutcomeShaped,
		},
		{
			name: "workflow names the profile", profiles: std,
			pod:     func() *corev1.Pod { return argoPod("wf", containerTmpl("work", res("1", "2Gi", "", ""))) },
			wf:      &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "wf", Annotations: map[string]string{AnnotationProfile: "ci"}}},
			ann:     map[string]string{AnnotationShapedBy: "ci", eci.AnnotationUseSpecs: "ecs.c6.large,ecs.c5.large,2-4Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo"},
			outcome: OutcomeShaped,
		},
		{
			name: "specs: auto overrides the profile's list", profiles: std,
			pod: func() *corev1.Pod {
				tm := containerTmpl("work", res("1", "2Gi", "", ""))
				tm.Metadata.Annotations = map[string]string{AnnotationSpecs: "auto"}
				return argoPod("wf", tm)
			},
			wf:      &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "wf", Annotations: map[string]string{AnnotationProfile: "ci"}}},
			ann:     map[string]string{AnnotationShapedBy: "ci", eci.AnnotationUseSpecs: "1-2Gi,1-4Gi,1-8Gi"},
			outcome: OutcomeShaped,
		},
		{
			name: "namespace selector", profiles: std,
			pod: func() *corev1.Pod {
				p := argoPod("wf", containerTmpl("work", res("1", "2Gi", "", "")))
				p.Namespace = "ci"
				return p
			},
			ann: map[string]string{AnnotationShapedBy: "ci"}, outcome: OutcomeShaped,
		},
		{
			name: "no default profile: left alone", profiles: mustProfiles(t, "profiles: {p: {}}"),
			pod:     func() *corev1.Pod { return argoPod("wf", containerTmpl("work", res("1", "2Gi", "", ""))) },
			ann:     map[string]string{AnnotationShapedBy: ""},
			outcome: OutcomeSkipped,
		},
		{
			name: "skip annotation on the workflow", profiles: std,
			pod:     func() *corev1.Pod { return argoPod("wf", containerTmpl("work", res("1", "2Gi", "", ""))) },
			wf:      &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "wf", Annotations: map[string]string{AnnotationSkip: "true"}}},
			outcome: OutcomeSkipped,
		},
		{
			name: "not an Argo pod", profiles: std,
			pod: func() *corev1.Pod {
				return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}}}
			},
			outcome: OutcomeSkipped,
		},
		{
			name: "unknown profile", profiles: std,
			pod: func() *corev1.Pod { return argoPod("wf", containerTmpl("work", res("1", "2Gi", "", ""))) },
			wf:  &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "wf", Annotations: map[string]string{AnnotationProfile: "gold"}}},
			err: `workflow wf metadata.annotations["argo-eci.io/profile"]`,
		},
		{
			name: "invalid specs annotation", profiles: std,
			pod: func() *corev1.Pod {
				tm := containerTmpl("work", res("1", "2Gi", "", ""))
				tm.Metadata.Annotations = map[string]string{AnnotationSpecs: "2-3Gi"}
				return argoPod("wf", tm)
			},
			err: `metadata.annotations["argo-eci.io/specs"]`,
		},
		{
			name: "conflicting specs annotations", profiles: std,
			pod: func() *corev1.Pod {
				tm := containerTmpl("work", res("1", "2Gi", "", ""))
				tm.Metadata.Annotations = map[string]string{AnnotationSpecs: "4-8Gi", eci.AnnotationUseSpecs: "2-4Gi"}
				return argoPod("wf", tm)
			},
			err: `metadata.annotations["argo-eci.io/specs"]`,
		},
		{
			name: "bad spot override", profiles: std,
			pod: func() *corev1.Pod {
				tm := containerTmpl("work", res("1", "2Gi", "", ""))
				tm.Metadata.Annotations = map[string]string{AnnotationSpot: "cheap"}
				return argoPod("wf", tm)
			},
			err: `metadata.annotations["argo-eci.io/spot"]`,
		},
		{
			name: "GPU without ECS types", profiles: plain,
			pod:     func() *corev1.Pod { return argoPod("wf", gpuTmpl) },
			ann:     map[string]string{eci.AnnotationUseSpecs: ""},
			codes:   []string{CodeGPUNeedsType},
			outcome: OutcomeShaped,
		},
		{
			name: "GPU with an ECS type", profiles: plain,
			pod: func() *corev1.Pod {
				tm := gpuTmpl.DeepCopy()
				tm.Metadata.Annotations = map[string]string{AnnotationSpecs: "ecs.gn6i-c4g1.xlarge"}
				return argoPod("wf", tm)
			},
			ann:     map[string]string{eci.AnnotationUseSpecs: "ecs.gn6i-c4g1.xlarge"},
			outcome: OutcomeShaped,
		},
		{
			name: "hostPath, incompatible skip", profiles: std,
			pod: func() *corev1.Pod {
				tm := containerTmpl("work", res("1", "2Gi", "", ""))
				tm.Volumes = []corev1.Volume{{Name: "docker", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/run/docker.sock"}}}}
				return argoPod("wf", tm)
			},
			codes: []string{CodeHostPath}, outcome: OutcomeSkipped, ann: map[string]string{AnnotationShapedBy: ""},
		},
		{
			name: "privileged, incompatible deny", profiles: mustProfiles(t, "default: p\nprofiles: {p: {incompatible: deny}}"),
			pod: func() *corev1.Pod {
				p := argoPod("wf", containerTmpl("work", res("1", "2Gi", "", "")))
				container(p, "main").SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
				return p
			},
			codes: []string{CodePrivileged}, outcome: OutcomeDenied,
		},
		{
			name: "hostNetwork, incompatible warn", profiles: mustProfiles(t, "default: p\nprofiles: {p: {incompatible: warn}}"),
			pod: func() *corev1.Pod {
				p := argoPod("wf", containerTmpl("work", res("1", "2Gi", "", "")))
				p.Spec.HostNetwork = true
				return p
			},
			codes: []string{CodeHostNetwork}, outcome: OutcomeShaped,
		},
		{
			name: "agent pod stays", profiles: mustProfiles(t, "default: p\nprofiles: {p: {agentPod: stay}}"),
			pod:     agentPod,
			outcome: OutcomeSkipped, codes: []string{CodeAgentStays},
		},
		{
			name: "agent pod on ECI", profiles: plain,
			pod:     agentPod,
			outcome: OutcomeShaped,
			ann:     map[string]string{eci.AnnotationCustomTags: "workflow:wf,template:agent", eci.AnnotationUseSpecs: "0.25-0.5Gi,0.25-1Gi,0.5-1Gi"},
		},
		{
			name: "artifact-GC pod", profiles: plain,
			pod: func() *corev1.Pod {
				p := agentPod()
				p.Labels[common.LabelKeyComponent] = "artifact-gc"
				return p
			},
			outcome: OutcomeShaped, ann: map[string]string{eci.AnnotationCustomTags: "workflow:wf,template:artifact-gc"},
		},
		{
			name: "cron workflow names the tag", profiles: plain,
			pod: func() *corev1.Pod {
				return argoPod("nightly-1732233600", containerTmpl("work", res("1", "2Gi", "", "")))
			},
			wf: &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1732233600",
				Labels: map[string]string{common.LabelKeyCronWorkflow: "nightly"}}},
			ann: map[string]string{eci.AnnotationCustomTags: "workflow:nightly,template:work"}, outcome: OutcomeShaped,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.pod()
			before := in.DeepCopy()
			res, err := NewEngine(tt.profiles).ShapePod(in, tt.wf)
			if !reflect.DeepEqual(in, before) {
				t.Fatal("ShapePod mutated its input")
			}
			if tt.err != "" {
				var fe *badinput.Error
				if !errors.As(err, &fe) || fe.Field() != tt.err {
					t.Fatalf("error = %v, want a *badinput.Error at %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.outcome {
				t.Fatalf("outcome = %s (%s), want %s", res.Outcome, res.Reason, tt.outcome)
			}
			for k, want := range tt.ann {
				got, ok := res.Pod.Annotations[k]
				if want == "" && ok {
					t.Errorf("%s = %q, want absent", k, got)
				} else if want != "" && got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for _, c := range tt.codes {
				if hasCode(res.Findings, c) == nil {
					t.Errorf("no %s finding in %+v", c, res.Findings)
				}
			}
			if res.Outcome != OutcomeShaped {
				if !reflect.DeepEqual(res.Pod, before) {
					t.Error("a pod that was not shaped changed")
				}
				return
			}
			checkInvariants(t, before, res.Pod)
			again, err := NewEngine(tt.profiles).ShapePod(res.Pod, tt.wf)
			if err != nil || !reflect.DeepEqual(again.Pod, res.Pod) {
				t.Errorf("second ShapePod changed the pod (err %v)", err)
			}
		})
	}
}

// checkInvariants asserts everything Argo's emissary executor relies on is as the controller made it.
func checkInvariants(t *testing.T, before, after *corev1.Pod) {
	t.Helper()
	names := func(cs []corev1.Container) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	if !reflect.DeepEqual(names(before.Spec.Containers), names(after.Spec.Containers)) ||
		!reflect.DeepEqual(names(before.Spec.InitContainers), names(after.Spec.InitContainers)) {
		t.Errorf("container names/order changed: %v → %v", names(before.Spec.Containers), names(after.Spec.Containers))
	}
	agent := ArgoPodKind(before) == PodKindAgent
	if !reflect.DeepEqual(before.Spec.Volumes, after.Spec.Volumes) ||
		!reflect.DeepEqual(withoutPatchRate(before.Spec.InitContainers, agent), withoutPatchRate(after.Spec.InitContainers, agent)) {
		t.Error("volumes or init containers changed")
	}
	for i, c := range after.Spec.Containers {
		b := before.Spec.Containers[i]
		if !reflect.DeepEqual(b.Command, c.Command) || !reflect.DeepEqual(b.Args, c.Args) || !reflect.DeepEqual(b.VolumeMounts, c.VolumeMounts) || !reflect.DeepEqual(b.Resources, c.Resources) {
			t.Errorf("container %s: command, args, mounts or resources changed", c.Name)
		}
		_, ignored := envOf(&c, eci.EnvResourceIgnore)
		_, wasIgnored := envOf(&b, eci.EnvResourceIgnore)
		pluginSidecar := agent && !agentContainer(c.Name)
		if ignored && !wasIgnored && !common.IsArgoSidecar(c.Name) && !pluginSidecar {
			t.Errorf("container %s got %s; only wait, artifact-plugin and the agent's executor-plugin sidecars may", c.Name, eci.EnvResourceIgnore)
		}
		if v, ok := envOf(&c, plugin.AgentPatchRateEnv); ok && !agent && v != "" {
			t.Errorf("container %s of a non-agent pod got %s", c.Name, plugin.AgentPatchRateEnv)
		}
	}
	if !reflect.DeepEqual(before.OwnerReferences, after.OwnerReferences) {
		t.Error("owner references changed")
	}
	for k, v := range before.Labels {
		if after.Labels[k] != v {
			t.Errorf("label %s changed", k)
		}
	}
	for k, v := range before.Annotations {
		if after.Annotations[k] != v {
			t.Errorf("annotation %s changed", k)
		}
	}
}

// withoutPatchRate drops ARGO_AGENT_PATCH_RATE from the agent pod's containers (the profile's
// agent.patchRate sets it); other pods' containers are returned as they are.
func withoutPatchRate(cs []corev1.Container, agent bool) []corev1.Container {
	if !agent {
		return cs
	}
	out := make([]corev1.Container, len(cs))
	for i, c := range cs {
		c = *c.DeepCopy()
		c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == plugin.AgentPatchRateEnv })
		if len(c.Env) == 0 {
			c.Env = nil
		}
		out[i] = c
	}
	return out
}

func agentPod() *corev1.Pod {
	c := corev1.Container{Image: "quay.io/argoproj/argoexec:v4.0.7", Command: []string{"argoexec"},
		Resources: res("100m", "256M", "100m", "256M")}
	initC, mainC := c, c
	initC.Name, initC.Args = "init", []string{"agent", "init"}
	mainC.Name, mainC.Args = "main", []string{"agent", "main"}
	plugin := corev1.Container{Name: "argo-eci-executor-plugin", Image: "argo-eci:dev", Command: []string{"argo-eci", "plugin"},
		Resources: res("100m", "64Mi", "50m", "32Mi")}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "wf-1340600742-agent", Namespace: "argo",
			Labels:          map[string]string{common.LabelKeyWorkflow: "wf", common.LabelKeyCompleted: "false", common.LabelKeyComponent: "agent"},
			Annotations:     map[string]string{common.AnnotationKeyDefaultContainer: "main"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow", Name: "wf", UID: "u1", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{InitContainers: []corev1.Container{initC}, Containers: []corev1.Container{plugin, mainC}},
	}
}

func TestShapePodTagsAtMostThree(t *testing.T) {
	p := mustProfiles(t, "default: p\nprofiles: {p: {tags: {team: data, cost: ml, env: prod}}}")
	res, err := NewEngine(p).ShapePod(argoPod("wf", containerTmpl("work", res("1", "2Gi", "", ""))), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Pod.Annotations[eci.AnnotationCustomTags]
	if got != "workflow:wf,template:work,cost:ml" || strings.Count(got, ",") != 2 {
		t.Errorf("tags = %q", got)
	}
}

func TestShapePodPlacement(t *testing.T) {
	p := mustProfiles(t, "default: p\nprofiles: {p: {placement: [label, scheduler, nodeSelector]}}")
	res, err := NewEngine(p).ShapePod(argoPod("wf", containerTmpl("work", res("1", "2Gi", "", ""))), nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := res.Pod.Spec
	if res.Pod.Labels[eci.LabelECI] != "true" || ps.SchedulerName != eci.SchedulerName || ps.NodeSelector["type"] != "virtual-kubelet" ||
		len(ps.Tolerations) != 1 || ps.Tolerations[0].Key != eci.TaintKeyProvider || ps.Tolerations[0].Operator != corev1.TolerationOpExists {
		t.Errorf("placement: labels %v, spec %+v", res.Pod.Labels, ps)
	}
	if v, _ := envOf(container(res.Pod, "wait"), eci.EnvResourceIgnore); v != "TRUE" {
		t.Error("wait not marked ignored")
	}
	if _, ok := envOf(container(res.Pod, "main"), eci.EnvResourceIgnore); ok {
		t.Error("main marked ignored")
	}
}

func TestTemplateNameFromJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"name":"work","container":{}}`: "work",
		`{"container":{},"name":"work"}`: "work",
		`{"name":"a\"b","container":{}}`: `a"b`,
		`{"name":"caf\u00e9"}`:           "café",
		`not json`:                       "",
		`{"name":"unterminated`:          "",
	} {
		if got := templateNameFromJSON(in); got != want {
			t.Errorf("templateNameFromJSON(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestShapePodPrecedenceNotConflict(t *testing.T) {
	// The profile's explicit specs and a workflow-level argo-eci.io/specs yield to the pod's own
	// eci-use-specs; only a disagreement side by side is an error (see TestShapePod).
	p := mustProfiles(t, "default: p\nprofiles: {p: {specs: [4-8Gi]}}")
	tm := containerTmpl("work", res("1", "2Gi", "", ""))
	tm.Metadata.Annotations = map[string]string{eci.AnnotationUseSpecs: "2-4Gi"}
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "wf", Annotations: map[string]string{AnnotationSpecs: "8-16Gi"}}}
	res, err := NewEngine(p).ShapePod(argoPod("wf", tm), wf)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Pod.Annotations[eci.AnnotationUseSpecs]; got != "2-4Gi" {
		t.Errorf("eci-use-specs = %q, want the pod's own 2-4Gi", got)
	}
}

func TestShapePodGPUWithCPUType(t *testing.T) {
	tm := containerTmpl("train", res("4", "15Gi", "", ""))
	tm.Container.Resources.Limits[eci.ResourceGPU] = *mustQuantity("1")
	tm.Metadata.Annotations = map[string]string{AnnotationSpecs: "ecs.c6.xlarge"}
	res, err := NewEngine(DefaultProfiles()).ShapePod(argoPod("wf", tm), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := hasCode(res.Findings, CodeGPUNeedsType); f == nil || f.Severity != SeverityError {
		t.Errorf("a CPU instance type for a GPU pod: %+v", res.Findings)
	}
}

func TestEngineConcurrentUse(t *testing.T) {
	e := NewEngine(mustProfiles(t, fullProfiles))
	pod := argoPod("wf", containerTmpl("work", res("1", "2Gi", "", "")))
	want, err := e.ShapePod(pod, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				got, err := e.ShapePod(pod, nil)
				if err == nil && !reflect.DeepEqual(got.Pod, want.Pod) {
					err = errors.New("different result under concurrency")
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
