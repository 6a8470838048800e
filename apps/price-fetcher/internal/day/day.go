// Package day turns calendar days in Estonia into UTC instants.
//
// An Estonian day D runs from local midnight of D to local midnight of D+1
// in Europe/Tallinn (UTC+2 in winter, UTC+3 in summer), so it lasts 24
// hours, or 23/25 hours on daylight-saving change days. Nothing here depends
// on the machine's time zone: the zone data is embedded in the binary.
package day

import (
	"fmt"
	"time"
	_ "time/tzdata" // the runtime image has no zoneinfo
)

// Layout is the day format used in configuration and URLs: 2024-10-01.
const Layout = "2006-01-02"

// QueryLayout formats UTC instants the way Elering's API expects them:
// 2024-09-30T21:00:00.000Z.
const QueryLayout = "2006-01-02T15:04:05.000Z"

// Tallinn is the Europe/Tallinn location.
var Tallinn = mustLoad("Europe/Tallinn")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("load time zone %s: %v", name, err))
	}
	return loc
}

// Day is a calendar date in Estonia.
type Day struct {
	Year  int
	Month time.Month
	Day   int
}

// Parse reads a day in the strict YYYY-MM-DD form.
func Parse(s string) (Day, error) {
	t, err := time.ParseInLocation(Layout, s, Tallinn)
	if err != nil || t.Format(Layout) != s {
		return Day{}, fmt.Errorf("invalid day %q: want YYYY-MM-DD", s)
	}
	return Of(t), nil
}

// Of returns the Estonian calendar day that contains instant t.
func Of(t time.Time) Day {
	y, m, d := t.In(Tallinn).Date()
	return Day{Year: y, Month: m, Day: d}
}

// Tomorrow returns the Estonian calendar day after the one containing now,
// whatever now's location or the machine's time zone.
func Tomorrow(now time.Time) Day {
	return Of(now).AddDays(1)
}

// AddDays returns the day n calendar days later (earlier if n < 0).
func (d Day) AddDays(n int) Day {
	// Noon never falls into a DST gap, so normalising through it is safe.
	return Of(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, Tallinn))
}

// String formats the day as YYYY-MM-DD.
func (d Day) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// Start is local midnight at the beginning of the day, in UTC.
func (d Day) Start() time.Time {
	// Estonian DST switches at 03:00/04:00 local time, so midnight always
	// exists and is unique.
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, Tallinn).UTC()
}

// End is local midnight at the beginning of the next day, in UTC: the
// exclusive end of the day.
func (d Day) End() time.Time {
	return d.AddDays(1).Start()
}

// Duration is the length of the day: 24h, or 23h/25h on DST change days.
func (d Day) Duration() time.Duration {
	return d.End().Sub(d.Start())
}

// Contains reports whether instant t lies in [Start, End).
func (d Day) Contains(t time.Time) bool {
	return !t.Before(d.Start()) && t.Before(d.End())
}

// QueryEnd is the inclusive end instant sent to Elering: one millisecond
// before the next day starts, so an inclusive bound does not pick up the
// next day's first interval.
func (d Day) QueryEnd() time.Time {
	return d.End().Add(-time.Millisecond)
}

// FormatQuery formats an instant for Elering's start/end parameters.
func FormatQuery(t time.Time) string {
	return t.UTC().Format(QueryLayout)
}

// LocalTime formats an instant as RFC 3339 in Europe/Tallinn with its
// offset: 2024-10-01T00:00:00+03:00.
func LocalTime(t time.Time) string {
	return t.In(Tallinn).Format(time.RFC3339)
}
