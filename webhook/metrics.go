package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the webhook's Prometheus collectors, registered on their own registry so that
// several servers (tests, benchmarks) can live in one process.
type Metrics struct {
	// Registry holds every collector below plus the Go and process collectors; /metrics serves it.
	Registry *prometheus.Registry

	reviews        *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	workflowMisses *prometheus.CounterVec
	panics         prometheus.Counter
	reloads        *prometheus.CounterVec
	reloadOK       prometheus.Gauge
	certExpiry     prometheus.Gauge
}

// NewMetrics creates the collectors and registers them on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "argo_eci", Subsystem: "webhook", Name: "reviews_total",
			Help: "Admission reviews answered, by endpoint (pods, workflows) and outcome " +
				"(shaped, skipped, ignored, denied, invalid, error, rejected).",
		}, []string{"endpoint", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "argo_eci", Subsystem: "webhook", Name: "review_duration_seconds",
			Help:    "Time from the request body read to the response written, by endpoint.",
			Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3, 1},
		}, []string{"endpoint"}),
		workflowMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "argo_eci", Subsystem: "webhook", Name: "workflow_cache_misses_total",
			Help: "Argo pods whose Workflow was not in the informer cache, by the result of the direct read " +
				"(found, not_found: shaped from the pod alone, error: refused so the controller retries, no_reader).",
		}, []string{"result"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "argo_eci", Subsystem: "webhook", Name: "panics_total",
			Help: "Panics recovered while admitting a request (answered with an internal error).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "argo_eci", Subsystem: "webhook", Name: "profile_reloads_total",
			Help: "Profile loads, by source (file, configmap) and result (ok, error).",
		}, []string{"source", "result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "argo_eci", Subsystem: "webhook", Name: "profile_last_load_ok",
			Help: "1 when the last profile load succeeded, 0 when it failed and the previous profiles are still in use.",
		}),
		certExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "argo_eci", Subsystem: "webhook", Name: "certificate_expiry_timestamp_seconds",
			Help: "When the serving certificate in use expires (Unix time); alert well before it.",
		}),
	}
	m.Registry.MustRegister(m.reviews, m.latency, m.workflowMisses, m.panics, m.reloads, m.reloadOK, m.certExpiry,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Results of the direct read after a Workflow cache miss (label values of workflowMisses).
const (
	missFound    = "found"
	missNotFound = "not_found"
	missError    = "error"
	missNoReader = "no_reader"
)

// profileLoad records the result of one profile load.
func (m *Metrics) profileLoad(source string, err error) {
	if err != nil {
		m.reloads.WithLabelValues(source, "error").Inc()
		m.reloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues(source, "ok").Inc()
	m.reloadOK.Set(1)
}
