package web

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/svar-dev/svar/ticketing/report"
)

// TestBacklogSVG: the server's chart is well-formed XML with a title and
// a description for screen readers, escapes the names it shows, speaks
// Swedish for a Swedish agent, and folds groups beyond its eight colours
// into "Others" without losing a ticket.
func TestBacklogSVG(t *testing.T) {
	var rows []*report.BacklogRow
	for i := range 10 {
		rows = append(rows, &report.BacklogRow{Key: fmt.Sprintf("t%d", i), Counts: []int{10 - i, 0, 1, 0, 0, 2}, Total: 13 - i})
	}
	names := func(k string) string {
		if k == "t0" {
			return `<script>alert("x")</script> & co`
		}
		return "Team " + k
	}
	svg := backlogSVG(rows, catalogFor(langSwedish), names)
	d := xml.NewDecoder(strings.NewReader(svg))
	elems := map[string]int{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			elems[se.Name.Local]++
		}
	}
	if strings.Contains(svg, "<script>") || !strings.Contains(svg, "&lt;script&gt;") {
		t.Errorf("a team name is not escaped:\n%s", svg)
	}
	if !strings.Contains(svg, `<title id="backlog-t">Kö efter ålder</title>`) || !strings.Contains(svg, "Övriga") ||
		!strings.Contains(svg, "&lt; 1 h: 55") {
		t.Errorf("Swedish labels, the others and the totals (55 under an hour):\n%s", svg)
	}
	if elems["desc"] != 1 || elems["svg"] != 1 {
		t.Errorf("elements %v", elems)
	}
	// 8 series (7 biggest and "Others") × the ages each has tickets in (3),
	// one legend square each.
	if bars := strings.Count(svg, `class="backlog-bar"`); bars != 8*3 {
		t.Errorf("%d bars, want 24", bars)
	}
}
