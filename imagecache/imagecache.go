// Package imagecache pre-warms ECI image caches for the argo-eci executor plugin.
//
// An `imageCache` template creates (or reuses) a cluster-scoped eci.alibabacloud.com/v1 ImageCache
// and waits for it to be Ready; the node's outputs `imageCacheId` and `phase` let later steps pin the
// cache (profile `imageCache: <id>` or the k8s.aliyun.com/eci-imc-id annotation). Failed and
// UpdateFailed end the node with ECI's status.events.
package imagecache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/internal/requeue"
)

// GVK is the ImageCache kind of ECI's virtual-kubelet.
var GVK = schema.GroupVersionKind{Group: "eci.alibabacloud.com", Version: "v1", Kind: "ImageCache"}

// ImageCache phases reported by ECI.
const (
	PhasePreparing    = "Preparing"
	PhaseCreating     = "Creating"
	PhaseReady        = "Ready"
	PhaseFailed       = "Failed"
	PhaseUpdating     = "Updating"
	PhaseUpdateFailed = "UpdateFailed"
)

// Labels on the ImageCaches the plugin creates.
const (
	LabelWorkflowUID = "argo-eci.io/workflow-uid"
	LabelManagedBy   = "app.kubernetes.io/managed-by"
)

// DefaultTimeout applies when the template sets no timeout.
const DefaultTimeout = 30 * time.Minute

// Spec is the `imageCache` object of an argo-eci plugin template.
type Spec struct {
	// Name of the ImageCache; default "argo-eci-" + a hash of the images, so identical image sets
	// are shared between workflows.
	Name string `json:"name,omitempty"`
	// Images to cache (required).
	Images []string `json:"images"`
	// ImagePullSecrets are Secrets of the workflow's namespace: "secret" or "namespace:secret".
	ImagePullSecrets []string `json:"imagePullSecrets,omitempty"`
	// Size of the cache in GiB (20–32768; ECI's default 20).
	Size int32 `json:"size,omitempty"`
	// RetentionDays before ECI deletes the cache (0 = never).
	RetentionDays int32 `json:"retentionDays,omitempty"`
	// Timeout is a Go duration; default 30m.
	Timeout string `json:"timeout,omitempty"`
}

// CacheName is the effective ImageCache name.
func (s *Spec) CacheName() string {
	if s.Name != "" {
		return s.Name
	}
	imgs := slices.Clone(s.Images)
	sort.Strings(imgs)
	h := sha256.Sum256([]byte(strings.Join(imgs, "\n")))
	return "argo-eci-" + hex.EncodeToString(h[:])[:16]
}

// TimeoutDuration is the parsed timeout. Call Validate first.
func (s *Spec) TimeoutDuration() time.Duration {
	if s.Timeout == "" {
		return DefaultTimeout
	}
	d, _ := time.ParseDuration(s.Timeout)
	return d
}

// ValidateNamespace checks what depends on the workflow's namespace: ImageCaches are cluster-scoped
// and ECI reads the pull secrets they name, so a template may name only Secrets of its own namespace.
func (s *Spec) ValidateNamespace(path *field.Path, namespace string) field.ErrorList {
	var errs field.ErrorList
	for i, sec := range s.ImagePullSecrets {
		if ns, _, ok := strings.Cut(sec, ":"); ok && ns != namespace {
			errs = append(errs, field.Forbidden(path.Child("imagePullSecrets").Index(i),
				fmt.Sprintf("%q names a Secret of namespace %s; only Secrets of the workflow's namespace %s may be used", sec, ns, namespace)))
		}
	}
	return errs
}

// qualify writes a pull secret as ECI expects it, "namespace:secret".
func qualify(sec, namespace string) string {
	if strings.Contains(sec, ":") {
		return sec
	}
	return namespace + ":" + sec
}

// Validate checks the template; errors name the field below path.
func (s *Spec) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name != "" {
		if msgs := validation.IsDNS1123Subdomain(s.Name); len(msgs) > 0 {
			errs = append(errs, field.Invalid(path.Child("name"), s.Name, strings.Join(msgs, "; ")))
		}
	}
	if len(s.Images) == 0 {
		errs = append(errs, field.Required(path.Child("images"), "at least one image, e.g. [alpine:latest]"))
	}
	for i, img := range s.Images {
		if img == "" || strings.ContainsAny(img, " \t\n") {
			errs = append(errs, field.Invalid(path.Child("images").Index(i), img, "expected an image reference such as registry/repo:tag"))
		}
	}
	for i, sec := range s.ImagePullSecrets {
		ns, name, qualified := strings.Cut(sec, ":")
		if !qualified {
			name = ns
		}
		if (qualified && len(validation.IsDNS1123Label(ns)) > 0) || len(validation.IsDNS1123Subdomain(name)) > 0 {
			errs = append(errs, field.Invalid(path.Child("imagePullSecrets").Index(i), sec, `expected a Secret name of the workflow's namespace, "secret" or "namespace:secret"`))
		}
	}
	if s.Size != 0 && (s.Size < 20 || s.Size > 32768) {
		errs = append(errs, field.Invalid(path.Child("size"), s.Size, "expected GiB from 20 to 32768"))
	}
	if s.RetentionDays < 0 {
		errs = append(errs, field.Invalid(path.Child("retentionDays"), s.RetentionDays, "expected 0 or more days"))
	}
	if s.Timeout != "" {
		if d, err := time.ParseDuration(s.Timeout); err != nil || d <= 0 {
			errs = append(errs, field.Invalid(path.Child("timeout"), s.Timeout, `expected a positive duration such as "20m"`))
		}
	}
	return errs
}

// DefaultRequeue polls an image cache (they take minutes) every 2 s at first, at most every 30 s.
var DefaultRequeue = requeue.Policy{Min: 2 * time.Second, Max: 30 * time.Second}

// AnnotationReuse lets ECI match this cache for pods of other images that share its layers.
const AnnotationReuse = "k8s.aliyun.com/imc-enable-reuse"

// Manager creates, reuses and follows ImageCaches.
type Manager struct {
	// Client talks to the apiserver directly; a poll costs one GET once the cache exists.
	Client client.Client
	// Requeue is the polling policy; zero fields take DefaultRequeue's.
	Requeue requeue.Policy
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	attempts map[string]time.Time // first call of the current attempt, per workflow UID and cache
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// begin returns when the current attempt of key started (now for a new one) and whether it is new.
func (m *Manager) begin(key string, now time.Time) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.attempts == nil {
		m.attempts = map[string]time.Time{}
	}
	if t, ok := m.attempts[key]; ok {
		return t, false
	}
	for k, t := range m.attempts {
		if now.Sub(t) > 24*time.Hour {
			delete(m.attempts, k)
		}
	}
	m.attempts[key] = now
	return now, true
}

// end forgets an answered attempt: the next call with the same template is a retried node.
func (m *Manager) end(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.attempts, key)
}

// Ensure runs one step: reuse a Ready cache of the same images (templates that name no cache), or
// create the ImageCache (again, when
// an earlier one of argo-eci's failed), then report its phase. Validate spec first; a spec the
// workflow's namespace may not use is a *badinput.Error. After an attempt's first call, transient
// Kubernetes errors become a Running reply that retries until the timeout.
func (m *Manager) Ensure(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec) (executorplugins.ExecuteTemplateReply, error) {
	now := m.now()
	key := wf.UID + "/" + spec.CacheName()
	start, first := m.begin(key, now)
	policy := m.Requeue.OrDefault(DefaultRequeue)
	if errs := spec.ValidateNamespace(field.NewPath("argo-eci", "imageCache"), wf.Namespace); len(errs) > 0 {
		m.end(key)
		return executorplugins.ExecuteTemplateReply{}, &badinput.Error{Errs: errs}
	}
	reply, err := m.step(ctx, wf, spec, first, now, start, policy)
	switch {
	case err == nil:
		if reply.Node.Phase.Completed() {
			m.end(key)
		}
		return reply, nil
	case first || !requeue.IsTransient(err):
		m.end(key)
		return reply, err
	case now.Sub(start) >= spec.TimeoutDuration():
		m.end(key)
		return failed(fmt.Sprintf("timed out after %s; the last Kubernetes API call failed: %v", spec.TimeoutDuration(), err)), nil
	}
	return executorplugins.ExecuteTemplateReply{
		Node:    &wfv1.NodeResult{Phase: wfv1.NodeRunning, Message: fmt.Sprintf("retrying after a Kubernetes API error: %v", err)},
		Requeue: &metav1.Duration{Duration: policy.After(now.Sub(start))},
	}, nil
}

func (m *Manager) step(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec, first bool, now, start time.Time, policy requeue.Policy) (executorplugins.ExecuteTemplateReply, error) {
	name := spec.CacheName()
	ic, err := m.get(ctx, name)
	if err != nil {
		return executorplugins.ExecuteTemplateReply{}, err
	}
	if ic == nil && first && spec.Name == "" { // a named cache is what the template asked for
		if reuse, err := m.findReady(ctx, spec); err != nil || reuse != nil {
			if err != nil {
				return executorplugins.ExecuteTemplateReply{}, err
			}
			return assess(reuse, spec, now, start, 0), nil
		}
	}
	if ic != nil && first && managedFailure(ic) {
		// A Failed cache argo-eci made earlier: a new attempt gets a new cache, not the old failure.
		if err := m.Client.Delete(ctx, ic); err != nil && !apierrors.IsNotFound(err) {
			return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("delete failed ImageCache %s: %w", name, err)
		}
		ic = nil
	}
	if ic == nil {
		if ic, err = m.create(ctx, wf, spec, name); err != nil {
			return executorplugins.ExecuteTemplateReply{}, err
		}
	}
	return assess(ic, spec, now, start, policy.After(now.Sub(start))), nil
}

func (m *Manager) get(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	ic := &unstructured.Unstructured{}
	ic.SetGroupVersionKind(GVK)
	if err := m.Client.Get(ctx, types.NamespacedName{Name: name}, ic); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get ImageCache %s: %w", name, err)
	}
	return ic, nil
}

func (m *Manager) create(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec, name string) (*unstructured.Unstructured, error) {
	ic := newImageCache(wf, spec, name)
	if err := m.Client.Create(ctx, ic); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create ImageCache %s: %w", name, err)
		}
		got, err := m.get(ctx, name)
		if err != nil || got != nil {
			return got, err
		}
		return nil, fmt.Errorf("ImageCache %s exists and then does not: %w", name, apierrors.NewNotFound(schema.GroupResource{Group: GVK.Group, Resource: "imagecaches"}, name))
	}
	return ic, nil
}

// managedFailure reports a Failed or UpdateFailed cache that argo-eci created.
func managedFailure(ic *unstructured.Unstructured) bool {
	phase, _, _ := unstructured.NestedString(ic.Object, "status", "phase")
	return ic.GetLabels()[LabelManagedBy] == "argo-eci" && (phase == PhaseFailed || phase == PhaseUpdateFailed)
}

// findReady returns a Ready ImageCache with an imageCacheId that already holds every image of spec.
func (m *Manager) findReady(ctx context.Context, spec *Spec) (*unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(GVK.GroupVersion().WithKind(GVK.Kind + "List"))
	if err := m.Client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("list ImageCaches: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].GetName() < list.Items[j].GetName() })
	for i := range list.Items {
		ic := &list.Items[i]
		phase, _, _ := unstructured.NestedString(ic.Object, "status", "phase")
		id, _, _ := unstructured.NestedString(ic.Object, "status", "imageCacheId")
		have, _, _ := unstructured.NestedStringSlice(ic.Object, "spec", "images")
		if phase != PhaseReady || id == "" || !ic.GetDeletionTimestamp().IsZero() {
			continue
		}
		if !slices.ContainsFunc(spec.Images, func(img string) bool { return !slices.Contains(have, img) }) {
			return ic, nil
		}
	}
	return nil, nil
}

func failed(msg string) executorplugins.ExecuteTemplateReply {
	return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{Phase: wfv1.NodeFailed, Message: msg}}
}

func newImageCache(wf executorplugins.ObjectMeta, spec *Spec, name string) *unstructured.Unstructured {
	images := make([]any, 0, len(spec.Images))
	for _, img := range spec.Images {
		images = append(images, img)
	}
	s := map[string]any{"images": images}
	if len(spec.ImagePullSecrets) > 0 {
		secrets := make([]any, 0, len(spec.ImagePullSecrets))
		for _, sec := range spec.ImagePullSecrets {
			secrets = append(secrets, qualify(sec, wf.Namespace))
		}
		s["imagePullSecrets"] = secrets
	}
	if spec.Size > 0 {
		s["imageCacheSize"] = int64(spec.Size)
	}
	if spec.RetentionDays > 0 {
		s["retentionDays"] = int64(spec.RetentionDays)
	}
	ic := &unstructured.Unstructured{Object: map[string]any{"spec": s}}
	ic.SetGroupVersionKind(GVK)
	ic.SetName(name)
	l := map[string]string{LabelManagedBy: "argo-eci"}
	if len(validation.IsValidLabelValue(wf.UID)) == 0 {
		l[LabelWorkflowUID] = wf.UID
	}
	ic.SetLabels(l)
	ic.SetAnnotations(map[string]string{AnnotationReuse: "true"})
	return ic
}

// assess turns an ImageCache's status into the node's reply.
func assess(ic *unstructured.Unstructured, spec *Spec, now, start time.Time, requeueAfter time.Duration) executorplugins.ExecuteTemplateReply {
	name := ic.GetName()
	have, _, _ := unstructured.NestedStringSlice(ic.Object, "spec", "images")
	var missing []string
	for _, img := range spec.Images {
		if !slices.Contains(have, img) {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		return failed(fmt.Sprintf("ImageCache %s exists without image(s) %s and was left unchanged; choose another imageCache.name",
			name, strings.Join(missing, ", ")))
	}
	phase, _, _ := unstructured.NestedString(ic.Object, "status", "phase")
	id, _, _ := unstructured.NestedString(ic.Object, "status", "imageCacheId")
	outputs := &wfv1.Outputs{Parameters: []wfv1.Parameter{
		{Name: "imageCacheId", Value: wfv1.AnyStringPtr(id)},
		{Name: "phase", Value: wfv1.AnyStringPtr(phase)},
	}}
	switch {
	case phase == PhaseReady && id != "":
		msg := fmt.Sprintf("ImageCache %s is Ready (%s)", name, id)
		if name != spec.CacheName() {
			msg = fmt.Sprintf("reusing ImageCache %s, Ready with every image (%s)", name, id)
		}
		return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{Phase: wfv1.NodeSucceeded, Message: msg, Outputs: outputs}}
	case phase == PhaseFailed || phase == PhaseUpdateFailed:
		r := failed(fmt.Sprintf("ImageCache %s is %s: %s", name, phase, events(ic)))
		r.Node.Outputs = outputs
		return r
	}
	waiting := fmt.Sprintf("waiting for ImageCache %s to be Ready (phase: %s, %s)", name, phaseOr(phase), progress(ic))
	if phase == PhaseReady {
		// Pinning an empty ID would send pods to no cache at all: wait until ECI reports it.
		waiting = fmt.Sprintf("ImageCache %s is Ready but reports no imageCacheId yet; waiting for it", name)
	}
	if now.Sub(start) >= spec.TimeoutDuration() {
		return failed(fmt.Sprintf("timed out after %s: %s; it was left in place", spec.TimeoutDuration(), waiting))
	}
	return executorplugins.ExecuteTemplateReply{
		Node:    &wfv1.NodeResult{Phase: wfv1.NodeRunning, Message: waiting},
		Requeue: &metav1.Duration{Duration: max(requeueAfter, time.Second)},
	}
}

func phaseOr(phase string) string {
	if phase == "" {
		return "not reported yet"
	}
	return phase
}

// progress renders ECI's status.progress ("45%" or 45) for the message (Argo v4.0.7 does not pass a
// plugin's progress on to the workflow).
func progress(ic *unstructured.Unstructured) string {
	v, ok, _ := unstructured.NestedFieldNoCopy(ic.Object, "status", "progress")
	if !ok {
		return "progress not reported"
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(fmt.Sprint(v)), "%"), 64)
	if err != nil || f < 0 || f > 100 {
		return "progress not reported"
	}
	return fmt.Sprintf("%g%% done", f)
}

// events renders ECI's status.events, whose shape ECI does not document, as one line.
func events(ic *unstructured.Unstructured) string {
	v, ok, _ := unstructured.NestedFieldNoCopy(ic.Object, "status", "events")
	if !ok || v == nil {
		return "no events reported"
	}
	list, ok := v.([]any)
	if !ok {
		b, _ := json.Marshal(v)
		return string(b)
	}
	parts := make([]string, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			parts = append(parts, fmt.Sprint(e))
			continue
		}
		var fields []string
		for _, k := range []string{"type", "reason", "name", "message"} {
			if s, ok := m[k].(string); ok && s != "" {
				fields = append(fields, s)
			}
		}
		if len(fields) == 0 {
			b, _ := json.Marshal(m)
			fields = append(fields, string(b))
		}
		parts = append(parts, strings.Join(fields, ": "))
	}
	if len(parts) == 0 {
		return "no events reported"
	}
	return strings.Join(parts, "; ")
}
