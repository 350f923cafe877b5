package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"github.com/fluid-cloudnative/fluid/pkg/common"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Spec is the `dataset` object of an argo-eci plugin template.
type Spec struct {
	// Name of the Dataset (and of the JindoRuntime bound to it) in the workflow's namespace.
	Name string `json:"name"`
	// Mounts, when given, create the Dataset if it does not exist yet.
	Mounts []fluidv1.Mount `json:"mounts,omitempty"`
	// Runtime, when given, creates the JindoRuntime if it does not exist yet. Only the fields of
	// Runtime can be set: a template never chooses images, volumes or FUSE arguments.
	Runtime *Runtime `json:"runtime,omitempty"`
	// Load describes the DataLoad that warms the cache.
	Load Load `json:"load,omitempty"`
	// MinCachedPercentage (0–100, number or numeric string) is the share of the dataset that must be
	// cached once the DataLoad is Complete. Default 100 when the load covers the whole dataset (no
	// paths, or "/"). A load of other paths is judged by what it asked for: Fluid reports cache only
	// per dataset, so by default something must be cached; a value given here applies to the dataset.
	MinCachedPercentage *Number `json:"minCachedPercentage,omitempty"`
	// OnCacheShort is what a Complete load below the minimum does: "warn" (default: the node
	// succeeds and its message says so) or "fail".
	OnCacheShort CacheShort `json:"onCacheShort,omitempty"`
	// Timeout is a Go duration ("30m"); default 1h. Each attempt of the node gets the whole timeout.
	Timeout string `json:"timeout,omitempty"`
	// Cleanup is "onWorkflowDeletion" (default: what the plugin creates is deleted with the Workflow)
	// or "keep".
	Cleanup Cleanup `json:"cleanup,omitempty"`
}

// Load is the part of the template that becomes the DataLoad spec.
type Load struct {
	// Paths to load; default the whole dataset ("/").
	Paths []string `json:"paths,omitempty"`
	// LoadMetadata syncs metadata before loading.
	LoadMetadata bool `json:"loadMetadata,omitempty"`
	// Replicas of each path in the cache (0 = runtime default).
	Replicas int32 `json:"replicas,omitempty"`
	// Options are passed to the runtime's loader unchanged.
	Options map[string]string `json:"options,omitempty"`
	// Force loads even when the Dataset is already cached at or above the minimum.
	Force bool `json:"force,omitempty"`
	// TTLSecondsAfterFinished lets Fluid delete the DataLoad after it ends; default 3600.
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// Placement of the loader pod; each field left out takes the plugin's default (ECI).
	PodMetadata   *fluidv1.PodMetadata `json:"podMetadata,omitempty"`
	NodeSelector  map[string]string    `json:"nodeSelector,omitempty"`
	Tolerations   []corev1.Toleration  `json:"tolerations,omitempty"`
	Affinity      *corev1.Affinity     `json:"affinity,omitempty"`
	SchedulerName string               `json:"schedulerName,omitempty"`
}

// Runtime is the allow-listed part of a JindoRuntime spec a template may set. Anyone who can create
// a Workflow can write it, so it holds nothing that chooses what runs (images, commands, FUSE
// arguments, volumes, host network, security contexts).
type Runtime struct {
	Replicas int32 `json:"replicas,omitempty"`
	// PodMetadata goes on every pod of the runtime (labels and annotations only).
	PodMetadata *fluidv1.PodMetadata `json:"podMetadata,omitempty"`
	TieredStore TieredStore          `json:"tieredstore,omitempty"`
	Master      *Component           `json:"master,omitempty"`
	Worker      *Component           `json:"worker,omitempty"`
	Fuse        *Component           `json:"fuse,omitempty"`
}

// TieredStore is the cache's storage: emptyDir levels only (no hostPath or volume sources).
type TieredStore struct {
	Levels []Level `json:"levels,omitempty"`
}

// Level is one cache tier.
type Level struct {
	MediumType string             `json:"mediumtype"`
	VolumeType string             `json:"volumeType,omitempty"`
	Path       string             `json:"path,omitempty"`
	Quota      *resource.Quantity `json:"quota,omitempty"`
	High       string             `json:"high,omitempty"`
	Low        string             `json:"low,omitempty"`
}

// Component is what a template may set on the runtime's master, worker or FUSE pods.
type Component struct {
	PodMetadata  *fluidv1.PodMetadata         `json:"podMetadata,omitempty"`
	Resources    *corev1.ResourceRequirements `json:"resources,omitempty"`
	NodeSelector map[string]string            `json:"nodeSelector,omitempty"`
	Tolerations  []corev1.Toleration          `json:"tolerations,omitempty"`
}

// Cleanup says what happens to the objects the plugin creates.
type Cleanup string

// Cleanup policies.
const (
	CleanupKeep               Cleanup = "keep"
	CleanupOnWorkflowDeletion Cleanup = "onWorkflowDeletion"
)

// CacheShort is the outcome of a Complete load whose cache is below the minimum.
type CacheShort string

// CacheShort policies.
const (
	CacheShortWarn CacheShort = "warn"
	CacheShortFail CacheShort = "fail"
)

// DefaultTTLSecondsAfterFinished is the DataLoad's default lifetime after it ends.
const DefaultTTLSecondsAfterFinished int32 = 3600

// DefaultTimeout applies when the template sets no timeout.
const DefaultTimeout = time.Hour

// Number is a JSON number that may also be written as a string ("100", "57.5%"), because Argo
// substitutes parameters only inside strings. Its value is checked by Validate, which names the field.
type Number struct {
	raw string
}

// NewNumber returns the Number v.
func NewNumber(v float64) *Number {
	return &Number{raw: strconv.FormatFloat(v, 'f', -1, 64)}
}

// UnmarshalJSON keeps the raw token; Validate interprets it.
func (n *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		n.raw = s
		return nil
	}
	n.raw = string(b)
	return nil
}

// MarshalJSON writes the value as it was given.
func (n Number) MarshalJSON() ([]byte, error) {
	if v, err := n.Float(); err == nil {
		return []byte(strconv.FormatFloat(v, 'f', -1, 64)), nil
	}
	return json.Marshal(n.raw)
}

// Float parses the number; a trailing "%" is allowed.
func (n Number) Float() (float64, error) {
	s := strings.TrimSuffix(strings.TrimSpace(n.raw), "%")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", n.raw)
	}
	return v, nil
}

// TimeoutDuration is the parsed timeout (DefaultTimeout when unset). Call Validate first.
func (s *Spec) TimeoutDuration() time.Duration {
	if s.Timeout == "" {
		return DefaultTimeout
	}
	d, _ := time.ParseDuration(s.Timeout)
	return d
}

// WholeDataset reports whether the load covers the whole dataset (no paths, or "/").
func (s *Spec) WholeDataset() bool {
	for _, p := range s.Load.Paths {
		if strings.Trim(p, "/") != "" {
			return false
		}
	}
	return true
}

// MinCached is the effective minimum cached percentage (0 for a subset load without an explicit
// minimum, which is then judged by whether anything is cached). Call Validate first.
func (s *Spec) MinCached() float64 {
	if s.MinCachedPercentage != nil {
		v, _ := s.MinCachedPercentage.Float()
		return v
	}
	if s.WholeDataset() {
		return 100
	}
	return 0
}

// CleanupPolicy is the effective cleanup policy.
func (s *Spec) CleanupPolicy() Cleanup {
	if s.Cleanup == "" {
		return CleanupOnWorkflowDeletion
	}
	return s.Cleanup
}

// TTL is the DataLoad's ttlSecondsAfterFinished.
func (s *Spec) TTL() int32 {
	if s.Load.TTLSecondsAfterFinished != nil {
		return *s.Load.TTLSecondsAfterFinished
	}
	return DefaultTTLSecondsAfterFinished
}

// Validate checks the template; errors name the field below path (e.g. argo-eci.dataset).
func (s *Spec) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "the Dataset name"))
	} else if msgs := validation.IsDNS1123Label(s.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(path.Child("name"), s.Name, strings.Join(msgs, "; ")))
	}
	for i, m := range s.Mounts {
		if len(m.MountPoint) < 5 {
			errs = append(errs, field.Invalid(path.Child("mounts").Index(i).Child("mountPoint"), m.MountPoint,
				`expected a URL such as "oss://bucket/path/"`))
		}
	}
	if s.Runtime != nil && len(s.Mounts) == 0 {
		errs = append(errs, field.Required(path.Child("mounts"), "a runtime can only be created together with the Dataset's mounts"))
	}
	for i, p := range s.Load.Paths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, field.Invalid(path.Child("load", "paths").Index(i), p, `expected an absolute path inside the dataset, e.g. "/train"`))
		}
	}
	if s.Load.Replicas < 0 {
		errs = append(errs, field.Invalid(path.Child("load", "replicas"), s.Load.Replicas, "expected 0 or more"))
	}
	if s.MinCachedPercentage != nil {
		v, err := s.MinCachedPercentage.Float()
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Child("minCachedPercentage"), s.MinCachedPercentage.raw, "expected a number from 0 to 100"))
		case v < 0 || v > 100:
			errs = append(errs, field.Invalid(path.Child("minCachedPercentage"), v, "expected a number from 0 to 100"))
		}
	}
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Child("timeout"), s.Timeout, `expected a duration such as "30m" or "2h"`))
		case d <= 0:
			errs = append(errs, field.Invalid(path.Child("timeout"), s.Timeout, "expected a positive duration"))
		}
	}
	switch s.Cleanup {
	case "", CleanupKeep, CleanupOnWorkflowDeletion:
	default:
		errs = append(errs, field.NotSupported(path.Child("cleanup"), s.Cleanup, []Cleanup{CleanupKeep, CleanupOnWorkflowDeletion}))
	}
	switch s.OnCacheShort {
	case "", CacheShortWarn, CacheShortFail:
	default:
		errs = append(errs, field.NotSupported(path.Child("onCacheShort"), s.OnCacheShort, []CacheShort{CacheShortWarn, CacheShortFail}))
	}
	if t := s.Load.TTLSecondsAfterFinished; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(path.Child("load", "ttlSecondsAfterFinished"), *t, "expected 0 or more seconds"))
	}
	if s.Runtime != nil {
		errs = append(errs, s.Runtime.Validate(path.Child("runtime"))...)
	}
	return errs
}

// Validate checks the runtime part of a template.
func (r *Runtime) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Replicas < 0 {
		errs = append(errs, field.Invalid(path.Child("replicas"), r.Replicas, "expected 0 or more"))
	}
	for i, l := range r.TieredStore.Levels {
		p := path.Child("tieredstore", "levels").Index(i)
		switch l.MediumType {
		case string(common.Memory), string(common.SSD), string(common.HDD):
		default:
			errs = append(errs, field.NotSupported(p.Child("mediumtype"), l.MediumType, []string{string(common.Memory), string(common.SSD), string(common.HDD)}))
		}
		if l.VolumeType != "" && l.VolumeType != string(common.VolumeTypeEmptyDir) {
			errs = append(errs, field.NotSupported(p.Child("volumeType"), l.VolumeType, []string{string(common.VolumeTypeEmptyDir)}))
		}
		if l.Path != "" && !strings.HasPrefix(l.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), l.Path, "expected an absolute path"))
		}
		if l.Quota == nil || l.Quota.Sign() <= 0 {
			errs = append(errs, field.Required(p.Child("quota"), "a positive quantity such as 12Gi"))
		}
	}
	return errs
}

// JindoRuntimeSpec is the JindoRuntime spec made from the allow-listed fields.
func (r *Runtime) JindoRuntimeSpec() fluidv1.JindoRuntimeSpec {
	spec := fluidv1.JindoRuntimeSpec{Replicas: r.Replicas}
	if r.PodMetadata != nil {
		spec.PodMetadata = *r.PodMetadata
	}
	for _, l := range r.TieredStore.Levels {
		vt := common.VolumeTypeEmptyDir
		spec.TieredStore.Levels = append(spec.TieredStore.Levels, fluidv1.Level{
			MediumType: common.MediumType(l.MediumType), VolumeType: vt, Path: l.Path,
			Quota: l.Quota, High: l.High, Low: l.Low,
		})
	}
	if c := r.Master; c != nil {
		spec.Master.PodMetadata, spec.Master.NodeSelector, spec.Master.Tolerations = c.podMetadata(), c.NodeSelector, c.Tolerations
		spec.Master.Resources = c.resources()
	}
	if c := r.Worker; c != nil {
		spec.Worker.PodMetadata, spec.Worker.NodeSelector, spec.Worker.Tolerations = c.podMetadata(), c.NodeSelector, c.Tolerations
		spec.Worker.Resources = c.resources()
	}
	if c := r.Fuse; c != nil {
		spec.Fuse.PodMetadata, spec.Fuse.NodeSelector, spec.Fuse.Tolerations = c.podMetadata(), c.NodeSelector, c.Tolerations
		spec.Fuse.Resources = c.resources()
	}
	return spec
}

func (c *Component) podMetadata() fluidv1.PodMetadata {
	if c.PodMetadata == nil {
		return fluidv1.PodMetadata{}
	}
	return *c.PodMetadata
}

func (c *Component) resources() corev1.ResourceRequirements {
	if c.Resources == nil {
		return corev1.ResourceRequirements{}
	}
	return *c.Resources
}
