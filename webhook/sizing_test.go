package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/eci"
	"github.com/argo-eci/argo-eci/sizing"
)

// sizingData is the ConfigMap data of one learned entry: template tmpl of Workflow owner in ns.
func sizingData(t *testing.T, ns, owner, tmpl, spec string) map[string]string {
	t.Helper()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := sizing.Entry{Namespace: ns, Kind: sizing.OwnerWorkflow, Owner: owner, Template: tmpl, Spec: spec, Runs: 9,
		Window: sizing.Window{From: from, To: from.Add(time.Hour)}, CPU: sizing.CPUStats{P50: 0.5, P95: 1, Max: 1},
		Memory: sizing.MemoryStats{P50: resource.MustParse("1Gi"), P95: resource.MustParse("3Gi"), Max: resource.MustParse("3Gi")},
		Reason: "learned from 9 runs → " + spec}
	data, err := sizing.EncodeConfigMapData([]sizing.Entry{e})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSizingConfigMapStore(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: sizing.ConfigMapName, Namespace: "argo"},
		Data: sizingData(t, "workflows", "container-resources", "main", "1-4Gi")}
	client := fake.NewClientset(cm)
	store := &sizing.Store{}
	src := &SizingConfigMap{Client: client, Namespace: "argo", Store: store, Logger: quietLogger(t)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := sizing.Identity{Namespace: "workflows", Kind: sizing.OwnerWorkflow, Owner: "container-resources", Template: "main"}
	eventually(t, "the sizing ConfigMap to load", func() bool { _, ok := store.Lookup(id); return ok && src.Synced() == nil })

	// A broken ConfigMap keeps the previous table.
	broken := cm.DeepCopy()
	broken.Data = map[string]string{"workflows_wf_container-resources_main": "spec: [not, an, entry]"}
	src.apply(broken)
	if l, ok := store.Lookup(id); !ok || l.Spec.String() != "1-4Gi" {
		t.Errorf("after a broken ConfigMap: %v %v, want the previous 1-4Gi", l.Spec, ok)
	}
	// Another ConfigMap's events are not this one's.
	src.apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "argo"}})
	if _, ok := store.Lookup(id); !ok {
		t.Error("an unrelated ConfigMap replaced the table")
	}
	// Deleted: declared specs again.
	if err := client.CoreV1().ConfigMaps("argo").Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the table to empty", func() bool { _, ok := store.Lookup(id); return !ok })
}

// TestPodPathLearnedSpec: profiles with sizing: learned take the spec from the store the webhook's
// engines are built with.
func TestPodPathLearnedSpec(t *testing.T) {
	pod, raw := typicalPod(t)
	store := &sizing.Store{}
	if err := store.Update(sizingData(t, pod.Namespace, "container-resources", "main", "2-8Gi")); err != nil {
		t.Fatal(err)
	}
	engines := &EngineStore{Logger: quietLogger(t), Sizing: store}
	if _, err := engines.Load("file", "test", []byte("default: p\nprofiles: {p: {sizing: learned}}\n")); err != nil {
		t.Fatal(err)
	}
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "container-resources", Namespace: pod.Namespace}}
	ts := startServer(t, &Server{Engines: engines, Workflows: mapWorkflows{wf.Namespace + "/" + wf.Name: wf}})
	status, out, body := ts.post(t, PathPods, podReview(t, "u-1", raw))
	if status != http.StatusOK || out.Response.Patch == nil {
		t.Fatalf("status %d: %s", status, body)
	}
	shaped := &corev1.Pod{}
	if err := json.Unmarshal(applyPatch(t, raw, out.Response), shaped); err != nil {
		t.Fatal(err)
	}
	if got := shaped.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "2-8Gi,") {
		t.Errorf("eci-use-specs = %q, want the learned 2-8Gi first", got)
	}
	_ = store.Update(nil) // the ConfigMap was deleted: the same engine falls back to the declared spec
	_, out, _ = ts.post(t, PathPods, podReview(t, "u-2", raw))
	if err := json.Unmarshal(applyPatch(t, raw, out.Response), shaped); err != nil {
		t.Fatal(err)
	}
	if got := shaped.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, "1-2Gi,") {
		t.Errorf("eci-use-specs = %q after the table emptied, want the declared 1-2Gi", got)
	}
}

// TestPodPathLearnedBand: the webhook dates a pod by its admission (the apiserver sets
// creationTimestamp after admission), so the pod gets the spec of the band it is created in.
func TestPodPathLearnedBand(t *testing.T) {
	pod, raw := typicalPod(t)
	data := sizingData(t, pod.Namespace, "container-resources", "main", "2-8Gi")
	key := pod.Namespace + "_wf_container-resources_main"
	var e sizing.Entry
	if err := yaml.UnmarshalStrict([]byte(data[key]), &e); err != nil {
		t.Fatal(err)
	}
	e.TimeZone = "UTC"
	e.Bands = []sizing.BandEntry{{From: 0, To: 12, Spec: "0.5-1Gi", Runs: 9, CPU: sizing.CPUStats{P50: 0.2, P95: 0.4, Max: 0.4},
		Memory: sizing.MemoryStats{P50: resource.MustParse("300Mi"), P95: resource.MustParse("700Mi"), Max: resource.MustParse("700Mi")},
		Reason: "learned from 9 runs started 00:00–12:00 UTC → 0.5-1Gi"}}
	data, err := sizing.EncodeConfigMapData([]sizing.Entry{e})
	if err != nil {
		t.Fatal(err)
	}
	store := &sizing.Store{}
	if err := store.Update(data); err != nil {
		t.Fatal(err)
	}
	engines := &EngineStore{Logger: quietLogger(t), Sizing: store}
	if _, err := engines.Load("file", "test", []byte("default: p\nprofiles: {p: {sizing: learned}}\n")); err != nil {
		t.Fatal(err)
	}
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "container-resources", Namespace: pod.Namespace}}
	var now atomic.Pointer[time.Time]
	ts := startServer(t, &Server{Engines: engines, Workflows: mapWorkflows{wf.Namespace + "/" + wf.Name: wf},
		Now: func() time.Time { return *now.Load() }})
	for i, tt := range []struct {
		at    time.Time
		specs string
	}{
		{time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC), "0.5-1Gi,"},
		{time.Date(2026, 2, 1, 15, 0, 0, 0, time.UTC), "2-8Gi,"},
	} {
		now.Store(&tt.at)
		status, out, body := ts.post(t, PathPods, podReview(t, "u-"+tt.at.Format("15"), raw))
		if status != http.StatusOK || out.Response.Patch == nil {
			t.Fatalf("%d: status %d: %s", i, status, body)
		}
		if strings.Contains(string(out.Response.Patch), "creationTimestamp") {
			t.Errorf("%d: the patch sets creationTimestamp: %s", i, out.Response.Patch)
		}
		shaped := &corev1.Pod{}
		if err := json.Unmarshal(applyPatch(t, raw, out.Response), shaped); err != nil {
			t.Fatal(err)
		}
		if got := shaped.Annotations[eci.AnnotationUseSpecs]; !strings.HasPrefix(got, tt.specs) {
			t.Errorf("created at %s: eci-use-specs = %q, want %s first", tt.at.Format("15:04"), got, tt.specs)
		}
	}
}
