// Package metrics exposes Keyport to Prometheus: requests by dialect,
// action and answer, HSM operations and session waits, the token's health
// and objects, and the wrapping-key pools, with the Go and process
// collectors, in the text format on GET /metrics.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyport-kms/keyport/service/wire"
)

// Metrics holds Keyport's collectors in a registry of its own.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	hsmOps      *prometheus.HistogramVec
	sessionWait prometheus.Histogram
}

// New registers the collectors that need nothing but the version.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyport_requests_total", Help: "API requests by dialect, action and answer (the error code, or OK).",
	}, []string{"dialect", "action", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "keyport_request_duration_seconds", Help: "Time to answer an API request.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"dialect", "action"})
	m.hsmOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "keyport_hsm_operation_duration_seconds", Help: "Time of one operation on the HSM, waiting for a session included.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"operation"})
	m.sessionWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "keyport_hsm_session_wait_seconds", Help: "Time an operation waited for a free HSM session.",
		Buckets: []float64{.00001, .0001, .001, .01, .1, .5, 1, 5},
	})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "keyport_build_info", Help: "Always 1; the version in a label."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	m.reg.MustRegister(m.requests, m.duration, m.hsmOps, m.sessionWait, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request counts one answered request (wire.Access, as the access log has it).
func (m *Metrics) Request(a wire.Access) {
	m.requests.WithLabelValues(a.Dialect, a.Action, a.Code).Inc()
	m.duration.WithLabelValues(a.Dialect, a.Action).Observe(a.Duration.Seconds())
}

// SessionWait records a wait for a session (hsm.Config.OnSessionWait).
func (m *Metrics) SessionWait(d time.Duration) { m.sessionWait.Observe(d.Seconds()) }

// HSMOperation records one operation on the HSM, its wait for a session
// included (the binary's timing wrapper of the token calls it).
func (m *Metrics) HSMOperation(op string, d time.Duration) {
	m.hsmOps.WithLabelValues(op).Observe(d.Seconds())
}

// State is what a scrape reads from the running service: whether the token
// answers, how many objects of this deployment it holds, and the pools.
type State struct {
	HSMUp        bool
	TokenObjects int
	PoolKnown    bool             // the pool could be read: Pooled and Inline hold
	Pooled       map[string]int   // pairs ready, by spec
	Inline       map[string]int64 // pairs generated on the request path, by spec
}

// Watch registers the collectors read from the running service at each
// scrape. state should be cheap under a flood of scrapes: the binary hands
// it the service's Health, at most service.HealthMaxAge old, so that the
// token sees two probes a second however often Prometheus asks.
func (m *Metrics) Watch(state func(context.Context) State) {
	read := func() State {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return state(ctx)
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keyport_hsm_up", Help: "1 if the HSM answers and the session is logged in, else 0.",
	}, func() float64 {
		if read().HSMUp {
			return 1
		}
		return 0
	}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keyport_token_objects", Help: "Token objects labelled with this deployment's id (pairs count once).",
	}, func() float64 { return float64(read().TokenObjects) }))
	m.reg.MustRegister(&poolCollector{read: read})
}

var (
	poolKeysDesc = prometheus.NewDesc("keyport_wrapping_pool_keys", "Wrapping key pairs ready in the pool (shared by replicas).", []string{"spec"}, nil)
	inlineDesc   = prometheus.NewDesc("keyport_wrapping_pool_inline_generations_total", "Wrapping key pairs generated on the request path because the pool was empty (this process).", []string{"spec"}, nil)
)

// poolCollector reads the pool's state once per scrape.
type poolCollector struct{ read func() State }

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- poolKeysDesc; ch <- inlineDesc }

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := p.read()
	if !st.PoolKnown {
		return
	}
	for spec, n := range st.Pooled {
		ch <- prometheus.MustNewConstMetric(poolKeysDesc, prometheus.GaugeValue, float64(n), spec)
	}
	for spec, n := range st.Inline {
		ch <- prometheus.MustNewConstMetric(inlineDesc, prometheus.CounterValue, float64(n), spec)
	}
}
