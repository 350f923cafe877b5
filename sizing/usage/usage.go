// Package usage reads per-pod CPU and memory usage from a Prometheus HTTP API: the cAdvisor series
// container_cpu_usage_seconds_total and container_memory_working_set_bytes that the kubelet exposes
// and every common Prometheus setup (ACK's managed Prometheus included) collects.
//
// It uses the maintained client, github.com/prometheus/client_golang/api. Queries are range
// queries over the window split into chunks (Prometheus refuses more than 11,000 points per series),
// one chunk at a time so a long window reports progress.
package usage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/argo-eci/argo-eci/sizing"
)

// Errors a caller can tell apart with errors.Is.
var (
	// ErrUnreachable: nothing answers at the address (connection refused, unknown host, timeout).
	ErrUnreachable = errors.New("no answer from Prometheus")
	// ErrUnauthorized: the server refused the credentials (HTTP 401 or 403).
	ErrUnauthorized = errors.New("credentials refused by Prometheus")
	// ErrNotPrometheus: something answered, but not the Prometheus HTTP API (wrong URL or path).
	ErrNotPrometheus = errors.New("no Prometheus HTTP API at this URL")
	// ErrNoSeries: Prometheus has no usage series for the namespaces in the window.
	ErrNoSeries = errors.New("no usage series")
)

// MaxPointsPerSeries is Prometheus' limit on the points of one series in a range query.
const MaxPointsPerSeries = 11000

// Reader queries one Prometheus server.
type Reader struct {
	api v1.API
	url string
}

// New builds a Reader for the Prometheus at address (http or https; user:password@ in the URL is
// sent as basic auth). token, when not empty, is sent as a bearer token. rt nil means
// http.DefaultTransport.
func New(address, token string, rt http.RoundTripper) (*Reader, error) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not a Prometheus URL (expected http(s)://host:port[/path])", address)
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	client, err := api.NewClient(api.Config{Address: address, RoundTripper: &statusTripper{next: rt, token: token}})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	redacted := *u
	redacted.User = nil
	return &Reader{api: v1.NewAPI(client), url: redacted.String()}, nil
}

// statusTripper adds the bearer token and turns the replies that say "wrong credentials" or "not the
// Prometheus API" into errors the caller can classify (the client would only report their text).
type statusTripper struct {
	next  http.RoundTripper
	token string
}

type statusError struct {
	code int
	kind error
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %v", e.code, e.kind) }
func (e *statusError) Unwrap() error { return e.kind }

func (s *statusTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if s.token != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	var kind error
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		kind = ErrUnauthorized
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		kind = ErrNotPrometheus
	default:
		return resp, nil
	}
	_ = resp.Body.Close()
	return nil, &statusError{code: resp.StatusCode, kind: kind}
}

// classify maps a client error to one of the package's errors, keeping the original in the chain.
func (r *Reader) classify(err error) error {
	var se *statusError
	var apiErr *v1.Error
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &se):
		return fmt.Errorf("%s: %w", r.url, err)
	case errors.As(err, &apiErr) && apiErr.Type == v1.ErrBadResponse:
		return fmt.Errorf("%s: %w (%v)", r.url, ErrNotPrometheus, err)
	case errors.As(err, &opErr), errors.As(err, &netErr):
		return fmt.Errorf("%s: %w: %v", r.url, ErrUnreachable, err)
	}
	return fmt.Errorf("%s: %w", r.url, err)
}

// Check asks the server for its build information: a quick way to fail early on a wrong URL, a
// server that is down or refused credentials.
func (r *Reader) Check(ctx context.Context) error {
	if _, err := r.api.Buildinfo(ctx); err != nil {
		return r.classify(err)
	}
	return nil
}

// Query selects what Usage reads.
type Query struct {
	// Namespaces to read (at least one).
	Namespaces []string
	Start, End time.Time
	// Step is the resolution; it must be at least the scrape interval, or every run looks gappy.
	Step time.Duration
}

// Validate reports a query Usage cannot run.
func (q Query) Validate() error {
	switch {
	case len(q.Namespaces) == 0:
		return errors.New("no namespaces to read")
	case !q.End.After(q.Start):
		return fmt.Errorf("window: end %s is not after start %s", q.End.Format(time.RFC3339), q.Start.Format(time.RFC3339))
	case q.Step < time.Second:
		return fmt.Errorf("step: expected at least 1s, got %s", q.Step)
	}
	for _, ns := range q.Namespaces {
		if !nsRE.MatchString(ns) {
			return fmt.Errorf("namespace %q is not a Kubernetes namespace name", ns)
		}
	}
	return nil
}

var nsRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// PodKey names a pod.
type PodKey struct{ Namespace, Pod string }

// Series is one pod's usage: CPU in vCPU (rate over two steps), memory working set in bytes (the
// highest sample within each step); both summed over the pod's containers.
type Series struct {
	CPU, Memory []sizing.Point
}

// Queries returns the PromQL Usage runs for namespaces at step.
func Queries(namespaces []string, step time.Duration) (cpu, memory string) {
	sel := fmt.Sprintf(`namespace=~"%s",container!="",container!="POD"`, strings.Join(namespaces, "|"))
	s := model.Duration(step).String()
	r := model.Duration(2 * step).String()
	cpu = fmt.Sprintf(`sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{%s}[%s]))`, sel, r)
	memory = fmt.Sprintf(`sum by (namespace, pod) (max_over_time(container_memory_working_set_bytes{%s}[%s]))`, sel, s)
	return cpu, memory
}

// Usage reads the usage of every pod in q's namespaces during q's window. progress, when not nil,
// is called after each chunk with the chunks done and their total. The error is ErrNoSeries
// (wrapped) when the window holds no memory series at all for those namespaces.
func (r *Reader) Usage(ctx context.Context, q Query, progress func(done, total int)) (map[PodKey]*Series, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	cpuQ, memQ := Queries(q.Namespaces, q.Step)
	chunk := time.Duration(MaxPointsPerSeries-1) * q.Step
	if chunk > 24*time.Hour {
		chunk = 24 * time.Hour
	}
	total := int((q.End.Sub(q.Start) + chunk - 1) / chunk)
	out := map[PodKey]*Series{}
	for i, from := 0, q.Start; from.Before(q.End); i, from = i+1, from.Add(chunk) {
		to := minTime(from.Add(chunk-q.Step), q.End)
		rng := v1.Range{Start: from, End: to, Step: q.Step}
		for _, part := range []struct {
			query string
			add   func(*Series, []sizing.Point)
		}{
			{cpuQ, func(s *Series, p []sizing.Point) { s.CPU = append(s.CPU, p...) }},
			{memQ, func(s *Series, p []sizing.Point) { s.Memory = append(s.Memory, p...) }},
		} {
			if err := r.rangeInto(ctx, part.query, rng, out, part.add); err != nil {
				return nil, err
			}
		}
		if progress != nil {
			progress(i+1, total)
		}
	}
	for _, s := range out {
		if len(s.Memory) > 0 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s: %w: container_memory_working_set_bytes has no samples for namespaces %s between %s and %s (is the kubelet's cAdvisor endpoint scraped?)",
		r.url, ErrNoSeries, strings.Join(q.Namespaces, ","), q.Start.Format(time.RFC3339), q.End.Format(time.RFC3339))
}

func (r *Reader) rangeInto(ctx context.Context, query string, rng v1.Range, out map[PodKey]*Series, add func(*Series, []sizing.Point)) error {
	val, _, err := r.api.QueryRange(ctx, query, rng)
	if err != nil {
		return r.classify(err)
	}
	matrix, ok := val.(model.Matrix)
	if !ok {
		return fmt.Errorf("%s: %w: range query returned %s, not a matrix", r.url, ErrNotPrometheus, val.Type())
	}
	for _, ss := range matrix {
		key := PodKey{Namespace: string(ss.Metric["namespace"]), Pod: string(ss.Metric["pod"])}
		if key.Pod == "" {
			continue
		}
		s := out[key]
		if s == nil {
			s = &Series{}
			out[key] = s
		}
		pts := make([]sizing.Point, len(ss.Values))
		for i, v := range ss.Values {
			pts[i] = sizing.Point{T: v.Timestamp.Time(), V: float64(v.Value)}
		}
		add(s, pts)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Namespaces returns the sorted distinct namespaces of keys.
func Namespaces(keys []PodKey) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if !seen[k.Namespace] {
			seen[k.Namespace] = true
			out = append(out, k.Namespace)
		}
	}
	sort.Strings(out)
	return out
}
