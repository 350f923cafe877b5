package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/argo-eci/argo-eci/internal/firstseen"
	"sort"
	"strings"
	"sync"
	"time"

	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels and annotations on the objects the plugin creates.
const (
	LabelWorkflowUID = "argo-eci.io/workflow-uid"
	LabelWorkflow    = "argo-eci.io/workflow"
	LabelWarmKey     = "argo-eci.io/warm-key"
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	// AnnotationFindings keeps the differences found between the template and existing objects, so
	// every later reply (even after a plugin restart) can still report them.
	AnnotationFindings = "argo-eci.io/findings"
	managedBy          = "argo-eci"
)

// Manager runs dataset warm-ups: it creates the Dataset, JindoRuntime and DataLoad and reports on them.
// It keeps no state that matters across restarts: the DataLoad's name is derived from the workflow
// UID and the template content, so any replica or restart finds the same object.
type Manager struct {
	// Client talks to the apiserver directly (no cache): each execute costs 2 GETs once the DataLoad exists.
	Client client.Client
	// Requeue is the polling policy; zero values mean 1s and 15s.
	Requeue Requeue
	// Settle is how long a Complete DataLoad below minCachedPercentage waits for Fluid to refresh the
	// Dataset's cache states before the node fails; zero means 30s.
	Settle time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	firstSeen firstseen.Tracker
	// waiting holds the findings of warm-ups whose Dataset and runtime this process has already
	// ensured and whose DataLoad it has not created yet: their polls cost one GET (the Dataset).
	waiting map[string][]string
}

// remember records a warm-up that waits before its DataLoad (Dataset not Bound or lock held).
func (m *Manager) remember(key string, findings []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.waiting == nil {
		m.waiting = map[string][]string{}
	}
	m.waiting[key] = append([]string{}, findings...)
}

// forget drops a remembered warm-up.
func (m *Manager) forget(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.waiting, key)
}

// waitingDataset returns the Dataset of a warm-up this process already saw waiting (ok true), with
// one GET and no DataLoad or runtime look-up: a DataLoad made meanwhile by another process is found
// when the Create reports AlreadyExists.
func (m *Manager) waitingDataset(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec, key string) (*fluidv1.Dataset, []string, bool, error) {
	m.mu.Lock()
	findings, ok := m.waiting[key]
	m.mu.Unlock()
	if !ok {
		return nil, nil, false, nil
	}
	ds := &fluidv1.Dataset{}
	if err := m.Client.Get(ctx, types.NamespacedName{Namespace: wf.Namespace, Name: spec.Name}, ds); err != nil {
		if apierrors.IsNotFound(err) {
			m.forget(key)
			return nil, nil, false, nil
		}
		return nil, nil, false, fmt.Errorf("get Dataset %s/%s: %w", wf.Namespace, spec.Name, err)
	}
	return ds, findings, true, nil
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) requeue() Requeue {
	r := m.Requeue
	if r.Min <= 0 {
		r.Min = time.Second
	}
	if r.Max <= 0 {
		r.Max = 15 * time.Second
	}
	if r.Max < r.Min {
		r.Max = r.Min
	}
	return r
}

func (m *Manager) settle() time.Duration {
	if m.Settle <= 0 {
		return 30 * time.Second
	}
	return m.Settle
}

// Key is the idempotency key of a warm-up: the workflow UID plus the template content. The agent's
// request carries no node ID, so this is what makes repeated, concurrent and post-restart calls meet.
func Key(workflowUID string, spec *Spec) string {
	b, _ := json.Marshal(spec) // struct field order and sorted map keys make this canonical
	h := sha256.New()
	h.Write([]byte(workflowUID))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))[:40]
}

// DataLoadName is the deterministic DataLoad name for a key: short enough for the Jobs and Helm
// releases Fluid derives from it.
func DataLoadName(dataset, key string) string {
	prefix := dataset
	if len(prefix) > 28 {
		prefix = strings.TrimRight(prefix[:28], "-")
	}
	return prefix + "-warm-" + key[:10]
}

// ErrForeignDataLoad means a DataLoad with the deterministic name exists but was not made for this warm-up.
var ErrForeignDataLoad = errors.New("a DataLoad with this name exists but was not created for this workflow and template")

// Warm runs one step of the warm-up described by spec for workflow wf and returns the node's reply.
// Validate spec first. Errors are Kubernetes errors (wrapped) for the caller to classify.
func (m *Manager) Warm(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec) (executorplugins.ExecuteTemplateReply, error) {
	now := m.now()
	key := Key(wf.UID, spec)
	name := DataLoadName(spec.Name, key)
	st := &state{now: now, spec: spec, requeue: m.requeue(), settle: m.settle()}

	ds, findings, ok, err := m.waitingDataset(ctx, wf, spec, key)
	if err != nil {
		return executorplugins.ExecuteTemplateReply{}, err
	}
	if !ok {
		dl := &fluidv1.DataLoad{}
		err := m.Client.Get(ctx, types.NamespacedName{Namespace: wf.Namespace, Name: name}, dl)
		switch {
		case err == nil:
			return m.assessExisting(ctx, st, wf, key, dl)
		case !apierrors.IsNotFound(err):
			return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("get DataLoad %s/%s: %w", wf.Namespace, name, err)
		}
		if ds, findings, err = m.ensureDataset(ctx, wf, spec); err != nil {
			return executorplugins.ExecuteTemplateReply{}, err
		}
	}
	if ds == nil {
		return st.failed(fmt.Sprintf("Dataset %s not found in namespace %s; give dataset.mounts (and dataset.runtime) to create it", spec.Name, wf.Namespace), 0), nil
	}
	st.dataset, st.findings = ds, findings
	st.start = m.firstSeen.Seen(key, now)
	// A Dataset this workflow created anchors the timeout durably (it survives plugin restarts).
	if ds.Labels[LabelWorkflowUID] == wf.UID && !ds.CreationTimestamp.IsZero() && ds.CreationTimestamp.Time.Before(st.start) {
		st.start = ds.CreationTimestamp.Time
	}
	if reply, ok := st.assessWaiting(); !ok {
		m.remember(key, findings)
		return reply, nil
	}
	m.forget(key)

	dl := m.newDataLoad(wf, spec, key, name, findings)
	if err := m.Client.Create(ctx, dl); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("create DataLoad %s/%s: %w", wf.Namespace, name, err)
		}
		// A concurrent call (or another replica) won the race: reuse its DataLoad.
		dl = &fluidv1.DataLoad{}
		if err := m.Client.Get(ctx, types.NamespacedName{Namespace: wf.Namespace, Name: name}, dl); err != nil {
			return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("get DataLoad %s/%s: %w", wf.Namespace, name, err)
		}
		if dl.Labels[LabelWarmKey] != key {
			return st.failed(fmt.Sprintf("DataLoad %s/%s: %v", wf.Namespace, name, ErrForeignDataLoad), 0), nil
		}
	}
	st.dataLoad = dl
	st.start = dl.CreationTimestamp.Time
	if st.start.IsZero() {
		st.start = m.firstSeen.Seen(key, now)
	}
	return st.assessLoad(), nil
}

func (m *Manager) assessExisting(ctx context.Context, st *state, wf executorplugins.ObjectMeta, key string, dl *fluidv1.DataLoad) (executorplugins.ExecuteTemplateReply, error) {
	if dl.Labels[LabelWarmKey] != key {
		return st.failed(fmt.Sprintf("DataLoad %s/%s: %v", dl.Namespace, dl.Name, ErrForeignDataLoad), 0), nil
	}
	ds := &fluidv1.Dataset{}
	if err := m.Client.Get(ctx, types.NamespacedName{Namespace: wf.Namespace, Name: st.spec.Name}, ds); err != nil {
		if apierrors.IsNotFound(err) {
			return st.failed(fmt.Sprintf("Dataset %s was deleted while DataLoad %s was running", st.spec.Name, dl.Name), 0), nil
		}
		return executorplugins.ExecuteTemplateReply{}, fmt.Errorf("get Dataset %s/%s: %w", wf.Namespace, st.spec.Name, err)
	}
	st.dataLoad, st.dataset = dl, ds
	st.start = dl.CreationTimestamp.Time
	if st.start.IsZero() {
		st.start = m.firstSeen.Seen(key, st.now)
	}
	if f := dl.Annotations[AnnotationFindings]; f != "" {
		st.findings = strings.Split(f, "\n")
	}
	return st.assessLoad(), nil
}

// ownerRefs returns the Workflow owner reference when cleanup is onWorkflowDeletion.
func ownerRefs(wf executorplugins.ObjectMeta, spec *Spec) []metav1.OwnerReference {
	if spec.Cleanup != CleanupOnWorkflowDeletion {
		return nil
	}
	return []metav1.OwnerReference{{
		APIVersion: "argoproj.io/v1alpha1",
		Kind:       "Workflow",
		Name:       wf.Name,
		UID:        types.UID(wf.UID),
	}}
}

func labels(wf executorplugins.ObjectMeta, key string) map[string]string {
	l := map[string]string{LabelManagedBy: managedBy}
	if len(validation.IsValidLabelValue(wf.UID)) == 0 {
		l[LabelWorkflowUID] = wf.UID
	}
	if len(validation.IsValidLabelValue(wf.Name)) == 0 {
		l[LabelWorkflow] = wf.Name
	}
	if key != "" {
		l[LabelWarmKey] = key
	}
	return l
}

// ensureDataset gets the Dataset, creating it and its JindoRuntime when the template describes them.
// It never changes existing objects: differences become findings. ds is nil when the Dataset does
// not exist and cannot be created.
func (m *Manager) ensureDataset(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec) (ds *fluidv1.Dataset, findings []string, err error) {
	nn := types.NamespacedName{Namespace: wf.Namespace, Name: spec.Name}
	ds = &fluidv1.Dataset{}
	err = m.Client.Get(ctx, nn, ds)
	switch {
	case err == nil:
		if len(spec.Mounts) > 0 {
			if diff := subsetDiff("spec.mounts", spec.Mounts, ds.Spec.Mounts); len(diff) > 0 {
				findings = append(findings, fmt.Sprintf("existing Dataset %s differs from the template at %s and was left unchanged",
					spec.Name, strings.Join(diff, ", ")))
			}
		}
	case apierrors.IsNotFound(err):
		if len(spec.Mounts) == 0 {
			return nil, nil, nil
		}
		ds = &fluidv1.Dataset{
			ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Namespace: wf.Namespace, Labels: labels(wf, ""), OwnerReferences: ownerRefs(wf, spec)},
			Spec:       fluidv1.DatasetSpec{Mounts: spec.Mounts},
		}
		if err := m.Client.Create(ctx, ds); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return nil, nil, fmt.Errorf("create Dataset %s: %w", nn, err)
			}
			if err := m.Client.Get(ctx, nn, ds); err != nil {
				return nil, nil, fmt.Errorf("get Dataset %s: %w", nn, err)
			}
		}
	default:
		return nil, nil, fmt.Errorf("get Dataset %s: %w", nn, err)
	}

	if spec.Runtime == nil {
		return ds, findings, nil
	}
	rt := &fluidv1.JindoRuntime{}
	err = m.Client.Get(ctx, nn, rt)
	switch {
	case err == nil:
		if diff := subsetDiff("spec", spec.Runtime, rt.Spec); len(diff) > 0 {
			findings = append(findings, fmt.Sprintf("existing JindoRuntime %s differs from the template at %s and was left unchanged",
				spec.Name, strings.Join(diff, ", ")))
		}
	case apierrors.IsNotFound(err):
		rt = &fluidv1.JindoRuntime{
			ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Namespace: wf.Namespace, Labels: labels(wf, ""), OwnerReferences: ownerRefs(wf, spec)},
			Spec:       *spec.Runtime,
		}
		if err := m.Client.Create(ctx, rt); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, nil, fmt.Errorf("create JindoRuntime %s: %w", nn, err)
		}
	default:
		return nil, nil, fmt.Errorf("get JindoRuntime %s: %w", nn, err)
	}
	return ds, findings, nil
}

func (m *Manager) newDataLoad(wf executorplugins.ObjectMeta, spec *Spec, key, name string, findings []string) *fluidv1.DataLoad {
	paths := spec.Load.Paths
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	targets := make([]fluidv1.TargetPath, 0, len(paths))
	for _, p := range paths {
		targets = append(targets, fluidv1.TargetPath{Path: p, Replicas: spec.Load.Replicas})
	}
	dl := &fluidv1.DataLoad{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       wf.Namespace,
			Labels:          labels(wf, key),
			OwnerReferences: ownerRefs(wf, spec),
		},
		Spec: fluidv1.DataLoadSpec{
			Dataset:      fluidv1.TargetDataset{Name: spec.Name, Namespace: wf.Namespace},
			LoadMetadata: spec.Load.LoadMetadata,
			Target:       targets,
			Options:      spec.Load.Options,
			Policy:       fluidv1.Once,
		},
	}
	if len(findings) > 0 {
		dl.Annotations = map[string]string{AnnotationFindings: strings.Join(findings, "\n")}
	}
	return dl
}

// subsetDiff lists the JSON paths where want (what the template asked for) is not matched by have
// (what exists). Fields the template leaves out are not compared, so apiserver defaults are no finding.
func subsetDiff(root string, want, have any) []string {
	var w, h any
	wb, _ := json.Marshal(want)
	hb, _ := json.Marshal(have)
	_ = json.Unmarshal(wb, &w)
	_ = json.Unmarshal(hb, &h)
	var out []string
	walkDiff(root, w, h, &out)
	sort.Strings(out)
	return out
}

func walkDiff(path string, w, h any, out *[]string) {
	switch wv := w.(type) {
	case map[string]any:
		hv, ok := h.(map[string]any)
		if !ok {
			*out = append(*out, path)
			return
		}
		for k, x := range wv {
			walkDiff(path+"."+k, x, hv[k], out)
		}
	case []any:
		hv, ok := h.([]any)
		if !ok || len(hv) != len(wv) {
			*out = append(*out, path)
			return
		}
		for i := range wv {
			walkDiff(fmt.Sprintf("%s[%d]", path, i), wv[i], hv[i], out)
		}
	default:
		if fmt.Sprint(w) != fmt.Sprint(h) {
			*out = append(*out, path)
		}
	}
}
