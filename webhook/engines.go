package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/argo-eci/argo-eci/badinput"
	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/sizing"
)

// ErrNoProfiles is reported by the readiness check until a first profile set has loaded.
var ErrNoProfiles = errors.New("no profiles loaded yet")

// EngineStore holds the shaping engine in use. Reloads swap it atomically: a review in flight
// finishes with the engine it started with, and a bad new profile set never replaces a good one.
type EngineStore struct {
	// Metrics receives load results; nil records nothing.
	Metrics *Metrics
	// Logger logs loads; nil uses slog.Default().
	Logger *slog.Logger
	// Sizing holds the learned specs the engines apply under sizing: learned; nil: none.
	Sizing *sizing.Store

	current   atomic.Pointer[loadedEngine]
	mu        sync.Mutex // serialises loads so "last data" and "current" stay in step
	data      []byte     // the profile bytes of the current engine
	rejected  []byte     // the last profile bytes that failed to load
	rejectErr error      // and their error
}

type loadedEngine struct{ Shaper }

// Current returns the engine in use, or nil before the first successful load.
func (s *EngineStore) Current() Shaper {
	if e := s.current.Load(); e != nil {
		return e.Shaper
	}
	return nil
}

// Set installs an engine directly (tests, or a caller that built one itself).
func (s *EngineStore) Set(e Shaper) { s.current.Store(&loadedEngine{e}) }

// Load parses profiles.yaml data and installs a new engine built from it. Unchanged data is a
// no-op. On error the engine in use is kept and the error, naming the bad field, is returned for
// the caller to report (Load logs only successful loads); an empty document is an error. changed
// reports whether the outcome is new: a new engine installed, or data rejected for the first time.
// Data that failed before fails again with changed false and is not counted again, so a caller
// polling the same bad data reports it once. kind ("file" or "configmap") labels the metrics;
// origin names the file or object in logs and errors.
func (s *EngineStore) Load(kind, origin string, data []byte) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current.Load() != nil && bytes.Equal(data, s.data) {
		return false, nil
	}
	if s.rejected != nil && bytes.Equal(data, s.rejected) {
		return false, s.rejectErr // already returned and counted once
	}
	var profiles *emissary.Profiles
	if len(bytes.TrimSpace(data)) == 0 {
		// Most likely a file caught between truncation and write; never let it switch
		// shaping off. An explicit `profiles: {}` does that.
		err = badinput.Errorf("profiles.yaml", "empty document (write `profiles: {}` to shape nothing)")
	} else {
		profiles, err = emissary.ParseProfiles(data)
	}
	if s.Metrics != nil {
		s.Metrics.profileLoad(kind, err)
	}
	if err != nil {
		s.rejected, s.rejectErr = bytes.Clone(data), fmt.Errorf("loading profiles from %s: %w", origin, err)
		return true, s.rejectErr
	}
	s.Set(emissary.NewEngine(profiles).WithSizing(s.Sizing))
	s.data, s.rejected, s.rejectErr = bytes.Clone(data), nil, nil
	s.logger().Info("profiles loaded", "source", origin, "bytes", len(data))
	return true, nil
}

func (s *EngineStore) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *EngineStore) ready() error {
	if s.Current() == nil {
		return ErrNoProfiles
	}
	return nil
}

// ProfileFile keeps an EngineStore in step with a profiles.yaml file. It watches the file's
// directory (a mounted ConfigMap swaps a symlink there) and also polls, so every kind of
// replacement is seen.
type ProfileFile struct {
	// Path is the profiles.yaml file.
	Path string
	// Store receives the engines.
	Store *EngineStore
	// Interval is the poll period; 0 means 10 s.
	Interval time.Duration
}

// Load reads the file once into the store and returns the error, if any (it logs none).
func (f *ProfileFile) Load() error {
	_, err := f.load()
	return err
}

// load is Load, also reporting whether the outcome is new (see EngineStore.Load).
func (f *ProfileFile) load() (changed bool, err error) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		if f.Store.Metrics != nil {
			f.Store.Metrics.profileLoad("file", err)
		}
		return true, fmt.Errorf("reading profiles: %w", err)
	}
	return f.Store.Load("file", f.Path, data)
}

// Run reloads the file on every change until ctx is cancelled. A file that cannot be read is
// logged at every attempt; bad profiles are logged once per distinct content, and counted by the
// store. The previous engine stays in use.
func (f *ProfileFile) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching profiles: %w", err)
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(f.Path)); err != nil {
		return fmt.Errorf("watching profiles directory: %w", err)
	}
	interval := f.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	log := f.Store.logger()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.Events:
			// The directory may be busy with other files; a mounted ConfigMap swaps its
			// ..data symlink, a plain file is written or renamed in place.
			if name := filepath.Base(ev.Name); name != filepath.Base(f.Path) && name != "..data" {
				continue
			}
		case err := <-w.Errors:
			log.Warn("profiles watch error", "path", f.Path, "error", err)
			continue
		case <-tick.C:
		}
		switch changed, err := f.load(); {
		case errors.Is(err, os.ErrNotExist):
			log.Warn("profiles file missing; keeping the previous profiles", "path", f.Path)
		case err != nil && changed:
			log.Error("profiles rejected; keeping the previous profiles", "source", f.Path, "error", err)
		}
	}
}

// ProfileConfigMap keeps an EngineStore in step with a ConfigMap (by default
// argo-eci-profiles, key profiles.yaml) through an informer on that one object.
type ProfileConfigMap struct {
	// Client reads the ConfigMap.
	Client kubernetes.Interface
	// Namespace and Name locate the ConfigMap; Key is the data key holding profiles.yaml.
	Namespace, Name, Key string
	// Store receives the engines.
	Store *EngineStore

	informer cache.SharedIndexInformer
}

// Start starts the informer; it stops when ctx is cancelled. Call it once.
func (c *ProfileConfigMap) Start(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(c.Client, 0,
		informers.WithNamespace(c.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", c.Name).String()
		}))
	c.informer = factory.Core().V1().ConfigMaps().Informer()
	source := c.Namespace + "/" + c.Name
	apply := func(obj any) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok || cm.Name != c.Name {
			return
		}
		data, ok := cm.Data[c.Key]
		if !ok {
			err := fmt.Errorf("ConfigMap %s has no key %q", source, c.Key)
			if c.Store.Metrics != nil {
				c.Store.Metrics.profileLoad("configmap", err)
			}
			c.logger().Error("profiles rejected; keeping the previous profiles", "source", source, "error", err)
			return
		}
		if changed, err := c.Store.Load("configmap", source, []byte(data)); err != nil && changed {
			c.logger().Error("profiles rejected; keeping the previous profiles", "source", source, "error", err)
		}
	}
	_, err := c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    apply,
		UpdateFunc: func(_, obj any) { apply(obj) },
		DeleteFunc: func(any) {
			c.logger().Warn("profiles ConfigMap deleted; keeping the previous profiles", "source", source)
		},
	})
	if err != nil {
		return fmt.Errorf("watching %s: %w", source, err)
	}
	factory.Start(ctx.Done())
	return nil
}

// Synced reports whether the informer has listed the ConfigMap.
func (c *ProfileConfigMap) Synced() error {
	if c.informer == nil || !c.informer.HasSynced() {
		return fmt.Errorf("profiles ConfigMap %s/%s not synced yet", c.Namespace, c.Name)
	}
	return nil
}

func (c *ProfileConfigMap) logger() *slog.Logger { return c.Store.logger() }
