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
	"github.com/argo-eci/argo-eci/internal/firstseen"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	// ImagePullSecrets as "namespace:secret".
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
		if ns, name, ok := strings.Cut(sec, ":"); !ok || ns == "" || name == "" {
			errs = append(errs, field.Invalid(path.Child("imagePullSecrets").Index(i), sec, `expected "namespace:secret"`))
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

// Requeue is the polling policy for image caches (they take minutes): every age/10 between Min and Max.
type Requeue struct {
	Min, Max time.Duration
}

// Manager creates, reuses and follows ImageCaches.
type Manager struct {
	// Client talks to the apiserver directly; each execute costs one GET once the cache exists.
	Client client.Client
	// Requeue is the polling policy; zero values mean 2s and 30s.
	Requeue Requeue
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	firstSeen firstseen.Tracker
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) requeueAfter(age time.Duration) time.Duration {
	lo, hi := m.Requeue.Min, m.Requeue.Max
	if lo <= 0 {
		lo = 2 * time.Second
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	d := age / 10
	return min(max(d, lo), max(hi, lo))
}

// Ensure runs one step: create the ImageCache if missing, then report its phase.
// Validate spec first. Errors are Kubernetes errors (wrapped) for the caller to classify.
func (m *Manager) Ensure(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec) (executorplugins.ExecuteTemplateReply, error) {
	now := m.now()
	name := spec.CacheName()
	ic := &unstructured.Unstructured{}
	ic.SetGroupVersionKind(GVK)
	err := m.Client.Get(ctx, types.NamespacedName{Name: name}, ic)
	switch {
	case apierrors.IsNotFound(err):
		ic = newImageCache(wf, spec, name)
		if err := m.Client.Create(ctx, ic); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("create ImageCache %s: %w", name, err)
			}
			ic = &unstructured.Unstructured{}
			ic.SetGroupVersionKind(GVK)
			if err := m.Client.Get(ctx, types.NamespacedName{Name: name}, ic); err != nil {
				return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("get ImageCache %s: %w", name, err)
			}
		}
	case err != nil:
		return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("get ImageCache %s: %w", name, err)
	}
	start := m.firstSeen.Seen(wf.UID+"/"+name, now)
	if ic.GetLabels()[LabelWorkflowUID] == wf.UID {
		if ct := ic.GetCreationTimestamp().Time; !ct.IsZero() && ct.Before(start) {
			start = ct
		}
	}
	return assess(ic, spec, now, start, m.requeueAfter(now.Sub(start))), nil
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
			secrets = append(secrets, sec)
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
	return ic
}

// assess turns an ImageCache's status into the node's reply.
func assess(ic *unstructured.Unstructured, spec *Spec, now, start time.Time, requeue time.Duration) executorplugins.ExecuteTemplateReply {
	name := ic.GetName()
	have, _, _ := unstructured.NestedStringSlice(ic.Object, "spec", "images")
	var missing []string
	for _, img := range spec.Images {
		if !slices.Contains(have, img) {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{
			Phase: wfv1.NodeFailed,
			Message: fmt.Sprintf("ImageCache %s exists without image(s) %s and was left unchanged; choose another imageCache.name",
				name, strings.Join(missing, ", ")),
		}}
	}
	phase, _, _ := unstructured.NestedString(ic.Object, "status", "phase")
	id, _, _ := unstructured.NestedString(ic.Object, "status", "imageCacheId")
	prog := parseProgress(ic)
	switch phase {
	case PhaseReady:
		return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{
			Phase:    wfv1.NodeSucceeded,
			Message:  fmt.Sprintf("ImageCache %s is Ready (%s)", name, id),
			Progress: "100/100",
			Outputs: &wfv1.Outputs{Parameters: []wfv1.Parameter{
				{Name: "imageCacheId", Value: wfv1.AnyStringPtr(id)},
				{Name: "phase", Value: wfv1.AnyStringPtr(phase)},
			}},
		}}
	case PhaseFailed, PhaseUpdateFailed:
		return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{
			Phase:   wfv1.NodeFailed,
			Message: fmt.Sprintf("ImageCache %s is %s: %s", name, phase, events(ic)),
			Outputs: &wfv1.Outputs{Parameters: []wfv1.Parameter{
				{Name: "imageCacheId", Value: wfv1.AnyStringPtr(id)},
				{Name: "phase", Value: wfv1.AnyStringPtr(phase)},
			}},
		}}
	}
	if phase == "" {
		phase = "not reported yet"
	}
	if now.Sub(start) >= spec.TimeoutDuration() {
		return executorplugins.ExecuteTemplateReply{Node: &wfv1.NodeResult{
			Phase:   wfv1.NodeFailed,
			Message: fmt.Sprintf("timed out after %s: ImageCache %s is still %s; it was left in place", spec.TimeoutDuration(), name, phase),
		}}
	}
	return executorplugins.ExecuteTemplateReply{
		Node: &wfv1.NodeResult{
			Phase:    wfv1.NodeRunning,
			Message:  fmt.Sprintf("waiting for ImageCache %s to be Ready (phase: %s)", name, phase),
			Progress: prog,
		},
		Requeue: &metav1.Duration{Duration: requeue},
	}
}

// parseProgress maps ECI's status.progress ("45%" or 45) to an Argo progress.
func parseProgress(ic *unstructured.Unstructured) wfv1.Progress {
	v, ok, _ := unstructured.NestedFieldNoCopy(ic.Object, "status", "progress")
	if !ok {
		return "0/100"
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(fmt.Sprint(v)), "%"), 64)
	if err != nil || f < 0 || f > 100 {
		return "0/100"
	}
	return wfv1.Progress(fmt.Sprintf("%d/100", int(f)))
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
