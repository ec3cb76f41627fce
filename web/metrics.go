package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the node's Prometheus metrics, on a registry of its own.
type Metrics struct {
	Registry   *prometheus.Registry
	Ingested   *prometheus.CounterVec // svar_ingest_messages_total{channel,result}
	Replies    *prometheus.CounterVec // svar_replies_total{channel}
	Deliveries *prometheus.CounterVec // svar_deliveries_total{channel,status}
	// EmailDropped counts mail the email channel leaves out on purpose.
	EmailDropped *prometheus.CounterVec // svar_email_dropped_total{reason}
}

// NewMetrics registers Svar's metrics and the Go runtime's.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Ingested: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "svar_ingest_messages_total",
			Help: "Inbound messages processed by the ticketing core, by channel and result (stored, duplicate, failed, poison)."}, []string{"channel", "result"}),
		Replies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "svar_replies_total",
			Help: "Agent replies queued for delivery, by channel."}, []string{"channel"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "svar_deliveries_total",
			Help: "Delivery reports from channel adapters, by channel and status."}, []string{"channel", "status"}),
		EmailDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "svar_email_dropped_total",
			Help: "Mails the email channel did not import on purpose, by reason (own-address: From the support address itself)."}, []string{"reason"}),
	}
	m.Registry.MustRegister(m.Ingested, m.Replies, m.Deliveries, m.EmailDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Gauge registers a gauge whose value is read at scrape time.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// CounterMap registers a counter family whose values, one per label
// value, are read at scrape time from f.
func (m *Metrics) CounterMap(name, help, label string, f func() map[string]uint64) {
	m.Registry.MustRegister(&mapCollector{desc: prometheus.NewDesc(name, help, []string{label}, nil), f: f})
}

type mapCollector struct {
	desc *prometheus.Desc
	f    func() map[string]uint64
}

func (c *mapCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *mapCollector) Collect(ch chan<- prometheus.Metric) {
	for k, v := range c.f() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(v), k)
	}
}
