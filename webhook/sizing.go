package webhook

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/argo-eci/argo-eci/sizing"
)

// SizingConfigMap keeps a sizing.Store in step with the argo-eci-sizing ConfigMap (the specs
// `argo-eci recommend --apply` learned), through an informer on that one object. Engines read the
// store on every pod, so profiles with sizing: learned see a new table at once. A broken
// ConfigMap keeps the previous table; a deleted one empties it (declared specs again).
type SizingConfigMap struct {
	// Client reads the ConfigMap.
	Client kubernetes.Interface
	// Namespace and Name locate the ConfigMap (Name "" means sizing.ConfigMapName).
	Namespace, Name string
	// Store receives the tables; required.
	Store *sizing.Store
	// Logger logs updates; nil uses slog.Default().
	Logger *slog.Logger

	informer cache.SharedIndexInformer
}

func (c *SizingConfigMap) name() string {
	if c.Name == "" {
		return sizing.ConfigMapName
	}
	return c.Name
}

func (c *SizingConfigMap) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

// apply installs the table of cm; a broken one is logged and the previous table kept.
func (c *SizingConfigMap) apply(obj any) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok || cm.Name != c.name() {
		return
	}
	source := cm.Namespace + "/" + cm.Name
	if err := c.Store.Update(cm.Data); err != nil {
		c.logger().Warn("sizing ConfigMap rejected; keeping the previous learned specs", "source", source, "error", err)
		return
	}
	c.logger().Info("learned specs loaded", "source", source, "templates", c.Store.Table().Len())
}

// remove empties the table: without the ConfigMap every template has its declared spec.
func (c *SizingConfigMap) remove(any) {
	_ = c.Store.Update(nil) // an empty table always parses
	c.logger().Info("sizing ConfigMap deleted; declared specs from now on", "source", c.Namespace+"/"+c.name())
}

// Start starts the informer; it stops when ctx is cancelled. Call it once.
func (c *SizingConfigMap) Start(ctx context.Context) error {
	if c.Store == nil {
		return fmt.Errorf("sizing ConfigMap %s/%s: no store", c.Namespace, c.name())
	}
	factory := informers.NewSharedInformerFactoryWithOptions(c.Client, 0,
		informers.WithNamespace(c.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", c.name()).String()
		}))
	c.informer = factory.Core().V1().ConfigMaps().Informer()
	_, err := c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.apply,
		UpdateFunc: func(_, obj any) { c.apply(obj) },
		DeleteFunc: c.remove,
	})
	if err != nil {
		return fmt.Errorf("watching %s/%s: %w", c.Namespace, c.name(), err)
	}
	factory.Start(ctx.Done())
	return nil
}

// Synced reports whether the informer has listed the ConfigMap (present or not).
func (c *SizingConfigMap) Synced() error {
	if c.informer == nil || !c.informer.HasSynced() {
		return fmt.Errorf("sizing ConfigMap %s/%s not synced yet", c.Namespace, c.name())
	}
	return nil
}
