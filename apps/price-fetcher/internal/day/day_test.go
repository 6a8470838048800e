package day

import (
	"testing"
	"time"
)

func mustUTC(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// withLocal pretends the machine runs in another time zone.
func withLocal(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Local
	time.Local = loc
	t.Cleanup(func() { time.Local = old })
	return loc
}

func TestTomorrowAcrossTallinnMidnight(t *testing.T) {
	// Kiritimati is UTC+14 and Los Angeles UTC-7 at these instants: both
	// disagree with Tallinn about the date around Tallinn's midnight.
	for _, zone := range []string{"Pacific/Kiritimati", "America/Los_Angeles", "UTC"} {
		t.Run(zone, func(t *testing.T) {
			loc := withLocal(t, zone)
			cases := []struct {
				now  string
				want string
			}{
				{"2024-09-30T20:59:59.999Z", "2024-10-01"}, // 23:59:59.999 Tallinn, Sep 30
				{"2024-09-30T21:00:00Z", "2024-10-02"},     // 00:00 Tallinn, Oct 1
				{"2024-09-30T21:30:00Z", "2024-10-02"},
				{"2024-12-31T21:59:59Z", "2025-01-01"}, // winter: UTC+2
				{"2024-12-31T22:00:00Z", "2025-01-02"},
				{"2025-03-29T22:30:00Z", "2025-03-31"}, // 00:30 on the 23-hour day
				{"2025-10-26T21:59:00Z", "2025-10-27"}, // 23:59 on the 25-hour day
				{"2024-02-28T12:00:00Z", "2024-02-29"},
			}
			for _, c := range cases {
				now := mustUTC(t, c.now)
				for _, n := range []time.Time{now, now.In(loc), now.Local()} {
					if got := Tomorrow(n).String(); got != c.want {
						t.Errorf("Tomorrow(%s) = %s, want %s", n, got, c.want)
					}
				}
			}
		})
	}
}

func TestWindows(t *testing.T) {
	withLocal(t, "America/New_York")
	cases := []struct {
		day        string
		start, end string // end is exclusive
		queryEnd   string
		hours      int
	}{
		{"2024-10-01", "2024-09-30T21:00:00.000Z", "2024-10-01T21:00:00.000Z", "2024-10-01T20:59:59.999Z", 24},
		{"2024-01-01", "2023-12-31T22:00:00.000Z", "2024-01-01T22:00:00.000Z", "2024-01-01T21:59:59.999Z", 24},
		{"2025-03-30", "2025-03-29T22:00:00.000Z", "2025-03-30T21:00:00.000Z", "2025-03-30T20:59:59.999Z", 23},
		{"2025-10-26", "2025-10-25T21:00:00.000Z", "2025-10-26T22:00:00.000Z", "2025-10-26T21:59:59.999Z", 25},
		{"2024-10-27", "2024-10-26T21:00:00.000Z", "2024-10-27T22:00:00.000Z", "2024-10-27T21:59:59.999Z", 25},
		{"2026-03-29", "2026-03-28T22:00:00.000Z", "2026-03-29T21:00:00.000Z", "2026-03-29T20:59:59.999Z", 23},
		{"2026-10-25", "2026-10-24T21:00:00.000Z", "2026-10-25T22:00:00.000Z", "2026-10-25T21:59:59.999Z", 25},
	}
	for _, c := range cases {
		d, err := Parse(c.day)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatQuery(d.Start()); got != c.start {
			t.Errorf("%s start = %s, want %s", c.day, got, c.start)
		}
		if got := FormatQuery(d.End()); got != c.end {
			t.Errorf("%s end = %s, want %s", c.day, got, c.end)
		}
		if got := FormatQuery(d.QueryEnd()); got != c.queryEnd {
			t.Errorf("%s query end = %s, want %s", c.day, got, c.queryEnd)
		}
		if got := d.Duration(); got != time.Duration(c.hours)*time.Hour {
			t.Errorf("%s lasts %s, want %dh", c.day, got, c.hours)
		}
		if d.Start().Location() != time.UTC {
			t.Errorf("%s start not in UTC: %s", c.day, d.Start().Location())
		}
		if !d.Contains(d.Start()) || d.Contains(d.End()) || !d.Contains(d.QueryEnd()) {
			t.Errorf("%s: Contains disagrees with [start, end)", c.day)
		}
	}
}

func TestParse(t *testing.T) {
	for _, ok := range []string{"2024-10-01", "2024-02-29", "1999-12-31"} {
		d, err := Parse(ok)
		if err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
			continue
		}
		if d.String() != ok {
			t.Errorf("Parse(%q).String() = %q", ok, d.String())
		}
	}
	for _, bad := range []string{"", "2024-1-01", "2024-10-1", "2023-02-29", "2024-13-01", "01.10.2024", "2024-10-01T00:00:00Z", " 2024-10-01", "tomorrow"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestLocalTime(t *testing.T) {
	withLocal(t, "Asia/Tokyo")
	cases := map[int64]string{
		1704067200: "2024-01-01T02:00:00+02:00", // Elering's known value
		1727730000: "2024-10-01T00:00:00+03:00",
		1729987200: "2024-10-27T03:00:00+03:00", // first 03:00 of the 25-hour day
		1729990800: "2024-10-27T03:00:00+02:00", // repeated 03:00
		1743292800: "2025-03-30T02:00:00+02:00",
		1743296400: "2025-03-30T04:00:00+03:00", // 03:00 never happens
	}
	for ts, want := range cases {
		if got := LocalTime(time.Unix(ts, 0)); got != want {
			t.Errorf("LocalTime(%d) = %s, want %s", ts, got, want)
		}
	}
}

func TestAddDays(t *testing.T) {
	d, _ := Parse("2025-03-29")
	if got := d.AddDays(1).String(); got != "2025-03-30" {
		t.Errorf("got %s", got)
	}
	if got := d.AddDays(-29).String(); got != "2025-02-28" {
		t.Errorf("got %s", got)
	}
}
