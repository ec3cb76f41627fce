package main

import (
	"context"
	"fmt"

	"github.com/svar-dev/svar/ticketing/gdpr"
)

// startGDPR wires export, erasure and retention: the erasure safety net
// and the daily retention sweep run as scheduled jobs, once however many
// nodes run.
func (m *Main) startGDPR(ctx, startCtx context.Context) error {
	m.GDPR = gdpr.New(gdpr.Options{Store: m.Store, Streams: m.Bus, Events: m.Bus, Scheduler: m.Bus, Audit: m.Audit,
		Tickets: m.Service.Inbox(), Logger: m.logger().With("component", "gdpr"), Now: m.gdprNow})
	m.goRun("erasure", func() error { return m.Bus.ConsumeJobs(ctx, gdpr.JobKind, m.GDPR.HandleJob) })
	m.goRun("retention", func() error { return m.Bus.ConsumeJobs(ctx, gdpr.RetentionKind, m.GDPR.HandleSweep) })
	if err := m.GDPR.ScheduleSweep(startCtx); err != nil {
		return fmt.Errorf("schedule the retention sweep: %w", err)
	}
	return nil
}
