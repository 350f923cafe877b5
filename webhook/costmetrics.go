package webhook

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/argo-eci/argo-eci/cost"
	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/recovery"
)

// costMetrics are the counters of what ECI billed for finished Argo pods (from the pod watch of
// CostWatch) and of the recovery decisions taken at admission. Every one is labelled with the
// pod's namespace and the profile that shaped it (argo-eci.io/shaped-by; "" for pods argo-eci
// left alone).
type costMetrics struct {
	attempts  *prometheus.CounterVec
	seconds   *prometheus.CounterVec
	cny       *prometheus.CounterVec
	wasted    *prometheus.CounterVec
	decisions *prometheus.CounterVec
}

// Label values.
const (
	marketSpot     = "spot"
	marketOnDemand = "on-demand"
	priceList      = "list"
	priceBilled    = "billed"
)

func newCostMetrics(reg prometheus.Registerer) *costMetrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "argo_eci", Name: name, Help: help},
			append([]string{"namespace", "profile"}, labels...))
	}
	m := &costMetrics{
		attempts: counter("cost_attempts_total",
			"Finished Argo pods, by market (spot, on-demand), outcome (Succeeded, Failed) and retry (true for a retry's pod).",
			"market", "outcome", "retry"),
		seconds: counter("cost_billed_seconds_total",
			"Seconds ECI billed for finished Argo pods, by market and the spec ECI created.", "market", "spec"),
		cny: counter("cost_cny_total",
			"Estimated CNY of finished Argo pods at list price and as billed (spot at the spot ratio), by market.", "market", "price"),
		wasted: counter("cost_wasted_cny_total",
			"Estimated billed CNY of Argo pods that failed, by ECI failure (SpotReclaim, OOMKilled, StockOut, Evicted, Other).", "failure"),
		decisions: counter("recovery_decisions_total",
			"Retry pods that argo-eci shaped after ECI failures of earlier attempts, by failure.", "failure"),
	}
	reg.MustRegister(m.attempts, m.seconds, m.cny, m.wasted, m.decisions)
	return m
}

// outcomeDeleted is the outcome of a pod deleted before it finished (an eviction, such as a spot
// reclaim with api-evict): ECI billed it up to then, and the work is lost.
const outcomeDeleted = "Deleted"

// observe counts one finished (or deleted) pod.
func (m *costMetrics) observe(a cost.Attempt, pod *corev1.Pod, prices cost.Prices) {
	ns, profile := pod.Namespace, pod.Annotations[emissary.AnnotationShapedBy]
	market := marketOnDemand
	if a.Spot {
		market = marketSpot
	}
	m.attempts.WithLabelValues(ns, profile, market, a.Phase, strconv.FormatBool(a.Retry > 0)).Inc()
	if a.Spec == "" {
		return // no instance was created (a stock-out): ECI bills nothing
	}
	m.seconds.WithLabelValues(ns, profile, market, a.Spec).Add(a.Seconds)
	list, billed, ok := prices.Price(a)
	if !ok {
		return
	}
	m.cny.WithLabelValues(ns, profile, market, priceList).Add(list)
	m.cny.WithLabelValues(ns, profile, market, priceBilled).Add(billed)
	switch {
	case a.Phase == outcomeDeleted:
		m.wasted.WithLabelValues(ns, profile, string(recovery.FailureEvicted)).Add(billed)
	case a.Failed():
		failure := recovery.ClassifyPod(pod)
		if failure == recovery.FailureNone {
			failure = recovery.FailureOther
		}
		m.wasted.WithLabelValues(ns, profile, string(failure)).Add(billed)
	}
}

// finished reports a pod whose containers have all ended.
func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// CostWatch counts what ECI billed for every Argo pod that finishes, into the cost counters of
// Metrics, through a pod informer (Argo's pods only: label workflows.argoproj.io/workflow). A pod
// is counted once, when an update shows it finished or when it is deleted unfinished (outcome
// Deleted, billed up to then, wasted as Evicted); pods already finished when the watch starts are
// not counted.
type CostWatch struct {
	// Client lists and watches pods.
	Client kubernetes.Interface
	// Namespaces to watch; empty means every namespace.
	Namespaces []string
	// Workflows finds a pod's Workflow for its template and retry index; nil counts from the pod alone.
	Workflows WorkflowGetter
	// Metrics receives the counts; required.
	Metrics *Metrics
	// Prices prices the attempts; the zero value means cost.DefaultPrices().
	Prices cost.Prices
	// Now is the clock for pods without an end time; nil means time.Now.
	Now func() time.Time

	informers []cache.SharedIndexInformer
}

// Start starts one informer per namespace; they stop when ctx is cancelled. Call it once.
func (w *CostWatch) Start(ctx context.Context) error {
	if w.Metrics == nil || w.Client == nil {
		return errors.New("cost watch: Client and Metrics are required")
	}
	namespaces := w.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		factory := informers.NewSharedInformerFactoryWithOptions(w.Client, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = common.LabelKeyWorkflow }))
		inf := factory.Core().V1().Pods().Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: w.update, DeleteFunc: w.deleted}); err != nil {
			return fmt.Errorf("cost watch: %w", err)
		}
		w.informers = append(w.informers, inf)
		factory.Start(ctx.Done())
	}
	return nil
}

// Synced reports whether every informer has listed its pods.
func (w *CostWatch) Synced() error {
	for _, inf := range w.informers {
		if !inf.HasSynced() {
			return errors.New("cost watch: pod informer not synced yet")
		}
	}
	return nil
}

func (w *CostWatch) update(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 || finished(old) || !finished(pod) {
		return
	}
	w.Observe(pod)
}

// deleted counts a pod deleted before it finished.
func (w *CostWatch) deleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || finished(pod) {
		return
	}
	w.observe(pod, true)
}

// Observe counts one finished pod (the informer calls it; exported for callers with their own
// watch).
func (w *CostWatch) Observe(pod *corev1.Pod) { w.observe(pod, false) }

func (w *CostWatch) observe(pod *corev1.Pod, deleted bool) {
	if !emissary.IsArgoPod(pod) {
		return
	}
	var wf *wfv1.Workflow
	if w.Workflows != nil {
		wf, _ = w.Workflows.Workflow(pod.Namespace, pod.Labels[common.LabelKeyWorkflow])
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	prices := w.Prices
	if prices == (cost.Prices{}) {
		prices = cost.DefaultPrices()
	}
	a := cost.FromPod(pod, wf, now())
	if deleted {
		a.Phase = outcomeDeleted
	}
	w.Metrics.cost.observe(a, pod, prices)
}
