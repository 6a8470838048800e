// Package pricetest holds test fixtures shared by the history-server's
// unit, handler, contract and integration tests: valid day bodies and the
// catalogue of requests that must be rejected without writing anything.
package pricetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Estonian summer time; the server does not care which offset is used.
var eest = time.FixedZone("EEST", 3*3600)

// Record mirrors the wire format.
type Record struct {
	EstonianTime string  `json:"estonian_time"`
	Price        float64 `json:"price"`
	Timestamp    int64   `json:"timestamp"`
}

// Records returns n hourly records starting at midnight of day (+03:00),
// with prices derived from variant so that different posters send
// different bodies.
func Records(day string, n int, variant int) []Record {
	start, err := time.ParseInLocation("2006-01-02", day, eest)
	if err != nil {
		panic(err)
	}
	out := make([]Record, n)
	for i := range out {
		at := start.Add(time.Duration(i) * time.Hour)
		out[i] = Record{
			EstonianTime: at.Format(time.RFC3339),
			Price:        float64(variant*1000+i)/100 - 5, // some negative, like real prices
			Timestamp:    at.Unix(),
		}
	}
	return out
}

// Body is the canonical JSON of Records(day, n, variant): exactly what the
// server stores and serves back for such a POST.
func Body(day string, n int, variant int) []byte {
	b, err := json.Marshal(Records(day, n, variant))
	if err != nil {
		panic(err)
	}
	return b
}

// SampleBody is the lab's own example (three records).
const SampleBody = `[
{"estonian_time": "2024-10-01T00:00:00+03:00", "price": 5.01, "timestamp": 1727730000},
{"estonian_time": "2024-10-01T01:00:00+03:00", "price": 3.21, "timestamp": 1727733600},
{"estonian_time": "2024-10-02T00:00:00+03:00", "price": 78.57, "timestamp": 1727816400}
]`

// SampleCanonical is how SampleBody is stored.
const SampleCanonical = `[{"estonian_time":"2024-10-01T00:00:00+03:00","price":5.01,"timestamp":1727730000},` +
	`{"estonian_time":"2024-10-01T01:00:00+03:00","price":3.21,"timestamp":1727733600},` +
	`{"estonian_time":"2024-10-02T00:00:00+03:00","price":78.57,"timestamp":1727816400}]`

// BadCase is a POST that must be refused with Status and write nothing.
type BadCase struct {
	Name string
	// Query is the raw query string (already escaped), e.g. "day=2024-10-01".
	Query string
	// ContentType is sent as is; "" sends no Content-Type header.
	ContentType string
	Body        []byte
	// Chunked sends the body without a Content-Length.
	Chunked bool
	Status  int
	// SpecRejects: the OpenAPI document alone (schema, pattern, formats)
	// also rejects this request. Other cases are rules only the server
	// knows (timestamp/time agreement, range of numbers, real dates...).
	SpecRejects bool
}

// GoodQuery is the query of a valid POST.
const GoodQuery = "day=2024-10-01"

// record renders one record object with the given raw JSON values; an
// empty value leaves the field out.
func record(estonianTime, price, timestamp string) string {
	var parts []string
	if estonianTime != "" {
		parts = append(parts, `"estonian_time":`+estonianTime)
	}
	if price != "" {
		parts = append(parts, `"price":`+price)
	}
	if timestamp != "" {
		parts = append(parts, `"timestamp":`+timestamp)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

const (
	okTime = `"2024-10-01T00:00:00+03:00"`
	okTS   = `1727730000`
)

// BadPosts is every POST the server must refuse.
func BadPosts() []BadCase {
	valid := []byte(SampleBody)
	arr := func(records ...string) []byte { return []byte("[" + strings.Join(records, ",") + "]") }
	day := func(name, query string) BadCase {
		return BadCase{Name: "day/" + name, Query: query, ContentType: "application/json", Body: valid,
			Status: http.StatusBadRequest, SpecRejects: true}
	}
	ct := func(name, contentType string) BadCase {
		return BadCase{Name: "content-type/" + name, Query: GoodQuery, ContentType: contentType, Body: valid,
			Status: http.StatusUnsupportedMediaType, SpecRejects: true}
	}
	shape := func(name string, body []byte, specRejects bool) BadCase {
		return BadCase{Name: "shape/" + name, Query: GoodQuery, ContentType: "application/json", Body: body,
			Status: http.StatusBadRequest, SpecRejects: specRejects}
	}
	value := func(name string, body []byte, specRejects bool) BadCase {
		return BadCase{Name: "value/" + name, Query: GoodQuery, ContentType: "application/json", Body: body,
			Status: http.StatusUnprocessableEntity, SpecRejects: specRejects}
	}
	cases := []BadCase{
		day("missing", ""),
		day("empty", "day="),
		day("no-dashes", "day=20241001"),
		day("short-month", "day=2024-1-01"),
		day("slashes", "day=2024%2F10%2F01"),
		day("dotdot", "day=..%2Fx"),
		day("dotdot-raw", "day=../x"),
		day("json-suffix", "day=2024-10-01.json"),
		day("leading-space", "day=%202024-10-01"),
		day("trailing-space", "day=2024-10-01%20"),
		day("nul", "day=2024-10-01%00"),
		day("letters", "day=yesterday"),
		{Name: "day/feb-30", Query: "day=2024-02-30", ContentType: "application/json", Body: valid, Status: http.StatusBadRequest},
		{Name: "day/feb-29-non-leap", Query: "day=2023-02-29", ContentType: "application/json", Body: valid, Status: http.StatusBadRequest},
		day("month-13", "day=2024-13-01"),
		{Name: "day/twice", Query: "day=2024-10-01&day=2024-10-02", ContentType: "application/json", Body: valid, Status: http.StatusBadRequest},

		ct("text-plain", "text/plain"),
		ct("form", "application/x-www-form-urlencoded"),
		ct("json-prefix", "application/jsonx"),
		ct("garbage", "garbage;;;"),
		{Name: "content-type/latin1", Query: GoodQuery, ContentType: "application/json; charset=latin1", Body: valid,
			Status: http.StatusUnsupportedMediaType},

		shape("empty-body", nil, true),
		shape("not-json", []byte(`{"estonian_time": `), true),
		shape("text", []byte(`hello`), true),
		shape("object", []byte(`{"estonian_time":"2024-10-01T00:00:00+03:00","price":1,"timestamp":1727730000}`), true),
		shape("string", []byte(`"[]"`), true),
		shape("null", []byte(`null`), true),
		shape("number", []byte(`42`), true),
		shape("trailing-array", []byte(SampleBody+`[]`), false),
		shape("trailing-garbage", []byte(SampleBody+`x`), false),
		shape("unterminated", []byte(`[`+record(okTime, "1", okTS)), true),
		shape("element-number", arr("1"), true),
		shape("element-null", arr("null"), true),
		shape("element-array", arr("[]"), true),
		shape("price-string", arr(record(okTime, `"5.01"`, okTS)), true),
		shape("price-bool", arr(record(okTime, `true`, okTS)), true),
		shape("price-null", arr(record(okTime, `null`, okTS)), true),
		shape("price-object", arr(record(okTime, `{}`, okTS)), true),
		shape("timestamp-string", arr(record(okTime, "1", `"1727730000"`)), true),
		shape("timestamp-fraction", arr(record(okTime, "1", `1727730000.5`)), true),
		shape("timestamp-exponent", arr(record(okTime, "1", `1.72773e9`)), false),
		shape("timestamp-null", arr(record(okTime, "1", `null`)), true),
		shape("time-number", arr(record(`1727730000`, "1", okTS)), true),
		shape("time-null", arr(record(`null`, "1", okTS)), true),
		shape("missing-time", arr(record("", "1", okTS)), true),
		shape("missing-price", arr(record(okTime, "", okTS)), true),
		shape("missing-timestamp", arr(record(okTime, "1", "")), true),
		shape("missing-all", arr(`{}`), true),
		shape("second-record-bad", arr(record(okTime, "1", okTS), record(okTime, "1", "")), true),
		shape("unknown-field", arr(`{"estonian_time":`+okTime+`,"price":1,"timestamp":`+okTS+`,"currency":"EUR"}`), true),
		shape("wrong-case-field", arr(`{"estonian_time":`+okTime+`,"Price":1,"timestamp":`+okTS+`}`), true),
		shape("duplicate-field", arr(`{"estonian_time":`+okTime+`,"price":1,"price":2,"timestamp":`+okTS+`}`), false),

		value("empty-array", []byte(`[]`), true),
		value("empty-array-spaces", []byte(" [ ] \n"), true),
		value("price-overflow", arr(record(okTime, `1e400`, okTS)), true),
		value("price-negative-overflow", arr(record(okTime, `-1e400`, okTS)), true),
		value("timestamp-overflow", arr(record(okTime, "1", `99999999999999999999`)), true),
		value("time-no-offset", arr(record(`"2024-10-01T00:00:00"`, "1", okTS)), true),
		value("time-space", arr(record(`"2024-10-01 00:00:00+03:00"`, "1", okTS)), true),
		value("time-date-only", arr(record(`"2024-10-01"`, "1", okTS)), true),
		value("time-month-13", arr(record(`"2024-13-01T00:00:00+03:00"`, "1", okTS)), true),
		value("time-text", arr(record(`"tomorrow"`, "1", okTS)), true),
		value("time-comma-fraction", arr(record(`"2024-10-01T00:00:00,5+03:00"`, "1", okTS)), true),
		value("timestamp-mismatch", arr(record(okTime, "1", `1727730001`)), false),
		value("timestamp-is-utc-wall-clock", arr(record(okTime, "1", `1727740800`)), false),
		value("time-fraction-mismatch", arr(record(`"2024-10-01T00:00:00.5+03:00"`, "1", okTS)), false),
		value("second-record-mismatch", arr(record(okTime, "1", okTS), record(`"2024-10-01T01:00:00+03:00"`, "2", okTS)), false),
	}
	big := TooLargeBody()
	cases = append(cases,
		BadCase{Name: "size/over-1MiB", Query: GoodQuery, ContentType: "application/json", Body: big, Status: http.StatusRequestEntityTooLarge},
		BadCase{Name: "size/over-1MiB-chunked", Query: GoodQuery, ContentType: "application/json", Body: big, Chunked: true, Status: http.StatusRequestEntityTooLarge},
	)
	return cases
}

// TooLargeBody is a valid price array just over 1 MiB.
func TooLargeBody() []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; b.Len() <= 1<<20; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"estonian_time":"2024-10-01T00:00:00+03:00","price":%d.5,"timestamp":1727730000}`, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// BadGets is every GET query the server must refuse with 400.
func BadGets() []string {
	var out []string
	for _, c := range BadPosts() {
		if strings.HasPrefix(c.Name, "day/") {
			out = append(out, c.Query)
		}
	}
	return out
}
