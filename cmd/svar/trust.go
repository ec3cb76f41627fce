package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/gdpr"
)

// startGDPR wires export, erasure and retention: the erasure safety net
// and the daily retention sweep run as scheduled jobs, once however many
// nodes run.
func (m *Main) startGDPR(ctx, startCtx context.Context) error {
	m.GDPR = gdpr.New(gdpr.Options{Store: m.Store, Streams: m.Bus, Events: m.Bus, Scheduler: m.Bus, Leases: m.Leases, Audit: m.Audit,
		Tickets: m.Service, Logger: m.logger().With("component", "gdpr"), Now: m.gdprNow})
	m.goRun("erasure", func() error { return m.Bus.ConsumeJobs(ctx, gdpr.JobKind, m.GDPR.HandleJob) })
	sweep := func(ctx context.Context, j *ticketing.Job) error {
		if err := m.Audit.Prune(ctx, m.Config.AuditDays); err != nil {
			return err
		}
		return m.GDPR.HandleSweep(ctx, j)
	}
	m.goRun("retention", func() error { return m.Bus.ConsumeJobs(ctx, gdpr.RetentionKind, sweep) })
	if err := m.GDPR.ScheduleSweep(startCtx); err != nil {
		return fmt.Errorf("schedule the retention sweep: %w", err)
	}
	return nil
}

// startMetrics serves /metrics on SVAR_METRICS_ADDR when set.
func (m *Main) startMetrics(log *slog.Logger) error {
	addr := m.Config.MetricsAddr
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (SVAR_METRICS_ADDR): %w", addr, err)
	}
	m.metricsAddr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Web.MetricsHandler())
	m.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	m.goRun("metrics", func() error {
		if err := m.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return nil
}
