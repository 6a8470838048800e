package prices

import (
	"errors"
	"testing"
)

func TestParseDay(t *testing.T) {
	good := []string{"2024-09-29", "2024-02-29", "2000-02-29", "1999-12-31", "2024-10-27"}
	for _, s := range good {
		d, err := ParseDay(s)
		if err != nil {
			t.Errorf("ParseDay(%q): %v", s, err)
			continue
		}
		if d.String() != s || d.ObjectKey() != s+".json" {
			t.Errorf("ParseDay(%q) = %q / %q", s, d.String(), d.ObjectKey())
		}
	}
	bad := []string{
		"", "2024-9-29", "20240929", "2024/09/29", "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10",
		"2024-01-00", "2024-01-32", "../x", "..%2Fx", "2024-01-01.json", " 2024-01-01", "2024-01-01 ",
		"2024-01-01\n", "2024-01-01\x00", "2024-1-001", "+024-01-01", "２０２４-01-01", "2024-01-0a",
		"24-01-01", "12024-01-01", "2024-01-01T00:00:00Z",
	}
	for _, s := range bad {
		if d, err := ParseDay(s); err == nil {
			t.Errorf("ParseDay(%q) = %q, want an error", s, d)
		} else if _, ok := errors.AsType[*DayError](err); !ok {
			t.Errorf("ParseDay(%q) error %T, want *DayError", s, err)
		}
	}
	if _, err := ParseDay(""); !errors.Is(err, ErrDayMissing) {
		t.Errorf("empty day: %v, want ErrDayMissing", err)
	}
}
