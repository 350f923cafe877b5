package imagecache

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/argo-eci/argo-eci/badinput"
)

var testWF = executorplugins.ObjectMeta{Name: "wf", Namespace: "ns", UID: "11111111-2222-3333-4444-555555555555"}

func cache(name string, images []any, status map[string]any, labels map[string]string) *unstructured.Unstructured {
	ic := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"images": images}}}
	if status != nil {
		ic.Object["status"] = status
	}
	ic.SetGroupVersionKind(GVK)
	ic.SetName(name)
	ic.SetLabels(labels)
	return ic
}

func fakeClient(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	scheme.AddKnownTypeWithName(GVK, &unstructured.Unstructured{})
	scheme.AddKnownTypeWithName(GVK.GroupVersion().WithKind("ImageCacheList"), &unstructured.UnstructuredList{})
	b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...)
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	return b.Build()
}

func TestAssess(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	spec := &Spec{Name: "alpine", Images: []string{"alpine:latest"}}
	cases := []struct {
		name     string
		ic       *unstructured.Unstructured
		age      time.Duration
		phase    wfv1.NodePhase
		contains string
	}{
		{"no status", cache("alpine", []any{"alpine:latest"}, nil, nil), time.Second, wfv1.NodeRunning, "not reported yet"},
		{"creating shows progress in the message", cache("alpine", []any{"alpine:latest"}, map[string]any{"phase": "Creating", "progress": "45%"}, nil), time.Minute, wfv1.NodeRunning, "phase: Creating, 45% done"},
		{"ready", cache("alpine", []any{"alpine:latest", "busybox"}, map[string]any{"phase": "Ready", "imageCacheId": "imc-123"}, nil), time.Minute, wfv1.NodeSucceeded, "imc-123"},
		{"ready without an ID is not pinned", cache("alpine", []any{"alpine:latest"}, map[string]any{"phase": "Ready"}, nil), time.Minute, wfv1.NodeRunning, "no imageCacheId yet"},
		{"failed with events", cache("alpine", []any{"alpine:latest"}, map[string]any{"phase": "Failed", "events": []any{
			map[string]any{"type": "Warning", "reason": "PullImageFailed", "message": "image not found"}}}, nil), time.Minute, wfv1.NodeFailed, "Warning: PullImageFailed: image not found"},
		{"update failed", cache("alpine", []any{"alpine:latest"}, map[string]any{"phase": "UpdateFailed"}, nil), time.Minute, wfv1.NodeFailed, "UpdateFailed: no events reported"},
		{"other images", cache("alpine", []any{"busybox"}, map[string]any{"phase": "Ready"}, nil), time.Minute, wfv1.NodeFailed, "without image(s) alpine:latest"},
		{"timeout", cache("alpine", []any{"alpine:latest"}, map[string]any{"phase": "Creating"}, nil), 31 * time.Minute, wfv1.NodeFailed, "timed out after 30m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := assess(c.ic, spec, t0.Add(c.age), t0, 5*time.Second)
			if r.Node.Phase != c.phase || !strings.Contains(r.Node.Message, c.contains) {
				t.Fatalf("got %s %q", r.Node.Phase, r.Node.Message)
			}
			if (c.phase == wfv1.NodeRunning) != (r.GetRequeue() > 0) {
				t.Fatalf("requeue %v for %s", r.GetRequeue(), c.phase)
			}
			if c.phase == wfv1.NodeSucceeded {
				if p := r.Node.Outputs.Parameters; p[0].Name != "imageCacheId" || p[0].Value.String() != "imc-123" || p[1].Value.String() != "Ready" {
					t.Fatalf("outputs %+v", p)
				}
			}
		})
	}
}

func TestEnsureCreatesWithReuseAnnotationAndOwnNamespaceSecrets(t *testing.T) {
	kube := fakeClient(t, nil)
	spec := &Spec{Name: "app", Images: []string{"app:1"}, ImagePullSecrets: []string{"regcred", "ns:other"}}
	r, err := (&Manager{Client: kube}).Ensure(context.Background(), testWF, spec)
	if err != nil || r.Node.Phase != wfv1.NodeRunning {
		t.Fatalf("%v %+v", err, r.Node)
	}
	ic := cache("app", nil, nil, nil)
	if err := kube.Get(context.Background(), client.ObjectKey{Name: "app"}, ic); err != nil {
		t.Fatal(err)
	}
	secrets, _, _ := unstructured.NestedStringSlice(ic.Object, "spec", "imagePullSecrets")
	if ic.GetAnnotations()[AnnotationReuse] != "true" || len(secrets) != 2 || secrets[0] != "ns:regcred" {
		t.Fatalf("created %v", ic.Object)
	}
	foreign := &Spec{Name: "steal", Images: []string{"app:1"}, ImagePullSecrets: []string{"kube-system:admin-registry"}}
	_, err = (&Manager{Client: kube}).Ensure(context.Background(), testWF, foreign)
	var bad *badinput.Error
	if !errors.As(err, &bad) || bad.Field() != "argo-eci.imageCache.imagePullSecrets[0]" {
		t.Fatalf("a Secret of another namespace: %v, want bad input at argo-eci.imageCache.imagePullSecrets[0]", err)
	}
	if err := kube.Get(context.Background(), client.ObjectKey{Name: "steal"}, cache("steal", nil, nil, nil)); !apierrors.IsNotFound(err) {
		t.Fatalf("ImageCache created for a foreign Secret: %v", err)
	}
}

// A Failed cache that argo-eci created earlier is recreated by a new attempt; a Failed cache of
// someone else is reported, not deleted.
func TestEnsureRecreatesOwnFailedCache(t *testing.T) {
	own := cache("app", []any{"app:1"}, map[string]any{"phase": "Failed"}, map[string]string{LabelManagedBy: "argo-eci"})
	theirs := cache("theirs", []any{"app:1"}, map[string]any{"phase": "Failed"}, nil)
	kube := fakeClient(t, nil, own, theirs)
	r, err := (&Manager{Client: kube}).Ensure(context.Background(), testWF, &Spec{Name: "app", Images: []string{"app:1"}})
	if err != nil || r.Node.Phase != wfv1.NodeRunning {
		t.Fatalf("own Failed cache not recreated: %v %+v", err, r.Node)
	}
	r, err = (&Manager{Client: kube}).Ensure(context.Background(), testWF, &Spec{Name: "theirs", Images: []string{"app:1"}})
	if err != nil || r.Node.Phase != wfv1.NodeFailed {
		t.Fatalf("someone else's Failed cache: %v %+v", err, r.Node)
	}
}

// A Ready cache that already holds every image is reused without creating another.
func TestEnsureReusesReadyCacheOfSameImages(t *testing.T) {
	ready := cache("shared", []any{"alpine:latest", "app:1"}, map[string]any{"phase": "Ready", "imageCacheId": "imc-shared"}, nil)
	noID := cache("noid", []any{"alpine:latest"}, map[string]any{"phase": "Ready"}, nil)
	kube := fakeClient(t, nil, ready, noID)
	spec := &Spec{Images: []string{"alpine:latest"}}
	r, err := (&Manager{Client: kube}).Ensure(context.Background(), testWF, spec)
	if err != nil || r.Node.Phase != wfv1.NodeSucceeded || r.Node.Outputs.Parameters[0].Value.String() != "imc-shared" {
		t.Fatalf("%v %+v", err, r.Node)
	}
	if err := kube.Get(context.Background(), client.ObjectKey{Name: spec.CacheName()}, cache("", nil, nil, nil)); !apierrors.IsNotFound(err) {
		t.Fatalf("a second cache was created: %v", err)
	}
	// A template that names its cache gets that cache.
	r, err = (&Manager{Client: kube}).Ensure(context.Background(), testWF, &Spec{Name: "mine", Images: []string{"alpine:latest"}})
	if err != nil || r.Node.Phase != wfv1.NodeRunning {
		t.Fatalf("named cache: %v %+v", err, r.Node)
	}
}

func TestEnsureRetriesTransientErrors(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	broken := false
	kube := fakeClient(t, &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if broken {
			return apierrors.NewServiceUnavailable("restarting")
		}
		return c.Get(ctx, key, obj, opts...)
	}})
	m := &Manager{Client: kube, Now: func() time.Time { return now }}
	spec := &Spec{Name: "app", Images: []string{"app:1"}, Timeout: "10m"}
	if r, err := m.Ensure(context.Background(), testWF, spec); err != nil || r.Node.Phase != wfv1.NodeRunning {
		t.Fatalf("%v %+v", err, r.Node)
	}
	broken = true
	if r, err := m.Ensure(context.Background(), testWF, spec); err != nil || r.Node.Phase != wfv1.NodeRunning || !strings.Contains(r.Node.Message, "retrying") {
		t.Fatalf("transient error: %v %+v", err, r.Node)
	}
	now = now.Add(11 * time.Minute)
	if r, err := m.Ensure(context.Background(), testWF, spec); err != nil || r.Node.Phase != wfv1.NodeFailed {
		t.Fatalf("past the timeout: %v %+v", err, r.Node)
	}
}

func TestValidateAndName(t *testing.T) {
	if errs := (&Spec{Images: []string{"alpine"}, Size: 20, RetentionDays: 7, ImagePullSecrets: []string{"regcred", "ns:regcred"}}).Validate(field.NewPath("x")); len(errs) != 0 {
		t.Fatal(errs)
	}
	a := (&Spec{Images: []string{"b", "a"}}).CacheName()
	b := (&Spec{Images: []string{"a", "b"}}).CacheName()
	if a != b || !strings.HasPrefix(a, "argo-eci-") {
		t.Fatalf("names %s %s", a, b)
	}
	if errs := (&Spec{Images: []string{"a b"}, Timeout: "soon", ImagePullSecrets: []string{"Bad_Name"}}).Validate(field.NewPath("x")); len(errs) != 3 {
		t.Fatalf("errs %v", errs)
	}
}
