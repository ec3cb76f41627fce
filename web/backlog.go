package web

import (
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/report"
	"github.com/svar-dev/svar/ticketing/staff"
)

// handleReportBacklog serves GET /api/v1/reports/backlog: the open and
// pending tickets by age, as JSON, CSV (Accept: text/csv or format=csv)
// or a chart drawn here as SVG (format=svg) in the agent's language
// (lang= overrides it), with team names and channel names as keys.
func (s *Server) handleReportBacklog(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	group := q.Get("group_by")
	if group == "" {
		group = "none"
	}
	format := q.Get("format")
	if format == "" && strings.Contains(r.Header.Get("Accept"), "text/csv") {
		format = "csv"
	}
	if format != "" && format != "json" && format != "csv" && format != "svg" {
		writeError(w, r, ticketing.ParamError("format", "must be json, csv or svg"))
		return
	}
	lang := langOf(a.Language)
	if l := q.Get("lang"); l != "" {
		if l != langEnglish && l != langSwedish {
			writeError(w, r, ticketing.ParamError("lang", "must be en or sv"))
			return
		}
		lang = l
	}
	now := s.now().UTC()
	rows, err := s.opts.Reports.Backlog(r.Context(), group, now)
	if err != nil {
		writeError(w, r, err)
		return
	}
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="svar-backlog-`+group+`.csv"`)
		w.Header().Set("Cache-Control", "no-store")
		_ = report.WriteBacklogCSV(w, rows)
	case "svg":
		cat := catalogFor(lang)
		names := s.backlogNames(r, group, cat)
		w.Header().Set("Content-Type", "image/svg+xml; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		_, _ = w.Write([]byte(backlogSVG(rows, cat, names)))
	default:
		writeJSON(w, http.StatusOK, map[string]any{"at": now, "group_by": group, "ages": report.Ages, "rows": rows})
	}
}

// backlogNames names a backlog's keys for people: team names, channel
// names, "(none)" for no team.
func (s *Server) backlogNames(r *http.Request, group string, cat catalog) func(string) string {
	teams := map[string]string{}
	if group == "team" {
		if ts, err := s.staff.Teams(r.Context()); err == nil {
			for _, t := range ts {
				teams[t.ID] = t.Name
			}
		}
	}
	return func(k string) string {
		switch {
		case group == "none":
			return cat.get("backlog_all")
		case k == "":
			return cat.get("report_none")
		case group == "channel":
			return cat.get("channel_" + k)
		case teams[k] != "":
			return teams[k]
		}
		return k
	}
}

// backlogPalette colours a chart's series (readable on white, and apart
// from each other for most colour vision).
var backlogPalette = []string{"#1f6f68", "#b5542b", "#3b5ba5", "#8a6d00", "#7a3b8f", "#2e7d32", "#a33a55", "#4a5a68"}

// backlogSVG draws the backlog as one column per age, stacked by group,
// with a title and a description for screen readers, a <title> on every
// segment and a legend. It is self-contained (inline colours), so it
// also works opened on its own.
func backlogSVG(rows []*report.BacklogRow, cat catalog, name func(string) string) string {
	const w, ht, left, top, bottom = 640, 240, 40, 16, 40
	series := rows
	if len(series) > len(backlogPalette) { // the biggest groups, the rest together
		rest := &report.BacklogRow{Key: "\x00rest", Counts: make([]int, len(report.Ages))}
		for _, r := range series[len(backlogPalette)-1:] {
			for i, n := range r.Counts {
				rest.Counts[i] += n
			}
			rest.Total += r.Total
		}
		series = append(append([]*report.BacklogRow{}, series[:len(backlogPalette)-1]...), rest)
	}
	label := func(k string) string {
		if k == "\x00rest" {
			return cat.get("backlog_others")
		}
		return name(k)
	}
	totals := make([]int, len(report.Ages))
	top1, all := 1, 0
	for _, r := range series {
		for i, n := range r.Counts {
			totals[i] += n
			all += n
		}
	}
	for _, n := range totals {
		top1 = max(top1, n)
	}
	esc := html.EscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="backlog-chart" viewBox="0 0 %d %d" role="img" aria-labelledby="backlog-t backlog-d">`,
		w, ht+20*((len(series)+2)/3))
	fmt.Fprintf(&b, `<title id="backlog-t">%s</title>`, esc(cat.get("backlog_title")))
	var desc []string
	for i, age := range report.Ages {
		desc = append(desc, cat.get("backlog_age_"+age)+": "+strconv.Itoa(totals[i]))
	}
	fmt.Fprintf(&b, `<desc id="backlog-d">%s</desc>`, esc(strings.ReplaceAll(cat.get("backlog_desc"), "{n}", strconv.Itoa(all))+" "+strings.Join(desc, ", ")))
	plotH := ht - top - bottom
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="currentColor"/>`, left, top+plotH, w, top+plotH)
	fmt.Fprintf(&b, `<text x="0" y="%d" font-size="11" fill="currentColor">%d</text>`, top+4, top1)
	colW := (w - left) / len(report.Ages)
	for i, age := range report.Ages {
		x := left + i*colW + colW/6
		y := top + plotH
		for si, r := range series {
			n := r.Counts[i]
			if n == 0 {
				continue
			}
			hgt := plotH * n / top1
			if hgt < 1 {
				hgt = 1
			}
			y -= hgt
			fmt.Fprintf(&b, `<rect class="backlog-bar" x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s</title></rect>`,
				x, y, colW*2/3, hgt, backlogPalette[si%len(backlogPalette)],
				esc(cat.get("backlog_age_"+age)+", "+label(r.Key)+": "+strconv.Itoa(n)))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="currentColor" text-anchor="middle">%s</text>`,
			left+i*colW+colW/2, top+plotH+16, esc(cat.get("backlog_age_"+age)))
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="currentColor" text-anchor="middle">%d</text>`,
			left+i*colW+colW/2, top+plotH+30, totals[i])
	}
	for si, r := range series { // the legend, three to a line
		x, y := left+(si%3)*200, ht+(si/3)*20
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12" fill="currentColor">%s</text>`,
			x, y, backlogPalette[si%len(backlogPalette)], x+16, y+10, esc(label(r.Key)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}
