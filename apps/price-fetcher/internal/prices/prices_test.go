package prices

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/day"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/elering"
)

func TestKnownRealValue(t *testing.T) {
	r := FromPoint(elering.Point{Timestamp: 1704067200, Price: 28.46})
	want := Record{EstonianTime: "2024-01-01T02:00:00+02:00", Price: 28.46, Timestamp: 1704067200}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	b, _ := json.Marshal(r)
	if got := string(b); got != `{"estonian_time":"2024-01-01T02:00:00+02:00","price":28.46,"timestamp":1704067200}` {
		t.Fatalf("JSON %s", got)
	}
}

func TestForDayFiltersSortsDedups(t *testing.T) {
	d, _ := day.Parse("2024-10-01")
	start := d.Start().Unix() // 1727730000
	if start != 1727730000 {
		t.Fatalf("start %d", start)
	}
	pts := []elering.Point{
		{Timestamp: start + 7200, Price: 3},
		{Timestamp: start - 3600, Price: 99}, // previous day
		{Timestamp: start, Price: 1},
		{Timestamp: start + 3600, Price: 2},
		{Timestamp: start + 3600, Price: 42},   // repeated: first wins
		{Timestamp: d.End().Unix(), Price: 99}, // next day's first hour (inclusive end)
		{Timestamp: start + 23*3600, Price: 24},
	}
	got := ForDay(d, pts)
	want := []Record{
		{"2024-10-01T00:00:00+03:00", 1, start},
		{"2024-10-01T01:00:00+03:00", 2, start + 3600},
		{"2024-10-01T02:00:00+03:00", 3, start + 7200},
		{"2024-10-01T23:00:00+03:00", 24, start + 23*3600},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records: %+v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if Interval(got) != 0 {
		t.Errorf("gappy records have interval %s", Interval(got))
	}
}

func TestForDayEmpty(t *testing.T) {
	d, _ := day.Parse("2024-10-01")
	if got := ForDay(d, nil); got == nil || len(got) != 0 {
		t.Fatalf("got %#v", got)
	}
	if got := ForDay(d, []elering.Point{{Timestamp: d.End().Unix(), Price: 1}}); len(got) != 0 {
		t.Fatalf("got %#v", got)
	}
}

func TestInterval(t *testing.T) {
	d, _ := day.Parse("2025-10-26")
	var pts []elering.Point
	for ts := d.Start().Unix(); ts < d.End().Unix(); ts += 900 {
		pts = append(pts, elering.Point{Timestamp: ts})
	}
	r := ForDay(d, pts)
	if len(r) != 100 || Interval(r) != 15*time.Minute {
		t.Fatalf("%d records, interval %s", len(r), Interval(r))
	}
}
