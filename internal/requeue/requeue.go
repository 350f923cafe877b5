// Package requeue is the one polling policy of the plugin's long-running templates (dataset and
// imageCache) and the one classifier of the Kubernetes and network errors worth retrying.
package requeue

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Policy polls every Min at first, then every age/10, never less often than every Max.
type Policy struct {
	Min, Max time.Duration
}

// After returns the delay before the next call of work that started age ago.
func (p Policy) After(age time.Duration) time.Duration {
	d := age / 10
	if d < p.Min {
		d = p.Min
	}
	if d > p.Max {
		d = p.Max
	}
	return d
}

// OrDefault fills zero fields from def and keeps Max ≥ Min.
func (p Policy) OrDefault(def Policy) Policy {
	if p.Min <= 0 {
		p.Min = def.Min
	}
	if p.Max <= 0 {
		p.Max = def.Max
	}
	if p.Max < p.Min {
		p.Max = p.Min
	}
	return p
}

// IsTransient reports errors that a later call is likely to get past: apiserver timeouts, throttling,
// 5xx, optimistic-concurrency conflicts, network failures and deadlines.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsConflict(err) || apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsUnexpectedServerError(err) {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code == http.StatusTooManyRequests || code >= 500
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}
