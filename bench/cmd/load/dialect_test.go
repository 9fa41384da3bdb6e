package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func ev(name, data string) string {
	if name == "" {
		return "data: " + data + "\n\n"
	}
	return "event: " + name + "\ndata: " + data + "\n\n"
}

func anthropicStream(deltas int, tail ...string) string {
	var b strings.Builder
	b.WriteString(ev("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}`))
	b.WriteString(ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`))
	b.WriteString(ev("ping", `{"type": "ping"}`))
	for i := range deltas {
		b.WriteString(ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"t%d"}}`, i)))
	}
	b.WriteString(ev("content_block_stop", `{"type":"content_block_stop","index":0}`))
	for _, t := range tail {
		b.WriteString(t)
	}
	return b.String()
}

var (
	msgDelta = ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}`)
	msgStop  = ev("message_stop", `{"type":"message_stop"}`)
)

func responsesStream(deltas int, tail ...string) string {
	var b strings.Builder
	seq := 0
	add := func(typ, rest string) {
		b.WriteString(ev(typ, fmt.Sprintf(`{"type":%q,"sequence_number":%d%s}`, typ, seq, rest)))
		seq++
	}
	add("response.created", `,"response":{"status":"in_progress","usage":null}`)
	add("response.in_progress", `,"response":{"status":"in_progress","usage":null}`)
	add("response.output_item.added", `,"output_index":0,"item":{"type":"message"}`)
	for i := range deltas {
		add("response.output_text.delta", fmt.Sprintf(`,"item_id":"m","delta":"t%d"`, i))
	}
	add("response.output_text.done", `,"text":"t"`)
	for _, t := range tail {
		b.WriteString(strings.ReplaceAll(t, "SEQ", fmt.Sprint(seq)))
		seq++
	}
	return b.String()
}

const respCompleted = "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":SEQ,\"response\":{\"status\":\"completed\",\"usage\":{\"input_tokens\":3,\"output_tokens\":7}}}\n\n"

func TestNamedStreams(t *testing.T) {
	*flExpectContent = 3
	defer func() { *flExpectContent = 0 }()
	cases := []struct {
		name, dialect, body, kind string
	}{
		{"messages ok", dialectMessages, anthropicStream(3, msgDelta, msgStop), ""},
		{"messages without message_stop", dialectMessages, anthropicStream(3, msgDelta), "no_end"},
		{"messages with [DONE] after the end", dialectMessages, anthropicStream(3, msgDelta, msgStop, "data: [DONE]\n\n"), "data_after_end"},
		{"messages event line missing", dialectMessages, anthropicStream(3, msgDelta, ev("", `{"type":"message_stop"}`)), "invalid_event"},
		{"messages event line and type differ", dialectMessages, anthropicStream(3, msgDelta, ev("message_stop", `{"type":"message_delta"}`)), "invalid_event"},
		{"messages error event", dialectMessages, anthropicStream(3, ev("error", `{"type":"error","error":{"type":"overloaded_error","message":"x"}}`)), "error_event"},
		{"messages stop without message_delta", dialectMessages, anthropicStream(3, msgStop), "bad_sequence"},
		{"messages usage missing", dialectMessages, anthropicStream(3, ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn"}}`), msgStop), "no_usage"},
		{"messages two content events short", dialectMessages, anthropicStream(2, msgDelta, msgStop), "wrong_content_count"},
		{"messages cut mid-event", dialectMessages, strings.TrimSuffix(anthropicStream(3, msgDelta, msgStop), "\n"), "stream_cut"},
		{"messages bad JSON", dialectMessages, anthropicStream(3, msgDelta, ev("message_stop", `{"type":"message_stop"`)), "invalid_event"},
		{"responses ok", dialectResponses, responsesStream(3, respCompleted), ""},
		{"responses without completed", dialectResponses, responsesStream(3), "no_end"},
		{"responses with [DONE] after completed", dialectResponses, responsesStream(3, respCompleted, "data: [DONE]\n\n"), "data_after_end"},
		{"responses failed", dialectResponses, responsesStream(3, "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":SEQ,\"response\":{\"status\":\"failed\"}}\n\n"), "error_event"},
		{"responses sequence goes back", dialectResponses, responsesStream(3, strings.Replace(respCompleted, "SEQ", "1", 1)), "bad_sequence"},
		{"responses no usage", dialectResponses, responsesStream(3, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":SEQ,\"response\":{\"status\":\"completed\",\"usage\":null}}\n\n"), "no_usage"},
		{"responses content short", dialectResponses, responsesStream(4, respCompleted), "wrong_content_count"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wk := &worker{}
			var chk streamCheck = &messagesCheck{}
			if c.dialect == dialectResponses {
				chk = &responsesCheck{}
			}
			o := wk.readNamedStream(strings.NewReader(c.body), time.Now(), chk)
			if o.kind != c.kind {
				t.Fatalf("kind %q (%s), want %q", o.kind, o.detail, c.kind)
			}
			if c.kind == "" && o.content != 3 {
				t.Fatalf("content events %d, want 3", o.content)
			}
		})
	}
}
