package requeue

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestAfter(t *testing.T) {
	p := Policy{Min: time.Second, Max: 2 * time.Second}
	for age, want := range map[time.Duration]time.Duration{
		0: time.Second, 5 * time.Second: time.Second, 15 * time.Second: 1500 * time.Millisecond, time.Hour: 2 * time.Second,
	} {
		if got := p.After(age); got != want {
			t.Errorf("After(%s) = %s, want %s", age, got, want)
		}
	}
	if got := (Policy{Max: time.Millisecond}).OrDefault(Policy{Min: time.Second, Max: 2 * time.Second}); got.Max != time.Second {
		t.Errorf("OrDefault kept Max below Min: %+v", got)
	}
}

func TestIsTransient(t *testing.T) {
	gr := schema.GroupResource{Group: "data.fluid.io", Resource: "dataloads"}
	for err, want := range map[error]bool{
		apierrors.NewServiceUnavailable("x"):                                                       true,
		apierrors.NewTooManyRequests("x", 1):                                                       true,
		apierrors.NewConflict(gr, "d", errors.New("x")):                                            true,
		fmt.Errorf("get: %w", context.DeadlineExceeded):                                            true,
		apierrors.NewForbidden(gr, "d", errors.New("rbac")):                                        false,
		apierrors.NewInvalid(schema.GroupKind{Group: "data.fluid.io", Kind: "DataLoad"}, "d", nil): false,
		errors.New("plain"): false,
	} {
		if got := IsTransient(err); got != want {
			t.Errorf("IsTransient(%v) = %v, want %v", err, got, want)
		}
	}
}
