package ecisim

// Most of the simulator's tests run against client-go's fake clientset: it applies the same merge
// and strategic-merge patches to pods, but not the apiserver's pod status validation, the Eviction
// API or admission. Steps are driven one at a time through sync with a fake clock, so the tests see
// every decision in order; TestRun checks the informer loop. TestAgainstAPIServer runs the same
// decisions against a real kube-apiserver and etcd on random ports (skipped when the binaries are
// absent), and the e2e tests in test/e2e run the simulator beside the local control plane and kwok.

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

const testNS = "ns"

type harness struct {
	t       *testing.T
	kube    *fake.Clientset
	sim     *Simulator
	clock   time.Time
	evicted []string
}

func newHarness(t *testing.T, config string) *harness {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vk", Annotations: map[string]string{AnnotationManaged: "true"}}}
	other := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real"}}
	objs := []runtime.Object{node, other}
	if config != "" {
		objs = append(objs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "sim"}, Data: map[string]string{ConfigKey: config}})
	}
	h := &harness{t: t, kube: fake.NewClientset(objs...), clock: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	h.kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := a.(k8stesting.CreateAction).GetObject().(interface{ GetName() string })
		h.evicted = append(h.evicted, ev.GetName())
		return true, nil, nil
	})
	h.sim = &Simulator{Kube: h.kube, Namespace: "sim", Now: func() time.Time { return h.clock }}
	h.sim.defaults()
	return h
}

// refresh loads the listers from the fake apiserver, as the informers would.
func (h *harness) refresh() {
	ctx := context.Background()
	pods, nodes, cms := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}),
		cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	pl, _ := h.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	for i := range pl.Items {
		_ = pods.Add(&pl.Items[i])
	}
	nl, _ := h.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	for i := range nl.Items {
		_ = nodes.Add(&nl.Items[i])
	}
	cl, _ := h.kube.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{})
	for i := range cl.Items {
		_ = cms.Add(&cl.Items[i])
	}
	h.sim.pods, h.sim.nodes, h.sim.configs = corelisters.NewPodLister(pods), corelisters.NewNodeLister(nodes), corelisters.NewConfigMapLister(cms)
}

// step runs one sync of the pod and returns when the simulator wants to look again.
func (h *harness) step(name string) time.Duration {
	h.t.Helper()
	h.refresh()
	after, err := h.sim.sync(context.Background(), testNS+"/"+name)
	if err != nil {
		h.t.Fatalf("sync %s: %v", name, err)
	}
	return after
}

func (h *harness) pod(name string) *corev1.Pod {
	h.t.Helper()
	p, err := h.kube.CoreV1().Pods(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// create adds a pod bound to node with annotations and a main container of mem memory limit.
func (h *harness) create(name, node string, ann map[string]string, mem string) {
	h.t.Helper()
	main := corev1.Container{Name: "main", Image: "alpine:3.20"}
	if mem != "" {
		main.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse(mem)}
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("uid-" + name), Annotations: ann,
			CreationTimestamp: metav1.NewTime(h.clock)},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{
			{Name: "wait", Image: "argoexec", Env: []corev1.EnvVar{{Name: "__ECI_RESOURCE_IGNORE__", Value: "TRUE"}}}, main}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	if _, err := h.kube.CoreV1().Pods(testNS).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// run plays kwok: the placed pod becomes Running now.
func (h *harness) run(name string) {
	h.t.Helper()
	p := h.pod(name)
	now := metav1.NewTime(h.clock)
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &now
	p.Status.ContainerStatuses = nil
	for _, c := range p.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	if _, err := h.kube.CoreV1().Pods(testNS).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) setConfig(ns, config string) {
	h.t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: ns}, Data: map[string]string{ConfigKey: config}}
	_, err := h.kube.CoreV1().ConfigMaps(ns).Update(context.Background(), cm, metav1.UpdateOptions{})
	if err != nil {
		_, err = h.kube.CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{})
	}
	if err != nil {
		h.t.Fatal(err)
	}
}

// events are the reasons of the events recorded for pod name, in order.
func (h *harness) events(name string) []string {
	h.t.Helper()
	list, err := h.kube.CoreV1().Events(testNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name {
			if e.Source.Component != "eci-simulator" {
				h.t.Errorf("event from %q", e.Source.Component)
			}
			out = append(out, e.Reason)
		}
	}
	return out
}

func (h *harness) eventMessage(name, reason string) string {
	list, _ := h.kube.CoreV1().Events(testNS).List(context.Background(), metav1.ListOptions{})
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name && e.Reason == reason {
			return e.Message
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func condition(p *corev1.Pod, typ string) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if string(p.Status.Conditions[i].Type) == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func mustContain(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}
