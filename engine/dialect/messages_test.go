package dialect

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeMessagesRequestRefuses(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	call := `{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]}`
	tests := []struct {
		name, body, param string
	}{
		{"unknown field", `{"max_tokens":10,"messages":[` + user + `],"frobnicate":true}`, "frobnicate"},
		{"no max_tokens", `{"messages":[` + user + `]}`, "max_tokens"},
		{"max_tokens null", `{"max_tokens":null,"messages":[` + user + `]}`, "max_tokens"},
		{"max_tokens zero", `{"max_tokens":0,"messages":[` + user + `]}`, "max_tokens"},
		{"max_tokens too large", `{"max_tokens":2000000,"messages":[` + user + `]}`, "max_tokens"},
		{"max_tokens fractional", `{"max_tokens":10.5,"messages":[` + user + `]}`, "max_tokens"},
		{"no messages", `{"max_tokens":10,"messages":[]}`, "messages"},
		{"bad role", `{"max_tokens":10,"messages":[{"role":"tool","content":"x"}]}`, "messages[0].role"},
		{"no content", `{"max_tokens":10,"messages":[{"role":"user"}]}`, "messages[0].content"},
		{"tool_result without a call", `{"max_tokens":10,"messages":[` + user + `,{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":"x"}]}]}`,
			"messages[2].content[0].tool_use_id"},
		{"tool_result for an older turn", `{"max_tokens":10,"messages":[` + user + `,` + call + `,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1"}]},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"tool_result","tool_use_id":"toolu_1"}]}]}`,
			"messages[4].content[1].tool_use_id"},
		{"tool_use in a user turn", `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]}]}`, "messages[0].content[0].type"},
		{"thinking in a user turn", `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"thinking","thinking":"x","signature":"s"}]}]}`, "messages[0].content[0].type"},
		{"tool_result in an assistant turn", `{"max_tokens":10,"messages":[` + user + `,{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"a"}]}]}`, "messages[1].content[0].type"},
		{"image in a system entry", `{"max_tokens":10,"messages":[` + user + `,{"role":"system","content":[{"type":"image","source":{"type":"url","url":"https://x"}}]}]}`, "messages[1].content[0].type"},
		{"unknown block", `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"hologram"}]}]}`, "messages[0].content[0].type"},
		{"tool_use input not an object", `{"max_tokens":10,"messages":[` + user + `,{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":"x"}]}]}`, "messages[1].content[0].input"},
		{"tool_use without id", `{"max_tokens":10,"messages":[` + user + `,{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]}`, "messages[1].content[0].id"},
		{"pdf document", `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]}]}`, "messages[0].content[0].source.type"},
		{"pdf inside a tool result", `{"max_tokens":10,"messages":[` + user + `,` + call + `,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"document","source":{"type":"file","file_id":"f"}}]}]}]}`,
			"messages[2].content[0].content[0].source.type"},
		{"image from the files API", `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}`, "messages[0].content[0].source.type"},
		{"image without source", `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"image"}]}]}`, "messages[0].content[0].source"},
		{"system with an image", `{"max_tokens":10,"system":[{"type":"image"}],"messages":[` + user + `]}`, "system[0].type"},
		{"thinking unknown", `{"max_tokens":10,"thinking":{"type":"always"},"messages":[` + user + `]}`, "thinking.type"},
		{"thinking without budget", `{"max_tokens":10,"thinking":{"type":"enabled"},"messages":[` + user + `]}`, "thinking.budget_tokens"},
		{"effort unknown", `{"max_tokens":10,"output_config":{"effort":"extreme"},"messages":[` + user + `]}`, "output_config.effort"},
		{"format not json_schema", `{"max_tokens":10,"output_config":{"format":{"type":"regex"}},"messages":[` + user + `]}`, "output_config.format.type"},
		{"format without schema", `{"max_tokens":10,"output_format":{"type":"json_schema"},"messages":[` + user + `]}`, "output_format.schema"},
		{"tool_choice tool without name", `{"max_tokens":10,"tool_choice":{"type":"tool"},"messages":[` + user + `]}`, "tool_choice.name"},
		{"tool without name", `{"max_tokens":10,"tools":[{"input_schema":{"type":"object"}}],"messages":[` + user + `]}`, "tools[0].name"},
		{"stop_sequences not strings", `{"max_tokens":10,"stop_sequences":[1],"messages":[` + user + `]}`, "stop_sequences[0]"},
		{"temperature a string", `{"max_tokens":10,"temperature":"x","messages":[` + user + `]}`, "temperature"},
		{"text not a string", `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}`, "messages[0].content[0].text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeMessagesRequest([]byte(tt.body))
			wantFieldError(t, err, tt.param)
		})
	}
}

func TestDecodeMessagesRequestHandmade(t *testing.T) {
	body, err := os.ReadFile("testdata/req/handmade.messages.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := decodeMessagesRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	wantDropped := []string{"messages[1].content[2] (server_tool_use)", "messages[1].content[3] (web_search_tool_result)",
		"tools[2] (web_search_20250305)", "mcp_servers"}
	if !reflect.DeepEqual(req.Dropped, wantDropped) {
		t.Errorf("dropped %q, want %q", req.Dropped, wantDropped)
	}
	r := req.Reasoning
	if r.Budget != 4000 || r.Effort != "xhigh" || r.Off || !r.Summary {
		t.Errorf("reasoning %+v", r)
	}
	if req.Parallel == nil || *req.Parallel || req.Choice.Mode != ChoiceAny {
		t.Errorf("tool choice %+v parallel %v", req.Choice, req.Parallel)
	}
	if len(req.Messages) != 6 || req.Messages[2].Role != System {
		t.Errorf("turns: %d, third %v", len(req.Messages), req.Messages[2].Role)
	}
	var tools []string
	for _, tl := range req.Tools {
		tools = append(tools, tl.Name)
	}
	// The placeholder is deferred and never loaded; screenshot is deferred
	// but was called; mcp__fake__search was loaded by a tool_reference.
	if want := []string{"read", "screenshot", "noop", "mcp__fake__search"}; !reflect.DeepEqual(tools, want) {
		t.Errorf("tools %q, want %q", tools, want)
	}
	unsigned := req.Messages[4].Content[0]
	if unsigned.Kind != Thinking || unsigned.Signature != "" {
		t.Errorf("unsigned thinking read as %+v", unsigned)
	}
}

func TestDecodeMessagesRequestClaudeCode(t *testing.T) {
	body, err := os.ReadFile("testdata/req/cc-tool-result.messages.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := decodeMessagesRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Dropped) != 0 {
		t.Errorf("dropped %v", req.Dropped)
	}
	if req.Reasoning.Effort != "medium" || req.Reasoning.Summary || req.MaxTokens != 128000 || !req.Stream {
		t.Errorf("settings %+v max %d", req.Reasoning, req.MaxTokens)
	}
	// The role:"system" entry between turns stays a system turn.
	if req.Messages[1].Role != System {
		t.Errorf("second turn is %v", req.Messages[1].Role)
	}
	if len(req.System) != 3 {
		t.Errorf("%d system blocks", len(req.System))
	}
}

// messagesOut decodes an encoded Messages request for inspection.
type messagesOut struct {
	MaxTokens int `json:"max_tokens"`
	Thinking  *struct {
		Type   string `json:"type"`
		Budget int    `json:"budget_tokens"`
	} `json:"thinking"`
	Temperature *float64 `json:"temperature"`
	Messages    []struct {
		Role    string `json:"role"`
		Content []struct {
			Type      string `json:"type"`
			Text      string `json:"text"`
			ID        string `json:"id"`
			ToolUseID string `json:"tool_use_id"`
		} `json:"content"`
	} `json:"messages"`
}

func encodeMessagesOut(t *testing.T, req *Request) messagesOut {
	t.Helper()
	out, err := encodeMessagesRequest(req, "m")
	if err != nil {
		t.Fatal(err)
	}
	var doc messagesOut
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return doc
}

func text(s string) Block { return Block{Kind: Text, Text: s} }

func TestEncodeMessagesRequestThinking(t *testing.T) {
	user := Message{Role: User, Content: []Block{text("hi")}}
	call := Block{Kind: ToolCall, ID: "c1", Name: "f", Input: "{}"}
	result := Message{Role: User, Content: []Block{{Kind: ToolResult, ID: "c1", Content: []Block{text("1")}}}}
	signed := Block{Kind: Thinking, Text: "t", Signature: "sig"}
	temp := 0.3
	tests := []struct {
		name      string
		req       Request
		budget    int // 0: thinking off
		maxTokens int
	}{
		{"effort only", Request{Messages: []Message{user}, Reasoning: Reasoning{Effort: "medium"}}, 8192, DefaultMaxTokens},
		{"budget below the minimum", Request{Messages: []Message{user}, Reasoning: Reasoning{Budget: 100}, MaxTokens: 500}, 1024, 1524},
		{"budget above max_tokens", Request{Messages: []Message{user}, Reasoning: Reasoning{Budget: 5000}, MaxTokens: 4000}, 5000, 9000},
		{"off", Request{Messages: []Message{user}, Reasoning: Reasoning{Effort: "high", Off: true}, Temperature: &temp}, 0, DefaultMaxTokens},
		{"tool use without signed thinking", Request{Messages: []Message{user, {Role: Assistant, Content: []Block{call}}, result},
			Reasoning: Reasoning{Effort: "high"}, Temperature: &temp}, 0, DefaultMaxTokens},
		{"tool use with signed thinking", Request{Messages: []Message{user, {Role: Assistant, Content: []Block{signed, call}}, result},
			Reasoning: Reasoning{Effort: "high"}, Temperature: &temp}, 16384, DefaultMaxTokens},
		{"tool use with unsigned thinking", Request{Messages: []Message{user, {Role: Assistant, Content: []Block{{Kind: Thinking, Text: "t"}, call}}, result},
			Reasoning: Reasoning{Budget: 2000}}, 0, DefaultMaxTokens},
		{"prefill", Request{Messages: []Message{user, {Role: Assistant, Content: []Block{text("Sure")}}}, Reasoning: Reasoning{Budget: 2000}}, 0, DefaultMaxTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := encodeMessagesOut(t, &tt.req)
			switch {
			case tt.budget == 0 && doc.Thinking != nil:
				t.Errorf("thinking %+v, want none", doc.Thinking)
			case tt.budget != 0 && (doc.Thinking == nil || doc.Thinking.Type != "enabled" || doc.Thinking.Budget != tt.budget):
				t.Errorf("thinking %+v, want budget %d", doc.Thinking, tt.budget)
			}
			if doc.MaxTokens != tt.maxTokens {
				t.Errorf("max_tokens %d, want %d", doc.MaxTokens, tt.maxTokens)
			}
			if tt.req.Temperature != nil && (doc.Temperature != nil) == (doc.Thinking != nil) {
				t.Errorf("temperature %v with thinking %v", doc.Temperature, doc.Thinking)
			}
		})
	}
}

func TestEncodeMessagesRequestTurns(t *testing.T) {
	req := &Request{Messages: []Message{
		{Role: System, Content: []Block{text("before anything")}},
		{Role: User, Content: []Block{text("a")}},
		{Role: User, Content: []Block{text("b")}},
		{Role: Assistant, Content: []Block{{Kind: Thinking, Text: "unsigned"}}}, // empty once unsigned thinking is gone
		{Role: User, Content: []Block{text("c")}},
		{Role: Assistant, Content: []Block{text("x"), {Kind: ToolCall, ID: "functions.f:0", Name: "f", Input: `{"a":1}`}}},
		{Role: Assistant, Content: []Block{{Kind: ToolCall, ID: "c2", Name: "g", Input: `not json`}}},
		{Role: System, Content: []Block{text("between")}},
		{Role: User, Content: []Block{text("d"), {Kind: ToolResult, ID: "c2"}, {Kind: ToolResult, ID: "functions.f:0", Content: []Block{text("r")}}}},
		{Role: Assistant, Content: []Block{text("prefill  \n")}},
	}}
	doc := encodeMessagesOut(t, req)
	var got []string
	for _, m := range doc.Messages {
		var parts []string
		for _, c := range m.Content {
			parts = append(parts, c.Type+":"+c.Text+c.ID+c.ToolUseID)
		}
		got = append(got, m.Role+" "+strings.Join(parts, ","))
	}
	want := []string{
		"user text:before anything,text:a,text:b,text:c",
		"assistant text:x,tool_use:toolu_functions-2ef-3a0,tool_use:c2",
		"user tool_result:c2,tool_result:toolu_functions-2ef-3a0,text:between,text:d",
		"assistant text:prefill",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("turns\n got %q\nwant %q", got, want)
	}
	out, _ := encodeMessagesRequest(req, "m")
	if !strings.Contains(string(out), `"name":"g","input":{}`) {
		t.Errorf("arguments that are not JSON should become {}: %s", out)
	}
}

func TestEncodeMessagesRequestFormat(t *testing.T) {
	req := &Request{Messages: []Message{{Role: User, Content: []Block{text("x")}}}, Format: []byte(`{"name":"a","strict":false}`)}
	_, err := encodeMessagesRequest(req, "m")
	wantFieldError(t, err, "response_format.json_schema.schema")
	req.Format = []byte(`{"name":"a","schema":{"type":"object"}}`)
	out, err := encodeMessagesRequest(req, "m")
	if err != nil || !strings.Contains(string(out), `"output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}`) {
		t.Errorf("got %s, %v", out, err)
	}
	req.Format = nil
	req.Messages[0].Content = []Block{{Kind: Image, URL: "data:image/png,rawbytes"}}
	_, err = encodeMessagesRequest(req, "m")
	wantFieldError(t, err, "image_url")
}

func TestMessagesDecoderErrors(t *testing.T) {
	tests := []struct {
		typ    string
		status int
	}{
		{"overloaded_error", 529},
		{"rate_limit_error", 429},
		{"api_error", 500},
		{"invalid_request_error", 400},
		{"authentication_error", 401},
		{"permission_error", 403},
		{"not_found_error", 404},
		{"request_too_large", 413},
		{"timeout_error", 504},
		{"something_new", 502},
	}
	for _, tt := range tests {
		d := &messagesDecoder{}
		_, err := d.Decode([]byte("error"), []byte(`{"type":"error","error":{"type":"`+tt.typ+`","message":"m"}}`), nil)
		var e *Error
		if !errors.As(err, &e) || e.Status != tt.status || e.Message != "m" || e.BodyDialect != Messages {
			t.Errorf("%s: got %#v, want status %d", tt.typ, err, tt.status)
		}
	}
	// An error event named only by its SSE event line.
	_, err := (&messagesDecoder{}).Decode([]byte("error"), []byte(`{"error":{"type":"overloaded_error","message":"busy"}}`), nil)
	var e *Error
	if !errors.As(err, &e) || e.Status != 529 {
		t.Errorf("unnamed error: %v", err)
	}
	_, err = (&messagesDecoder{}).Decode(nil, []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}`), nil)
	if !errors.As(err, &e) || e.Code != "context_length_exceeded" {
		t.Errorf("prompt too long: %#v", err)
	}
}

func TestMessagesDecoder(t *testing.T) {
	tests := []struct {
		name   string
		events []string
		want   string
		err    error
	}{
		{"nothing", nil, "", ErrIncomplete},
		{"start only", []string{`{"type":"message_start","message":{"id":"m","model":"x","usage":{"input_tokens":3}}}`}, "", ErrIncomplete},
		{"message_delta without a stop reason", []string{`{"type":"message_start","message":{"id":"m","model":"x"}}`,
			`{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":3}}`}, "", ErrIncomplete},
		{"no message_start, block left open", []string{
			`{"type":"content_block_start","index":5,"content_block":{"type":"text","text":"a"}}`,
			`{"type":"content_block_delta","index":5,"delta":{"type":"text_delta","text":"b"}}`,
			`{"type":"content_block_delta","index":4,"delta":{"type":"text_delta","text":"lost"}}`,
			`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}`,
			`{"type":"message_stop"}`,
			`{"type":"content_block_start","index":6,"content_block":{"type":"text","text":"after the end"}}`},
			"start id=\"\" model=\"\" created=0 usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\n" +
				"block_start 0 text\ndelta 0 \"a\"\ndelta 0 \"b\"\nusage {Prompt:0 Completion:2 Total:2 Cached:0 CacheWrite:0 Reasoning:0}\nblock_stop 0\n" +
				"stop end_turn seq=\"\" usage={Prompt:0 Completion:2 Total:2 Cached:0 CacheWrite:0 Reasoning:0}\n", nil},
		{"tool input whole in the start", []string{
			`{"type":"message_start","message":{"id":"m","model":"x"}}`,
			`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{"a":1}}}`,
			`{"type":"content_block_stop","index":0}`,
			`{"type":"message_delta","delta":{"stop_reason":"tool_use"}}`},
			"start id=\"m\" model=\"x\" created=0 usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\n" +
				"block_start 0 tool_call id=\"t\" name=\"f\"\ndelta 0 \"{\\\"a\\\":1}\"\nblock_stop 0\n" +
				"stop tool_use seq=\"\" usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\n", nil},
		{"usage from message_delta replaces the start's", []string{
			`{"type":"message_start","message":{"id":"m","model":"x","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}`,
			`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":12,"output_tokens":7}}`,
			`{"type":"message_stop"}`},
			"start id=\"m\" model=\"x\" created=0 usage={Prompt:15 Completion:1 Total:16 Cached:5 CacheWrite:0 Reasoning:0}\n" +
				"usage {Prompt:17 Completion:7 Total:24 Cached:5 CacheWrite:0 Reasoning:0}\n" +
				"stop end_turn seq=\"\" usage={Prompt:17 Completion:7 Total:24 Cached:5 CacheWrite:0 Reasoning:0}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := decodeAll(&messagesDecoder{}, tt.events)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if tt.err == nil {
				if got := string(dumpEvents(evs)); got != tt.want {
					t.Errorf("got\n%s\nwant\n%s", got, tt.want)
				}
			}
		})
	}
}

func TestMessagesEncoderFail(t *testing.T) {
	e := NewEncoder(Messages, nil)
	out := e.Encode(nil, &Event{Kind: EvStart, ID: "chatcmpl-1", Model: "m"})
	out = e.Encode(out, &Event{Kind: EvBlockStart, Block: Block{Kind: Text}})
	out = e.Encode(out, &Event{Kind: EvDelta, Text: "a"})
	out = e.Fail(out, ErrIncomplete)
	s := string(out)
	if !strings.HasSuffix(s, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"the upstream stream ended before the answer was complete\"}}\n\n") {
		t.Errorf("stream ends with %q", s[strings.LastIndex(s[:len(s)-2], "\n\n")+2:])
	}
	if strings.Contains(s, "message_stop") {
		t.Error("a failed stream has message_stop")
	}
	if !strings.Contains(s, `"id":"msg_1"`) {
		t.Errorf("message id: %s", s)
	}
	overloaded := e.Fail(nil, &Error{Status: 529, Message: "busy"})
	if !strings.Contains(string(overloaded), `"type":"overloaded_error"`) {
		t.Errorf("529 as %s", overloaded)
	}
}

func TestMessagesEncoderBeforeStart(t *testing.T) {
	// Events before EvStart still make a whole stream, opened first.
	e := NewEncoder(Messages, nil)
	out := e.Encode(nil, &Event{Kind: EvBlockStart, Block: Block{Kind: ToolCall, ID: "call.1", Name: "f"}})
	out = e.Encode(out, &Event{Kind: EvBlockStart, Block: Block{Kind: Text}}) // closes the tool call first
	out = e.Encode(out, &Event{Kind: EvStop, Stop: StopPause})
	out = e.Encode(out, &Event{Kind: EvDelta, Text: "after the end"})
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if n, ok := strings.CutPrefix(line, "event: "); ok {
			names = append(names, n)
		}
	}
	want := "message_start content_block_start content_block_stop content_block_start content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want {
		t.Errorf("events %v", names)
	}
	if !strings.Contains(string(out), `"id":"toolu_call-2e1"`) || !strings.Contains(string(out), `"stop_reason":"pause_turn"`) {
		t.Errorf("stream %s", out)
	}
}

func TestDecodeMessagesResponseErrors(t *testing.T) {
	_, err := decodeMessagesResponse([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	var e *Error
	if !errors.As(err, &e) || e.Status != 529 {
		t.Errorf("error answer: %v", err)
	}
	for _, body := range []string{`"x"`, `{"content":[1]}`, `{"type":"error"}`} {
		if _, err := decodeMessagesResponse([]byte(body)); !errors.As(err, &e) || e.Status != 502 {
			t.Errorf("%s: got %v, want a 502", body, err)
		}
	}
}

// FuzzMessagesRequest: any body gives a translated request or a 400
// naming a field, never a panic; encoding what was decoded is stable, and
// a Messages encoding is a request the decoder accepts.
func FuzzMessagesRequest(f *testing.F) {
	addSeeds(f, "testdata/req/*.messages.json")
	f.Add([]byte(`{"max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"x:1","name":"f","input":{}}]},{"role":"system","content":"s"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"x:1","content":[{"type":"text","text":"r"},{"type":"image","source":{"type":"url","url":"https://i"}}]}]}],"thinking":{"type":"enabled","budget_tokens":9000},"temperature":0.5}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := ScanObject(body); err != nil {
			t.Skip("the proxy refuses what ScanObject refuses before any decoder runs")
		}
		req, err := decodeMessagesRequest(body)
		if err != nil {
			checkRequestError(t, err)
			return
		}
		if out, err := encodeChatRequest(req, "m"); err != nil || !json.Valid(out) {
			t.Fatalf("chat request %s, %v", out, err)
		}
		out, err := encodeMessagesRequest(req, "m")
		if err != nil {
			checkRequestError(t, err)
			return
		}
		req2, err := decodeMessagesRequest(out)
		if err != nil {
			if len(req.Messages) > 0 && blankOnly(req) {
				return // nothing but white space to send
			}
			t.Fatalf("own encoding refused: %v\n%s", err, out)
		}
		req2.User = req.User // metadata is dropped on the way in
		out2, err := encodeMessagesRequest(req2, "m")
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("encoding not stable (%v) %s", err, around(out, out2))
		}
	})
}

// blankOnly reports a conversation with nothing to send but white space.
func blankOnly(r *Request) bool {
	for _, m := range r.Messages {
		for _, b := range m.Content {
			if b.Kind != Text || strings.TrimSpace(b.Text) != "" {
				return false
			}
		}
	}
	return true
}

// FuzzMessagesResponse: any answer gives a translated answer or a 502,
// and the chat answer reads back the same.
func FuzzMessagesResponse(f *testing.F) {
	addSeeds(f, "testdata/answer/*.messages.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := decodeMessagesResponse(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 {
				t.Fatalf("got %v", err)
			}
			return
		}
		resp.Created = 1
		out := encodeChatResponse(resp)
		back, err := decodeChatResponse(out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if hasKind(resp.Content, ToolCall) != hasKind(back.Content, ToolCall) || back.Usage.Prompt != resp.Usage.Prompt {
			t.Fatalf("%+v\nread back as\n%+v", resp, back)
		}
		if m := encodeMessagesResponse(resp); !json.Valid(m) {
			t.Fatalf("Messages answer %s", m)
		}
	})
}

// FuzzMessagesStream: any upstream Messages stream translates for a chat
// client without panics, as a well-formed event sequence that a chat
// client reads as the same answer.
func FuzzMessagesStream(f *testing.F) {
	addSeeds(f, "testdata/stream/*.messages.sse")
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzStream(t, body, Messages, Chat)
	})
}
