package main

import (
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/argo-eci/argo-eci/emissary"
	"github.com/argo-eci/argo-eci/sizing"
)

// withSizing gives engine the learned specs of --sizing, an argo-eci-sizing ConfigMap as YAML
// (kubectl get cm argo-eci-sizing -o yaml); without the flag the engine is returned as it is.
// Profiles apply them only with sizing: learned.
func (in *shapeInput) withSizing(engine *emissary.Engine) (*emissary.Engine, error) {
	if in.sizing == "" {
		return engine, nil
	}
	data, err := os.ReadFile(in.sizing)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("--sizing: %w", err)}
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s: not a ConfigMap: %w", in.sizing, err)}
	}
	if cm.Kind != "" && cm.Kind != "ConfigMap" {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s: kind: expected ConfigMap, got %q", in.sizing, cm.Kind)}
	}
	store := &sizing.Store{}
	if err := store.Update(cm.Data); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s: %w", in.sizing, err)}
	}
	return engine.WithSizing(store), nil
}
