package dialect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The Responses stream decoder: what a Responses channel's stream says in
// the internal form, so that a stream passing through can be continued
// (SPEC 11) and a continuation read from such a channel.

// decodeSSE runs a whole SSE body through dec as the proxy does, event by
// event; an *Error from Decode or End stops it. Other errors fail the
// test, but ErrBadEvent, which drops the event.
func decodeSSE(t *testing.T, dec Decoder, body []byte) ([]Event, *Error) {
	t.Helper()
	sr := &SSEReader{}
	sr.Reset(bufio.NewReader(bytes.NewReader(body)))
	checker := eventChecker{t: t}
	var all []Event
	add := func(evs []Event) {
		for i := range evs {
			checker.check(&evs[i])
		}
		all = append(all, evs...)
	}
	for {
		ev, err := sr.Next()
		if err == io.EOF {
			evs, err := dec.End(nil)
			add(evs)
			return all, asError(t, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Comment {
			continue
		}
		evs, err := dec.Decode(ev.Name, ev.Data, nil)
		add(evs)
		if errors.Is(err, ErrBadEvent) {
			continue
		}
		if e := asError(t, err); e != nil {
			return all, e
		}
	}
}

func asError(t testing.TB, err error) *Error {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("decoder error %v is neither an *Error nor ErrBadEvent", err)
	}
	return e
}

// blocksOf lists the blocks of a decoded stream as "kind: text" ("call
// NAME ID: input", "custom NAME ID: input"), with "opaque" where the
// stream carried what the internal form cannot.
func blocksOf(evs []Event) []string {
	var out []string
	at := map[int]int{} // block index → position in out
	for _, ev := range evs {
		switch ev.Kind {
		case EvBlockStart:
			head := ev.Block.Kind.String()
			if ev.Block.Kind == ToolCall {
				head = "call " + ev.Block.Name + " " + ev.Block.ID
				if ev.Block.Custom {
					head = "custom " + ev.Block.Name + " " + ev.Block.ID
				}
			}
			at[ev.Index] = len(out)
			out = append(out, head+":")
		case EvDelta:
			out[at[ev.Index]] += ev.Text
		case EvSignature:
			out[at[ev.Index]] += " [signed " + ev.Text + "]"
		case EvOpaque:
			out = append(out, "opaque")
		}
	}
	return out
}

func TestResponsesDecoder(t *testing.T) {
	usage := Usage{Prompt: 1432, Completion: 291, Total: 1723, Cached: 1280, Reasoning: 192}
	patch := "*** Begin Patch\n*** Add File: hello.txt\n+Hello \"tab\"\there\n*** End Patch\n"
	for _, tt := range []struct {
		file   string
		blocks []string
		stop   StopReason
		usage  Usage
		status int    // the *Error's status; 0: the stream ends well
		msg    string // its message
	}{
		{file: "text", stop: StopEnd, usage: usage,
			blocks: []string{"text:Hello, wörld 🐟!\nA \"quoted\" line, a tab\there, and a backslash \\ too."}},
		{file: "function-calls", stop: StopToolUse, usage: usage, blocks: []string{
			"thinking:", "text:Checking both cities.",
			`call get_weather call_Kq1x9:{"city":"Paris"}`,
			`call get_weather call_Zr2y8:{"city":"東京"}`,
			`call multi_agent_v1__spawn_agent call_Ab3c4:{"message":"go"}`}},
		{file: "custom-tool", stop: StopToolUse, usage: Usage{Prompt: 900, Completion: 40, Total: 940},
			blocks: []string{"custom apply_patch call_Pa7ch:" + patch}},
		{file: "reasoning", stop: StopEnd, usage: usage, blocks: []string{
			"thinking:**Reading the question**\n\nThe user asks for a haiku.\n\n**Drafting**\n\nFive, seven, five.",
			"text:Old pond, a frog jumps."}},
		{file: "incomplete", stop: StopMaxTokens, usage: Usage{Prompt: 12, Completion: 6, Total: 18},
			blocks: []string{"text:Once upon a time there"}},
		{file: "failed", blocks: []string{"text:Half an "},
			status: 500, msg: "The server had an error while processing your request."},
		{file: "error", status: 429, msg: "Rate limit reached for gpt-5 on tokens per min (TPM)."},
		{file: "unknown", stop: StopEnd, usage: usage,
			blocks: []string{"opaque", "text:The record is 293 lb.", "opaque"}},
		{file: "refusal", stop: StopRefusal, usage: usage,
			blocks: []string{"text:I can't help with that.", "opaque"}},
		{file: "done-only", stop: StopToolUse, usage: usage,
			blocks: []string{"text:Whole at once.", `call get_weather call_Os1o:{"city":"Oslo"}`}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "responses", "decode-"+tt.file+".sse")
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			evs, failure := decodeSSE(t, NewDecoder(Responses), body)
			golden(t, "decode-"+tt.file+".events.golden", dumpEvents(evs))
			if got := blocksOf(evs); !reflect.DeepEqual(got, tt.blocks) {
				t.Errorf("blocks\n got %q\nwant %q", got, tt.blocks)
			}
			if start := evs[0]; start.Kind != EvStart || start.ID != "resp_68b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5" ||
				!strings.HasPrefix(start.Model, "gpt-5") || start.Created != 1756547200 {
				t.Errorf("start %+v", start)
			}
			if tt.status != 0 {
				if failure == nil || failure.Status != tt.status || failure.Message != tt.msg {
					t.Fatalf("error %+v, want %d %q", failure, tt.status, tt.msg)
				}
				if last := evs[len(evs)-1]; last.Kind == EvStop {
					t.Errorf("a failed stream stopped: %+v", last)
				}
				return
			}
			if failure != nil {
				t.Fatalf("error %v", failure)
			}
			last := evs[len(evs)-1]
			if last.Kind != EvStop || last.Stop != tt.stop || last.Usage != tt.usage {
				t.Errorf("last event %+v, want stop %d with %+v", last, tt.stop, tt.usage)
			}
			// Encoded again for a Responses client, it is a stream the
			// SDKs accept.
			_, resp := accumulate(t, parseFrames(t, runStream(streamReq(true), evs, nil)))
			if resp["status"] == "failed" {
				t.Errorf("re-encoded as %v", resp["status"])
			}
		})
	}
}

// TestResponsesDecoderEnds: a stream that stops short of
// response.completed is incomplete; after the end, nothing more.
func TestResponsesDecoderEnds(t *testing.T) {
	for _, tt := range []struct {
		name   string
		events []string
		want   error
	}{
		{"nothing", nil, ErrIncomplete},
		{"cut mid-text", []string{
			`{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress"}}`,
			`{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_1","type":"message","content":[]}}`,
			`{"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hal"}`,
		}, ErrIncomplete},
		{"completed, then more", []string{
			`{"type":"response.completed","sequence_number":0,"response":{"id":"resp_1","status":"completed"}}`,
			`{"type":"response.output_text.delta","output_index":0,"delta":"late"}`,
			`{"type":"error","message":"late too"}`,
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dec := NewDecoder(Responses)
			var evs []Event
			for _, e := range tt.events {
				var err error
				if evs, err = dec.Decode(nil, []byte(e), evs); err != nil {
					t.Fatalf("%s: %v", e, err)
				}
			}
			evs, err := dec.End(evs)
			if err != tt.want {
				t.Fatalf("End: %v, want %v", err, tt.want)
			}
			for _, ev := range evs {
				if ev.Kind == EvDelta && ev.Text == "late" {
					t.Error("a delta after the end was read")
				}
			}
		})
	}
}

// TestResponsesDecoderRejects: data that is not a JSON object is
// ErrBadEvent (dropped), and the decoder reads on; values of unexpected
// types are passed over.
func TestResponsesDecoderRejects(t *testing.T) {
	dec := NewDecoder(Responses)
	for _, data := range []string{``, `[]`, `"x"`, `{"type":`, `{"type":"response.output_text.delta"} trailing`, `{"a":1,}`} {
		if _, err := dec.Decode(nil, []byte(data), nil); err != ErrBadEvent {
			t.Errorf("%q: %v, want ErrBadEvent", data, err)
		}
	}
	evs, err := dec.Decode([]byte("response.output_text.delta"), []byte(`{"output_index":"zero","content_index":null,"delta":"ok","item":7,"part":[],"response":"x"}`), nil)
	if err != nil || len(blocksOf(evs)) != 1 || blocksOf(evs)[0] != "text:ok" {
		t.Errorf("event named by its event line, odd members: %v %q", err, blocksOf(evs))
	}
	if _, err := dec.Decode(nil, []byte(`{"type":"response.output_text.delta","output_index":100000,"delta":"x"}`), nil); asError(t, err) == nil {
		t.Error("an output_index beyond any answer was taken")
	}
}

// TestResponsesDecoderRoundTrip: what the Responses encoder writes reads
// back as the events it was given; resumed on a stream that passed
// through (KeepID), the response's and items' ids survive too.
func TestResponsesDecoderRoundTrip(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			custom := []Event{
				{Kind: EvBlockStart, Index: 4, Block: Block{Kind: ToolCall, ID: "call_c3", Name: "apply_patch", Custom: true}},
				{Kind: EvDelta, Index: 4, Text: "*** Begin"}, {Kind: EvDelta, Index: 4, Text: " Patch\n"},
				{Kind: EvBlockStop, Index: 4}}
			evs := seq([]Event{{Kind: EvStart, ID: "resp_rt1", Model: "gpt-x", Created: 1700000000, KeepID: keep}},
				thinkingBlock(0, "sig-1", "**Plan**", " then act."),
				textBlock(1, "Hel", "lo ", "wörld 🐟 \"q\""),
				callBlock(2, "call_a1", "exec_command", `{"cmd":`, `"ls"}`),
				callBlock(3, "call_b2", "multi_agent_v1__spawn_agent", `{"message":"hi"}`),
				custom,
				stop(StopToolUse, Usage{Prompt: 100, Completion: 40, Total: 140, Cached: 60, Reasoning: 20}))
			items := []string{"rs_k0", "msg_k1", "fc_k2", "fc_k3", "ctc_k4"}
			for i := range evs {
				if keep && evs[i].Kind == EvBlockStart {
					evs[i].Item = items[evs[i].Index]
				}
			}
			got, failure := decodeSSE(t, NewDecoder(Responses), runStream(streamReq(true), evs, nil))
			if failure != nil {
				t.Fatal(failure)
			}
			want := append([]Event(nil), evs...)
			want[0].KeepID = false // the shadow's to say, not the stream's
			if !keep {
				for i := range got {
					got[i].ID, got[i].Item = "", ""
				}
				want[0].ID = ""
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip\n got %s\nwant %s", dumpEvents(got), dumpEvents(want))
			}
		})
	}
}

// TestResponsesEncoderResumes: an encoder that replays what a stream
// which passed through had sent (decoded, its start marked KeepID) and
// is told the last sequence number goes on as the same stream: the
// client, given the upstream's events and then the encoder's, sees one
// response (one id, sequence numbers one after another, the text in
// the item it has open) that completes with the whole answer.
func TestResponsesEncoderResumes(t *testing.T) {
	body, err := os.ReadFile("testdata/responses/decode-text.sse")
	if err != nil {
		t.Fatal(err)
	}
	whole := "Hello, wörld 🐟!\nA \"quoted\" line, a tab\there, and a backslash \\ too."
	var upstream [][]byte // the upstream's frames, as the client got them
	for _, f := range bytes.SplitAfter(body, []byte("\n\n")) {
		if len(f) > 0 {
			upstream = append(upstream, f)
		}
	}
	// Cut after: the message's part announced, some deltas, every delta.
	// (Between the item and its part the client has no part to write
	// into: the proxy does not resume such a stream.)
	for _, cut := range []int{4, 5, 7, 4 + 12} {
		t.Run(fmt.Sprint("after ", cut, " events"), func(t *testing.T) {
			sent := bytes.Join(upstream[:cut], nil)
			evs, failure := decodeSSE(t, NewDecoder(Responses), sent)
			if failure != ErrIncomplete {
				t.Fatalf("a cut stream: %v", failure)
			}
			// Replayed as the proxy's transcript replays it: the start,
			// the block, its deltas joined (so the encoder writes fewer
			// events than the upstream sent).
			enc := NewEncoder(Responses, streamReq(false))
			text := ""
			for i := range evs {
				switch evs[i].Kind {
				case EvStart:
					evs[i].KeepID = true
					enc.Encode(nil, &evs[i])
				case EvBlockStart:
					enc.Encode(nil, &evs[i])
				case EvDelta:
					text += evs[i].Text
				}
			}
			enc.Encode(nil, &Event{Kind: EvDelta, Index: 0, Text: text})
			ResumeAfter(enc, int64(cut-1))
			var out []byte
			if rest := strings.TrimPrefix(whole, text); rest != "" {
				out = enc.Encode(out, &Event{Kind: EvDelta, Index: 0, Text: rest})
			}
			out = enc.Encode(out, &Event{Kind: EvBlockStop, Index: 0})
			out = enc.Encode(out, &Event{Kind: EvStop, Usage: Usage{Prompt: 3, Completion: 9}})
			frames := parseFrames(t, append(sent, out...))
			terminal, resp := accumulate(t, frames)
			if terminal != "response.completed" || resp["id"] != "resp_68b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5" {
				t.Fatalf("%s of %v", terminal, resp["id"])
			}
			items := outputOf(resp)
			if len(items) != 1 || items[0]["id"] != "msg_68b1c2d4aa01" ||
				items[0]["content"].([]any)[0].(map[string]any)["text"] != whole {
				t.Errorf("output %v, want the whole text in the client's item", items)
			}
		})
	}
}

// FuzzResponsesDecoder: any bytes, read as a Responses stream, give
// events in the promised order (one start, blocks one at a time, nothing
// after the stop), errors that are *Error or ErrBadEvent, and, encoded
// for a Responses client, a stream the SDKs accept.
func FuzzResponsesDecoder(f *testing.F) {
	addSeeds(f, "testdata/responses/decode-*.sse")
	for _, s := range []string{
		"data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n",
		"data: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"reasoning\",\"encrypted_content\":\"catfish.thinking.v1.eyJ0IjoiYSIsInMiOiJiIn0\"}}\n\n",
		"data: {\"type\":\"response.reasoning_summary_text.delta\",\"summary_index\":1,\"delta\":\"a\"}\n\ndata: {\"type\":\"response.reasoning_text.delta\",\"delta\":\"b\"}\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		dec := NewDecoder(Responses)
		enc := newRespEncoder(streamReq(true), testIDs())
		sr := &SSEReader{}
		sr.Reset(bufio.NewReaderSize(bytes.NewReader(body), 64))
		checker := eventChecker{t: t}
		var out []byte
		var evs []Event
		var failure *Error
		for ended := false; !ended && failure == nil; {
			var err error
			ev, rerr := sr.Next()
			switch {
			case errors.Is(rerr, ErrEventTooLarge):
				return
			case rerr != nil:
				evs, err = dec.End(evs[:0])
				ended = true
			case ev.Comment:
				continue
			default:
				evs, err = dec.Decode(ev.Name, ev.Data, evs[:0])
			}
			if err != nil && !errors.Is(err, ErrBadEvent) {
				if !errors.As(err, &failure) {
					t.Fatalf("error %v is neither an *Error nor ErrBadEvent", err)
				}
			}
			for i := range evs {
				checker.check(&evs[i])
				out = enc.Encode(out, &evs[i])
			}
		}
		if failure != nil {
			out = enc.Fail(out, failure)
		}
		accumulate(t, parseFrames(t, out))
	})
}
