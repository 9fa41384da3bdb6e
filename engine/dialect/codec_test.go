package dialect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// checkGolden compares got with the golden file at path, or writes it
// with -update. Review every rewritten golden by eye before committing.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output:\n%s", path, firstDiff(want, got))
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got []byte) string {
	wl := strings.Split(string(want), "\n")
	gl := strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n want %s\n  got %s", i+1, w, g)
		}
	}
	return "(same lines, different bytes)"
}

// pretty indents a JSON document for a golden file, failing the test if
// it is not valid JSON.
func pretty(t *testing.T, doc []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "", "  "); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, doc)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func errText(t *testing.T, err error) []byte {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *Error", err)
	}
	return fmt.Appendf(nil, "%d %s\n", e.Status, e.Message)
}

// translateStream runs an upstream SSE body through dec and enc as the
// proxy does: event by event, and an error from Decode or End ends the
// client's stream with Fail. It returns the client's stream and the
// internal events.
func translateStream(t *testing.T, body []byte, dec Decoder, enc Encoder) ([]byte, []Event) {
	t.Helper()
	sr := &SSEReader{}
	sr.Reset(bufio.NewReader(bytes.NewReader(body)))
	var out []byte
	var all, evs []Event
	emit := func(err error) bool {
		for i := range evs {
			out = enc.Encode(out, &evs[i])
		}
		all = append(all, evs...)
		if err == nil || errors.Is(err, ErrBadEvent) {
			return true
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("decoder error %v is not an *Error", err)
		}
		out = enc.Fail(out, e)
		all = append(all, Event{Kind: 255, Text: e.Error()})
		return false
	}
	for {
		ev, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Comment {
			continue
		}
		var derr error
		evs, derr = dec.Decode(ev.Name, ev.Data, evs[:0])
		if !emit(derr) {
			return out, all
		}
	}
	var derr error
	evs, derr = dec.End(evs[:0])
	emit(derr)
	return out, all
}

// dumpEvents writes internal events one per line, for golden files.
func dumpEvents(evs []Event) []byte {
	var b []byte
	for _, ev := range evs {
		switch ev.Kind {
		case EvStart:
			b = fmt.Appendf(b, "start id=%q model=%q created=%d usage=%+v\n", ev.ID, ev.Model, ev.Created, ev.Usage)
		case EvBlockStart:
			b = fmt.Appendf(b, "block_start %d %s", ev.Index, ev.Block.Kind)
			if ev.Block.Kind == ToolCall {
				b = fmt.Appendf(b, " id=%q name=%q", ev.Block.ID, ev.Block.Name)
			}
			if ev.Block.Custom {
				b = append(b, " custom"...)
			}
			if ev.Block.Data != "" {
				b = fmt.Appendf(b, " data=%q", ev.Block.Data)
			}
			if ev.Item != "" {
				b = fmt.Appendf(b, " item=%q", ev.Item)
			}
			b = append(b, '\n')
		case EvDelta:
			b = fmt.Appendf(b, "delta %d %q\n", ev.Index, ev.Text)
		case EvSignature:
			b = fmt.Appendf(b, "signature %d %q\n", ev.Index, ev.Text)
		case EvBlockStop:
			b = fmt.Appendf(b, "block_stop %d\n", ev.Index)
		case EvUsage:
			b = fmt.Appendf(b, "usage %+v\n", ev.Usage)
		case EvStop:
			b = fmt.Appendf(b, "stop %s seq=%q usage=%+v\n", messagesStopName(ev.Stop), ev.StopSequence, ev.Usage)
		case EvOpaque:
			b = append(b, "opaque\n"...)
		default:
			b = fmt.Appendf(b, "error %q\n", ev.Text)
		}
	}
	return b
}

func testFiles(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	var out []string
	for _, f := range files {
		if !strings.Contains(f, ".golden") {
			out = append(out, f)
		}
	}
	return out
}

// TestRequestGoldens translates every request under testdata/req to the
// other dialect: Messages requests (real Claude Code bodies among them)
// to chat, chat requests to Messages.
func TestRequestGoldens(t *testing.T) {
	for _, f := range testFiles(t, "testdata/req/*.json") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(f, ".json")
			from, to := Messages, Chat
			if strings.HasSuffix(base, ".chat") {
				from, to = Chat, Messages
			}
			req, err := DecodeRequest(from, body)
			if err != nil {
				checkGolden(t, base+".error.golden", errText(t, err))
				return
			}
			out, err := EncodeRequest(to, req, "upstream-model")
			if err != nil {
				checkGolden(t, base+".error.golden", errText(t, err))
				return
			}
			checkGolden(t, base+"."+to.String()+".golden.json", pretty(t, out))
		})
	}
}

// TestAnswerGoldens translates whole answers: chat answers for Messages
// clients, Messages answers for chat clients.
func TestAnswerGoldens(t *testing.T) {
	for _, f := range testFiles(t, "testdata/answer/*.json") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(f, ".json")
			from, to := Messages, Chat
			if strings.HasSuffix(base, ".chat") {
				from, to = Chat, Messages
			}
			resp, err := DecodeResponse(from, body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Created == 0 {
				resp.Created = 1764720000 // Messages answers carry no time
			}
			out := EncodeResponse(to, resp, nil)
			checkGolden(t, base+"."+to.String()+".golden.json", pretty(t, out))
		})
	}
}

// TestStreamGoldens translates whole streams, event by event: chat
// streams for Messages clients and Messages streams for chat clients (who
// asked for usage). Beside the client's stream, the internal events are
// kept as a golden too.
func TestStreamGoldens(t *testing.T) {
	for _, f := range testFiles(t, "testdata/stream/*.sse") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(f, ".sse")
			var dec Decoder
			var enc Encoder
			to := Chat
			if strings.HasSuffix(base, ".chat") {
				to = Messages
				dec, enc = NewDecoder(Chat), NewEncoder(Messages, nil)
			} else {
				dec = NewDecoder(Messages)
				enc = &chatEncoder{includeUsage: true, clock: func() int64 { return 1764720000 }}
			}
			out, evs := translateStream(t, body, dec, enc)
			checkGolden(t, base+"."+to.String()+".golden.sse", out)
			checkGolden(t, base+".events.golden", dumpEvents(evs))
			checkClientStream(t, to, out)
		})
	}
}

// checkClientStream checks a translated stream the way a client reads it:
// every event framed, every payload JSON, named as its type says.
func checkClientStream(t *testing.T, d Dialect, out []byte) {
	t.Helper()
	sr := &SSEReader{}
	sr.Reset(bufio.NewReader(bytes.NewReader(out)))
	for {
		ev, err := sr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if d == Chat && string(ev.Data) == "[DONE]" {
			continue
		}
		if !json.Valid(ev.Data) {
			t.Fatalf("event data is not JSON: %s", ev.Data)
		}
		if d == Messages {
			var head struct{ Type string }
			json.Unmarshal(ev.Data, &head)
			if string(ev.Name) != head.Type {
				t.Fatalf("event %q carries type %q", ev.Name, head.Type)
			}
		} else if len(ev.Name) > 0 {
			t.Fatalf("chat event with a name: %s", ev.Name)
		}
	}
}

func TestJSONReaderValues(t *testing.T) {
	doc := `{"s":"a\"b\\c\/\u00e9\ud83d\udc1f\n","n":-12.5e1,"i":1e3,"t":true,"f":false,"z":null,"a":[1,[2,{"x":"y"}],[]],"o":{}}`
	var r jsonReader
	r.reset([]byte(doc))
	if !r.object() {
		t.Fatal(r.err)
	}
	got := map[string]any{}
	for first := true; ; first = false {
		key, ok := r.member(first)
		if !ok {
			break
		}
		switch k := string(key); k {
		case "s":
			got[k] = r.str()
		case "n":
			got[k] = r.float()
		case "i":
			got[k] = r.int()
		case "t", "f":
			got[k] = r.boolean()
		case "z":
			got[k] = r.null()
		default:
			got[k] = string(r.raw())
		}
	}
	r.done()
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := map[string]any{"s": "a\"b\\c/é🐟\n", "n": -125.0, "i": int64(1000), "t": true, "f": false, "z": true,
		"a": `[1,[2,{"x":"y"}],[]]`, "o": `{}`}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %#v, want %#v", k, got[k], v)
		}
	}
}

func TestJSONReaderRejects(t *testing.T) {
	for _, doc := range []string{``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{,"a":1}`, `[1,]`, `{"a":"x`,
		`{"a":tru}`, `{"a":01x}`, `{"a":-}`, `{"a":1.}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{} {}`, `{"a":[}`} {
		var r jsonReader
		r.reset([]byte(doc))
		r.skip()
		r.done()
		if r.err == nil {
			t.Errorf("%q: accepted", doc)
		}
	}
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	var r jsonReader
	r.reset([]byte(deep))
	r.skip()
	if r.err == nil {
		t.Error("nesting past maxDepth accepted")
	}
}

func TestJSONReaderKinds(t *testing.T) {
	tests := []struct {
		doc  string
		read func(r *jsonReader)
		want error
	}{
		{`"x"`, func(r *jsonReader) { r.int() }, errWantNumber},
		{`1.5`, func(r *jsonReader) { r.int() }, errWantInt},
		{`1e300`, func(r *jsonReader) { r.int() }, errWantInt},
		{`{}`, func(r *jsonReader) { r.str() }, errWantString},
		{`[]`, func(r *jsonReader) { r.object() }, errWantObject},
		{`{}`, func(r *jsonReader) { r.array() }, errWantArray},
		{`1`, func(r *jsonReader) { r.boolean() }, errWantBool},
		{`x`, func(r *jsonReader) { r.str() }, errSyntax},
	}
	for _, tt := range tests {
		var r jsonReader
		r.reset([]byte(tt.doc))
		tt.read(&r)
		if r.err != tt.want {
			t.Errorf("%s: got %v, want %v", tt.doc, r.err, tt.want)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	for _, f := range []float64{0, 1, 0.7, -2.5, 1e-7, 1e21, 123456789, math.Inf(1)} {
		got := string(appendFloat(nil, f))
		want, _ := json.Marshal(f)
		if math.IsInf(f, 0) {
			want = []byte("0")
		}
		if got != string(want) {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
}

// FuzzJSONReader checks the reader against encoding/json: it accepts
// exactly the valid documents (UTF-8 aside, which the proxy checks
// first), and never panics.
func FuzzJSONReader(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c\u00e9"}],"d":null}`, `[true,false,-0.5e-3]`, `"\ud83d\udc1f"`, `{"a":"\\\""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var r jsonReader
		r.reset([]byte(s))
		r.skip()
		r.done()
		valid := json.Valid([]byte(s))
		if valid && r.err != nil {
			t.Fatalf("%q: rejected valid JSON: %v", s, r.err)
		}
		// The reader leaves control characters inside strings to the
		// scanner that validated the body before.
		if !valid && r.err == nil && !hasControl(s) && strings.ToValidUTF8(s, "") == s {
			t.Fatalf("%q: accepted invalid JSON", s)
		}
		// A top-level string decodes as encoding/json does.
		r.reset([]byte(s))
		if valid && r.kind() == '"' && utf8.ValidString(s) {
			got := r.str()
			var want string
			json.Unmarshal([]byte(s), &want)
			if got != want {
				t.Fatalf("%q: got %q, want %q", s, got, want)
			}
		}
	})
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
	}
	return false
}

func TestToolUseID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"toolu_01A09q90qw90lq917835lq9", "toolu_01A09q90qw90lq917835lq9"},
		{"call_abc123", "toolu_call_abc123"},
		{"functions.Read:0", "toolu_functions-2eRead-3a0"},
		{"a-b", "toolu_a-2db"},
		{"toolu_x.y", "toolu_toolu_x-2ey"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := toolUseID(tt.in)
		if got != tt.want {
			t.Errorf("toolUseID(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if toolUseID(got) != got {
			t.Errorf("toolUseID(%q) is not stable", got)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("%q and %q map to %q", prev, tt.in, got)
		}
		seen[got] = tt.in
	}
	for i := range 200 {
		id := strconv.Itoa(i) + ":x"
		if got := toolUseID(id); !validToolUseID(got) {
			t.Fatalf("%q -> %q", id, got)
		}
	}
}

func validToolUseID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) && id[i] != '-' {
			return false
		}
	}
	return true
}

// checkRequestError checks what a decoder or encoder may fail with: a
// 400 that names the field.
func checkRequestError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || e.Param == "" || e.Message == "" {
		t.Fatalf("got %#v, want a 400 *Error naming a field", err)
	}
}

// addSeeds adds the files matching pattern to a fuzz corpus.
func addSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(pattern)
	for _, name := range files {
		if strings.Contains(name, ".golden") {
			continue
		}
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
}

// streamShape is a stream's answer as a client would assemble it: blocks
// (text and reasoning merged where they follow one another, empty ones
// dropped), how it ended, and its usage. Translations keep it.
type streamShape struct {
	Blocks []string
	Stop   StopReason
	Prompt int64
	Output int64
	Cached int64
	Err    string
	Ended  bool
}

func shapeOf(evs []Event, chatSide bool) streamShape {
	var s streamShape
	var kinds []Kind
	calls := false
	for _, ev := range evs {
		switch ev.Kind {
		case EvBlockStart:
			k := ev.Block.Kind
			if k == RedactedThinking { // chat has no place for it
				kinds = append(kinds, k)
				continue
			}
			if k == ToolCall {
				calls = true
				s.Blocks = append(s.Blocks, "call "+ev.Block.Name+":")
			} else if n := len(kinds); n == 0 || kinds[n-1] != k || k == ToolCall {
				s.Blocks = append(s.Blocks, k.String()+":")
			}
			kinds = append(kinds, k)
		case EvDelta:
			if n := len(kinds); n > 0 && kinds[n-1] != RedactedThinking {
				s.Blocks[len(s.Blocks)-1] += ev.Text
			}
		case EvStop:
			s.Ended, s.Stop = true, ev.Stop
			s.Prompt, s.Output, s.Cached = ev.Usage.Prompt, ev.Usage.Completion, ev.Usage.Cached
		case 255:
			s.Err = ev.Text
		}
	}
	// Blocks without content vanish in chat, and text that follows text
	// joins it.
	var out []string
	for _, b := range s.Blocks {
		if strings.HasSuffix(b, ":") && !strings.HasPrefix(b, "call ") {
			continue
		}
		if n := len(out); n > 0 && !strings.HasPrefix(b, "call ") {
			kind := b[:strings.IndexByte(b, ':')]
			if prev := out[n-1]; strings.HasPrefix(prev, kind+":") {
				out[n-1] = prev + b[len(kind)+1:]
				continue
			}
		}
		out = append(out, b)
	}
	for i := range out {
		out[i] = string([]rune(out[i])) // invalid UTF-8 reads back as U+FFFD, byte by byte
	}
	s.Blocks = out
	if chatSide {
		switch s.Stop {
		case StopSequence, StopPause:
			s.Stop = StopEnd
		}
		if calls && s.Stop == StopEnd {
			s.Stop = StopToolUse
		}
	}
	return s
}

// fuzzStream translates an upstream body and checks the client's stream:
// it decodes, with the client dialect's own decoder, to the same answer.
func fuzzStream(t *testing.T, body []byte, up, client Dialect) {
	dec := NewDecoder(up)
	var enc Encoder
	if client == Chat {
		enc = &chatEncoder{includeUsage: true, clock: func() int64 { return 1 }}
	} else {
		enc = NewEncoder(Messages, nil)
	}
	sr := &SSEReader{}
	sr.Reset(bufio.NewReaderSize(bytes.NewReader(body), 64))
	var out []byte
	var all, evs []Event
	checker := eventChecker{t: t}
	ended := false
	for !ended {
		evs = evs[:0]
		ev, err := sr.Next()
		if err != nil {
			if errors.Is(err, ErrEventTooLarge) {
				return
			}
			evs, err = dec.End(evs[:0])
			ended = true
			if err != nil && !errors.Is(err, ErrIncomplete) {
				t.Fatalf("End: %v", err)
			}
			if err != nil {
				evs = append(evs, Event{Kind: 255, Text: err.Error()})
			}
		} else if !ev.Comment {
			evs, err = dec.Decode(ev.Name, ev.Data, evs[:0])
			if err != nil && !errors.Is(err, ErrBadEvent) {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("Decode error %v is not an *Error", err)
				}
				evs = append(evs, Event{Kind: 255, Text: e.Error()})
				ended = true
			}
		}
		for i := range evs {
			checker.check(&evs[i])
			if evs[i].Kind == 255 {
				out = enc.Fail(out, &Error{Status: 502, Message: evs[i].Text})
				continue
			}
			out = enc.Encode(out, &evs[i])
		}
		all = append(all, evs...)
	}
	checkClientStream(t, client, out)

	// The client's stream, read back, says the same.
	back := NewDecoder(client)
	sr.Reset(bufio.NewReader(bytes.NewReader(out)))
	var got []Event
	for {
		ev, err := sr.Next()
		if err != nil {
			var e error
			got, e = back.End(got)
			if e != nil {
				got = append(got, Event{Kind: 255, Text: e.Error()})
			}
			break
		}
		var e error
		if got, e = back.Decode(ev.Name, ev.Data, got); e != nil {
			var fe *Error
			if errors.As(e, &fe) {
				got = append(got, Event{Kind: 255, Text: fe.Message})
				break
			}
			t.Fatalf("client decode: %v", e)
		}
	}
	want, have := shapeOf(all, client == Chat), shapeOf(got, client == Chat)
	if want.Err != "" || have.Err != "" {
		if (want.Err == "") != (have.Err == "") {
			t.Fatalf("error %q translated as %q\n%s", want.Err, have.Err, out)
		}
		return
	}
	if nonsense := want.Cached > want.Prompt; client == Messages || nonsense {
		want.Cached, have.Cached = 0, 0 // Anthropic's input excludes cache reads: a nonsense split is clamped
		if nonsense {
			want.Prompt, have.Prompt = 0, 0
		}
	}
	if !reflect.DeepEqual(want, have) {
		t.Fatalf("answer\n%+v\ntranslated as\n%+v\nstream:\n%s", want, have, out)
	}
}

// eventChecker checks the promises of the event sequence: one start
// first, blocks that open, grow and close one at a time in index order,
// nothing after the stop.
type eventChecker struct {
	t       *testing.T
	started bool
	stopped bool
	open    bool
	next    int
}

func (c *eventChecker) check(ev *Event) {
	t := c.t
	t.Helper()
	if c.stopped {
		t.Fatalf("event %d after the stop", ev.Kind)
	}
	if ev.Kind == 255 {
		return
	}
	if !c.started && ev.Kind != EvStart {
		t.Fatalf("event %d before the start", ev.Kind)
	}
	switch ev.Kind {
	case EvStart:
		if c.started {
			t.Fatal("two starts")
		}
		c.started = true
	case EvBlockStart:
		if c.open || ev.Index != c.next {
			t.Fatalf("block %d opens (open %v, next %d)", ev.Index, c.open, c.next)
		}
		c.open = true
		c.next++
	case EvDelta, EvSignature:
		if !c.open || ev.Index != c.next-1 {
			t.Fatalf("delta for block %d (open %v, current %d)", ev.Index, c.open, c.next-1)
		}
	case EvBlockStop:
		if !c.open || ev.Index != c.next-1 {
			t.Fatalf("stop for block %d (open %v, current %d)", ev.Index, c.open, c.next-1)
		}
		c.open = false
	case EvStop:
		if c.open {
			t.Fatal("stop with a block open")
		}
		c.stopped = true
	}
}

// around shows where two byte strings first differ.
func around(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-150, 0)
	return fmt.Sprintf("at byte %d:\n  %q\n  %q", i, a[lo:min(i+150, len(a))], b[lo:min(i+150, len(b))])
}

func TestAppendStrMatchesAppendString(t *testing.T) {
	cases := []string{"", "plain", "exactly8", "sixteen bytes ok", `quote " and \ backslash`, "line\nbreak\r\ttab", "\x00\x01\x1f\x7f",
		"<html> & 'x'", "中文 and emoji 🐟", "bad \xff utf8", "sep \u2028 \u2029 end", strings.Repeat("ab", 100),
		strings.Repeat("abcdefg\n", 20), "\"\"\"\"\"\"\"\"\"", "long run then \x1f", "12345678\\"}
	for _, s := range cases {
		if got, want := string(appendStr(nil, s)), string(AppendString(nil, s)); got != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendStr(f *testing.F) {
	f.Add("hello \"world\"\n\u2028\xff 中文")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendStr([]byte("x"), s), AppendString([]byte("x"), s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

// TestEncodersKeepTheFirstStart pins what continuation (SPEC 11) relies
// on: a second attempt's start changes nothing the client sees.
func TestEncodersKeepTheFirstStart(t *testing.T) {
	for _, d := range []Dialect{Chat, Messages} {
		e := NewEncoder(d, &Request{})
		first := e.Encode(nil, &Event{Kind: EvStart, ID: "msg_a", Model: "m1", Created: 1})
		e.Encode(nil, &Event{Kind: EvBlockStart, Index: 0, Block: Block{Kind: Text}})
		e.Encode(nil, &Event{Kind: EvDelta, Index: 0, Text: "x"})
		if again := e.Encode(nil, &Event{Kind: EvStart, ID: "msg_b", Model: "m2", Created: 2}); len(again) != 0 {
			t.Errorf("%s: a second start wrote %q", d, again)
		}
		more := string(e.Encode(nil, &Event{Kind: EvDelta, Index: 0, Text: "y"}))
		if !strings.Contains(string(first), "m1") || strings.Contains(more, "m2") || strings.Contains(more, "msg_b") || strings.Contains(more, "chatcmpl-b") {
			t.Errorf("%s: after a second start: %q", d, more)
		}
	}
}
