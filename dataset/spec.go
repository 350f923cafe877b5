package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	fluidv1 "github.com/fluid-cloudnative/fluid/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Spec is the `dataset` object of an argo-eci plugin template.
type Spec struct {
	// Name of the Dataset (and of the JindoRuntime bound to it) in the workflow's namespace.
	Name string `json:"name"`
	// Mounts, when given, create the Dataset if it does not exist yet.
	Mounts []fluidv1.Mount `json:"mounts,omitempty"`
	// Runtime, when given, creates the JindoRuntime if it does not exist yet.
	Runtime *fluidv1.JindoRuntimeSpec `json:"runtime,omitempty"`
	// Load describes the DataLoad that warms the cache.
	Load Load `json:"load,omitempty"`
	// MinCachedPercentage (0–100, number or numeric string) is the share of the dataset that must be
	// cached once the DataLoad is Complete. Default: 100 when the load covers the whole dataset
	// (no paths, or "/"), otherwise 0, because the dataset-wide percentage cannot judge a partial load.
	MinCachedPercentage *Number `json:"minCachedPercentage,omitempty"`
	// Timeout is a Go duration ("30m"); default 1h. Measured from the DataLoad's creation.
	Timeout string `json:"timeout,omitempty"`
	// Cleanup is "keep" (default) or "onWorkflowDeletion" (owner reference to the Workflow).
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
}

// Cleanup says what happens to the objects the plugin creates.
type Cleanup string

// Cleanup policies.
const (
	CleanupKeep               Cleanup = "keep"
	CleanupOnWorkflowDeletion Cleanup = "onWorkflowDeletion"
)

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

// MinCached is the effective minimum cached percentage. Call Validate first.
func (s *Spec) MinCached() float64 {
	if s.MinCachedPercentage != nil {
		v, _ := s.MinCachedPercentage.Float()
		return v
	}
	for _, p := range s.Load.Paths {
		if strings.Trim(p, "/") != "" {
			return 0
		}
	}
	return 100
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
	return errs
}
