// Package prices is the history-server's domain: the day a price file
// belongs to, the price record, and the strict validation of both.
//
// It knows nothing about HTTP or MinIO; the api and store packages share
// its types and errors.
package prices

import (
	"errors"
	"fmt"
	"time"
)

// DayLayout is the only accepted spelling of a day: YYYY-MM-DD.
const DayLayout = "2006-01-02"

// Day is a calendar date, validated by ParseDay. Its zero value is not a
// valid day; use ParseDay to obtain one.
type Day struct {
	s string // canonical YYYY-MM-DD, safe to use in an object key
}

// String returns the day as YYYY-MM-DD.
func (d Day) String() string { return d.s }

// ObjectKey is the name of the object holding that day's prices,
// e.g. 2024-09-29.json.
func (d Day) ObjectKey() string { return d.s + ".json" }

// DayError explains why a day parameter was rejected.
type DayError struct {
	Value  string // the rejected input (possibly truncated)
	Reason string
}

func (e *DayError) Error() string {
	if e.Value == "" {
		return "day: " + e.Reason
	}
	return fmt.Sprintf("day %q: %s", e.Value, e.Reason)
}

// ErrDayMissing is wrapped by the DayError returned for an empty input.
var ErrDayMissing = errors.New("day is required")

// Unwrap lets errors.Is(err, ErrDayMissing) find a missing day.
func (e *DayError) Unwrap() error {
	if e.Value == "" {
		return ErrDayMissing
	}
	return nil
}

// ParseDay accepts exactly YYYY-MM-DD naming a real calendar date
// (2024-02-29 yes, 2023-02-29 and 2024-02-30 no). Anything else — spaces,
// path characters, a .json suffix, other separators — is rejected, so the
// result is always safe to use as part of an object key.
func ParseDay(s string) (Day, error) {
	if s == "" {
		return Day{}, &DayError{Reason: "the day query parameter is required, formatted YYYY-MM-DD (e.g. 2024-09-29)"}
	}
	shown := s
	if len(shown) > 40 {
		shown = shown[:40] + "…"
	}
	if len(s) != len(DayLayout) {
		return Day{}, &DayError{Value: shown, Reason: "must be formatted YYYY-MM-DD (e.g. 2024-09-29)"}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 4 || i == 7 {
			if c != '-' {
				return Day{}, &DayError{Value: shown, Reason: "must be formatted YYYY-MM-DD (e.g. 2024-09-29)"}
			}
			continue
		}
		if c < '0' || c > '9' {
			return Day{}, &DayError{Value: shown, Reason: "must be formatted YYYY-MM-DD (e.g. 2024-09-29)"}
		}
	}
	if _, err := time.Parse(DayLayout, s); err != nil {
		return Day{}, &DayError{Value: shown, Reason: "is not a calendar date"}
	}
	return Day{s: s}, nil
}
