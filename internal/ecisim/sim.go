package ecisim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/argo-eci/argo-eci/eci"
)

// Simulator plays ECI for the pods of managed nodes. Set the exported fields, then Run.
type Simulator struct {
	// Kube reaches the apiserver.
	Kube kubernetes.Interface
	// Namespace holds the fallback eci-simulator ConfigMap.
	Namespace string
	// Logger records every decision (default: discard).
	Logger *slog.Logger
	// Workers is how many pods are handled at once (default 4).
	Workers int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Seed makes VSwitchRandom reproducible (default 1).
	Seed uint64

	pods    corelisters.PodLister
	nodes   corelisters.NodeLister
	configs corelisters.ConfigMapLister
	queue   workqueue.TypedRateLimitingInterface[string]
	mu      sync.Mutex
	rng     *rand.Rand
}

// Run watches pods, nodes and the simulator's ConfigMaps and plays ECI until ctx ends.
func (s *Simulator) Run(ctx context.Context) error {
	if s.Kube == nil {
		return errors.New("ecisim: Simulator.Kube is nil")
	}
	s.defaults()
	factory := informers.NewSharedInformerFactory(s.Kube, 0)
	podInformer := factory.Core().V1().Pods()
	s.pods = podInformer.Lister()
	s.nodes = factory.Core().V1().Nodes().Lister()
	s.configs = factory.Core().V1().ConfigMaps().Lister()
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueue,
		UpdateFunc: func(_, obj any) { s.enqueue(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("ecisim: %v cache never synced", typ)
		}
	}
	s.Logger.Info("eci simulator started", "namespace", s.Namespace, "workers", s.Workers)
	var wg sync.WaitGroup
	for range s.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	s.queue.ShutDown()
	wg.Wait()
	return nil
}

func (s *Simulator) defaults() {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Workers <= 0 {
		s.Workers = 4
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	s.rng = rand.New(rand.NewPCG(s.Seed, s.Seed))
	s.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
}

func (s *Simulator) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		s.queue.Add(key)
	}
}

func (s *Simulator) next(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	after, err := s.sync(ctx, key)
	switch {
	case err != nil:
		s.Logger.Warn("eci simulator step failed, retrying", "pod", key, "err", err)
		s.queue.AddRateLimited(key)
	case after > 0:
		s.queue.Forget(key)
		s.queue.AddAfter(key, after)
	default:
		s.queue.Forget(key)
	}
	return true
}

// sync plays one step for the pod with key and says when to look again (0 = on its next change).
func (s *Simulator) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := s.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && (pod.DeletionTimestamp != nil || !s.managed(pod))) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	cfg, err := s.config(ns)
	if err != nil {
		s.Logger.Error("eci simulator config invalid, pod left alone", "pod", key, "err", err)
		return 5 * time.Second, nil
	}
	switch {
	case pod.Status.Phase == corev1.PodPending && pod.Annotations[eci.AnnotationInstanceID] == "":
		// The informer's copy can lag behind this simulator's own writes: read the pod itself
		// before creating an instance, so a pod is never placed twice.
		live, err := s.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if live.Annotations[eci.AnnotationInstanceID] != "" || live.Status.Phase != corev1.PodPending {
			return 0, nil
		}
		return s.create(ctx, live, cfg)
	case pod.Status.Phase == corev1.PodRunning && pod.Annotations[eci.AnnotationInstanceID] != "":
		return s.running(ctx, pod, cfg)
	}
	return 0, nil
}

func (s *Simulator) managed(pod *corev1.Pod) bool {
	if pod.Spec.NodeName == "" {
		return false
	}
	node, err := s.nodes.Get(pod.Spec.NodeName)
	return err == nil && node.Annotations[AnnotationManaged] == "true"
}

// config is the pod namespace's eci-simulator ConfigMap, else the simulator namespace's, else the
// defaults.
func (s *Simulator) config(ns string) (*Config, error) {
	for _, n := range []string{ns, s.Namespace} {
		cm, err := s.configs.ConfigMaps(n).Get(ConfigMapName)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c, err := ParseConfig([]byte(cm.Data[ConfigKey]))
		if err != nil {
			return nil, fmt.Errorf("ConfigMap %s/%s key %s: %w", n, ConfigMapName, ConfigKey, err)
		}
		return c, nil
	}
	c := &Config{}
	c.Default()
	return c, nil
}

func (s *Simulator) shuffle(v []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rng.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
}

// pickedForReclaim decides, the same way for the same pod every time, whether a spot instance is
// among the fraction reclaimed.
func pickedForReclaim(uid string, fraction float64) bool {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return float64(h.Sum64()%10000)/10000 < fraction
}

func instanceID(uid string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return fmt.Sprintf("eci-sim%016x", h.Sum64())
}

func (s *Simulator) now() metav1.Time { return metav1.NewTime(s.Now()) }
