package dialect

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The codecs: each dialect reads and writes the internal form. Upstreams
// speak Chat or Messages (an OpenAI channel that serves Responses itself
// gets Responses clients passed through, never translated: its stream is
// only read, to be continued should it break), clients any of the three.

// DecodeRequest reads a client's request body, in dialect d, into the
// internal form. A body that cannot be honoured is a 400 *Error naming
// the field (Param), never a silent drop. The body must have passed
// ScanObject (valid UTF-8, valid JSON): what the decoders copy whole
// (tool schemas) they do not check again. The Request may alias body.
func DecodeRequest(d Dialect, body []byte) (*Request, error) {
	switch d {
	case Messages:
		return decodeMessagesRequest(body)
	case Responses:
		return decodeResponsesRequest(body)
	}
	return decodeChatRequest(body)
}

// EncodeRequest writes r for a channel speaking d (Chat or Messages),
// asking for model.
func EncodeRequest(d Dialect, r *Request, model string) ([]byte, error) {
	if d == Messages {
		return encodeMessagesRequest(r, model)
	}
	return encodeChatRequest(r, model)
}

// DecodeResponse reads a channel's whole answer, in dialect d.
func DecodeResponse(d Dialect, body []byte) (*Response, error) {
	if d == Messages {
		return decodeMessagesResponse(body)
	}
	return decodeChatResponse(body)
}

// EncodeResponse writes a whole answer for a client speaking d. req is
// the client's request (Responses echoes some of its settings).
func EncodeResponse(d Dialect, r *Response, req *Request) []byte {
	switch d {
	case Messages:
		return encodeMessagesResponse(r)
	case Responses:
		return encodeResponsesResponse(r, req)
	}
	return encodeChatResponse(r)
}

// Decoder turns a channel's stream, one server-sent event at a time, into
// internal events. It keeps the state a dialect's stream needs (open
// blocks, tool call indexes, usage seen so far).
type Decoder interface {
	// Decode reads one event (its name and data) and appends what it
	// says to out. An error event from the upstream is returned as an
	// *Error carrying the upstream's status and message; an event that
	// is not a JSON object as ErrBadEvent, to be dropped. Events appended
	// before an error are still to be encoded. The events' strings are
	// the decoder's own: they stay valid after data changes.
	Decode(name, data []byte, out []Event) ([]Event, error)
	// End is called when the upstream closed the stream cleanly. It
	// appends the events that close the answer, or returns
	// ErrIncomplete when the answer had not finished.
	End(out []Event) ([]Event, error)
}

// ErrBadEvent says a stream event is not valid JSON (or not an object):
// the caller drops it, as the passthrough relay does, and reads on.
var ErrBadEvent = errors.New("stream event is not a JSON object")

// ErrIncomplete says a stream ended before its answer did.
var ErrIncomplete = &Error{Status: http.StatusBadGateway, Type: "upstream_error", Code: "stream_incomplete",
	Message: "the upstream stream ended before the answer was complete"}

// NewDecoder returns a stream decoder for a channel speaking d.
func NewDecoder(d Dialect) Decoder {
	switch d {
	case Messages:
		return &messagesDecoder{}
	case Responses:
		return &responsesDecoder{open: -1}
	}
	return &chatDecoder{}
}

// Encoder writes internal events as a client dialect's stream: whole SSE
// frames, ready to write and flush.
type Encoder interface {
	// Encode appends the frames for ev to dst. A second EvStart (a
	// stream continued on another channel) writes nothing: the client's
	// stream keeps its first id, created and model, and its blocks are
	// numbered on.
	Encode(dst []byte, ev *Event) []byte
	// Fail appends the dialect's end of a stream that broke after it was
	// committed: never a clean end, always something every SDK raises.
	Fail(dst []byte, e *Error) []byte
}

// NewEncoder returns a stream encoder for a client speaking d. req is the
// client's request: chat needs IncludeUsage, Responses echoes settings.
func NewEncoder(d Dialect, req *Request) Encoder {
	switch d {
	case Messages:
		return &messagesEncoder{}
	case Responses:
		return newResponsesEncoder(req)
	}
	return &chatEncoder{includeUsage: req != nil && req.IncludeUsage}
}

// fieldError is the 400 a request gets for a field that cannot be
// honoured: param names it as a path ("messages[2].content[0].type").
func fieldError(param, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_value", Param: param,
		Message: param + ": " + msg}
}

// The codecs read JSON with jsonReader and write it with append-style
// helpers: a translated request or stream event costs one pass over its
// bytes and few allocations, where encoding/json's reflection would cost
// several times the work of relaying the bytes unchanged.

// jsonKindError says a value has the wrong JSON type.
type jsonKindError struct{ want string }

func (e *jsonKindError) Error() string { return "must be " + e.want }

var (
	errWantString = &jsonKindError{"a string"}
	errWantNumber = &jsonKindError{"a number"}
	errWantInt    = &jsonKindError{"an integer"}
	errWantBool   = &jsonKindError{"a boolean"}
	errWantObject = &jsonKindError{"an object"}
	errWantArray  = &jsonKindError{"an array"}
	errSyntax     = errors.New("is not valid JSON")
	errTooDeep    = errors.New("is nested too deeply")
)

// jsonReader walks one JSON document in place. The first error sticks:
// every later read returns a zero value, every loop ends, and the caller
// checks err once per member to name the field that was wrong.
type jsonReader struct {
	data    []byte
	pos     int
	err     error
	depth   int
	scratch []byte // strings with escapes, unescaped
}

func (r *jsonReader) reset(data []byte) {
	r.data, r.pos, r.err, r.depth = data, 0, nil, 0
}

func (r *jsonReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.pos = len(r.data)
}

// peek skips white space and returns the next byte, 0 at the end.
func (r *jsonReader) peek() byte {
	for r.pos < len(r.data) {
		switch c := r.data[r.pos]; c {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return c
		}
	}
	return 0
}

// done checks that nothing but white space follows the document.
func (r *jsonReader) done() {
	r.peek()
	if r.pos < len(r.data) {
		r.fail(errSyntax)
	}
}

// object starts reading an object; read its members with member.
func (r *jsonReader) object() bool {
	if r.peek() != '{' {
		r.kindError(errWantObject)
		return false
	}
	r.pos++
	return true
}

// member reads the next member's key and the colon after it; false at the
// object's end. first says whether this is the first call for the object.
// The key is valid until the next read.
func (r *jsonReader) member(first bool) ([]byte, bool) {
	c := r.peek()
	if c == '}' {
		r.pos++
		return nil, false
	}
	if !first {
		if c != ',' {
			r.fail(errSyntax)
			return nil, false
		}
		r.pos++
		c = r.peek()
	}
	if c != '"' {
		r.fail(errSyntax)
		return nil, false
	}
	key := r.stringBytes()
	if r.peek() != ':' {
		r.fail(errSyntax)
		return nil, false
	}
	r.pos++
	return key, r.err == nil
}

// array starts reading an array; step through it with elem.
func (r *jsonReader) array() bool {
	if r.peek() != '[' {
		r.kindError(errWantArray)
		return false
	}
	r.pos++
	return true
}

// elem reports whether another element follows; false at the array's end.
func (r *jsonReader) elem(first bool) bool {
	c := r.peek()
	if c == ']' {
		r.pos++
		return false
	}
	if !first {
		if c != ',' {
			r.fail(errSyntax)
			return false
		}
		r.pos++
	}
	return r.err == nil
}

// kindError records that the next value is not of the wanted type, or
// that the document ends or is malformed there.
func (r *jsonReader) kindError(want error) {
	switch r.peek() {
	case '{', '[', '"', 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		r.fail(want)
	default:
		r.fail(errSyntax)
	}
}

// null consumes a null and reports whether there was one.
func (r *jsonReader) null() bool {
	if r.peek() == 'n' {
		r.literal("null")
		return r.err == nil
	}
	return false
}

// kind is the JSON type of the next value, by its first byte: '{', '[',
// '"', 't' or 'f' (boolean), 'n' (null), '0' (number); 0 otherwise.
func (r *jsonReader) kind() byte {
	switch c := r.peek(); c {
	case '{', '[', '"', 'n':
		return c
	case 't', 'f':
		return 't'
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return '0'
	}
	return 0
}

func (r *jsonReader) literal(lit string) {
	if len(r.data)-r.pos < len(lit) || string(r.data[r.pos:r.pos+len(lit)]) != lit {
		r.fail(errSyntax)
		return
	}
	r.pos += len(lit)
}

// str reads a string (null reads as ""). It allocates the string.
func (r *jsonReader) str() string {
	switch r.peek() {
	case '"':
	case 'n':
		r.literal("null")
		return ""
	default:
		r.kindError(errWantString)
		return ""
	}
	d, start := r.data, r.pos+1
	for i, lim := start, min(start+24, len(d)); i < lim; i++ {
		if c := d[i]; c == '"' {
			r.pos = i + 1
			return string(d[start:i])
		} else if c == '\\' {
			break
		}
	}
	i := bytes.IndexByte(d[start:], '"')
	if i < 0 {
		r.fail(errSyntax)
		return ""
	}
	if seg := d[start : start+i]; bytes.IndexByte(seg, '\\') < 0 {
		r.pos = start + i + 1
		return string(seg)
	}
	// Escapes: the text is no longer than its escaped form, so it is
	// built in a buffer of that size, which becomes the string (saving
	// the copy that string(scratch) would make of a long text).
	end := stringEnd(d, start)
	if end < 0 {
		r.fail(errSyntax)
		return ""
	}
	buf := r.unescapeTo(make([]byte, 0, end-start), start)
	if r.err != nil || len(buf) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// stringEnd is the index of the quote that ends the string whose first
// byte is at start, or -1: a quote ends it unless an odd number of
// backslashes precede it.
func stringEnd(d []byte, start int) int {
	p := start
	for {
		i := bytes.IndexByte(d[p:], '"')
		if i < 0 {
			return -1
		}
		q := p + i
		n := 0
		for j := q - 1; j >= start && d[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		p = q + 1
	}
}

// known reads a string that is usually one of names, returning that
// constant (no allocation) or, when it is none of them, the string read.
func (r *jsonReader) known(names ...string) string {
	b := r.strBytes()
	for _, n := range names {
		if string(b) == n {
			return n
		}
	}
	if b == nil {
		return ""
	}
	return string(b)
}

// strBytes reads a string without allocating: the bytes are the input's
// own, or the reader's scratch buffer for a string with escapes, valid
// until the next read. null reads as nil.
func (r *jsonReader) strBytes() []byte {
	switch r.peek() {
	case '"':
		return r.stringBytes()
	case 'n':
		r.literal("null")
		return nil
	}
	r.kindError(errWantString)
	return nil
}

// stringBytes reads the string at pos (its opening quote). Most strings
// have no escapes: their end is found with IndexByte, which is vectorised.
func (r *jsonReader) stringBytes() []byte {
	start := r.pos + 1
	// Keys and the values of a stream event are short: a plain loop finds
	// their end before IndexByte would have been set up.
	d := r.data
	for i, lim := start, min(start+24, len(d)); i < lim; i++ {
		if c := d[i]; c == '"' {
			r.pos = i + 1
			return d[start:i]
		} else if c == '\\' {
			break
		}
	}
	i := bytes.IndexByte(r.data[start:], '"')
	if i < 0 {
		r.fail(errSyntax)
		return nil
	}
	seg := r.data[start : start+i]
	if bytes.IndexByte(seg, '\\') < 0 {
		r.pos = start + i + 1
		return seg
	}
	r.scratch = r.unescapeTo(r.scratch[:0], start)
	return r.scratch
}

// unescapeTo reads a string with escapes, from its first byte at start,
// appending its text to out. The runs between escapes are found with
// IndexByte and copied whole.
func (r *jsonReader) unescapeTo(out []byte, start int) []byte {
	d := r.data
	i := start
	quote := -1 // the next quote at or after i, once found
	for i < len(d) {
		if quote < i {
			q := bytes.IndexByte(d[i:], '"')
			if q < 0 {
				break
			}
			quote = i + q
		}
		k := bytes.IndexByte(d[i:quote], '\\')
		if k < 0 {
			out = append(out, d[i:quote]...)
			r.pos = quote + 1
			return out
		}
		out = append(out, d[i:i+k]...)
		i += k
		if i+1 >= len(d) {
			break
		}
		switch e := d[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			rr, ok := hex4(d, i+2)
			if !ok {
				r.fail(errSyntax)
				return nil
			}
			i += 6
			if utf16.IsSurrogate(rr) {
				r2, ok2 := rune(-1), false
				if i+1 < len(d) && d[i] == '\\' && d[i+1] == 'u' {
					r2, ok2 = hex4(d, i+2)
				}
				if dec := utf16.DecodeRune(rr, r2); ok2 && dec != utf8.RuneError {
					rr = dec
					i += 6
				} else {
					rr = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, rr)
			continue
		default:
			r.fail(errSyntax)
			return nil
		}
		i += 2
	}
	r.fail(errSyntax)
	return nil
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var v rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}

// number reads a number's bytes, checking its grammar.
func (r *jsonReader) number() []byte {
	if r.kind() != '0' {
		r.kindError(errWantNumber)
		return nil
	}
	d, start := r.data, r.pos
	p := r.pos
	if d[p] == '-' {
		p++
	}
	digits := func() bool {
		s := p
		for p < len(d) && d[p] >= '0' && d[p] <= '9' {
			p++
		}
		return p > s
	}
	switch {
	case p < len(d) && d[p] == '0':
		p++
	case !digits():
		r.fail(errSyntax)
		return nil
	}
	if p < len(d) && d[p] == '.' {
		p++
		if !digits() {
			r.fail(errSyntax)
			return nil
		}
	}
	if p < len(d) && (d[p] == 'e' || d[p] == 'E') {
		p++
		if p < len(d) && (d[p] == '+' || d[p] == '-') {
			p++
		}
		if !digits() {
			r.fail(errSyntax)
			return nil
		}
	}
	r.pos = p
	return d[start:p]
}

// int reads an integral number (1e3 and 2.0 included).
func (r *jsonReader) int() int64 {
	b := r.number()
	if r.err != nil {
		return 0
	}
	if len(b) < 19 {
		var v int64
		neg := b[0] == '-'
		ds := b
		if neg {
			ds = b[1:]
		}
		plain := true
		for _, c := range ds {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			v = v*10 + int64(c-'0')
		}
		if plain {
			if neg {
				v = -v
			}
			return v
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != math.Trunc(f) || f > 1<<62 || f < -(1<<62) {
		r.fail(errWantInt)
		return 0
	}
	return int64(f)
}

func (r *jsonReader) float() float64 {
	b := r.number()
	if r.err != nil {
		return 0
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		r.fail(errWantNumber)
	}
	return f
}

// floatPtr reads a number, or null as nil.
func (r *jsonReader) floatPtr() *float64 {
	if r.null() {
		return nil
	}
	f := r.float()
	return &f
}

func (r *jsonReader) boolean() bool {
	switch r.peek() {
	case 't':
		r.literal("true")
		return r.err == nil
	case 'f':
		r.literal("false")
		return false
	}
	r.kindError(errWantBool)
	return false
}

// skip reads past one value of any type, checking it.
func (r *jsonReader) skip() {
	switch r.peek() {
	case '"':
		r.skipString()
	case '{':
		if r.depth++; r.depth > maxDepth {
			r.fail(errTooDeep)
			return
		}
		r.pos++
		for first := true; ; first = false {
			if _, ok := r.member(first); !ok {
				break
			}
			r.skip()
		}
		r.depth--
	case '[':
		if r.depth++; r.depth > maxDepth {
			r.fail(errTooDeep)
			return
		}
		r.pos++
		for first := true; r.elem(first); first = false {
			r.skip()
		}
		r.depth--
	case 't':
		r.literal("true")
	case 'f':
		r.literal("false")
	case 'n':
		r.literal("null")
	default:
		r.number()
	}
}

// skipString reads past a string without unescaping it: a quote ends it
// unless an odd number of backslashes precede it.
func (r *jsonReader) skipString() {
	d := r.data
	q := stringEnd(d, r.pos+1)
	if q < 0 {
		r.fail(errSyntax)
		return
	}
	if bytes.IndexByte(d[r.pos+1:q], '\\') >= 0 && !validEscapes(d[r.pos+1:q]) {
		r.fail(errSyntax)
		return
	}
	r.pos = q + 1
}

// validEscapes checks the escapes of a string's contents.
func validEscapes(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if i+1 >= len(s) {
			return false
		}
		switch s[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			if _, ok := hex4(s, i+2); !ok {
				return false
			}
			i += 5
		default:
			return false
		}
	}
	return true
}

// raw reads one value and returns its bytes, as they are in the input.
func (r *jsonReader) raw() []byte {
	r.peek()
	start := r.pos
	r.skip()
	if r.err != nil {
		return nil
	}
	return r.data[start:r.pos]
}

// fieldErr is the 400 for the reader's error at the field named by path.
// An empty path names the whole body.
func (r *jsonReader) fieldErr(path string) *Error {
	if path == "" {
		path = "body"
	}
	if r.err == nil {
		return fieldError(path, "is not valid")
	}
	return fieldError(path, "%s", r.err.Error())
}

// appendFloat writes f as encoding/json does.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 is written 1e-7, as encoding/json does.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// appendStr writes s as a JSON string exactly as AppendString does, but
// finds the runs that need no escaping eight bytes at a time: the long
// texts of a translated request (system prompts, tool descriptions, file
// contents) are mostly such runs.
func appendStr(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendStrBody(dst, s)
	return append(dst, '"')
}

// appendStrBody writes s escaped as inside a JSON string, without the
// quotes.
func appendStrBody(dst []byte, s string) []byte {
	for {
		i := plainPrefix(s)
		dst = append(dst, s[:i]...)
		if i == len(s) {
			return dst
		}
		s = s[i:]
		c := s[0]
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
}

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// specialBytes has the high bit set in (at least) the first byte of w that
// a JSON string cannot hold as it is; none set when there is none.
func specialBytes(w uint64) uint64 {
	q := w ^ (swarOnes * '"')
	b := w ^ (swarOnes * '\\')
	return (w - swarOnes*0x20) | // a byte below 0x20 (its borrow sets the high bit)
		(q-swarOnes) & ^q | // a zero byte where the quote was
		(b-swarOnes) & ^b | // a zero byte where the backslash was
		w // a byte of 0x80 or more
}

// plainPrefix is the length of s's prefix of printable ASCII other than
// the quote and the backslash: bytes that go into a JSON string as they
// are.
func plainPrefix(s string) int {
	i := 0
	for ; i+16 <= len(s); i += 16 {
		x := s[i : i+16] // one bounds check; the loads combine
		w := uint64(x[0]) | uint64(x[1])<<8 | uint64(x[2])<<16 | uint64(x[3])<<24 |
			uint64(x[4])<<32 | uint64(x[5])<<40 | uint64(x[6])<<48 | uint64(x[7])<<56
		v := uint64(x[8]) | uint64(x[9])<<8 | uint64(x[10])<<16 | uint64(x[11])<<24 |
			uint64(x[12])<<32 | uint64(x[13])<<40 | uint64(x[14])<<48 | uint64(x[15])<<56
		if (specialBytes(w)|specialBytes(v))&swarHighs != 0 {
			break
		}
	}
	for ; i+8 <= len(s); i += 8 {
		x := s[i : i+8] // one bounds check; the loads combine into one
		w := uint64(x[0]) | uint64(x[1])<<8 | uint64(x[2])<<16 | uint64(x[3])<<24 |
			uint64(x[4])<<32 | uint64(x[5])<<40 | uint64(x[6])<<48 | uint64(x[7])<<56
		if specialBytes(w)&swarHighs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// fieldPath is where a value sits in a request (messages[3].content[0]),
// as a chain of values on the decoders' stacks: it becomes text only when
// an error names it, so a request that is fine costs nothing for it.
type fieldPath struct {
	up    *fieldPath
	name  string // a member's name; "" for an element of an array
	index int
}

func (p *fieldPath) key(name string) fieldPath { return fieldPath{up: p, name: name} }

func (p *fieldPath) at(i int) fieldPath { return fieldPath{up: p, index: i} }

// String writes the path as messages[3].content[0].type.
func (p *fieldPath) String() string { return string(p.appendTo(nil)) }

// appendTo writes the path; recursion rather than a slice of the chain
// keeps the chain on the stack.
func (p *fieldPath) appendTo(b []byte) []byte {
	if p.up != nil {
		b = p.up.appendTo(b)
	}
	if p.name == "" {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(p.index), 10)
		return append(b, ']')
	}
	if len(b) > 0 {
		b = append(b, '.')
	}
	return append(b, p.name...)
}

// fieldAt names element i of the array member name of the value at p.
func (p *fieldPath) fieldAt(name string, i int) string {
	k := p.key(name)
	e := k.at(i)
	return e.String()
}

// sub names a member, or a member of a member ("source.url"), of the
// value at p.
func (p *fieldPath) sub(names string) string { return p.String() + "." + names }
