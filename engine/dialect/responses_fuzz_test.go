package dialect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeResponsesRequest: any body gives a Request or a 400 naming a
// field, never a panic; a Request's echo in a response is valid JSON when
// the body is one the proxy passes on (ScanObject accepts it: what the
// decoder copies whole, it does not check again).
func FuzzDecodeResponsesRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/responses/*.request.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{`{"input":"x"}`, `{"input":[{"type":"function_call_output","call_id":"x"}]}`,
		`{"tools":[{"type":"namespace","name":"a","tools":[{"type":"custom","name":"b"}]}],"tool_choice":{"type":"allowed_tools","tools":[{"type":"custom","name":"a__b"}]}}`,
		`{"input":[{"type":"reasoning","summary":[],"encrypted_content":"catfish.thinking.v1.e30"}]}`, `null`, `{}`, `[]`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRequest(Responses, body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Param == "" {
				t.Fatalf("error %#v: want a 400 *Error with Param", err)
			}
			return
		}
		if r == nil {
			t.Fatal("nil Request without an error")
		}
		if _, err := ScanObject(body); err != nil {
			return
		}
		out := encodeResponsesResponse(&Response{Content: []Block{{Kind: Text, Text: "x"}}}, r)
		if !jsonValid(out) {
			t.Fatalf("response is not JSON: %s", out)
		}
	})
}

func jsonValid(b []byte) bool { return json.Valid(b) }

// FuzzResponsesStream: any sequence of events gives frames of valid JSON
// that an SDK accumulator accepts, ending in a terminal event.
func FuzzResponsesStream(f *testing.F) {
	f.Add([]byte("\x00hello\x03\x05world\x05\x02\x03{\"input\":\"a\\nb\"}\x05"), true)
	f.Add([]byte("\x01\x03\x04plan\x04\x04sig\x05\x0a\x03\x07{\"cmd\":\x03\x05\"ls\"}"), false)
	f.Add([]byte("\x12\x1a\x22\x2a\x32\x3a"), true)
	f.Fuzz(func(t *testing.T, prog []byte, fail bool) {
		tools := []string{"exec_command", "apply_patch", "multi_agent_v1__spawn_agent", "exec", "unknown", "mcp__docs__search"}
		var evs []Event
		for i := 0; i < len(prog); i++ {
			op := prog[i]
			idx := int(op>>3) % 4
			text := ""
			if i+1 < len(prog) {
				n := int(prog[i+1]) % 24
				end := min(i+2+n, len(prog))
				text = strings.ToValidUTF8(string(prog[i+2:end]), "\uFFFD")
				i = end - 1
			}
			switch op % 8 {
			case 0:
				evs = append(evs, Event{Kind: EvBlockStart, Index: idx, Block: Block{Kind: Text}})
			case 1:
				evs = append(evs, Event{Kind: EvBlockStart, Index: idx, Block: Block{Kind: Thinking}})
			case 2:
				evs = append(evs, Event{Kind: EvBlockStart, Index: idx, Block: Block{Kind: ToolCall, ID: text, Name: tools[int(op>>5)%len(tools)]}})
			case 3:
				evs = append(evs, Event{Kind: EvDelta, Index: idx, Text: text})
			case 4:
				evs = append(evs, Event{Kind: EvSignature, Index: idx, Text: text})
			case 5:
				evs = append(evs, Event{Kind: EvBlockStop, Index: idx})
			case 6:
				evs = append(evs, Event{Kind: EvUsage, Usage: Usage{Prompt: int64(len(text)), Completion: int64(op)}})
			case 7:
				evs = append(evs, Event{Kind: EvBlockStart, Index: idx, Block: Block{Kind: RedactedThinking, Data: text}})
			}
		}
		var failErr *Error
		if fail {
			failErr = &Error{Status: 502, Message: "broken \xff \"stream\""}
		} else {
			evs = append(evs, Event{Kind: EvStop, Stop: StopReason(len(prog) % 6)})
		}
		out := runStream(streamReq(len(prog)%2 == 0), evs, failErr)
		accumulate(t, parseFrames(t, out))
	})
}

// BenchmarkResponsesDelta measures the per-event cost of the common
// case: one text delta of an open message, framed for the client.
func BenchmarkResponsesDelta(b *testing.B) {
	e := newRespEncoder(streamReq(true), NewID)
	dst := e.Encode(nil, &Event{Kind: EvStart, Model: "m"})
	dst = e.Encode(dst, &Event{Kind: EvBlockStart, Block: Block{Kind: Text}})
	ev := Event{Kind: EvDelta, Text: "the quick brown "}
	b.ReportAllocs()
	for b.Loop() {
		dst = e.Encode(dst[:0], &ev)
		if e.items[0].text.Len() > 1<<20 {
			e.items[0].text.Reset()
		}
	}
}

// BenchmarkResponsesStream encodes the answer of streamBody (20 text
// deltas, a finish, usage) as a Responses stream, lifecycle events
// included: ns/event is per upstream event.
func BenchmarkResponsesStream(b *testing.B) {
	req := streamReq(true)
	evs := seq([]Event{start()}, textBlock(0, strings.Split(strings.Repeat("the quick brown |", 20), "|")[:20]...),
		stop(StopEnd, Usage{Prompt: 3, Completion: 20}))
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		e := newRespEncoder(req, NewID)
		dst = dst[:0]
		for i := range evs {
			dst = e.Encode(dst, &evs[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*23), "ns/event")
}

// BenchmarkPassthroughEvent is the per-event work of a same-dialect
// stream, for comparison: split the upstream's SSE, check the chunk,
// frame it for the client.
func BenchmarkPassthroughEvent(b *testing.B) {
	body := streamBody()
	br := bufio.NewReaderSize(nil, 16<<10)
	var dst []byte
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		br.Reset(bytes.NewReader(body))
		s := &SSEReader{r: br}
		for {
			ev, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if !bytes.Equal(ev.Data, []byte("[DONE]")) {
				if _, err := ScanObject(ev.Data); err != nil {
					b.Fatal(err)
				}
			}
			dst = AppendEvent(dst[:0], ev.Name, ev.Data)
			events++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

// BenchmarkDecodeResponsesRequest decodes a real Codex request (66 KB),
// beside encoding/json's plain decoding of the same body for scale.
func BenchmarkDecodeResponsesRequest(b *testing.B) {
	body, err := os.ReadFile("testdata/responses/codex-lite-turn2.request.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeRequest(Responses, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal-any", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
