package dialect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// sseGot is an event copied out of the reader's reused buffers.
type sseGot struct {
	Name    string
	Data    string
	Comment bool
}

func (e sseGot) String() string {
	if e.Comment {
		return "comment"
	}
	return fmt.Sprintf("{%q %q}", e.Name, e.Data)
}

// readAllSSE reads events until an error; it returns the events and the
// error that ended them.
func readAllSSE(br *bufio.Reader, limit int) ([]sseGot, error) {
	r := &SSEReader{r: br}
	var out []sseGot
	for range limit {
		ev, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, sseGot{Name: string(ev.Name), Data: string(ev.Data), Comment: ev.Comment})
	}
	return out, errors.New("readAllSSE: too many events")
}

// sseBufSizes are the reader sizes every SSE table runs with: the default,
// and bufio's minimum, which sends every line longer than 16 bytes through
// the ErrBufferFull path.
var sseBufSizes = []int{4096, 16}

func TestSSEReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name string
		in   string
		want []sseGot
	}{
		{"one event", "data: a\n\n", []sseGot{{Data: "a"}}},
		{"no space after colon", "data:a\n\n", []sseGot{{Data: "a"}}},
		{"only one space stripped", "data:  a \n\n", []sseGot{{Data: " a "}}},
		{"multi-line data", "data: a\ndata: b\ndata: c\n\n", []sseGot{{Data: "a\nb\nc"}}},
		{"empty data line in the middle", "data: a\ndata:\ndata: b\n\n", []sseGot{{Data: "a\n\nb"}}},
		{"field without colon", "data\n\n", []sseGot{{Data: ""}}},
		{"empty data", "data: \n\n", []sseGot{{Data: ""}}},
		{"two events", "data: 1\n\ndata: 2\n\n", []sseGot{{Data: "1"}, {Data: "2"}}},
		{"CRLF", "data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n", []sseGot{{Data: "a\nb"}, {Data: "c"}}},
		{"mixed endings", "data: a\r\n\ndata: b\n\r\n", []sseGot{{Data: "a"}, {Data: "b"}}},
		{"CR inside a line is data", "data: a\rb\n\n", []sseGot{{Data: "a\rb"}}},
		{"comment", ": ping\n\n", []sseGot{{Comment: true}}},
		{"empty comment", ":\n\n", []sseGot{{Comment: true}}},
		{"comments between events", "data: a\n\n: keep-alive\n\ndata: b\n\n", []sseGot{{Data: "a"}, {Comment: true}, {Data: "b"}}},
		{"comment inside an event", ": x\ndata: a\n: y\n\n", []sseGot{{Data: "a"}}},
		{"event name", "event: message_start\ndata: {}\n\n", []sseGot{{Name: "message_start", Data: "{}"}}},
		{"event name without space", "event:delta\ndata: {}\n\n", []sseGot{{Name: "delta", Data: "{}"}}},
		{"last event name wins", "event: a\nevent: b\ndata: x\n\n", []sseGot{{Name: "b", Data: "x"}}},
		{"name not carried over", "event: a\ndata: 1\n\ndata: 2\n\n", []sseGot{{Name: "a", Data: "1"}, {Data: "2"}}},
		{"name without data is dropped", "event: a\n\ndata: 1\n\n", []sseGot{{Data: "1"}}},
		{"id and retry ignored", "id: 7\nretry: 1000\ndata: x\nid\n\n", []sseGot{{Data: "x"}}},
		{"unknown fields ignored", "foo: bar\nDATA: no\ndata : no\ndata: x\n\n", []sseGot{{Data: "x"}}},
		{"leading blank lines", "\n\n\r\ndata: x\n\n", []sseGot{{Data: "x"}}},
		{"last event without blank line", "data: a\n\ndata: b\n", []sseGot{{Data: "a"}, {Data: "b"}}},
		{"last event without newline", "data: a\n\ndata: b", []sseGot{{Data: "a"}, {Data: "b"}}},
		{"last line CR only", "data: b\r", []sseGot{{Data: "b"}}},
		{"named last event without blank line", "event: e\ndata: b", []sseGot{{Name: "e", Data: "b"}}},
		{"trailing comment without blank line", "data: a\n\n: bye", []sseGot{{Data: "a"}}},
		{"trailing name without data", "data: a\n\nevent: e\n", []sseGot{{Data: "a"}}},
		{"empty stream", "", nil},
		{"only blank lines", "\n\n\n", nil},
		{"done", "data: [DONE]\n\n", []sseGot{{Data: "[DONE]"}}},
		{"long line", "data: " + long + "\n\n", []sseGot{{Data: long}}},
		{"long lines CRLF", "event: " + long + "\r\ndata: " + long + "\r\ndata: " + long + "\r\n\r\n", []sseGot{{Name: long, Data: long + "\n" + long}}},
		{"long last line without newline", "data: " + long, []sseGot{{Data: long}}},
		{"long comment", ": " + long + "\n\n", []sseGot{{Comment: true}}},
		{"long line ending at the buffer edge", "data: 0123456789\n\n", []sseGot{{Data: "0123456789"}}},
		{"CR at the buffer edge", "data: 012345678\r\n\r\n", []sseGot{{Data: "012345678"}}},
	}
	for _, tt := range tests {
		for _, size := range sseBufSizes {
			t.Run(fmt.Sprintf("%s/buf%d", tt.name, size), func(t *testing.T) {
				got, err := readAllSSE(bufio.NewReaderSize(strings.NewReader(tt.in), size), 100)
				if !errors.Is(err, io.EOF) {
					t.Errorf("ended with %v, want io.EOF", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("events = %v, want %v", got, tt.want)
				}
			})
		}
	}
}

func TestSSEReaderEOFRepeats(t *testing.T) {
	r := &SSEReader{r: bufio.NewReader(strings.NewReader("data: x"))}
	if ev, err := r.Next(); err != nil || string(ev.Data) != "x" {
		t.Fatalf("first next = %q, %v; want \"x\", nil", ev.Data, err)
	}
	for i := range 3 {
		if _, err := r.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("next #%d after the end = %v, want io.EOF", i+2, err)
		}
	}
}

func TestSSEReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	for _, size := range sseBufSizes {
		// A complete event, then half an event, then the error: the half
		// event must not come out as if it were complete.
		in := io.MultiReader(strings.NewReader("data: ok\n\ndata: "+strings.Repeat("y", 40)+"\n"), iotest.ErrReader(boom))
		got, err := readAllSSE(bufio.NewReaderSize(in, size), 10)
		if !errors.Is(err, boom) {
			t.Errorf("buf%d: ended with %v, want %v", size, err, boom)
		}
		if want := []sseGot{{Data: "ok"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("buf%d: events = %v, want %v", size, got, want)
		}
	}
}

func TestSSEReaderOneByteReads(t *testing.T) {
	in := "event: e\r\ndata: {\"a\":1}\r\ndata: " + strings.Repeat("z", 50) + "\r\n\r\n: ping\n\ndata: last"
	got, err := readAllSSE(bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16), 10)
	want := []sseGot{{Name: "e", Data: "{\"a\":1}\n" + strings.Repeat("z", 50)}, {Comment: true}, {Data: "last"}}
	if !errors.Is(err, io.EOF) || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v, io.EOF", got, err, want)
	}
}

func TestSSEReaderEventTooLarge(t *testing.T) {
	line := func(n int) string { return "data: " + strings.Repeat("x", n) + "\n" }
	tests := []struct {
		name    string
		in      string
		wantErr bool
		wantLen int // when no error
	}{
		// A line longer than the reader's buffer is bounded as a whole,
		// "data: " and newline included, so one line holds a few bytes
		// less than MaxEventSize of data.
		{"near the limit in one line", line(MaxEventSize-16) + "\n", false, MaxEventSize - 16},
		{"one byte over in one line", line(MaxEventSize+1) + "\n", true, 0},
		{"over the limit in many lines", strings.Repeat(line(1<<20), 9) + "\n", true, 0},
		// 8 lines of 1 MiB are 8 MiB plus 7 joining newlines.
		{"newlines count", strings.Repeat(line(1<<20), 8) + "\n", true, 0},
		{"limit reached with joining newlines", strings.Repeat(line(1<<20-1), 8) + line(0) + "\n", false, MaxEventSize},
		{"an over-long comment line", ": " + strings.Repeat("c", MaxEventSize+10) + "\n\n", true, 0},
	}
	for _, tt := range tests {
		for _, size := range sseBufSizes {
			t.Run(fmt.Sprintf("%s/buf%d", tt.name, size), func(t *testing.T) {
				r := &SSEReader{r: bufio.NewReaderSize(strings.NewReader(tt.in), size)}
				ev, err := r.Next()
				if tt.wantErr {
					if !errors.Is(err, ErrEventTooLarge) {
						t.Fatalf("next = %d bytes, %v; want ErrEventTooLarge", len(ev.Data), err)
					}
					return
				}
				if err != nil {
					t.Fatalf("next: %v", err)
				}
				if len(ev.Data) != tt.wantLen {
					t.Errorf("event of %d bytes, want %d", len(ev.Data), tt.wantLen)
				}
			})
		}
	}
}

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		name, event, data string
		want              string
	}{
		{"plain", "", `{"a":1}`, "data: {\"a\":1}\n\n"},
		{"named", "response.output_text.delta", `{}`, "event: response.output_text.delta\ndata: {}\n\n"},
		{"multi-line", "", "a\nb\nc", "data: a\ndata: b\ndata: c\n\n"},
		{"empty", "", "", "data: \n\n"},
		{"trailing newline", "", "a\n", "data: a\ndata: \n\n"},
		{"leading newline", "", "\na", "data: \ndata: a\n\n"},
		{"done", "", "[DONE]", "data: [DONE]\n\n"},
		{"error prefix", "", `{"error":{"message":"x"}}`, "data: {\"error\":{\"message\":\"x\"}}\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendEvent([]byte("prefix|"), []byte(tt.event), []byte(tt.data))
			if want := "prefix|" + tt.want; string(got) != want {
				t.Errorf("AppendEvent = %q, want %q", got, want)
			}
			// And it reads back as the same event.
			evs, err := readAllSSE(bufio.NewReader(strings.NewReader(tt.want)), 10)
			if want := []sseGot{{Name: tt.event, Data: tt.data}}; !errors.Is(err, io.EOF) || !reflect.DeepEqual(evs, want) {
				t.Errorf("read back %v, %v; want %v", evs, err, want)
			}
		})
	}
}

func TestAppendEventReusesDst(t *testing.T) {
	buf := make([]byte, 0, 64)
	out := AppendEvent(buf, nil, []byte("x"))
	if &out[0] != &buf[:1][0] {
		t.Error("AppendEvent did not append into dst's spare capacity")
	}
	allocs := testing.AllocsPerRun(100, func() { buf = AppendEvent(buf[:0], []byte("e"), []byte("a\nb")) })
	if allocs != 0 {
		t.Errorf("AppendEvent into a large enough buffer allocates %v times", allocs)
	}
}

// FuzzSSE checks that any bytes parse without panic, the same way whatever
// the buffer size, and that a stream framed by AppendEvent reads back as
// the events it was built from.
func FuzzSSE(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n: ping\r\n\r\n"))
	f.Add([]byte("id: 1\nretry: 10\ndata:a\ndata:b\n\ndata: tail"))
	f.Add([]byte("\x00ev\x01line1\nline2\x00\x01\x00\x02\x01 lead\n\ntrail\n\x00:c\x01:d"))
	f.Add([]byte(": " + strings.Repeat("k", 40) + "\n\ndata: " + strings.Repeat("v", 40)))
	f.Add([]byte("\r\n\r\r\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		limit := len(in) + 2
		big, errBig := readAllSSE(bufio.NewReaderSize(bytes.NewReader(in), 4096), limit)
		small, errSmall := readAllSSE(bufio.NewReaderSize(bytes.NewReader(in), 16), limit)
		if !errors.Is(errBig, io.EOF) || !errors.Is(errSmall, io.EOF) {
			t.Fatalf("ended with %v / %v, want io.EOF", errBig, errSmall)
		}
		if !reflect.DeepEqual(big, small) {
			t.Fatalf("buffer size changes the events:\n4096: %v\n16:   %v", big, small)
		}
		if len(in) > 0 {
			readyHolds(t, in, []int{int(in[0])%7 + 1, int(in[len(in)-1])%50 + 1})
		}
		for _, ev := range big {
			if strings.Contains(ev.Name, "\n") {
				t.Fatalf("event name %q holds a newline", ev.Name)
			}
			if ev.Comment && (ev.Name != "" || ev.Data != "") {
				t.Fatalf("comment event with content: %v", ev)
			}
		}

		// Round trip: NUL separates events; in each, what precedes \x01
		// is the name and the rest the data; \x02 first adds a comment
		// block before the event. AppendEvent never writes CR, and a
		// name holds no line break.
		var want []sseGot
		var stream []byte
		for i, part := range bytes.Split(in, []byte{0}) {
			if i == 0 && len(part) == 0 {
				continue
			}
			if len(part) > 0 && part[0] == 2 {
				stream = append(stream, ": keep-alive\n\n"...)
				want = append(want, sseGot{Comment: true})
				part = part[1:]
			}
			name, data, ok := bytes.Cut(part, []byte{1})
			if !ok {
				name, data = nil, part
			}
			name = bytes.Map(func(r rune) rune {
				if r == '\n' || r == '\r' {
					return -1
				}
				return r
			}, name)
			data = bytes.ReplaceAll(data, []byte("\r"), nil)
			stream = AppendEvent(stream, name, data)
			want = append(want, sseGot{Name: string(name), Data: string(data)})
		}
		for _, size := range sseBufSizes {
			got, err := readAllSSE(bufio.NewReaderSize(bytes.NewReader(stream), size), len(want)+2)
			if !errors.Is(err, io.EOF) {
				t.Fatalf("buf%d: round trip ended with %v", size, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("buf%d: round trip of %q\n got  %v\n want %v", size, stream, got, want)
			}
		}
	})
}

// chunkReader hands out its input in pieces of the given sizes (the last
// one repeated) and counts the reads that reach it.
type chunkReader struct {
	in    []byte
	sizes []int
	reads int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	c.reads++
	n := c.sizes[0]
	if len(c.sizes) > 1 {
		c.sizes = c.sizes[1:]
	}
	n = min(n, len(p), len(c.in))
	copy(p, c.in[:n])
	c.in = c.in[n:]
	return n, nil
}

// readyHolds reads in through pieces of sizes and checks Ready's promise:
// when it says yes, Next returns an event without reading. It returns
// what Ready said before each Next.
func readyHolds(t *testing.T, in []byte, sizes []int) []bool {
	t.Helper()
	cr := &chunkReader{in: in, sizes: sizes}
	var sr SSEReader
	sr.Reset(bufio.NewReaderSize(cr, 64))
	var said []bool
	for range len(in) + 2 {
		ready := sr.Ready()
		before := cr.reads
		_, err := sr.Next()
		if ready && (err != nil || cr.reads != before) {
			t.Fatalf("%q in pieces of %v: Ready said yes, then Next read %d times (error %v)", in, sizes, cr.reads-before, err)
		}
		if err != nil {
			return said
		}
		said = append(said, ready)
	}
	t.Fatalf("%q: no end", in)
	return nil
}

func TestSSEReaderReady(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    string
		sizes []int
		want  []bool // Ready before each event Next returns
	}{
		{"events that came together", "data: a\n\ndata: b\n\ndata: [DONE]\n\n", []int{100}, []bool{false, true, true}},
		{"events that came one by one", "data: a\n\ndata: b\n\n", []int{9, 9}, []bool{false, false}},
		{"the next event only half here", "data: a\n\ndata: b\n\n", []int{13, 100}, []bool{false, false}},
		{"its blank line not here yet", "data: a\n\ndata: b\n\n", []int{17, 100}, []bool{false, false}},
		{"CRLF lines", "data: a\r\n\r\nevent: x\r\ndata: b\r\n\r\n", []int{100}, []bool{false, true}},
		{"a comment block counts", "data: a\n\n: ping\n\n", []int{100}, []bool{false, true}},
		{"blank lines and a nameless event are no event", "data: a\n\n\n\nevent: x\n\ndata: b\n\n", []int{11, 100}, []bool{false, false}},
		{"a field without a colon", "data: a\n\ndata\n\n", []int{100}, []bool{false, true}},
		{"a last event without its blank line", "data: a\n\ndata: b", []int{100}, []bool{false, false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := readyHolds(t, []byte(tt.in), tt.sizes); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Ready said %v, want %v", got, tt.want)
			}
		})
	}
}
