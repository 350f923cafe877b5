package recovery

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/argo-eci/argo-eci/badinput"
)

// Invalid options (a profile's recovery settings) are bad input naming the field.
func TestDecideInvalidOptionsIsBadInput(t *testing.T) {
	opts := DefaultOptions()
	opts.MaxMemorySteps = -1
	_, err := Decide(&corev1.Pod{}, nil, opts)
	var bad *badinput.Error
	if !errors.As(err, &bad) || bad.Field() != "recovery.maxMemorySteps" {
		t.Fatalf("Decide with maxMemorySteps -1: %v, want a *badinput.Error at recovery.maxMemorySteps", err)
	}
}
