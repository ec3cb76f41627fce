package hours_test

import (
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
)

var sthlm = mustLoc("Europe/Stockholm")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// at is a Stockholm wall-clock time.
func at(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, sthlm)
}

// weekdays 08:00–12:00 and 13:00–17:00, Swedish holidays.
func shop(t *testing.T) *hours.Calendar {
	t.Helper()
	day := [][]string{{"08:00", "12:00"}, {"13:00", "17:00"}}
	c, err := hours.Compile(hours.Settings{
		Week:     map[string][][]string{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
		Holidays: "SE", ClosedDates: []string{"2026-11-06"}, OpenDates: []string{"2026-12-20"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIsOpenAndNextOpen(t *testing.T) {
	c := shop(t)
	cases := []struct {
		name string
		t    time.Time
		open bool
		next time.Time
	}{
		{"weekday morning", at(2026, 11, 3, 9, 0), true, at(2026, 11, 3, 9, 0)},
		{"lunch", at(2026, 11, 3, 12, 30), false, at(2026, 11, 3, 13, 0)},
		{"closing time is closed", at(2026, 11, 3, 17, 0), false, at(2026, 11, 4, 8, 0)},
		{"night", at(2026, 11, 3, 23, 0), false, at(2026, 11, 4, 8, 0)},
		{"friday evening to monday", at(2026, 11, 13, 18, 0), false, at(2026, 11, 16, 8, 0)},
		{"a closed date", at(2026, 11, 6, 10, 0), false, at(2026, 11, 9, 8, 0)},
		{"an open date on a sunday", at(2026, 12, 20, 10, 0), true, at(2026, 12, 20, 10, 0)},
		// Thursday 24 Dec (Julafton), 25 Juldagen, 26 Annandag jul (Sat).
		{"julafton", at(2026, 12, 24, 10, 0), false, at(2026, 12, 28, 8, 0)},
		// Nyårsafton Thu 31 Dec, Nyårsdagen Fri 1 Jan.
		{"nyårsafton", at(2026, 12, 31, 9, 0), false, at(2027, 1, 4, 8, 0)},
		// Midsommarafton Fri 19 June 2026.
		{"midsommarafton", at(2026, 6, 19, 9, 0), false, at(2026, 6, 22, 8, 0)},
		// Kristi himmelsfärdsdag Thu 14 May 2026.
		{"public holiday", at(2026, 5, 14, 9, 0), false, at(2026, 5, 15, 8, 0)},
		// Långfredagen 3 Apr, Annandag påsk Mon 6 Apr 2026.
		{"easter", at(2026, 4, 2, 17, 30), false, at(2026, 4, 7, 8, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.IsOpen(tc.t); got != tc.open {
				t.Errorf("IsOpen(%v) = %v", tc.t, got)
			}
			if got := c.NextOpen(tc.t); !got.Equal(tc.next) {
				t.Errorf("NextOpen(%v) = %v, want %v", tc.t, got.In(sthlm), tc.next)
			}
		})
	}
}

func TestAddAndBusinessDuration(t *testing.T) {
	c := shop(t)
	cases := []struct {
		name string
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"within a block", at(2026, 11, 3, 9, 0), time.Hour, at(2026, 11, 3, 10, 0)},
		{"over lunch", at(2026, 11, 3, 11, 30), time.Hour, at(2026, 11, 3, 13, 30)},
		{"over the night", at(2026, 11, 3, 16, 0), 2 * time.Hour, at(2026, 11, 4, 9, 0)},
		{"from the night", at(2026, 11, 3, 22, 0), 30 * time.Minute, at(2026, 11, 4, 8, 30)},
		{"over the weekend", at(2026, 11, 13, 16, 0), 4 * time.Hour, at(2026, 11, 16, 11, 0)},
		{"a whole working day", at(2026, 11, 10, 8, 0), 8 * time.Hour, at(2026, 11, 10, 17, 0)},
		{"over julafton, juldagen, annandag and the weekend", at(2026, 12, 23, 16, 0), 2 * time.Hour, at(2026, 12, 28, 9, 0)},
		{"over a public holiday", at(2026, 5, 13, 16, 30), time.Hour, at(2026, 5, 15, 8, 30)},
		{"over midsommar", at(2026, 6, 18, 16, 0), 90 * time.Minute, at(2026, 6, 22, 8, 30)},
		{"zero", at(2026, 11, 3, 22, 0), 0, at(2026, 11, 3, 22, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := c.Add(tc.from, tc.d)
			if !got.Equal(tc.want) {
				t.Fatalf("Add(%v, %v) = %v, want %v", tc.from, tc.d, got.In(sthlm), tc.want)
			}
			if back := c.BusinessDuration(tc.from, got); back != tc.d {
				t.Errorf("BusinessDuration back = %v, want %v", back, tc.d)
			}
		})
	}
}

// A shop open around the clock on Sundays: the DST Sundays are 23 and 25
// hours long, and the days around them keep their wall-clock hours.
func TestDST(t *testing.T) {
	c, err := hours.Compile(hours.Settings{Timezone: "Europe/Stockholm", Week: map[string][][]string{
		"sun": {{"00:00", "24:00"}}, "mon": {{"08:00", "17:00"}}, "sat": {{"08:00", "17:00"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	spring, autumn := at(2026, 3, 29, 0, 0), at(2026, 10, 25, 0, 0)
	if got := c.BusinessDuration(spring, at(2026, 3, 30, 0, 0)); got != 23*time.Hour {
		t.Errorf("spring-forward Sunday is %v long, want 23h", got)
	}
	if got := c.BusinessDuration(autumn, at(2026, 10, 26, 0, 0)); got != 25*time.Hour {
		t.Errorf("fall-back Sunday is %v long, want 25h", got)
	}
	if got, want := c.Add(at(2026, 3, 28, 16, 0), 2*time.Hour), at(2026, 3, 29, 1, 0); !got.Equal(want) {
		t.Errorf("Add over spring-forward = %v, want %v", got.In(sthlm), want)
	}
	if got, want := c.Add(at(2026, 3, 29, 1, 0), 2*time.Hour), at(2026, 3, 29, 4, 0); !got.Equal(want) {
		t.Errorf("Add across the skipped hour = %v, want %v", got.In(sthlm), want)
	}
	if got, want := c.NextOpen(at(2026, 10, 26, 17, 0)), at(2026, 10, 31, 8, 0); !got.Equal(want) {
		t.Errorf("NextOpen after fall-back = %v, want %v", got.In(sthlm), want)
	}
	if got := c.BusinessDuration(at(2026, 10, 31, 0, 0), at(2026, 11, 1, 0, 0)); got != 9*time.Hour {
		t.Errorf("Saturday after fall-back = %v, want 9h", got)
	}
}

func TestNoHolidaysAndTimezone(t *testing.T) {
	c, err := hours.Compile(hours.Settings{Timezone: "America/New_York", Week: map[string][][]string{"thu": {{"09:00", "17:00"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ny := mustLoc("America/New_York")
	if !c.IsOpen(time.Date(2026, 12, 24, 10, 0, 0, 0, ny)) {
		t.Error("without holidays Julafton is an ordinary Thursday")
	}
	if c.IsOpen(time.Date(2026, 12, 24, 10, 0, 0, 0, sthlm)) {
		t.Error("10:00 in Stockholm is 04:00 in New York: closed")
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name  string
		s     hours.Settings
		field string
	}{
		{"unknown timezone", hours.Settings{Timezone: "Europe/Atlantis"}, "timezone"},
		{"25:00", hours.Settings{Week: map[string][][]string{"mon": {{"08:00", "25:00"}}}}, "week.mon[0]"},
		{"minutes", hours.Settings{Week: map[string][][]string{"mon": {{"08:60", "12:00"}}}}, "week.mon[0]"},
		{"inverted", hours.Settings{Week: map[string][][]string{"tue": {{"17:00", "08:00"}}}}, "week.tue[0]"},
		{"empty block", hours.Settings{Week: map[string][][]string{"tue": {{"08:00", "08:00"}}}}, "week.tue[0]"},
		{"overlap", hours.Settings{Week: map[string][][]string{"wed": {{"08:00", "12:00"}, {"11:00", "17:00"}}}}, "week.wed"},
		{"three values", hours.Settings{Week: map[string][][]string{"wed": {{"08:00", "12:00", "13:00"}}}}, "week.wed[0]"},
		{"bad day", hours.Settings{Week: map[string][][]string{"monday": {{"08:00", "12:00"}}}}, "week.monday"},
		{"bad holidays", hours.Settings{Holidays: "NO"}, "holidays"},
		{"bad closed date", hours.Settings{ClosedDates: []string{"2026-13-01"}}, "closed_dates[0]"},
		{"bad open date", hours.Settings{OpenDates: []string{"24/12"}}, "open_dates[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hours.Compile(tc.s)
			if err == nil || ticketing.ErrorCode(err) != ticketing.EInvalid {
				t.Fatalf("err = %v, want invalid", err)
			}
			if !strings.HasPrefix(err.Error(), tc.field+":") {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		})
	}
	if _, err := hours.Compile(hours.Settings{Week: map[string][][]string{"fri": {{"08:00", "12:00"}, {"12:00", "24:00"}}}}); err != nil {
		t.Errorf("adjacent blocks and 24:00 are fine: %v", err)
	}
}
