package dialect

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// wantFieldError checks that err is a 400 naming param.
func wantFieldError(t *testing.T, err error, param string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a 400 naming %s", err, param)
	}
	if e.Status != http.StatusBadRequest || e.Param != param {
		t.Fatalf("got %d naming %q (%s), want 400 naming %q", e.Status, e.Param, e.Message, param)
	}
	if !strings.HasPrefix(e.Message, param+": ") {
		t.Errorf("message %q does not name %s", e.Message, param)
	}
}

func TestDecodeChatRequestRefuses(t *testing.T) {
	tests := []struct {
		name, body, param string
	}{
		{"n above 1", `{"messages":[{"role":"user","content":"hi"}],"n":2}`, "n"},
		{"input audio", `{"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"input_audio","input_audio":{"data":"AAA=","format":"wav"}}]}]}`, "messages[0].content[1].type"},
		{"file part", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"f"}}]}]}`, "messages[0].content[0].type"},
		{"unknown part", `{"messages":[{"role":"user","content":[{"type":"video"}]}]}`, "messages[0].content[0].type"},
		{"image without url", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, "messages[0].content[0].image_url.url"},
		{"audio output", `{"messages":[{"role":"user","content":"hi"}],"audio":{"voice":"alloy","format":"wav"}}`, "audio"},
		{"audio modality", `{"messages":[{"role":"user","content":"hi"}],"modalities":["text","audio"]}`, "modalities"},
		{"legacy functions", `{"messages":[{"role":"user","content":"hi"}],"functions":[{"name":"f"}]}`, "functions"},
		{"function role", `{"messages":[{"role":"function","name":"f","content":"x"}]}`, "messages[0].role"},
		{"no role", `{"messages":[{"content":"x"}]}`, "messages[0].role"},
		{"tool without id", `{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"x"}]}`, "messages[1].tool_call_id"},
		{"tool call without id", `{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[0].tool_calls[0].id"},
		{"tool calls on a user", `{"messages":[{"role":"user","content":"x","tool_calls":[{"id":"a","type":"function","function":{"name":"f"}}]}]}`, "messages[0].tool_calls"},
		{"image in system", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "messages[0].content[0]"},
		{"refusal from a user", `{"messages":[{"role":"user","content":[{"type":"refusal","refusal":"no"}]}]}`, "messages[0].content[0]"},
		{"max_tokens a string", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":"100"}`, "max_tokens"},
		{"max_tokens zero", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, "max_tokens"},
		{"max_completion_tokens huge", `{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":99999999}`, "max_completion_tokens"},
		{"temperature a string", `{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}`, "temperature"},
		{"stop a number", `{"messages":[{"role":"user","content":"hi"}],"stop":[1]}`, "stop[0]"},
		{"no messages", `{"model":"m"}`, "messages"},
		{"messages an object", `{"messages":{}}`, "messages"},
		{"tool_choice unknown", `{"messages":[{"role":"user","content":"hi"}],"tool_choice":"sometimes"}`, "tool_choice"},
		{"tool_choice function without name", `{"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"function","function":{}}}`, "tool_choice.function.name"},
		{"reasoning effort unknown", `{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"max"}`, "reasoning_effort"},
		{"response format unknown", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}}`, "response_format.type"},
		{"json_schema without schema", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema"}}`, "response_format.json_schema"},
		{"tool without name", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"description":"x"}}]}`, "tools[0].function.name"},
		{"tool parameters an array", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]}`, "tools[0].function.parameters"},
		{"a body that is an array", `[]`, "body"},
		{"broken JSON inside", `{"messages":[{"role":"user","content":"hi"}],"x":tru}`, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeChatRequest([]byte(tt.body))
			wantFieldError(t, err, tt.param)
		})
	}
}

func TestDecodeChatRequest(t *testing.T) {
	body := `{"model":"m","messages":[
		{"role":"developer","content":"be brief"},
		{"role":"user","content":"hi"},
		{"role":"assistant","content":"","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"b","type":"function","function":{"name":"g","arguments":{"x":1}}}]},
		{"role":"tool","tool_call_id":"a","content":"1"},
		{"role":"tool","tool_call_id":"b","content":[{"type":"text","text":"2"}]},
		{"role":"system","content":"later instruction"},
		{"role":"user","content":"ok"}],
		"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}},{"type":"web_search"}],
		"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"g"}}]}},
		"stream":true,"stream_options":{"include_usage":true},"max_tokens":10,"stop":"x","user":"u","seed":1,"logprobs":true,"n":1}`
	req, err := decodeChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(req.System) != 1 || req.System[0].Text != "be brief" {
		t.Errorf("system: %+v", req.System)
	}
	roles := ""
	for _, m := range req.Messages {
		roles += m.Role.String()[:1]
	}
	if roles != "uausu" {
		t.Errorf("roles %q, want uausu (tool messages become one user turn)", roles)
	}
	if res := req.Messages[2].Content; len(res) != 2 || res[0].ID != "a" || res[1].ID != "b" || res[1].Content[0].Text != "2" {
		t.Errorf("tool results: %+v", res)
	}
	if in := req.Messages[1].Content[1].Input; in != `{"x":1}` {
		t.Errorf("object arguments read as %q", in)
	}
	if len(req.Tools) != 1 || req.Tools[0].Name != "g" || req.Choice.Mode != ChoiceAny {
		t.Errorf("allowed_tools: tools %+v, choice %+v", req.Tools, req.Choice)
	}
	if len(req.Dropped) != 1 || req.Dropped[0] != "tools[2] (web_search)" {
		t.Errorf("dropped %v", req.Dropped)
	}
	if !req.Stream || !req.IncludeUsage || req.MaxTokens != 10 || req.User != "u" || len(req.Stop) != 1 {
		t.Errorf("settings: %+v", req)
	}
}

func TestEncodeChatRequestEffort(t *testing.T) {
	tests := []struct {
		r    Reasoning
		want string
	}{
		{Reasoning{}, ""},
		{Reasoning{Effort: "low"}, "low"},
		{Reasoning{Budget: 1024}, "low"},
		{Reasoning{Budget: 8000}, "medium"},
		{Reasoning{Budget: 32000}, "high"},
		{Reasoning{Effort: "high", Off: true}, ""},
		{Reasoning{Budget: 5000, Off: true}, ""},
	}
	for _, tt := range tests {
		req := &Request{Messages: []Message{{Role: User, Content: []Block{{Kind: Text, Text: "x"}}}}, Reasoning: tt.r}
		out, _ := encodeChatRequest(req, "m")
		var doc struct {
			Effort *string `json:"reasoning_effort"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		got := ""
		if doc.Effort != nil {
			got = *doc.Effort
		}
		if got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestEncodeChatRequestOrphanResult(t *testing.T) {
	// A tool result with no call before it still reaches the upstream
	// (which will say what is wrong), in place.
	req := &Request{Messages: []Message{{Role: User, Content: []Block{
		{Kind: ToolResult, ID: "x", Content: []Block{{Kind: Image, MediaType: "image/png", Data: "AA=="}}},
		{Kind: Text, Text: "hi"}}}}}
	out, _ := encodeChatRequest(req, "m")
	want := `{"model":"m","messages":[{"role":"tool","content":"The tool returned an image; it follows in the next message.","tool_call_id":"x"},` +
		`{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"user","content":"hi"}]}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

// decodeAll runs a stream body through a decoder, returning the events
// and the error that ended it (from Decode or End).
func decodeAll(d Decoder, events []string) ([]Event, error) {
	var out []Event
	var err error
	for _, data := range events {
		name := ""
		if i := strings.Index(data, "\n"); i >= 0 && strings.HasPrefix(data, "event:") {
			name, data = strings.TrimSpace(data[6:i]), data[i+1:]
		}
		out, err = d.Decode([]byte(name), []byte(data), out)
		if err != nil && !errors.Is(err, ErrBadEvent) {
			return out, err
		}
	}
	return d.End(out)
}

func TestChatDecoder(t *testing.T) {
	chunk := func(delta string) string {
		return `{"id":"c1","model":"m","created":5,"choices":[{"index":0,"delta":` + delta + `,"finish_reason":null}]}`
	}
	tests := []struct {
		name   string
		events []string
		want   string // dumpEvents of the answer
		err    error
	}{
		{"done before anything", []string{"[DONE]"}, "", ErrIncomplete},
		{"nothing at all", nil, "", ErrIncomplete},
		{"bad event dropped", []string{`{"id":`, chunk(`{"content":"a"}`), `{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`},
			"start id=\"c1\" model=\"m\" created=5 usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\nblock_start 0 text\ndelta 0 \"a\"\nblock_stop 0\nstop end_turn seq=\"\" usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\n", nil},
		{"usage chunk only ends it", []string{chunk(`{"content":"a"}`), `{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`},
			"start id=\"c1\" model=\"m\" created=5 usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\nblock_start 0 text\ndelta 0 \"a\"\nusage {Prompt:1 Completion:2 Total:3 Cached:0 CacheWrite:0 Reasoning:0}\nblock_stop 0\nstop end_turn seq=\"\" usage={Prompt:1 Completion:2 Total:3 Cached:0 CacheWrite:0 Reasoning:0}\n", nil},
		{"usage on every chunk does not end it", []string{
			`{"id":"c1","model":"m","created":5,"choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`},
			"", ErrIncomplete},
		{"tool calls interleaved", []string{
			chunk(`{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}`),
			chunk(`{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{"}}]}`),
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}`)},
			"", errors.New("interleaved")},
		{"calls without index", []string{
			chunk(`{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{\"x\":"}}]}`),
			chunk(`{"tool_calls":[{"function":{"arguments":"1}"}}]}`),
			chunk(`{"tool_calls":[{"id":"b","function":{"name":"g","arguments":"{}"}}]}`),
			`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`, "[DONE]"},
			"start id=\"c1\" model=\"m\" created=5 usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\n" +
				"block_start 0 tool_call id=\"a\" name=\"f\"\ndelta 0 \"{\\\"x\\\":\"\ndelta 0 \"1}\"\nblock_stop 0\n" +
				"block_start 1 tool_call id=\"b\" name=\"g\"\ndelta 1 \"{}\"\nblock_stop 1\n" +
				"stop tool_use seq=\"\" usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\n", nil},
		{"other choices ignored", []string{
			`{"id":"c1","model":"m","created":5,"choices":[{"index":1,"delta":{"content":"x"}},{"index":0,"delta":{"content":"y"},"finish_reason":"stop"}]}`, "[DONE]"},
			"start id=\"c1\" model=\"m\" created=5 usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\nblock_start 0 text\ndelta 0 \"y\"\nblock_stop 0\nstop end_turn seq=\"\" usage={Prompt:0 Completion:0 Total:0 Cached:0 CacheWrite:0 Reasoning:0}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := decodeAll(&chatDecoder{}, tt.events)
			switch {
			case tt.err == nil && err != nil:
				t.Fatalf("error %v", err)
			case tt.err != nil && err == nil:
				t.Fatalf("no error, want %v", tt.err)
			case tt.err != nil && !errors.Is(err, tt.err) && !strings.Contains(err.Error(), tt.err.Error()):
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

func TestChatDecoderErrorChunk(t *testing.T) {
	tests := []struct {
		chunk  string
		status int
	}{
		{`{"error":{"message":"slow down","type":"rate_limit_exceeded","code":"rate_limit_exceeded"}}`, 429},
		{`{"error":{"message":"boom","type":"server_error","code":null}}`, 500},
		{`{"error":{"message":"??"}}`, 502},
		{`{"error":"plain text"}`, 502},
	}
	for _, tt := range tests {
		_, err := (&chatDecoder{}).Decode(nil, []byte(tt.chunk), nil)
		var e *Error
		if !errors.As(err, &e) || e.Status != tt.status || e.Message == "" || e.BodyDialect != Chat {
			t.Errorf("%s: got %#v, want an *Error with status %d", tt.chunk, err, tt.status)
		}
	}
}

func TestChatEncoder(t *testing.T) {
	evs := []Event{
		{Kind: EvStart, ID: "msg_1", Model: "m", Created: 9},
		{Kind: EvBlockStart, Index: 0, Block: Block{Kind: RedactedThinking, Data: "xx"}},
		{Kind: EvBlockStop, Index: 0},
		{Kind: EvBlockStart, Index: 1, Block: Block{Kind: Text}},
		{Kind: EvDelta, Index: 1, Text: ""},
		{Kind: EvDelta, Index: 1, Text: "hi"},
		{Kind: EvBlockStop, Index: 1},
		{Kind: EvStop, Stop: StopEnd, Usage: Usage{Prompt: 1, Completion: 1}},
	}
	want := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":9,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":9,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":9,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}` + "\n\n" +
		"data: [DONE]\n\n"
	e := NewEncoder(Chat, &Request{})
	var out []byte
	for i := range evs {
		out = e.Encode(out, &evs[i])
	}
	if string(out) != want {
		t.Errorf("without include_usage:\ngot  %s\nwant %s", out, want)
	}

	fail := NewEncoder(Chat, nil).Fail(nil, &Error{Status: 529, Message: "Overloaded", Body: []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`), BodyDialect: Messages})
	if !strings.HasPrefix(string(fail), `data: {"error":`) || strings.Contains(string(fail), "[DONE]") || !strings.HasSuffix(string(fail), "\n\n") {
		t.Errorf("Fail wrote %q", fail)
	}
	var doc struct {
		Error struct{ Type, Message string }
	}
	json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(string(fail)), "data: ")), &doc)
	if doc.Error.Type != "server_error" || doc.Error.Message != "Overloaded" {
		t.Errorf("Fail error %+v", doc.Error)
	}
}

func TestDecodeChatResponseRefuses(t *testing.T) {
	for _, body := range []string{`[]`, `{"choices":[]}`, `{"id":"x"}`, `{"choices":[{"message":{}}]} x`} {
		_, err := decodeChatResponse([]byte(body))
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadGateway {
			t.Errorf("%s: got %v, want a 502", body, err)
		}
	}
	_, err := decodeChatResponse([]byte(`{"error":{"message":"quota","type":"insufficient_quota"}}`))
	var e *Error
	if !errors.As(err, &e) || e.Message != "quota" {
		t.Errorf("error answer: got %v", err)
	}
}

// FuzzChatRequest: any body gives a translated request or a 400 naming a
// field, never a panic; encoding what was decoded is stable (decoding the
// chat encoding and encoding it again gives the same bytes).
func FuzzChatRequest(f *testing.F) {
	addSeeds(f, "testdata/req/*.chat.json")
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"a","type":"custom","custom":{"name":"p","input":"x"}}]},{"role":"tool","tool_call_id":"a","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}],"tools":[{"type":"custom","custom":{"name":"p"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := ScanObject(body); err != nil {
			t.Skip("the proxy refuses what ScanObject refuses before any decoder runs")
		}
		req, err := decodeChatRequest(body)
		if err != nil {
			checkRequestError(t, err)
			return
		}
		if out, err := encodeMessagesRequest(req, "m"); err != nil {
			checkRequestError(t, err)
		} else if !json.Valid(out) {
			t.Fatalf("Messages request is not JSON: %s", out)
		}
		out, err := encodeChatRequest(req, "m")
		if err != nil || !json.Valid(out) {
			t.Fatalf("chat request %s, %v", out, err)
		}
		req2, err := decodeChatRequest(out)
		if err != nil {
			t.Fatalf("own encoding refused: %v\n%s", err, out)
		}
		out2, _ := encodeChatRequest(req2, "m")
		if !bytes.Equal(out, out2) {
			t.Fatalf("encoding not stable: %s", around(out, out2))
		}
	})
}

// FuzzChatResponse: any answer gives a translated answer or a 502, and
// the Messages answer reads back the same.
func FuzzChatResponse(f *testing.F) {
	addSeeds(f, "testdata/answer/*.chat.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := decodeChatResponse(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 {
				t.Fatalf("got %v", err)
			}
			return
		}
		out := encodeMessagesResponse(resp)
		back, err := decodeMessagesResponse(out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(back.Content) != len(resp.Content) || back.Stop != resp.Stop {
			t.Fatalf("%+v\nread back as\n%+v", resp, back)
		}
		if c := encodeChatResponse(resp); !json.Valid(c) {
			t.Fatalf("chat answer %s", c)
		}
	})
}

// FuzzChatStream: any upstream chat stream translates for a Messages
// client without panics, as a well-formed event sequence that a Messages
// client reads as the same answer.
func FuzzChatStream(f *testing.F) {
	addSeeds(f, "testdata/stream/*.chat.sse")
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzStream(t, body, Chat, Messages)
	})
}

func TestCustomInputRoundTrip(t *testing.T) {
	for _, text := range []string{"", "*** Begin Patch\n*** End Patch\n", `quotes " and \ slashes`, "中文"} {
		got, ok := customText(wrapCustomInput(text))
		if !ok || got != text {
			t.Errorf("%q: got %q, %v", text, got, ok)
		}
	}
	for _, args := range []string{"", "{}", `{"input":1}`, `{"other":"x"}`, `["input"]`, `{"input":"x"} trailing`} {
		if _, ok := customText(args); ok {
			t.Errorf("%q read as a custom input", args)
		}
	}
}
