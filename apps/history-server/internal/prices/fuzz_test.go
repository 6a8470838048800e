package prices

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lab5/k8s-networking/apps/history-server/internal/pricetest"
)

var dayShape = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// FuzzParseDay: a day is accepted exactly when it is YYYY-MM-DD and a real
// date, and an accepted day always yields a harmless object key.
func FuzzParseDay(f *testing.F) {
	for _, s := range []string{
		"2024-09-29", "2024-02-29", "2023-02-29", "2024-02-30", "", "../x", "2024-01-01.json", " 2024-01-01",
		"2024-01-01 ", "20240101", "2024/01/01", "2024-13-01", "0000-01-01", "9999-12-31", "2024-1-1", "２０２４-01-01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDay(s)
		_, perr := time.Parse(DayLayout, s)
		want := dayShape.MatchString(s) && perr == nil
		if (err == nil) != want {
			t.Fatalf("ParseDay(%q) error = %v; want accepted = %v", s, err, want)
		}
		if err != nil {
			if _, ok := errors.AsType[*DayError](err); !ok {
				t.Fatalf("ParseDay(%q) error type %T", s, err)
			}
			return
		}
		if d.String() != s || d.ObjectKey() != s+".json" {
			t.Fatalf("ParseDay(%q) = %q, key %q", s, d, d.ObjectKey())
		}
		if strings.ContainsAny(d.ObjectKey(), "/\\ \x00") || strings.Contains(d.ObjectKey(), "..") {
			t.Fatalf("unsafe key %q", d.ObjectKey())
		}
	})
}

// FuzzDecodePrices: Decode never panics, rejects what is not JSON,
// returns only typed errors, and whatever it accepts re-encodes to a body
// that decodes to the same records, with consistent timestamps.
func FuzzDecodePrices(f *testing.F) {
	f.Add([]byte(pricetest.SampleBody))
	f.Add([]byte(pricetest.SampleCanonical))
	f.Add(pricetest.Body("2024-03-31", 24, 1))
	for _, c := range pricetest.BadPosts() {
		if len(c.Body) < 4096 {
			f.Add(c.Body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := Decode(body)
		if err != nil {
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok || (ve.Kind != KindSyntax && ve.Kind != KindSemantic) || ve.Msg == "" {
				t.Fatalf("Decode error %T %v", err, err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("Decode accepted invalid JSON %q", body)
		}
		if len(recs) == 0 {
			t.Fatal("Decode accepted an empty array")
		}
		for i, r := range recs {
			at, perr := time.Parse(time.RFC3339Nano, r.EstonianTime)
			if perr != nil || at.Unix() != r.Timestamp || at.Nanosecond() != 0 {
				t.Fatalf("record %d accepted with inconsistent time: %+v", i, r)
			}
		}
		enc, err := Encode(recs)
		if err != nil {
			t.Fatalf("Encode of accepted records: %v", err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("canonical form %s rejected: %v", enc, err)
		}
		if !reflect.DeepEqual(again, recs) {
			t.Fatalf("round trip changed the records:\n%+v\n%+v", recs, again)
		}
	})
}

// FuzzDecodeFastAgrees: whatever the fast path accepts, the strict decoder
// accepts too, with the very same records (bit for bit, -0 included), so
// that the fast path never changes what the API accepts or stores.
func FuzzDecodeFastAgrees(f *testing.F) {
	f.Add([]byte(pricetest.SampleBody))
	f.Add([]byte(pricetest.SampleCanonical))
	f.Add(pricetest.Body("2024-03-31", 24, 1))
	f.Add([]byte(`[{"estonian_time":"2024-09-30T21:00:00Z","price":-0,"timestamp":-0}]`))
	f.Add([]byte(" [ {\"timestamp\" : 1727730000 , \"price\":5e0,\n\"estonian_time\":\"2024-10-01T00:00:00.000+03:00\"} ] \n"))
	for _, c := range pricetest.BadPosts() {
		if len(c.Body) < 4096 {
			f.Add(c.Body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodeFast(body)
		if !ok {
			return
		}
		strict, err := decodeStrict(body)
		if err != nil {
			t.Fatalf("fast path accepted %q, strict decoder refuses it: %v", body, err)
		}
		if len(fast) != len(strict) {
			t.Fatalf("%q: fast path %d records, strict %d", body, len(fast), len(strict))
		}
		for i := range fast {
			f, s := fast[i], strict[i]
			if f.EstonianTime != s.EstonianTime || f.Timestamp != s.Timestamp || math.Float64bits(f.Price) != math.Float64bits(s.Price) {
				t.Fatalf("%q record %d: fast %+v, strict %+v", body, i, f, s)
			}
		}
	})
}

// The fast path does take the bodies the price-fetcher sends; otherwise it
// would be dead weight.
func TestDecodeFastTakesTypicalBodies(t *testing.T) {
	for _, body := range [][]byte{[]byte(pricetest.SampleBody), []byte(pricetest.SampleCanonical), pricetest.Body("2024-03-31", 24, 1), pricetest.Body("2024-10-27", 100, 7)} {
		if _, ok := decodeFast(body); !ok {
			t.Errorf("fast path gave up on %.80s…", body)
		}
	}
}
