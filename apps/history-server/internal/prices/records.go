package prices

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Record is one price point, as the price-fetcher sends it and as GET
// returns it.
type Record struct {
	// EstonianTime is the start of the period as an RFC 3339 date-time with
	// an offset, kept exactly as received (e.g. 2024-10-01T00:00:00+03:00).
	EstonianTime string `json:"estonian_time"`
	// Price in EUR/MWh; may be negative.
	Price float64 `json:"price"`
	// Timestamp is the same instant as EstonianTime in Unix seconds.
	Timestamp int64 `json:"timestamp"`
}

// Kind classifies a ValidationError.
type Kind int

const (
	// KindSyntax: the body is not a JSON array of objects with exactly the
	// fields estonian_time (string), price (number) and timestamp (integer).
	// The HTTP layer answers 400.
	KindSyntax Kind = iota + 1
	// KindSemantic: the body has the right shape but a value is unacceptable
	// (empty array, out-of-range number, bad date-time, timestamp that does
	// not match estonian_time). The HTTP layer answers 422.
	KindSemantic
)

// ValidationError explains why a request body was rejected.
type ValidationError struct {
	Kind Kind
	// Record is the zero-based index of the offending record, or -1 when
	// the problem concerns the body as a whole.
	Record int
	// Field is the offending field, if any.
	Field string
	Msg   string
	cause error
}

// Unwrap returns the sentinel behind the error, if any (ErrEmpty).
func (e *ValidationError) Unwrap() error { return e.cause }

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Record >= 0 {
		fmt.Fprintf(&b, "record %d: ", e.Record)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrEmpty is wrapped by the ValidationError for an empty array.
var ErrEmpty = errors.New("no records")

func syntaxErr(rec int, field, format string, args ...any) error {
	return &ValidationError{Kind: KindSyntax, Record: rec, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func semanticErr(rec int, field, format string, args ...any) error {
	return &ValidationError{Kind: KindSemantic, Record: rec, Field: field, Msg: fmt.Sprintf(format, args...)}
}

const (
	fieldTime      = "estonian_time"
	fieldPrice     = "price"
	fieldTimestamp = "timestamp"
)

var fieldNames = [3]string{fieldTime, fieldPrice, fieldTimestamp}

// Decode parses and validates a request body strictly:
//
//   - the body is exactly one JSON array (nothing after it);
//   - every element is an object with exactly the three fields
//     estonian_time (string), price (number), timestamp (integer); field
//     names are case-sensitive; unknown, duplicate, missing or null fields
//     are rejected;
//   - price is a finite 64-bit float (1e400 is rejected, not turned into
//     +Inf); timestamp fits in 64 bits;
//   - estonian_time is an RFC 3339 date-time with an offset (Z or ±hh:mm),
//     and names exactly the instant given by timestamp;
//   - the array is not empty.
//
// The error is always a *ValidationError.
func Decode(body []byte) ([]Record, error) {
	if recs, ok := decodeFast(body); ok {
		return recs, nil
	}
	return decodeStrict(body)
}

// decodeStrict is Decode token by token with encoding/json: it accepts
// every valid body and words every error.
func decodeStrict(body []byte) ([]Record, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, syntaxErr(-1, "", "request body is empty; send a JSON array of price records")
		}
		return nil, syntaxErr(-1, "", "request body is not valid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, syntaxErr(-1, "", "request body must be a JSON array of price records, got %s", describeToken(tok))
	}
	out := make([]Record, 0, 32)
	for i := 0; dec.More(); i++ {
		rec, err := decodeRecord(dec, i)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, syntaxErr(-1, "", "request body is not valid JSON: %v", eofAsUnexpected(err))
	}
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxErr(-1, "", "unexpected data after the JSON array: %v", err)
		}
		return nil, syntaxErr(-1, "", "unexpected data after the JSON array: %s", describeToken(tok))
	}
	if len(out) == 0 {
		return nil, &ValidationError{Kind: KindSemantic, Record: -1, cause: ErrEmpty,
			Msg: "the array is empty: send at least one price record (an empty day would hide that prices were not published)"}
	}
	return out, nil
}

func decodeRecord(outer *json.Decoder, i int) (Record, error) {
	var elem json.RawMessage
	if err := outer.Decode(&elem); err != nil {
		return Record{}, syntaxErr(i, "", "not valid JSON: %v", eofAsUnexpected(err))
	}
	if elem[0] != '{' {
		return Record{}, syntaxErr(i, "", "must be a JSON object, got %s", describeRaw(elem))
	}
	dec := json.NewDecoder(bytes.NewReader(elem))
	if _, err := dec.Token(); err != nil { // the opening '{'
		return Record{}, syntaxErr(i, "", "not valid JSON: %v", eofAsUnexpected(err))
	}
	var raw [3]json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Record{}, syntaxErr(i, "", "not valid JSON: %v", eofAsUnexpected(err))
		}
		key, _ := tok.(string) // inside an object the decoder only yields string keys
		idx := -1
		for j, name := range fieldNames {
			if key == name {
				idx = j
			}
		}
		if idx < 0 {
			return Record{}, syntaxErr(i, "", "unknown field %q (allowed: estonian_time, price, timestamp)", truncate(key, 40))
		}
		if raw[idx] != nil {
			return Record{}, syntaxErr(i, key, "field appears more than once")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return Record{}, syntaxErr(i, key, "not valid JSON: %v", eofAsUnexpected(err))
		}
		raw[idx] = v
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return Record{}, syntaxErr(i, "", "not valid JSON: %v", eofAsUnexpected(err))
	}
	var missing []string
	for j, v := range raw {
		if v == nil {
			missing = append(missing, fieldNames[j])
		}
	}
	if len(missing) > 0 {
		return Record{}, syntaxErr(i, "", "missing required field(s): %s", strings.Join(missing, ", "))
	}

	var rec Record
	// Shape first (400), then values (422), so that a record with several
	// problems is reported consistently.
	if raw[0][0] != '"' {
		return Record{}, syntaxErr(i, fieldTime, "must be a string, got %s", describeRaw(raw[0]))
	}
	if !isNumber(raw[1]) {
		return Record{}, syntaxErr(i, fieldPrice, "must be a number, got %s", describeRaw(raw[1]))
	}
	if !isNumber(raw[2]) || bytes.ContainsAny(raw[2], ".eE") {
		return Record{}, syntaxErr(i, fieldTimestamp, "must be an integer number of Unix seconds, got %s", describeRaw(raw[2]))
	}

	if err := json.Unmarshal(raw[0], &rec.EstonianTime); err != nil {
		return Record{}, syntaxErr(i, fieldTime, "not a valid JSON string: %v", err)
	}
	at, ok := parseRFC3339(rec.EstonianTime)
	if !ok {
		return Record{}, semanticErr(i, fieldTime, "%q is not an RFC 3339 date-time with offset (e.g. 2024-10-01T00:00:00+03:00)", truncate(rec.EstonianTime, 60))
	}
	var err error
	rec.Price, err = strconv.ParseFloat(string(raw[1]), 64)
	if err != nil {
		return Record{}, semanticErr(i, fieldPrice, "%s is out of range for a 64-bit floating-point number", truncate(string(raw[1]), 40))
	}
	rec.Timestamp, err = strconv.ParseInt(string(raw[2]), 10, 64)
	if err != nil {
		return Record{}, semanticErr(i, fieldTimestamp, "%s is out of range for a 64-bit integer", truncate(string(raw[2]), 40))
	}
	if at.Unix() != rec.Timestamp || at.Nanosecond() != 0 {
		return Record{}, semanticErr(i, fieldTimestamp, "%d does not match estonian_time %s (which is Unix time %d)",
			rec.Timestamp, rec.EstonianTime, at.Unix())
	}
	return rec, nil
}

// Encode renders records as the canonical compact JSON array that is
// stored and served back.
func Encode(records []Record) ([]byte, error) {
	if records == nil {
		records = []Record{}
	}
	return json.Marshal(records)
}

// parseRFC3339 accepts YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm) with an
// upper-case T and Z, the profile RFC 3339 section 5.6 defines. Go's
// time.Parse alone is more lenient (it accepts a comma before the
// fraction, for example), hence the explicit shape check.
func parseRFC3339(s string) (time.Time, bool) {
	const base = "2006-01-02T15:04:05"
	if len(s) < len(base)+1 {
		return time.Time{}, false
	}
	for i := 0; i < len(base); i++ {
		switch base[i] {
		case '-', ':', 'T':
			if s[i] != base[i] {
				return time.Time{}, false
			}
		default:
			if s[i] < '0' || s[i] > '9' {
				return time.Time{}, false
			}
		}
	}
	rest := s[len(base):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 { // at least one digit; time.Parse keeps nanoseconds
			return time.Time{}, false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigit(rest[1]) && isDigit(rest[2]) && isDigit(rest[4]) && isDigit(rest[5]):
	default:
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isNumber reports whether a syntactically valid JSON value is a number.
func isNumber(v json.RawMessage) bool {
	return len(v) > 0 && (v[0] == '-' || isDigit(v[0]))
}

func describeRaw(v json.RawMessage) string {
	switch {
	case len(v) == 0:
		return "nothing"
	case v[0] == '"':
		return "a string"
	case v[0] == '{':
		return "an object"
	case v[0] == '[':
		return "an array"
	case v[0] == 't' || v[0] == 'f':
		return "a boolean"
	case v[0] == 'n':
		return "null"
	default:
		return "the number " + truncate(string(v), 40)
	}
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		default:
			return fmt.Sprintf("%q", string(v))
		}
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T", tok)
	}
}

func eofAsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
