// Package hours is a shop's business hours: a timezone, several open
// blocks per weekday, Sweden's public holidays and eves from
// github.com/rickar/cal/v2/se, and extra closed and open dates. A
// Calendar answers IsOpen, NextOpen, Add (a due time in business time)
// and BusinessDuration; every day is laid out in local wall-clock time
// with time.Date, so DST changes shorten or lengthen the day they fall on
// and never shift the blocks of the days around them.
package hours

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2/se"

	"github.com/svar-dev/svar/ticketing"
)

// DefaultTimezone is the timezone of settings that name none.
const DefaultTimezone = "Europe/Stockholm"

// HolidaysSE closes Sweden's public holidays and the eves Midsommarafton,
// Julafton and Nyårsafton.
const HolidaysSE = "SE"

// Weekdays in the order the settings list them.
var Weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// Settings are the business hours as an admin writes them.
type Settings struct {
	Timezone string `json:"timezone" bson:"timezone"`
	// Week maps "mon".."sun" to open blocks [["08:00","12:00"],["13:00","17:00"]];
	// a missing or empty day is closed. "24:00" ends a block at midnight.
	Week        map[string][][]string `json:"week" bson:"week"`
	Holidays    string                `json:"holidays" bson:"holidays"`
	ClosedDates []string              `json:"closed_dates" bson:"closed_dates"`
	// OpenDates are open on days that would be closed (a holiday, a
	// Sunday before Christmas): with that weekday's blocks, or, when the
	// weekday has none, the blocks of the first weekday that has some.
	OpenDates []string `json:"open_dates" bson:"open_dates"`
}

// Default is what a shop that never set its hours has: weekdays
// 08:00–17:00 in Stockholm, Swedish holidays closed.
func Default() Settings {
	day := [][]string{{"08:00", "17:00"}}
	return Settings{
		Timezone: DefaultTimezone,
		Week:     map[string][][]string{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
		Holidays: HolidaysSE, ClosedDates: []string{}, OpenDates: []string{},
	}
}

// Default reports whether c stands in for hours the shop never set.
func (c *Calendar) Default() bool { return c.dflt }

type block struct{ start, end int } // minutes after local midnight, end ≤ 1440

type dateKey int // yyyymmdd

func keyOf(y int, m time.Month, d int) dateKey { return dateKey(y*10000 + int(m)*100 + d) }

// Calendar is compiled Settings. It is safe for concurrent use.
type Calendar struct {
	settings Settings
	loc      *time.Location
	week     [7][]block // by time.Weekday
	fallback []block    // for open dates on a closed weekday
	closed   map[dateKey]bool
	open     map[dateKey]bool
	holidays bool
	// dflt is true for Default() standing in for hours never set.
	dflt bool

	mu    sync.Mutex
	years map[int]map[dateKey]bool // holiday dates per year, filled lazily
}

// Compile validates s and returns its Calendar. Errors name the field
// ("timezone", "week.mon[1]", "closed_dates[0]").
func Compile(s Settings) (*Calendar, error) {
	if s.Timezone == "" {
		s.Timezone = DefaultTimezone
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil || s.Timezone == "Local" {
		return nil, ticketing.FieldError("timezone", "unknown timezone %q", s.Timezone)
	}
	c := &Calendar{loc: loc, closed: map[dateKey]bool{}, open: map[dateKey]bool{}, years: map[int]map[dateKey]bool{}}
	switch strings.ToUpper(s.Holidays) {
	case HolidaysSE:
		c.holidays, s.Holidays = true, HolidaysSE
	case "":
	default:
		return nil, ticketing.FieldError("holidays", "must be \"SE\" or empty")
	}
	for day := range s.Week {
		if !slices.Contains(Weekdays, day) {
			return nil, ticketing.FieldError("week."+day, "is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
		}
	}
	for i, day := range Weekdays {
		wd := time.Weekday((i + 1) % 7)
		var blocks []block
		for j, pair := range s.Week[day] {
			field := fmt.Sprintf("week.%s[%d]", day, j)
			if len(pair) != 2 {
				return nil, ticketing.FieldError(field, "must be [\"HH:MM\",\"HH:MM\"]")
			}
			start, err := parseClock(pair[0])
			if err != nil {
				return nil, ticketing.FieldError(field, "start %q: %v", pair[0], err)
			}
			end, err := parseClock(pair[1])
			if err != nil {
				return nil, ticketing.FieldError(field, "end %q: %v", pair[1], err)
			}
			if start == 1440 || end <= start {
				return nil, ticketing.FieldError(field, "ends (%s) before it starts (%s)", pair[1], pair[0])
			}
			blocks = append(blocks, block{start, end})
		}
		slices.SortFunc(blocks, func(a, b block) int { return a.start - b.start })
		for j := 1; j < len(blocks); j++ {
			if blocks[j].start < blocks[j-1].end {
				return nil, ticketing.FieldError("week."+day, "blocks overlap")
			}
		}
		c.week[wd] = blocks
		if c.fallback == nil && len(blocks) > 0 {
			c.fallback = blocks
		}
	}
	if s.ClosedDates == nil {
		s.ClosedDates = []string{}
	}
	if s.OpenDates == nil {
		s.OpenDates = []string{}
	}
	for i, d := range s.ClosedDates {
		k, err := parseDate(d)
		if err != nil {
			return nil, ticketing.FieldError(fmt.Sprintf("closed_dates[%d]", i), "%v", err)
		}
		c.closed[k] = true
	}
	for i, d := range s.OpenDates {
		k, err := parseDate(d)
		if err != nil {
			return nil, ticketing.FieldError(fmt.Sprintf("open_dates[%d]", i), "%v", err)
		}
		if c.closed[k] {
			return nil, ticketing.FieldError(fmt.Sprintf("open_dates[%d]", i), "%s is also a closed date", d)
		}
		c.open[k] = true
	}
	c.settings = s
	return c, nil
}

// MustCompile is Compile for settings known to be valid (tests, defaults).
func MustCompile(s Settings) *Calendar {
	c, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return c
}

// Settings returns the settings the calendar was compiled from, with
// defaults filled in.
func (c *Calendar) Settings() Settings { return c.settings }

// Location is the calendar's timezone.
func (c *Calendar) Location() *time.Location { return c.loc }

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("use HH:MM")
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("not a time of day (00:00 to 24:00)")
	}
	return hh*60 + mm, nil
}

func parseDate(s string) (dateKey, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return keyOf(t.Date()), nil
}

// holiday reports whether the date is one of Sweden's public holidays or
// closed eves.
func (c *Calendar) holiday(y int, m time.Month, d int) bool {
	if !c.holidays {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	set, ok := c.years[y]
	if !ok {
		set = map[dateKey]bool{}
		for _, h := range se.Holidays {
			if actual, _ := h.Calc(y); !actual.IsZero() {
				set[keyOf(actual.Date())] = true
			}
		}
		c.years[y] = set
	}
	return set[keyOf(y, m, d)]
}

// blocks returns the open blocks of a local date.
func (c *Calendar) blocks(y int, m time.Month, d int) []block {
	k := keyOf(y, m, d)
	wd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()
	if c.open[k] {
		if b := c.week[wd]; len(b) > 0 {
			return b
		}
		return c.fallback
	}
	if c.closed[k] || c.holiday(y, m, d) {
		return nil
	}
	return c.week[wd]
}

// interval is one open stretch in absolute time.
type interval struct{ start, end time.Time }

// day returns the open intervals of a local date.
func (c *Calendar) day(y int, m time.Month, d int) []interval {
	bs := c.blocks(y, m, d)
	out := make([]interval, 0, len(bs))
	for _, b := range bs {
		out = append(out, interval{
			start: time.Date(y, m, d, b.start/60, b.start%60, 0, 0, c.loc),
			end:   time.Date(y, m, d, b.end/60, b.end%60, 0, 0, c.loc),
		})
	}
	return out
}

// maxScanDays bounds the search for open hours (a calendar with none).
const maxScanDays = 3 * 366

// each calls fn for the open intervals that end after t, in order, until
// fn returns false or maxScanDays have been looked at.
func (c *Calendar) each(t time.Time, fn func(iv interval) bool) {
	y, m, d := t.In(c.loc).Date()
	for i := range maxScanDays {
		ny, nm, nd := time.Date(y, m, d+i, 12, 0, 0, 0, time.UTC).Date()
		for _, iv := range c.day(ny, nm, nd) {
			if iv.end.After(t) && !fn(iv) {
				return
			}
		}
	}
}

// IsOpen reports whether the shop is open at t.
func (c *Calendar) IsOpen(t time.Time) bool {
	lt := t.In(c.loc)
	y, m, d := lt.Date()
	for _, iv := range c.day(y, m, d) {
		if !t.Before(iv.start) && t.Before(iv.end) {
			return true
		}
	}
	return false
}

// NextOpen returns t when the shop is open at t, else when it next opens.
// It is zero when the calendar has no open hours in the next three years.
func (c *Calendar) NextOpen(t time.Time) time.Time {
	var next time.Time
	c.each(t, func(iv interval) bool {
		next = later(iv.start, t)
		return false
	})
	return next
}

// Add returns the time at which d of business time has passed after t:
// only open hours count. Add(t, 0) is t. It is zero when the calendar
// has too few open hours in the next three years.
func (c *Calendar) Add(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t
	}
	var due time.Time
	c.each(t, func(iv interval) bool {
		from := later(iv.start, t)
		avail := iv.end.Sub(from)
		if d <= avail {
			due = from.Add(d)
			return false
		}
		d -= avail
		return true
	})
	return due
}

// BusinessDuration is the open time between a and b (0 when b ≤ a).
func (c *Calendar) BusinessDuration(a, b time.Time) time.Duration {
	var sum time.Duration
	if !b.After(a) {
		return 0
	}
	c.each(a, func(iv interval) bool {
		if !iv.start.Before(b) {
			return false
		}
		from, to := later(iv.start, a), iv.end
		if to.After(b) {
			to = b
		}
		sum += to.Sub(from)
		return true
	})
	return sum
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
