// Package prices turns Elering points into the history-server's records.
package prices

import (
	"cmp"
	"slices"
	"time"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/day"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/elering"
)

// Record is one price in the history-server's format:
//
//	{"estonian_time": "2024-10-01T00:00:00+03:00", "price": 5.01, "timestamp": 1727730000}
type Record struct {
	// EstonianTime is the interval start, RFC 3339 in Europe/Tallinn.
	EstonianTime string `json:"estonian_time"`
	// Price is EUR/MWh without VAT, as published.
	Price float64 `json:"price"`
	// Timestamp is the interval start in Unix seconds.
	Timestamp int64 `json:"timestamp"`
}

// ForDay keeps the points whose interval starts within d (local midnight
// to next local midnight, whatever bounds Elering applied), orders them by
// time, drops repeated timestamps (the first one listed wins) and converts
// them to records. The result is never nil.
func ForDay(d day.Day, points []elering.Point) []Record {
	kept := make([]elering.Point, 0, len(points))
	for _, p := range points {
		if d.Contains(p.Time()) {
			kept = append(kept, p)
		}
	}
	slices.SortStableFunc(kept, func(a, b elering.Point) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
	kept = slices.CompactFunc(kept, func(a, b elering.Point) bool { return a.Timestamp == b.Timestamp })
	records := make([]Record, len(kept))
	for i, p := range kept {
		records[i] = FromPoint(p)
	}
	return records
}

// FromPoint converts one point.
func FromPoint(p elering.Point) Record {
	return Record{
		EstonianTime: day.LocalTime(time.Unix(p.Timestamp, 0)),
		Price:        p.Price,
		Timestamp:    p.Timestamp,
	}
}

// Interval is the spacing of the records (1h or 15m for Elering), or 0 when
// there are fewer than two or the spacing is not uniform.
func Interval(records []Record) time.Duration {
	if len(records) < 2 {
		return 0
	}
	step := records[1].Timestamp - records[0].Timestamp
	for i := 2; i < len(records); i++ {
		if records[i].Timestamp-records[i-1].Timestamp != step {
			return 0
		}
	}
	return time.Duration(step) * time.Second
}
