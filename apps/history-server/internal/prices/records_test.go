package prices

import (
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/lab5/k8s-networking/apps/history-server/internal/pricetest"
)

func TestDecodeAcceptsValidBodies(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []Record
	}{
		{"lab sample", pricetest.SampleBody, []Record{
			{"2024-10-01T00:00:00+03:00", 5.01, 1727730000},
			{"2024-10-01T01:00:00+03:00", 3.21, 1727733600},
			{"2024-10-02T00:00:00+03:00", 78.57, 1727816400},
		}},
		{"utc Z", `[{"estonian_time":"2024-09-30T21:00:00Z","price":-1.5,"timestamp":1727730000}]`,
			[]Record{{"2024-09-30T21:00:00Z", -1.5, 1727730000}}},
		{"field order and whitespace", " [ {\"timestamp\" : 1727730000 , \"price\":5,\n\"estonian_time\":\"2024-10-01T00:00:00+03:00\"} ] \n",
			[]Record{{"2024-10-01T00:00:00+03:00", 5, 1727730000}}},
		{"zero fraction", `[{"estonian_time":"2024-10-01T00:00:00.000+03:00","price":0,"timestamp":1727730000}]`,
			[]Record{{"2024-10-01T00:00:00.000+03:00", 0, 1727730000}}},
		{"winter offset", `[{"estonian_time":"2024-12-01T00:00:00+02:00","price":1e2,"timestamp":1733004000}]`,
			[]Record{{"2024-12-01T00:00:00+02:00", 100, 1733004000}}},
		{"large finite price", `[{"estonian_time":"2024-10-01T00:00:00+03:00","price":1.5e300,"timestamp":1727730000}]`,
			[]Record{{"2024-10-01T00:00:00+03:00", 1.5e300, 1727730000}}},
		{"tiny price underflows to zero", `[{"estonian_time":"2024-10-01T00:00:00+03:00","price":1e-400,"timestamp":1727730000}]`,
			[]Record{{"2024-10-01T00:00:00+03:00", 0, 1727730000}}},
		{"escaped string", `[{"estonian_time":"2024-10-01T00:00:00\u002b03:00","price":1,"timestamp":1727730000}]`,
			[]Record{{"2024-10-01T00:00:00+03:00", 1, 1727730000}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode([]byte(c.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Decode = %+v, want %+v", got, c.want)
			}
		})
	}
}

// Every catalogued bad body is rejected with the kind that maps to its
// HTTP status (400 syntax, 422 semantic). Day, content-type and size
// cases are the HTTP layer's business and are skipped here.
func TestDecodeRejectsBadBodies(t *testing.T) {
	for _, c := range pricetest.BadPosts() {
		if !strings.HasPrefix(c.Name, "shape/") && !strings.HasPrefix(c.Name, "value/") {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			recs, err := Decode(c.Body)
			if err == nil {
				t.Fatalf("Decode accepted %q as %+v", c.Body, recs)
			}
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok {
				t.Fatalf("error %T %v, want *ValidationError", err, err)
			}
			wantKind := KindSyntax
			if c.Status == http.StatusUnprocessableEntity {
				wantKind = KindSemantic
			}
			if ve.Kind != wantKind {
				t.Fatalf("kind %d, want %d (%v)", ve.Kind, wantKind, err)
			}
			if ve.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
}

func TestDecodeErrorMessagesNameTheProblem(t *testing.T) {
	cases := map[string]string{
		`[]`: "empty",
		`[{"estonian_time":"2024-10-01T00:00:00+03:00","price":1,"timestamp":1727730000},{"price":1}]`: "record 1: missing required field(s): estonian_time, timestamp",
		`[{"estonian_time":"2024-10-01T00:00:00+03:00","price":"1","timestamp":1727730000}]`:           "record 0: price: must be a number, got a string",
		`[{"estonian_time":"2024-10-01T00:00:00+03:00","price":1,"timestamp":1727730001}]`:             "does not match estonian_time",
		`[{"estonian_time":"2024-10-01T00:00:00+03:00","price":1,"timestamp":1727730000,"x":1}]`:       `unknown field "x"`,
		`{}`: "must be a JSON array",
	}
	for body, want := range cases {
		_, err := Decode([]byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%s) = %v, want it to mention %q", body, err, want)
		}
	}
	if _, err := Decode([]byte(`[]`)); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty array: %v, want ErrEmpty", err)
	}
}

func TestEncodeRoundTrips(t *testing.T) {
	recs, err := Decode([]byte(pricetest.SampleBody))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(recs)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != pricetest.SampleCanonical {
		t.Fatalf("Encode = %s\nwant     %s", b, pricetest.SampleCanonical)
	}
	again, err := Decode(b)
	if err != nil || !reflect.DeepEqual(again, recs) {
		t.Fatalf("re-decoding the canonical form: %v, %+v", err, again)
	}
	if _, err := Encode([]Record{{Price: math.Inf(1)}}); err == nil {
		t.Fatal("Encode accepted +Inf")
	}
}

// BenchmarkDecodeDay: validating and re-encoding one day of hourly prices.
func BenchmarkDecodeDay(b *testing.B) {
	body := pricetest.Body("2024-10-01", 24, 1)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		recs, err := Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Encode(recs); err != nil {
			b.Fatal(err)
		}
	}
}
