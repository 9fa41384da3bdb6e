package dialect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Span is a half-open byte range [Start, End) of a JSON document. The zero
// Span means "absent".
type Span struct{ Start, End int }

// Present reports whether the span was found.
func (s Span) Present() bool { return s.End > s.Start }

// BodyInfo is what the proxy needs to know of a request body, found in one
// pass without building the document.
type BodyInfo struct {
	Model         string // the "model" string; empty if absent
	HasModel      bool
	ModelSpan     Span // the model value, quotes included
	DupModel      bool // "model" appears twice at the top level: parsers disagree on which counts
	sawModel      bool
	Stream        bool // "stream": true
	StreamOptions Span // the "stream_options" value, if present
	IncludeUsage  bool // stream_options.include_usage is true
	Usage         Span // a top-level "usage" object (used on upstream answers)
	UsageMember   Span // the whole `"usage": value` member, key to value, even when null
	Error         Span // a top-level non-null "error" value (used on upstream answers)
	EmptyChoices  bool // "choices": [] (a usage-only stream chunk)
}

// ScanError describes why a body is not acceptable JSON.
type ScanError struct {
	Offset int
	Msg    string
}

func (e *ScanError) Error() string { return fmt.Sprintf("%s at byte %d", e.Msg, e.Offset) }

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// ScanObject validates data as one JSON object (the whole input, whitespace
// around it allowed) and records the top-level members the proxy cares
// about. It never allocates for documents without escapes in those keys.
// Invalid UTF-8 anywhere is an error.
func ScanObject(data []byte) (BodyInfo, error) {
	var info BodyInfo
	if !utf8.Valid(data) {
		return info, &ScanError{Offset: firstInvalidUTF8(data), Msg: "invalid UTF-8"}
	}
	s := scanner{data: data}
	s.skipSpace()
	if s.pos >= len(data) || data[s.pos] != '{' {
		if s.pos >= len(data) {
			return info, &ScanError{Offset: s.pos, Msg: "empty body, expected a JSON object"}
		}
		return info, &ScanError{Offset: s.pos, Msg: "expected a JSON object"}
	}
	s.pos++
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
	} else {
		for {
			s.skipSpace()
			keyStart := s.pos
			if err := s.str(); err != nil {
				return info, err
			}
			key := data[keyStart+1 : s.pos-1]
			if bytes.IndexByte(key, '\\') >= 0 {
				var k string
				if json.Unmarshal(data[keyStart:s.pos], &k) == nil {
					key = []byte(k)
				}
			}
			s.skipSpace()
			if s.peek() != ':' {
				return info, s.fail("expected ':' after object key")
			}
			s.pos++
			s.skipSpace()
			valStart := s.pos
			if err := s.value(2); err != nil { // the top-level object is depth 1
				return info, err
			}
			span := Span{valStart, s.pos}
			if err := info.note(string(key), data, span, keyStart); err != nil {
				return info, err
			}
			s.skipSpace()
			c := s.peek()
			s.pos++
			if c == '}' {
				break
			}
			if c != ',' {
				return info, &ScanError{Offset: s.pos - 1, Msg: "expected ',' or '}' after object member"}
			}
		}
	}
	s.skipSpace()
	if s.pos != len(data) {
		return info, s.fail("unexpected data after the JSON object")
	}
	return info, nil
}

// note records a top-level member. The switch compiles to string compares
// without allocating: key is converted only for the comparison.
func (info *BodyInfo) note(key string, data []byte, span Span, keyStart int) error {
	raw := data[span.Start:span.End]
	switch key {
	case "model":
		info.DupModel = info.DupModel || info.sawModel
		info.sawModel = true
		info.HasModel = false
		info.ModelSpan = Span{}
		if raw[0] != '"' {
			return nil // the handler reports a non-string model
		}
		info.ModelSpan = span
		info.HasModel = true
		if bytes.IndexByte(raw, '\\') < 0 {
			info.Model = string(raw[1 : len(raw)-1])
		} else {
			// A local, so that only this rare path allocates for decoding.
			var m string
			if err := json.Unmarshal(raw, &m); err != nil {
				return &ScanError{Offset: span.Start, Msg: "bad model string"}
			}
			info.Model = m
		}
	case "stream":
		info.Stream = len(raw) == 4 && string(raw) == "true"
	case "stream_options":
		info.StreamOptions = span
		info.IncludeUsage = false
		if raw[0] == '{' {
			var so struct {
				IncludeUsage bool `json:"include_usage"`
			}
			if json.Unmarshal(raw, &so) == nil {
				info.IncludeUsage = so.IncludeUsage
			}
		}
	case "usage":
		info.Usage = span
		info.UsageMember = Span{keyStart, span.End}
		if raw[0] != '{' {
			info.Usage = Span{}
		}
	case "choices":
		info.EmptyChoices = raw[0] == '[' && len(bytes.TrimSpace(raw[1:len(raw)-1])) == 0

	case "error":
		info.Error = span
		if string(raw) == "null" {
			info.Error = Span{}
		}
	}
	return nil
}

type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) fail(msg string) error { return &ScanError{Offset: s.pos, Msg: msg} }

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value skips one JSON value, checking it.
func (s *scanner) value(depth int) error {
	switch c := s.peek(); {
	case (c == '{' || c == '[') && depth > maxDepth:
		return s.fail("JSON nested too deeply") // containers count, as in encoding/json
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case s.pos >= len(s.data):
		return s.fail("unexpected end of JSON")
	}
	return s.fail("invalid character")
}

func (s *scanner) object(depth int) error {
	s.pos++ // '{'
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if err := s.str(); err != nil {
			return err
		}
		s.skipSpace()
		if s.peek() != ':' {
			return s.fail("expected ':' after object key")
		}
		s.pos++
		s.skipSpace()
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.fail("expected ',' or '}' in object")
		}
	}
}

func (s *scanner) array(depth int) error {
	s.pos++ // '['
	s.skipSpace()
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.fail("expected ',' or ']' in array")
		}
	}
}

// str skips a string, checking escapes and rejecting control characters.
// UTF-8 validity is checked once for the whole document by the caller.
func (s *scanner) str() error {
	if s.peek() != '"' {
		return s.fail("expected a string")
	}
	s.pos++
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return nil
		case c == '\\':
			s.pos++
			if s.pos >= len(s.data) {
				return s.fail("unterminated string")
			}
			switch s.data[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				if s.pos+4 >= len(s.data) {
					return s.fail("bad \\u escape")
				}
				for _, h := range s.data[s.pos+1 : s.pos+5] {
					if !isHex(h) {
						return s.fail("bad \\u escape")
					}
				}
				s.pos += 5
			default:
				return s.fail("bad escape in string")
			}
		case c < 0x20:
			return s.fail("control character in string")
		default:
			s.pos++
		}
	}
	return s.fail("unterminated string")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (s *scanner) number() error {
	d := s.data
	if s.peek() == '-' {
		s.pos++
	}
	switch {
	case s.peek() == '0':
		s.pos++
	case s.peek() >= '1' && s.peek() <= '9':
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	default:
		return s.fail("bad number")
	}
	if s.peek() == '.' {
		s.pos++
		if !(s.peek() >= '0' && s.peek() <= '9') {
			return s.fail("bad number")
		}
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if !(s.peek() >= '0' && s.peek() <= '9') {
			return s.fail("bad number")
		}
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	}
	return nil
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}
