package main

import (
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/badinput"
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
	if errs := badinput.DecodeYAML(data, &cm, nil); len(errs) > 0 {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s: not a ConfigMap: %w", in.sizing, &badinput.Error{Errs: errs})}
	}
	if cm.Kind != "" && cm.Kind != "ConfigMap" {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s: %w", in.sizing, badinput.Errorf("kind", "expected ConfigMap, got %q", cm.Kind))}
	}
	store := &sizing.Store{}
	if err := store.Update(cm.Data); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s: %w", in.sizing, err)}
	}
	return engine.WithSizing(store), nil
}
