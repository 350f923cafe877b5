package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	executorplugins "github.com/argoproj/argo-workflows/v4/pkg/plugins/executor"
	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/fluid-cloudnative/fluid/pkg/common"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/argo-eci/argo-eci/internal/requeue"
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
	// AnnotationAttemptEnded marks a DataLoad whose node attempt has been answered Succeeded or
	// Failed: a later call with the same template is a retry and gets a new DataLoad.
	AnnotationAttemptEnded = "argo-eci.io/attempt-ended"
	managedBy              = "argo-eci"
)

// DefaultRequeue polls a warm-up every second at first and at least every 2 s: the step after it
// starts within about 2 s of Fluid reporting the load Complete.
var DefaultRequeue = requeue.Policy{Min: time.Second, Max: 2 * time.Second}

// DefaultSettle covers one periodic cache-state sync of Fluid's runtime controller (about 90 s,
// throttled to 15 s) after the plugin first sees a DataLoad Complete.
const DefaultSettle = 2 * time.Minute

// DefaultStuck is three of Fluid's 20 s DataLoad checks: a load that finished is marked Complete
// within one.
const DefaultStuck = time.Minute

func (m *Manager) stuck() time.Duration {
	if m.Stuck <= 0 {
		return DefaultStuck
	}
	return m.Stuck
}

// maxAttempts bounds the look-up of earlier attempts after a plugin restart.
const maxAttempts = 64

// Manager runs dataset warm-ups: it creates the Dataset, JindoRuntime and DataLoad and reports on them.
//
// The agent's request carries no node ID, so a retried node (retryStrategy, `argo retry`) sends the
// same template as the attempt that failed. What tells the attempts apart is that the failed one was
// answered: when the plugin answers Succeeded or Failed for its DataLoad it marks that DataLoad
// (AnnotationAttemptEnded), and the next call with the same template starts attempt n+1 with a new
// DataLoad (name suffix -n) and a new timeout. The marks live in the apiserver, so a restarted plugin
// finds the current attempt again.
type Manager struct {
	// Client talks to the apiserver directly (no cache): a poll costs 2 GETs (Dataset, DataLoad).
	Client client.Client
	// Requeue is the polling policy; zero fields take DefaultRequeue's.
	Requeue requeue.Policy
	// Settle is how long a Complete DataLoad whose cache looks short waits for Fluid's next cache-state
	// refresh, counted from when the plugin first sees Complete; zero means DefaultSettle.
	Settle time.Duration
	// Stuck is how long an Executing DataLoad whose cache already meets the minimum may stay
	// Executing before the plugin takes the load as done (fluid#4287); zero means DefaultStuck.
	Stuck time.Duration
	// Placement is the loader pods' default placement; nil means ECIPlacement().
	Placement *Placement
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	attempts map[string]*attempt
}

// attempt is what the plugin remembers about the current attempt of one warm-up.
type attempt struct {
	mu        sync.Mutex
	n         int       // 0 until found; attempt n's own DataLoad is DataLoadName(...)+suffix(n)
	firstSeen time.Time // first call of this attempt
	ensured   bool      // Dataset and runtime checked in this attempt
	findings  []string
	followed  string    // a DataLoad started by someone else that this attempt follows
	own       int       // 1 once the attempt's own DataLoad exists
	created   time.Time // its creationTimestamp
	// completeSeen and cacheAtComplete anchor the settle window of a Complete DataLoad.
	completeSeen    time.Time
	fullSince       time.Time // cache at the minimum while the DataLoad is still Executing
	cacheAtComplete string
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) settle() time.Duration {
	if m.Settle <= 0 {
		return DefaultSettle
	}
	return m.Settle
}

// lockAttempt returns the locked attempt of key, dropping attempts idle for a day.
func (m *Manager) lockAttempt(key string, now time.Time) *attempt {
	m.mu.Lock()
	if m.attempts == nil {
		m.attempts = map[string]*attempt{}
	}
	a, ok := m.attempts[key]
	if !ok {
		for k, old := range m.attempts {
			if old.mu.TryLock() {
				if !old.firstSeen.IsZero() && now.Sub(old.firstSeen) > 24*time.Hour {
					delete(m.attempts, k)
				}
				old.mu.Unlock()
			}
		}
		a = &attempt{}
		m.attempts[key] = a
	}
	m.mu.Unlock()
	a.mu.Lock()
	return a
}

// start anchors the attempt's timeout: its DataLoad's creation (durable across restarts), else
// the attempt's first call.
func (a *attempt) start() time.Time {
	if !a.created.IsZero() {
		return a.created
	}
	return a.firstSeen
}

// next forgets the ended attempt and prepares attempt n.
func (a *attempt) next(n int) {
	a.n, a.firstSeen, a.ensured, a.findings, a.followed, a.own, a.created = n, time.Time{}, false, nil, "", 0, time.Time{}
	a.completeSeen, a.cacheAtComplete, a.fullSince = time.Time{}, "", time.Time{}
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

// DataLoadName is the deterministic DataLoad name of attempt n (1-based) for a key: short enough for
// the Jobs and Helm releases Fluid derives from it.
func DataLoadName(dataset, key string, n int) string {
	prefix := dataset
	if len(prefix) > 28 {
		prefix = strings.TrimRight(prefix[:28], "-")
	}
	name := prefix + "-warm-" + key[:10]
	if n > 1 {
		name += "-" + strconv.Itoa(n)
	}
	return name
}

// ErrForeignDataLoad means a DataLoad with the deterministic name exists but was not made for this warm-up.
var ErrForeignDataLoad = errors.New("a DataLoad with this name exists but was not created for this workflow and template")

// Warm runs one step of the warm-up described by spec for workflow wf and returns the node's reply.
// Validate spec first. After an attempt's first call, transient Kubernetes errors become a Running
// reply that retries (the load goes on without the plugin); other errors are returned wrapped.
func (m *Manager) Warm(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec) (executorplugins.ExecuteTemplateReply, error) {
	now := m.now()
	key := Key(wf.UID, spec)
	a := m.lockAttempt(key, now)
	defer a.mu.Unlock()
	first := a.firstSeen.IsZero()
	if first {
		a.firstSeen = now
	}
	reply, err := m.step(ctx, wf, spec, key, a, now)
	switch {
	case err == nil || (first && requeue.IsTransient(err)):
		return reply, err // on a first call the agent itself retries a 503
	case !requeue.IsTransient(err):
		a.next(a.n) // the node fails: a retry starts afresh
		return reply, err
	}
	o := &observation{now: now, spec: spec, start: a.start(), requeue: m.Requeue.OrDefault(DefaultRequeue)}
	if o.timedOut() {
		// The DataLoad cannot be marked now: remember in memory that this attempt is over.
		a.next(a.n + a.own)
		return o.failed(fmt.Sprintf("timed out after %s; the last Kubernetes API call failed: %v", spec.TimeoutDuration(), err)), nil
	}
	return o.running(fmt.Sprintf("retrying after a Kubernetes API error (the load goes on meanwhile): %v", err)), nil
}

// step is one call: find or start the attempt's DataLoad, judge it, and end the attempt when the
// reply is final.
func (m *Manager) step(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec, key string, a *attempt, now time.Time) (executorplugins.ExecuteTemplateReply, error) {
	ds, err := m.dataset(ctx, wf, spec, a)
	if err != nil {
		return executorplugins.ExecuteTemplateReply{}, err
	}
	o := &observation{now: now, spec: spec, dataset: ds, start: a.firstSeen, settle: m.settle(),
		findings: a.findings, requeue: m.Requeue.OrDefault(DefaultRequeue)}
	if ds == nil {
		a.next(a.n)
		return o.failed(fmt.Sprintf("Dataset %s not found in namespace %s; give dataset.mounts (and dataset.runtime) to create it", spec.Name, wf.Namespace)), nil
	}
	dl, reply, err := m.dataLoad(ctx, wf, spec, key, a, o)
	if err != nil || reply.Node != nil {
		return reply, err
	}
	o.dataLoad, o.followed = dl, a.followed != ""
	if !o.followed {
		a.own, a.created = 1, dl.CreationTimestamp.Time
		o.start = a.start()
	}
	if f := dl.Annotations[AnnotationFindings]; f != "" && !o.followed && len(o.findings) == 0 {
		o.findings = strings.Split(f, "\n")
	}
	if dl.Status.Phase == common.PhaseComplete {
		if a.completeSeen.IsZero() {
			a.completeSeen, a.cacheAtComplete = now, cacheFingerprint(ds)
		}
		o.completeSeen, o.refreshed = a.completeSeen, cacheFingerprint(ds) != a.cacheAtComplete
	}
	if dl.Status.Phase == common.PhaseExecuting && alreadyWarm(spec, ds) {
		if a.fullSince.IsZero() {
			a.fullSince = now
		}
	} else {
		a.fullSince = time.Time{}
	}
	o.fullSince, o.stuck = a.fullSince, m.stuck()
	reply = o.assess()
	if reply.Node.Phase.Completed() {
		if err := m.endAttempt(ctx, a, dl, reply.Node.Phase); err != nil {
			return executorplugins.ExecuteTemplateReply{}, err
		}
	}
	return reply, nil
}

// dataLoad finds the attempt's DataLoad: the one it follows, its own, or a new one. It answers
// directly (reply.Node set) when no DataLoad is needed or allowed.
func (m *Manager) dataLoad(ctx context.Context, wf executorplugins.ObjectMeta, spec *Spec, key string, a *attempt, o *observation) (*fluidv1.DataLoad, executorplugins.ExecuteTemplateReply, error) {
	var none executorplugins.ExecuteTemplateReply
	if a.followed != "" {
		dl, err := m.getDataLoad(ctx, wf.Namespace, a.followed)
		if dl != nil || err != nil {
			return dl, none, err
		}
		a.followed = "" // gone (TTL or deleted): decide again below
	}
	if a.n == 0 {
		n, dl, err := m.findAttempt(ctx, wf.Namespace, spec, key)
		if err != nil {
			return nil, none, err
		}
		a.n = n
		if dl != nil {
			return m.checkOwn(dl, key, a, o)
		}
	} else if dl, err := m.getDataLoad(ctx, wf.Namespace, DataLoadName(spec.Name, key, a.n)); dl != nil || err != nil {
		if err != nil {
			return nil, none, err
		}
		return m.checkOwn(dl, key, a, o)
	}
	ds := o.dataset
	if alreadyWarm(spec, ds) {
		a.next(a.n)
		return nil, succeededReply(o.withFindings(fmt.Sprintf("Dataset %s is already warm: %s cached (minimum %g%%), no DataLoad needed (set load.force to reload)",
			ds.Name, percent(ds), spec.MinCached())), ds, nil), nil
	}
	if msg := capacityShort(spec, ds); msg != "" {
		a.next(a.n)
		return nil, o.failed(msg), nil
	}
	running, err := m.findRunning(ctx, wf.Namespace, spec, key)
	if err != nil || running != nil {
		if running != nil {
			a.followed = running.Name
		}
		return running, none, err
	}
	dl, err := m.createDataLoad(ctx, wf, spec, key, a)
	if err != nil {
		return nil, none, err
	}
	return m.checkOwn(dl, key, a, o)
}

// checkOwn refuses a DataLoad that has the attempt's name but was made for something else.
func (m *Manager) checkOwn(dl *fluidv1.DataLoad, key string, a *attempt, o *observation) (*fluidv1.DataLoad, executorplugins.ExecuteTemplateReply, error) {
	if dl.Labels[LabelWarmKey] != key {
		a.next(a.n)
		return nil, o.failed(fmt.Sprintf("DataLoad %s/%s: %v", dl.Namespace, dl.Name, ErrForeignDataLoad)), nil
	}
	return dl, executorplugins.ExecuteTemplateReply{}, nil
}

func (m *Manager) getDataLoad(ctx context.Context, ns, name string) (*fluidv1.DataLoad, error) {
	dl := &fluidv1.DataLoad{}
	if err := m.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, dl); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get DataLoad %s/%s: %w", ns, name, err)
	}
	return dl, nil
}

// findAttempt finds the current attempt after a restart: the first attempt whose DataLoad is
// missing or not marked ended.
func (m *Manager) findAttempt(ctx context.Context, ns string, spec *Spec, key string) (int, *fluidv1.DataLoad, error) {
	for n := 1; n <= maxAttempts; n++ {
		dl, err := m.getDataLoad(ctx, ns, DataLoadName(spec.Name, key, n))
		if err != nil {
			return 0, nil, err
		}
		if dl == nil || dl.Labels[LabelWarmKey] != key || dl.Annotations[AnnotationAttemptEnded] == "" {
			return n, dl, nil
		}
	}
	return maxAttempts, nil, fmt.Errorf("DataLoads of %d attempts of this template exist; delete them to start again", maxAttempts)
}

// findRunning returns a Pending or Executing DataLoad of the same Dataset whose targets cover every
// path of the template: following it avoids loading the same data twice. Fluid v1.0.8 does not
// serialise DataLoads (status.operationRef is a list), so nothing else is waited for.
func (m *Manager) findRunning(ctx context.Context, ns string, spec *Spec, key string) (*fluidv1.DataLoad, error) {
	var list fluidv1.DataLoadList
	if err := m.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list DataLoads in %s: %w", ns, err)
	}
	sort.Slice(list.Items, func(i, j int) bool {
		return list.Items[i].CreationTimestamp.Before(&list.Items[j].CreationTimestamp)
	})
	for i := range list.Items {
		dl := &list.Items[i]
		if dl.Spec.Dataset.Name != spec.Name || dl.Annotations[AnnotationAttemptEnded] != "" || !dl.DeletionTimestamp.IsZero() ||
			dl.Labels[LabelWarmKey] == key { // this warm-up's own: met by name, never followed
			continue
		}
		if dl.Status.Phase != common.PhasePending && dl.Status.Phase != common.PhaseExecuting {
			continue
		}
		if covers(dl.Spec.Target, spec.Load.Paths) {
			return dl, nil
		}
	}
	return nil, nil
}

// covers reports whether loading targets also loads every path in paths.
func covers(targets []fluidv1.TargetPath, paths []string) bool {
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	if len(targets) == 0 {
		targets = []fluidv1.TargetPath{{Path: "/"}}
	}
	for _, p := range paths {
		p = "/" + strings.Trim(p, "/")
		ok := false
		for _, t := range targets {
			tp := "/" + strings.Trim(t.Path, "/")
			if tp == "/" || p == tp || strings.HasPrefix(p, tp+"/") {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// endAttempt records that the attempt was answered, so the next call is a new attempt.
func (m *Manager) endAttempt(ctx context.Context, a *attempt, dl *fluidv1.DataLoad, phase wfv1.NodePhase) error {
	if a.followed != "" || dl == nil {
		a.next(a.n)
		return nil
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationAttemptEnded: string(phase)}}}
	raw, _ := json.Marshal(patch)
	if err := m.Client.Patch(ctx, dl, client.RawPatch(types.MergePatchType, raw)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("mark DataLoad %s/%s as answered: %w", dl.Namespace, dl.Name, err)
	}
	a.next(a.n + 1)
	return nil
}

// ownerRefs returns the Workflow owner reference unless cleanup is keep.
func ownerRefs(wf executorplugins.ObjectMeta, spec *Spec) []metav1.OwnerReference {
	if spec.CleanupPolicy() != CleanupOnWorkflowDeletion {
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
