package proxy

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"catfish/engine/dialect"
)

// A broken passthrough Responses stream ended with an error event that
// lacked the nested "error" member the translated route sends: openai-node
// (6.x) throws an APIError for an event only when data.error is set, so a
// client iterating the raw stream saw it end without an error
// (e2e/tests/openai-dialects.test.mjs found it).
func TestResponsesPassthroughFailureHasNestedError(t *testing.T) {
	e := &dialect.Error{Status: 502, Type: "upstream_error", Code: "stream_broken", Message: `the upstream stream broke ("EOF")`}
	out := string(appendResponsesFailure(nil, "resp_1", 7, e))
	events := strings.Split(strings.TrimSpace(out), "\n\n")
	if len(events) != 2 || !strings.HasPrefix(events[0], "event: response.failed\n") || !strings.HasPrefix(events[1], "event: error\n") {
		t.Fatalf("got events %q, want response.failed then error", out)
	}
	var failed struct {
		Type     string `json:"type"`
		Seq      int64  `json:"sequence_number"`
		Response struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Error  struct{ Code, Message string }
		} `json:"response"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(events[0], "event: response.failed\ndata: ")), &failed); err != nil {
		t.Fatalf("response.failed is not JSON: %v: %s", err, events[0])
	}
	if failed.Seq != 8 || failed.Response.ID != "resp_1" || failed.Response.Status != "failed" ||
		failed.Response.Error.Code != "stream_broken" || failed.Response.Error.Message != e.Message {
		t.Errorf("response.failed = %+v", failed)
	}
	var ev struct {
		Type    string  `json:"type"`
		Seq     int64   `json:"sequence_number"`
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Param   *string `json:"param"`
		Error   *struct {
			Type, Code, Message string
			Param               *string
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(events[1], "event: error\ndata: ")), &ev); err != nil {
		t.Fatalf("error event is not JSON: %v: %s", err, events[1])
	}
	if ev.Type != "error" || ev.Seq != 9 || ev.Code != "stream_broken" || ev.Message != e.Message {
		t.Errorf("error event = %+v", ev)
	}
	if ev.Error == nil {
		t.Fatalf("error event has no nested error member: %s", events[1])
	}
	if ev.Error.Type != "upstream_error" || ev.Error.Code != "stream_broken" || ev.Error.Message != e.Message {
		t.Errorf("nested error = %+v, want type upstream_error, code stream_broken, message %q", *ev.Error, e.Message)
	}

	// Catfish's own failure without a type or code still names both.
	out = string(appendResponsesFailure(nil, "resp_2", 0, &dialect.Error{Status: 502, Message: "idle"}))
	if !strings.Contains(out, `"error":{"type":"server_error","code":"server_error","message":"idle","param":null}`) {
		t.Errorf("defaults: %s", out)
	}
}

// A Responses stream that passes through is followed on the side when
// continuation is on (SPEC 11): what the client has is a transcript that
// may be resumed, with the sequence number of the last event it got.
func TestResponsesPassFollowsTheStream(t *testing.T) {
	ev := func(typ string, seq int, rest string) [2]string {
		return [2]string{typ, `{"type":"` + typ + `","sequence_number":` + strconv.Itoa(seq) + rest + `}`}
	}
	head := [][2]string{
		ev("response.created", 0, `,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-x","output":[]}`),
		ev("response.in_progress", 1, `,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-x","output":[]}`),
	}
	message := ev("response.output_item.added", 2, `,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}`)
	part := ev("response.content_part.added", 3, `,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}`)
	delta := ev("response.output_text.delta", 4, `,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"`)
	for _, tt := range []struct {
		name   string
		follow bool
		events [][2]string
		want   string // the transcript's text; "-" when it may not be resumed
		seq    int64
	}{
		{"text sent", true, append(head, message, part, delta), "Hi", 4},
		{"the message's part announced, no text yet", true, append(head, message, part), "", 3},
		{"continuation off", false, append(head, message, part, delta), "-", 0},
		{"an item announced without its part", true, append(head, message), "-", 0},
		{"a failure is not what the client has", true, append(head, message, part, delta,
			ev("response.failed", 5, `,"response":{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"x"}}`)), "Hi", 4},
		{"a tool call in flight", true, append(head,
			ev("response.output_item.added", 2, `,"output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"call_1","name":"f","arguments":""}`),
			ev("response.function_call_arguments.delta", 3, `,"item_id":"fc_1","output_index":0,"delta":"{\"a"`),
			ev("response.output_item.done", 4, `,"output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"call_1","name":"f","arguments":"{\"a\":1}"}`)), "-", 0},
		{"a hosted tool's item before the text", true, append(head,
			ev("response.output_item.added", 2, `,"output_index":0,"item":{"id":"ws_1","type":"web_search_call","status":"in_progress"}`),
			ev("response.output_item.done", 3, `,"output_index":0,"item":{"id":"ws_1","type":"web_search_call","status":"completed"}`),
			ev("response.output_item.added", 4, `,"output_index":1,"item":{"id":"msg_1","type":"message","content":[]}`),
			ev("response.content_part.added", 5, `,"item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","text":""}`),
			ev("response.output_text.delta", 6, `,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"Hi"`)), "-", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &responsesPass{}
			if tt.follow {
				r.sh = &shadow{dec: dialect.NewDecoder(dialect.Responses)}
			}
			for _, e := range tt.events {
				r.feed([]byte(e[0]), []byte(e[1]), nil)
			}
			tr := r.transcript()
			switch {
			case tt.want == "-":
				if tr != nil && tr.continuable() {
					t.Fatalf("a transcript to resume, with %q", tr.text.String())
				}
			case tr == nil || !tr.continuable():
				t.Fatalf("no transcript to resume (%v)", tr)
			case tr.text.String() != tt.want || tr.seq != tt.seq || tr.start == nil || tr.start.ID != "resp_1" || !tr.start.KeepID:
				t.Errorf("transcript %q, seq %d, start %+v; want %q, %d, resp_1 kept", tr.text.String(), tr.seq, tr.start, tt.want, tt.seq)
			}
		})
	}
}

// A Messages stream that passes through with a server tool's block
// before its text is not resumed: the client numbered that block, an
// encoder resuming the stream would not.
func TestMessagesPassWithAServerToolIsNotResumed(t *testing.T) {
	start := [2]string{"message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}`}
	text := [][2]string{
		{"content_block_start", `{"type":"content_block_start","index":IDX,"content_block":{"type":"text","text":""}}`},
		{"content_block_delta", `{"type":"content_block_delta","index":IDX,"delta":{"type":"text_delta","text":"Hi"}}`},
	}
	server := [][2]string{
		{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}`},
		{"content_block_stop", `{"type":"content_block_stop","index":0}`},
	}
	for _, tt := range []struct {
		name   string
		events [][2]string
		idx    string
		resume bool
	}{
		{"text only", append([][2]string{start}, text...), "0", true},
		{"a server tool's block first", append(append([][2]string{start}, server...), text...), "1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &messagesPass{sh: &shadow{dec: dialect.NewDecoder(dialect.Messages)}}
			for _, e := range tt.events {
				if _, _, err := m.feed([]byte(e[0]), []byte(strings.ReplaceAll(e[1], "IDX", tt.idx)), nil); err != nil {
					t.Fatal(err)
				}
			}
			tr := m.transcript()
			if got := tr != nil && tr.continuable(); got != tt.resume {
				t.Fatalf("resumable %v, want %v", got, tt.resume)
			}
			if tt.resume && tr.text.String() != "Hi" {
				t.Errorf("transcript text %q", tr.text.String())
			}
		})
	}
}
