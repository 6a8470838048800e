package prices

import (
	"strconv"
	"time"
)

// decodeFast parses the common case, a well-formed body of plain records,
// in one pass without encoding/json: in the server's CPU profile under
// POST load the token-by-token strict decoder took a quarter of the time.
//
// It accepts only a subset of what decodeStrict accepts and then returns
// exactly the same records: strings must be printable ASCII without
// escapes, and anything else unusual (an error of any kind, an empty
// array, escapes, non-ASCII) makes it give up (ok false), so that
// decodeStrict decides and words the error. FuzzDecodeFastAgrees checks
// that agreement.
func decodeFast(body []byte) (recs []Record, ok bool) {
	s := scanner{b: body}
	s.space()
	if !s.eat('[') {
		return nil, false
	}
	s.space()
	if s.peek() == ']' {
		return nil, false // empty: decodeStrict explains why that is refused
	}
	out := make([]Record, 0, 32)
	for {
		rec, ok := s.record()
		if !ok {
			return nil, false
		}
		out = append(out, rec)
		s.space()
		if s.eat(',') {
			s.space()
			continue
		}
		if !s.eat(']') {
			return nil, false
		}
		s.space()
		return out, s.i == len(s.b)
	}
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.peek() == c && s.i < len(s.b) {
		s.i++
		return true
	}
	return false
}

// space skips JSON whitespace.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// record parses one object with exactly the three fields, in any order.
func (s *scanner) record() (Record, bool) {
	var (
		rec  Record
		at   time.Time
		seen [3]bool
	)
	if !s.eat('{') {
		return rec, false
	}
	for {
		s.space()
		key, ok := s.plainString()
		if !ok {
			return rec, false
		}
		s.space()
		if !s.eat(':') {
			return rec, false
		}
		s.space()
		switch string(key) {
		case fieldTime:
			v, ok := s.plainString()
			if !ok || seen[0] {
				return rec, false
			}
			rec.EstonianTime = string(v)
			if at, ok = parseRFC3339(rec.EstonianTime); !ok {
				return rec, false
			}
			seen[0] = true
		case fieldPrice:
			v, _, ok := s.number()
			if !ok || seen[1] {
				return rec, false
			}
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return rec, false
			}
			rec.Price = f
			seen[1] = true
		case fieldTimestamp:
			v, integer, ok := s.number()
			if !ok || !integer || seen[2] {
				return rec, false
			}
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return rec, false
			}
			rec.Timestamp = n
			seen[2] = true
		default:
			return rec, false
		}
		s.space()
		if s.eat(',') {
			continue
		}
		if !s.eat('}') {
			return rec, false
		}
		break
	}
	if !seen[0] || !seen[1] || !seen[2] || at.Unix() != rec.Timestamp || at.Nanosecond() != 0 {
		return rec, false
	}
	return rec, true
}

// plainString reads a JSON string made of printable ASCII only, no
// escapes, and returns its content.
func (s *scanner) plainString() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// number reads a JSON number literal: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// integer reports that it has neither fraction nor exponent.
func (s *scanner) number() (lit []byte, integer, ok bool) {
	start := s.i
	s.eat('-')
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return nil, false, false
	}
	integer = true
	if s.eat('.') {
		integer = false
		if s.digits() == 0 {
			return nil, false, false
		}
	}
	if s.eat('e') || s.eat('E') {
		integer = false
		if !s.eat('+') {
			s.eat('-')
		}
		if s.digits() == 0 {
			return nil, false, false
		}
	}
	return s.b[start:s.i], integer, true
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && isDigit(s.b[s.i]) {
		s.i++
		n++
	}
	return n
}
