package recovery

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/expr/argoexpr"
	"github.com/argoproj/argo-workflows/v4/util/expr/env"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argo-eci/argo-eci/eci"
)

// Node messages as Argo v4.0.7 writes them for each kind of pod failure.
const (
	msgStockOut = "ProviderFailed: Create ECI failed because the specified instance is out of stock (NoStock): tried 2-4Gi,2-8Gi in vsw-a,vsw-b"
	msgBid      = "BidFailed: the spot instance eci-0001 was released"
	msgOOM      = "main: OOMKilled (exit code 137)"
	msgUserBug  = "main: Error (exit code 1)"
	msgEvicted  = "Pod was evicted: EvictionByEvictionAPI"
	msgSIGTERM  = "main: Error (exit code 143)"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		phase wfv1.NodePhase
		msg   string
		want  Failure
	}{
		{wfv1.NodeFailed, msgStockOut, FailureStockOut},
		{wfv1.NodeFailed, "Create ECI failed: NoStock", FailureStockOut},
		{wfv1.NodeFailed, msgBid, FailureSpotReclaim},
		{wfv1.NodeFailed, "ContainerInstanceExpired", FailureSpotReclaim},
		{wfv1.NodeFailed, msgOOM, FailureOOMKilled},
		{wfv1.NodeError, MessageDeleted, FailureEvicted},
		{wfv1.NodeFailed, msgEvicted, FailureEvicted},
		{wfv1.NodeFailed, msgSIGTERM, FailureEvicted},
		{wfv1.NodeFailed, msgUserBug, FailureOther},
		{wfv1.NodeError, "", FailureOther},
		{wfv1.NodeSucceeded, msgOOM, FailureNone},
		{wfv1.NodeRunning, "", FailureNone},
	}
	for _, tt := range tests {
		if got := Classify(tt.phase, tt.msg); got != tt.want {
			t.Errorf("Classify(%s, %q) = %q, want %q", tt.phase, tt.msg, got, tt.want)
		}
	}
}

// TestRetryExpression evaluates the expression with Argo's own evaluator and scope, as the
// controller does for retryStrategy.expression.
func TestRetryExpression(t *testing.T) {
	tests := []struct {
		status, msg, exitCode string
		want                  bool
	}{
		{"Failed", msgStockOut, "-1", true},
		{"Failed", msgBid, "-1", true},
		{"Failed", msgOOM, "137", true},
		{"Error", MessageDeleted, "-1", true},
		{"Failed", msgEvicted, "-1", true},
		// An API eviction on a kubelet: the containers get SIGTERM and Argo records the main
		// container's exit, not "pod deleted" (seen on the local kubelet node).
		{"Failed", msgSIGTERM, "143", true},
		{"Failed", msgUserBug, "1", false},
		{"Failed", "main: Error (exit code 137)", "137", false},
		{"Error", "failed to save outputs", "-1", false},
		{"Failed", "", "2", false},
	}
	for _, tt := range tests {
		scope := env.GetFuncMap(map[string]interface{}{
			"retries": "0", "lastRetry.exitCode": tt.exitCode, "lastRetry.status": tt.status,
			"lastRetry.duration": "3", "lastRetry.message": tt.msg,
		})
		got, err := argoexpr.EvalBool(RetryExpression(), scope)
		if err != nil {
			t.Fatalf("%s: %v", RetryExpression(), err)
		}
		if got != tt.want {
			t.Errorf("expression on %s %q = %v, want %v", tt.status, tt.msg, got, tt.want)
		}
	}
}

func retriedWorkflow(messages ...string) *wfv1.Workflow {
	nodes := wfv1.Nodes{"retry": {ID: "retry", Name: "wf[0].fan(3:3)", Type: wfv1.NodeTypeRetry}}
	retry := nodes["retry"]
	for i, m := range messages {
		id := "a" + string(rune('0'+i))
		phase := wfv1.NodeFailed
		if m == MessageDeleted {
			phase = wfv1.NodeError
		}
		nodes[id] = wfv1.NodeStatus{ID: id, Name: "wf[0].fan(3:3)(" + string(rune('0'+i)) + ")", Type: wfv1.NodeTypePod, Phase: phase, Message: m}
		retry.Children = append(retry.Children, id)
	}
	// The running attempt is a child too, not finished.
	next := len(messages)
	id := "a" + string(rune('0'+next))
	nodes[id] = wfv1.NodeStatus{ID: id, Name: "wf[0].fan(3:3)(" + string(rune('0'+next)) + ")", Type: wfv1.NodeTypePod, Phase: wfv1.NodePending}
	retry.Children = append(retry.Children, id)
	nodes["retry"] = retry
	return &wfv1.Workflow{Status: wfv1.WorkflowStatus{Nodes: nodes}}
}

func TestPreviousAttempts(t *testing.T) {
	wf := retriedWorkflow(msgBid, msgOOM)
	got := PreviousAttempts(wf, "wf[0].fan(3:3)(2)")
	if len(got) != 2 || got[0].Failure != FailureSpotReclaim || got[1].Failure != FailureOOMKilled {
		t.Fatalf("attempts = %+v", got)
	}
	if got := PreviousAttempts(wf, "wf[0].fan(3:3)(1)"); len(got) != 1 || got[0].Failure != FailureSpotReclaim {
		t.Errorf("attempt 1 sees %+v, want only attempt 0", got)
	}
	for _, name := range []string{"wf[0].fan(3:3)(0)", "wf[0].fan(3:3)", "wf[0].other(1)", "", "x(-1)", "x(a)"} {
		if got := PreviousAttempts(wf, name); len(got) != 0 {
			t.Errorf("PreviousAttempts(%q) = %+v, want none", name, got)
		}
	}
	if got := PreviousAttempts(nil, "x(1)"); got != nil {
		t.Error("nil workflow")
	}
}

func pod(ann map[string]string, mainMem string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: ann},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "wait", Env: []corev1.EnvVar{{Name: eci.EnvResourceIgnore, Value: "TRUE"}},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}}},
			{Name: "main"},
		}}}
	if mainMem != "" {
		p.Spec.Containers[1].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse(mainMem)}
	}
	return p
}

func attempts(failures ...Failure) []Attempt {
	out := make([]Attempt, len(failures))
	for i, f := range failures {
		out[i] = Attempt{Phase: wfv1.NodeFailed, Failure: f}
	}
	return out
}

func spotAnn(extra map[string]string) map[string]string {
	a := map[string]string{
		eci.AnnotationUseSpecs: "2-4Gi,2-8Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo",
		eci.AnnotationSpotDuration: "1", eci.AnnotationVSwitch: "vsw-a,vsw-b,vsw-c",
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name       string
		pod        *corev1.Pod
		attempts   []Attempt
		opts       Options
		wantSet    map[string]string
		wantRemove []string
		wantLimit  string
	}{
		{name: "first spot attempt gets api-evict", pod: pod(spotAnn(nil), ""), opts: DefaultOptions(),
			wantSet: map[string]string{eci.AnnotationSpotReleaseStrategy: "api-evict"}},
		{name: "user's release strategy kept", pod: pod(spotAnn(map[string]string{eci.AnnotationSpotReleaseStrategy: "other"}), ""), opts: DefaultOptions()},
		{name: "api-evict off", pod: pod(spotAnn(nil), ""), opts: Options{MaxMemorySteps: 2}},
		{name: "on-demand pod untouched", pod: pod(map[string]string{eci.AnnotationUseSpecs: "2-4Gi"}, ""), opts: DefaultOptions()},
		{name: "reclaim goes on-demand and keeps the spec list", pod: pod(spotAnn(nil), ""), attempts: attempts(FailureSpotReclaim), opts: DefaultOptions(),
			wantRemove: []string{eci.AnnotationSpotStrategy, eci.AnnotationSpotDuration}},
		{name: "eviction counts as reclaim", pod: pod(spotAnn(nil), ""), attempts: attempts(FailureEvicted), opts: DefaultOptions(),
			wantRemove: []string{eci.AnnotationSpotStrategy, eci.AnnotationSpotDuration}},
		{name: "reclaim stays spot when asked", pod: pod(spotAnn(nil), ""), attempts: attempts(FailureSpotReclaim), opts: Options{SpotAfterReclaim: true, MaxMemorySteps: 2, APIEvict: true},
			wantSet: map[string]string{eci.AnnotationSpotReleaseStrategy: "api-evict"}},
		{name: "OOM steps memory and the main limit", pod: pod(map[string]string{eci.AnnotationUseSpecs: "2-4Gi,4-8Gi"}, "3Gi"), attempts: attempts(FailureOOMKilled), opts: DefaultOptions(),
			wantSet: map[string]string{eci.AnnotationUseSpecs: "2-8Gi,4-16Gi"}, wantLimit: "7Gi"},
		{name: "two OOMs, two steps", pod: pod(map[string]string{eci.AnnotationUseSpecs: "2-4Gi"}, "3Gi"), attempts: attempts(FailureOOMKilled, FailureOOMKilled), opts: DefaultOptions(),
			wantSet: map[string]string{eci.AnnotationUseSpecs: "2-16Gi"}, wantLimit: "15Gi"},
		{name: "OOM steps bounded", pod: pod(map[string]string{eci.AnnotationUseSpecs: "2-4Gi"}, ""), attempts: attempts(FailureOOMKilled, FailureOOMKilled, FailureOOMKilled), opts: Options{MaxMemorySteps: 1},
			wantSet: map[string]string{eci.AnnotationUseSpecs: "2-8Gi"}},
		{name: "OOM without use-specs starts from the rounded resources", pod: pod(nil, "1536Mi"), attempts: attempts(FailureOOMKilled), opts: DefaultOptions(),
			wantSet: map[string]string{eci.AnnotationUseSpecs: "1-4Gi"}, wantLimit: "3584Mi"},
		{name: "OOM of an ECS type", pod: pod(map[string]string{eci.AnnotationUseSpecs: "ecs.c6.large"}, ""), attempts: attempts(FailureOOMKilled), opts: DefaultOptions(),
			wantSet: map[string]string{eci.AnnotationUseSpecs: "2-8Gi"}},
		{name: "stock-out rotates, widens and falls back", pod: pod(spotAnn(nil), ""), attempts: attempts(FailureStockOut), opts: DefaultOptions(),
			wantSet: map[string]string{eci.AnnotationUseSpecs: "2-8Gi,2-4Gi,2-16Gi,4-8Gi,4-16Gi", eci.AnnotationVSwitch: "vsw-b,vsw-c,vsw-a",
				eci.AnnotationSpotFallback: "true", eci.AnnotationSpotReleaseStrategy: "api-evict"}},
		{name: "user bug changes nothing", pod: pod(spotAnn(map[string]string{eci.AnnotationSpotReleaseStrategy: "api-evict"}), "1Gi"), attempts: attempts(FailureOther, FailureOther), opts: DefaultOptions()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decide(tt.pod, tt.attempts, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.wantSet) == 0 && len(d.Set) == 0 {
				d.Set = tt.wantSet
			}
			if !reflect.DeepEqual(d.Set, tt.wantSet) {
				t.Errorf("set %v, want %v", d.Set, tt.wantSet)
			}
			sort.Strings(d.Remove)
			sort.Strings(tt.wantRemove)
			if len(d.Remove)+len(tt.wantRemove) > 0 && !reflect.DeepEqual(d.Remove, tt.wantRemove) {
				t.Errorf("remove %v, want %v", d.Remove, tt.wantRemove)
			}
			switch {
			case tt.wantLimit == "" && d.MainMemoryLimit != nil:
				t.Errorf("main limit %s, want unchanged", d.MainMemoryLimit)
			case tt.wantLimit != "" && (d.MainMemoryLimit == nil || d.MainMemoryLimit.Cmp(resource.MustParse(tt.wantLimit)) != 0):
				t.Errorf("main limit %v, want %s", d.MainMemoryLimit, tt.wantLimit)
			}
			if d.Changed() && len(tt.attempts) > 0 && d.Reason() == "" {
				t.Error("a change after failures without a reason")
			}
			p := tt.pod.DeepCopy()
			d.Apply(p)
			for k, v := range tt.wantSet {
				if p.Annotations[k] != v {
					t.Errorf("after Apply %s = %q", k, p.Annotations[k])
				}
			}
			for _, k := range tt.wantRemove {
				if _, ok := p.Annotations[k]; ok {
					t.Errorf("after Apply %s still set", k)
				}
			}
		})
	}
}

func TestDecideErrors(t *testing.T) {
	if _, err := Decide(pod(map[string]string{eci.AnnotationUseSpecs: "3-5Gi"}, ""), nil, DefaultOptions()); err == nil {
		t.Error("malformed eci-use-specs accepted")
	}
	if _, err := Decide(pod(nil, ""), nil, Options{MaxMemorySteps: 9}); err == nil {
		t.Error("maxMemorySteps 9 accepted")
	}
}

func TestNextMemory(t *testing.T) {
	for in, want := range map[string]string{"2-4Gi": "2-8Gi", "2-16Gi": "4-32Gi", "0.25-1Gi": "0.5-2Gi", "ecs.g6.2xlarge": "8-64Gi"} {
		s, _ := eci.ParseSpec(in)
		got, ok := NextMemory(s)
		if !ok || got.String() != want {
			t.Errorf("NextMemory(%s) = %s, %v; want %s", in, got, ok, want)
		}
	}
	if _, ok := NextMemory(eci.Spec{MilliCPU: 64000, MemoryMiB: 512 * 1024}); ok {
		t.Error("more memory than 64-512Gi")
	}
}

func TestAttemptsDecide(t *testing.T) {
	forPod := func(p *corev1.Pod, wf *wfv1.Workflow, siblings *Siblings, o Options) (Decision, error) {
		return Decide(p, Attempts(p, wf, siblings), o)
	}
	wf := retriedWorkflow(msgOOM)
	p := pod(map[string]string{eci.AnnotationUseSpecs: "2-4Gi", "workflows.argoproj.io/node-name": "wf[0].fan(3:3)(1)"}, "")
	d, err := forPod(p, wf, nil, DefaultOptions())
	if err != nil || d.Set[eci.AnnotationUseSpecs] != "2-8Gi" {
		t.Fatalf("decision = %+v, %v", d, err)
	}
	d.Apply(p)
	if p.Annotations[AnnotationRecovery] == "" {
		t.Error("no recovery reason on the pod")
	}
	first := pod(map[string]string{eci.AnnotationUseSpecs: "2-4Gi", "workflows.argoproj.io/node-name": "wf[0].fan(3:3)(0)"}, "")
	if d, err := forPod(first, wf, nil, DefaultOptions()); err != nil || d.Changed() {
		t.Errorf("first attempt changed: %+v, %v", d, err)
	}
	if d, err := forPod(first, nil, nil, DefaultOptions()); err != nil || d.Changed() {
		t.Errorf("no workflow: %+v, %v", d, err)
	}
	// The node status does not show attempt 1's OOMKill yet; its pod does: two memory steps.
	second := pod(map[string]string{eci.AnnotationUseSpecs: "2-4Gi", "workflows.argoproj.io/node-name": "wf[0].fan(3:3)(2)"}, "")
	siblings := &Siblings{Pods: []corev1.Pod{
		failedPod("wf[0].fan(3:3)(0)", func(p *corev1.Pod) {}), // attempt 0's pod, still there
		failedPod("wf[0].fan(3:3)(1)", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}
		})}}
	d, err = forPod(second, wf, siblings, DefaultOptions())
	if err != nil || d.Set[eci.AnnotationUseSpecs] != "2-16Gi" {
		t.Errorf("with a sibling pod: %+v, %v", d, err)
	}
	if !AttemptsUnknown(second, wf) || AttemptsUnknown(p, wf) || AttemptsUnknown(first, wf) {
		t.Errorf("AttemptsUnknown: attempt 2 with 1 of 2 earlier attempts shown %v, attempt 1 with its one shown %v, attempt 0 %v",
			AttemptsUnknown(second, wf), AttemptsUnknown(p, wf), AttemptsUnknown(first, wf))
	}
}

// A spot reclaim with api-evict deletes the pod. Argo creates the retry's pod before it saves the
// deleted attempt's end, so neither the node status nor the workflow's pods show that attempt: the
// retry must still leave spot (its pod's absence is the eviction), and only when the pods were
// listed.
func TestAttemptsDeletedPod(t *testing.T) {
	wf := retriedWorkflow() // attempt 0 still Pending/Running in the node status
	spotRetry := func() *corev1.Pod {
		return pod(map[string]string{eci.AnnotationUseSpecs: "2-4Gi", eci.AnnotationSpotStrategy: "SpotAsPriceGo",
			"workflows.argoproj.io/node-name": "wf[0].fan(3:3)(1)"}, "")
	}
	p := spotRetry()
	attempts := Attempts(p, wf, &Siblings{})
	if len(attempts) != 1 || attempts[0].Failure != FailureEvicted || attempts[0].Message != MessageDeleted {
		t.Fatalf("attempts %+v, want attempt 0 deleted", attempts)
	}
	d, err := Decide(p, attempts, DefaultOptions())
	if err != nil || !slices.Contains(d.Remove, eci.AnnotationSpotStrategy) {
		t.Errorf("decision %+v, %v: want spot removed", d, err)
	}
	if got := Attempts(spotRetry(), wf, nil); len(got) != 0 {
		t.Errorf("pods not listed: %+v, want no attempts", got)
	}
	running := &Siblings{Pods: []corev1.Pod{failedPod("wf[0].fan(3:3)(0)", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning })}}
	if got := Attempts(spotRetry(), wf, running); len(got) != 0 {
		t.Errorf("attempt 0's pod still there: %+v, want no attempts", got)
	}
	// Attempts 0 and 2 in the node status, attempt 1 deleted: in order.
	wf = retriedWorkflow(msgBid, MessageDeleted, msgOOM)
	p = pod(map[string]string{"workflows.argoproj.io/node-name": "wf[0].fan(3:3)(4)"}, "")
	got := Attempts(p, wf, &Siblings{})
	want := []Failure{FailureSpotReclaim, FailureEvicted, FailureOOMKilled, FailureEvicted}
	if len(got) != len(want) {
		t.Fatalf("attempts %+v, want %v", got, want)
	}
	for i := range want {
		if got[i].Index != i || got[i].Failure != want[i] {
			t.Errorf("attempt %d: %+v, want %s", i, got[i], want[i])
		}
	}
}
