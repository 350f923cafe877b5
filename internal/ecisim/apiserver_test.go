package ecisim

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/internal/fixture"
)

// TestAgainstAPIServer runs the simulator against a real kube-apiserver and etcd started on random
// 127.0.0.1 ports (controller-runtime's envtest), so the apiserver's own pod status validation,
// strategic-merge patches and the Eviction API check what the fake clientset cannot. No kubelet
// runs: the test plays kwok by setting placed pods Running.
func TestAgainstAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	assets := fixture.APIServerAssets(t)
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kube := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mustCreate := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vk", Annotations: map[string]string{AnnotationManaged: "true"}}}, metav1.CreateOptions{})
	mustCreate(err)
	for _, ns := range []string{"sim", testNS} {
		_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		mustCreate(err)
	}
	mustCreate(WriteConfig(ctx, kube, "sim", []byte("timeScale: 3600\nspot: {reclaimFraction: 1}\noomAfter: 10ms\nstock: [{spec: 8-16Gi, zone: '*', market: '*', available: false}]\n")))
	sim := &Simulator{Kube: kube, Namespace: "sim"}
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	create := func(name string, ann map[string]string) {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Annotations: ann},
			Spec: corev1.PodSpec{NodeName: "vk", AutomountServiceAccountToken: ptr.To(false), RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "alpine:3.20"}, {Name: "wait", Image: "argoexec"}}}}
		_, err := kube.CoreV1().Pods(testNS).Create(ctx, p, metav1.CreateOptions{})
		mustCreate(err)
	}
	get := func(name string) *corev1.Pod {
		p, err := kube.CoreV1().Pods(testNS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	waitFor := func(name, what string, ok func(*corev1.Pod) bool) *corev1.Pod {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if p := get(name); ok(p) {
				return p
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: never %s: phase %s, annotations %v, status %+v", name, what, p.Status.Phase, p.Annotations, p.Status)
			}
		}
	}
	placed := func(p *corev1.Pod) bool { return p.Annotations[eci.AnnotationInstanceID] != "" }
	failed := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed }
	running := func(name string) { // what kwok does once the instance exists
		t.Helper()
		p := waitFor(name, "placed", placed)
		now := metav1.Now()
		p.Status.Phase, p.Status.StartTime = corev1.PodRunning, &now
		for _, c := range p.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
		}
		_, err := kube.CoreV1().Pods(testNS).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		mustCreate(err)
	}

	create("stockout", map[string]string{eci.AnnotationUseSpecs: "8-16Gi", eci.AnnotationFailStrategy: "fail-fast"})
	create("oom", map[string]string{eci.AnnotationUseSpecs: "2-4Gi", AnnotationMemoryUse: "5Gi"})
	create("bid", map[string]string{eci.AnnotationSpotStrategy: "SpotAsPriceGo", eci.AnnotationSpotDuration: "0"})
	create("evict", map[string]string{eci.AnnotationSpotStrategy: "SpotAsPriceGo", eci.AnnotationSpotDuration: "0", eci.AnnotationSpotReleaseStrategy: "api-evict"})

	if p := waitFor("stockout", "failed", failed); p.Status.Reason != eci.ReasonProviderFailed {
		t.Errorf("stockout: reason %q", p.Status.Reason)
	}
	evictWatch, err := kube.CoreV1().Pods(testNS).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=evict", TimeoutSeconds: ptr.To[int64](30)})
	if err != nil {
		t.Fatal(err)
	}
	defer evictWatch.Stop()
	for _, n := range []string{"oom", "bid", "evict"} {
		running(n)
	}
	p := waitFor("oom", "failed", failed)
	for _, st := range p.Status.ContainerStatuses {
		if st.Name == "main" && (st.State.Terminated == nil || st.State.Terminated.Reason != eci.ReasonOOMKilled) {
			t.Errorf("oom main: %+v", st.State)
		}
	}
	p = waitFor("bid", "failed", failed)
	if p.Status.Reason != eci.ReasonBidFailed || condition(p, eci.ConditionContainerInstanceExpired) == nil {
		t.Errorf("bid: reason %q, conditions %+v", p.Status.Reason, p.Status.Conditions)
	}
	// Evicted as a kubelet ends an evicted pod: main stopped by SIGTERM (exit code 143), the pod
	// Failed, then gone.
	var last *corev1.Pod
	for ev := range evictWatch.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok {
			last = p
		}
		if ev.Type == watch.Deleted {
			break
		}
	}
	if last == nil || last.Status.Phase != corev1.PodFailed || mainExit(last) != 143 {
		t.Errorf("evict: last seen %+v, want Failed with main's exit code 143 before it was deleted", last)
	}
	// The simulator records an event after the write it reports (the eviction, the failure): poll.
	want := []string{EventInstanceCreated, eci.ReasonNoStock, EventProviderFailed, EventOOMKilled, eci.EventSpotToBeReleased, eci.ReasonBidFailed, EventSpotEvicted}
	var reasons map[string]int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		events, err := kube.CoreV1().Events(testNS).List(ctx, metav1.ListOptions{FieldSelector: "source=eci-simulator"})
		if err != nil {
			t.Fatal(err)
		}
		reasons = map[string]int{}
		for _, e := range events.Items {
			reasons[e.Reason]++
		}
		missing := 0
		for _, w := range want {
			if reasons[w] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range want {
		if reasons[w] == 0 {
			t.Errorf("no %s event (events: %v)", w, reasons)
		}
	}
}

// mainExit is the exit code of p's terminated main container, -1 when it has none.
func mainExit(p *corev1.Pod) int32 {
	for _, st := range p.Status.ContainerStatuses {
		if st.Name == "main" && st.State.Terminated != nil {
			return st.State.Terminated.ExitCode
		}
	}
	return -1
}
