package dialect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testIDs makes ids deterministic for golden files.
func testIDs() func(string) string {
	n := 0
	return func(prefix string) string {
		n++
		return fmt.Sprintf("%s%04d", prefix, n)
	}
}

// golden compares got with testdata/responses/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "responses", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run '%s' -update writes it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %.300s\nwant: %.300s", path, i+1, g, w)
			}
		}
	}
}

func indentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", " "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// ------------------------------------------------------------ request side

// The dump of a Request that golden files hold: kinds and roles by name.
type dumpBlock struct {
	Kind      string          `json:"kind"`
	Text      string          `json:"text,omitempty"`
	URL       string          `json:"url,omitempty"`
	MediaType string          `json:"media_type,omitempty"`
	Data      string          `json:"data,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	RawInput  string          `json:"raw_input,omitempty"`
	Custom    bool            `json:"custom,omitempty"`
	Content   []dumpBlock     `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
	Signature string          `json:"signature,omitempty"`
}

type dumpMessage struct {
	Role    string      `json:"role"`
	Content []dumpBlock `json:"content"`
}

type dumpTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Custom      bool            `json:"custom,omitempty"`
	Format      json.RawMessage `json:"format,omitempty"`
	Namespace   string          `json:"namespace,omitempty"`
}

type dumpRequest struct {
	Model       string          `json:"model,omitempty"`
	System      []dumpBlock     `json:"system,omitempty"`
	Messages    []dumpMessage   `json:"messages,omitempty"`
	Tools       []dumpTool      `json:"tools,omitempty"`
	Choice      string          `json:"tool_choice,omitempty"`
	Parallel    *bool           `json:"parallel_tool_calls,omitempty"`
	MaxTokens   int             `json:"max_tokens,omitempty"`
	Temperature *float64        `json:"temperature,omitempty"`
	TopP        *float64        `json:"top_p,omitempty"`
	Stream      bool            `json:"stream,omitempty"`
	Reasoning   *Reasoning      `json:"reasoning,omitempty"`
	Format      json.RawMessage `json:"format,omitempty"`
	JSONObject  bool            `json:"json_object,omitempty"`
	User        string          `json:"user,omitempty"`
	Dropped     []string        `json:"dropped,omitempty"`
}

func dumpBlocks(bs []Block) []dumpBlock {
	var out []dumpBlock
	for _, b := range bs {
		d := dumpBlock{Kind: b.Kind.String(), Text: b.Text, URL: b.URL, MediaType: b.MediaType, Data: b.Data,
			ID: b.ID, Name: b.Name, Custom: b.Custom, Content: dumpBlocks(b.Content), IsError: b.IsError, Signature: b.Signature}
		if b.Input != "" {
			if json.Valid([]byte(b.Input)) && !b.Custom {
				d.Input = json.RawMessage(b.Input)
			} else {
				d.RawInput = b.Input
			}
		}
		out = append(out, d)
	}
	return out
}

func dumpReq(t *testing.T, r *Request) []byte {
	d := dumpRequest{Model: r.Model, System: dumpBlocks(r.System), Parallel: r.Parallel, MaxTokens: r.MaxTokens,
		Temperature: r.Temperature, TopP: r.TopP, Stream: r.Stream, Format: r.Format, JSONObject: r.JSONObject,
		User: r.User, Dropped: r.Dropped}
	for _, m := range r.Messages {
		d.Messages = append(d.Messages, dumpMessage{Role: m.Role.String(), Content: dumpBlocks(m.Content)})
	}
	for _, tl := range r.Tools {
		d.Tools = append(d.Tools, dumpTool{Name: tl.Name, Description: tl.Description, Schema: tl.Schema, Custom: tl.Custom, Format: tl.Format, Namespace: tl.Namespace})
	}
	if r.Choice.Set {
		d.Choice = [...]string{"auto", "any", "tool", "none"}[r.Choice.Mode]
		if r.Choice.Name != "" {
			d.Choice += ":" + r.Choice.Name
		}
	}
	if r.Reasoning != (Reasoning{}) {
		d.Reasoning = &r.Reasoning
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestResponsesRequestGolden decodes real Codex bodies (captured from
// Codex 0.171 in e2e/captures) and a body using every feature.
func TestResponsesRequestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/responses/*.request.json")
	if len(files) < 5 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".request.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := DecodeRequest(Responses, body)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".request.golden.json", dumpReq(t, r))
		})
	}
}

// TestResponsesRequestCodex pins what matters for Codex in the captures,
// independently of the golden files.
func TestResponsesRequestCodex(t *testing.T) {
	read := func(name string) *Request {
		body, err := os.ReadFile("testdata/responses/" + name + ".request.json")
		if err != nil {
			t.Fatal(err)
		}
		r, err := DecodeRequest(Responses, body)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := read("codex-baseline-turn2")
	if len(r.System) != 3 || !strings.HasPrefix(r.System[0].Text, "You are a coding agent") || len(r.Messages) != 3 {
		t.Fatalf("system %d blocks, %d messages; want the developer messages' 3 texts as system, then user, assistant, user", len(r.System), len(r.Messages))
	}
	asst := r.Messages[1]
	if asst.Role != Assistant || len(asst.Content) != 2 || asst.Content[0].Kind != Thinking || asst.Content[1].Kind != ToolCall {
		t.Fatalf("assistant turn %+v: want the reasoning (unsigned thinking) and the call", asst)
	}
	if asst.Content[0].Signature != "" || !strings.Contains(asst.Content[0].Text, "Planning") {
		t.Errorf("thinking %+v: another gateway's encrypted_content must not become a signature", asst.Content[0])
	}
	if res := r.Messages[2].Content[0]; res.Kind != ToolResult || res.ID != asst.Content[1].ID {
		t.Errorf("tool result %+v does not answer call %q", res, asst.Content[1].ID)
	}
	if !hasTool(r, "multi_agent_v1__spawn_agent") || !hasTool(r, "exec_command") || hasTool(r, "spawn_agent") {
		t.Errorf("tools %v: want the namespace flattened", toolNames(r))
	}
	if !contains(r.Dropped, "tool web_search") || !slices.ContainsFunc(r.Tools, func(t Tool) bool { return t.Namespace == "multi_agent_v1" }) {
		t.Errorf("dropped %q", r.Dropped)
	}
	if !r.Reasoning.Summary || r.Reasoning.Effort != "" || !r.Stream {
		t.Errorf("reasoning %+v stream %v", r.Reasoning, r.Stream)
	}

	lite := read("codex-lite-turn2")
	if !hasTool(lite, "exec") || !hasTool(lite, "wait") || !hasTool(lite, "clock__sleep") || !hasTool(lite, "collaboration__spawn_agent") {
		t.Errorf("tools %v: additional_tools must add the tools, functions keeping bare names", toolNames(lite))
	}
	for _, tl := range lite.Tools {
		if tl.Name == "exec" && (!tl.Custom || len(tl.Format) == 0) {
			t.Errorf("exec %+v: want a custom tool with its grammar", tl)
		}
	}
	call := lite.Messages[1].Content[1]
	if call.Kind != ToolCall || call.Name != "exec" || !call.Custom || !strings.HasPrefix(call.Input, "const r = await tools.apply_patch") {
		t.Errorf("custom call %+v", call)
	}
	if res := lite.Messages[2].Content[0]; res.Kind != ToolResult || len(res.Content) != 2 {
		t.Errorf("custom output %+v: want both parts", res)
	}
	if lite.Parallel == nil || *lite.Parallel || lite.Reasoning.Effort != "low" {
		t.Errorf("parallel %v reasoning %+v", lite.Parallel, lite.Reasoning)
	}
}

func hasTool(r *Request, name string) bool { return contains(toolNames(r), name) }

func toolNames(r *Request) []string {
	var names []string
	for _, t := range r.Tools {
		names = append(names, t.Name)
	}
	return names
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestResponsesRequestShapes(t *testing.T) {
	r, err := DecodeRequest(Responses, []byte(`{"model":"m","input":"hello"}`))
	if err != nil || len(r.Messages) != 1 || r.Messages[0].Role != User || r.Messages[0].Content[0].Text != "hello" {
		t.Fatalf("string input: %+v %v", r, err)
	}
	r, err = DecodeRequest(Responses, []byte(`{"input":[{"role":"user","content":"a"},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
		{"type":"function_call","call_id":"c2","name":"f","arguments":"{}"},{"type":"message","role":"user","content":"after"},
		{"type":"function_call_output","call_id":"c2","output":"two"},{"type":"function_call_output","call_id":"c1","output":"one"}],
		"tool_choice":"required","reasoning":{"effort":"none"},"text":{"format":{"type":"json_object"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Messages) != 3 || len(r.Messages[1].Content) != 2 {
		t.Fatalf("messages %+v: consecutive calls make one assistant turn", r.Messages)
	}
	got := r.Messages[2].Content
	if len(got) != 3 || got[0].ID != "c2" || got[1].ID != "c1" || got[2].Kind != Text {
		t.Errorf("user turn %+v: tool results first, in order, then the text", got)
	}
	if r.Choice != (ToolChoice{Mode: ChoiceAny, Set: true}) || !r.Reasoning.Off || !r.JSONObject {
		t.Errorf("choice %+v reasoning %+v json_object %v", r.Choice, r.Reasoning, r.JSONObject)
	}
	r, err = DecodeRequest(Responses, []byte(`{"tools":[{"type":"function","name":"a"},{"type":"custom","name":"b"},{"type":"function","name":"c"}],
		"tool_choice":{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"a"},{"type":"custom","name":"b"},{"type":"web_search"}]}}`))
	if err != nil || !slicesEqual(toolNames(r), []string{"a", "b"}) || r.Choice.Mode != ChoiceAny {
		t.Errorf("allowed_tools: tools %v choice %+v err %v", toolNames(r), r.Choice, err)
	}
	r, err = DecodeRequest(Responses, []byte(`{"tools":[{"type":"namespace","name":"ns","description":"","tools":[{"type":"custom","name":"x"}]}],
		"tool_choice":{"type":"custom","name":"x","namespace":"ns"}}`))
	if err != nil || r.Choice.Name != "ns__x" {
		t.Errorf("namespaced choice %+v %v", r.Choice, err)
	}
	r, err = DecodeRequest(Responses, []byte(`{"tools":[{"type":"namespace","name":"ns","description":"","tools":[{"type":"function","name":"x"}]}],
		"tool_choice":{"type":"function","name":"x"},"input":[{"type":"function_call","call_id":"c","name":"x","namespace":"ns","arguments":""},
		{"type":"function_call_output","call_id":"c","output":""}]}`))
	if err != nil || r.Choice.Name != "ns__x" || len(r.Messages[1].Content[0].Content) != 0 || r.Messages[0].Content[0].Input != "{}" {
		t.Errorf("bare name of a namespaced tool: %+v %v; empty arguments and output: %+v", r.Choice, err, r.Messages)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestResponsesRequestErrors: what cannot be honoured is a 400 naming the field.
func TestResponsesRequestErrors(t *testing.T) {
	tests := []struct{ body, param string }{
		{`{"input":"x","previous_response_id":"resp_1"}`, "previous_response_id"},
		{`{"input":"x","conversation":"conv_1"}`, "conversation"},
		{`{"input":"x","conversation":{"id":"conv_1"}}`, "conversation"},
		{`{"input":"x","background":true}`, "background"},
		{`{"prompt":{"id":"pmpt_1"}}`, "prompt"},
		{`{"input":[{"role":"user","content":"a"},{"type":"function_call_output","call_id":"nope","output":"x"}]}`, "input[1].call_id"},
		{`{"input":[{"role":"user","content":"a"},{"type":"item_reference","id":"msg_1"}]}`, "input[1].type"},
		{`{"input":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":"c"},{"role":"user","content":"d"},{"type":"telepathy"}]}`, "input[4].type"},
		{`{"input":[{"content":"no role, no type"}]}`, "input[0].type"},
		{`{"input":[{"type":"message","role":"robot","content":"x"}]}`, "input[0].role"},
		{`{"input":[{"type":"message","role":"user","content":[{"type":"input_image","file_id":"file-1"}]}]}`, "input[0].content[0].file_id"},
		{`{"input":[{"type":"message","role":"user","content":[{"type":"input_file","file_data":"x"}]}]}`, "input[0].content[0].type"},
		{`{"input":[{"type":"message","role":"user","content":[{"type":"hologram"}]}]}`, "input[0].content[0].type"},
		{`{"input":[{"type":"message","role":"user","content":[{"type":"input_text"}]}]}`, "input[0].content[0].text"},
		{`{"input":[{"type":"message","role":"developer","content":[{"type":"input_image","image_url":"https://x/y.png"}]}]}`, "input[0].content[0].type"},
		{`{"input":[{"type":"message","role":"user","content":7}]}`, "input[0].content"},
		{`{"input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id"},
		{`{"input":[{"type":"function_call","call_id":7}]}`, "input[0].call_id"},
		{`{"input":[{"type":"reasoning","summary":[{"type":"bogus","text":"x"}]}]}`, "input[0].summary[0].type"},
		{`{"input":[{"type":"additional_tools","tools":[{"type":"function"}]}]}`, "input[0].tools[0].name"},
		{`{"input":7}`, "input"},
		{`{"instructions":["x"]}`, "instructions"},
		{`{"temperature":"hot"}`, "temperature"},
		{`{"max_output_tokens":0}`, "max_output_tokens"},
		{`{"tools":[{"type":"function"}]}`, "tools[0].name"},
		{`{"tools":[{"name":"f"}]}`, "tools[0].type"},
		{`{"tools":[{"type":"function","name":"f"},{"type":"function","name":"f"}]}`, "tools[1].name"},
		{`{"tools":[{"type":"namespace","name":"n","tools":[{"type":"namespace","name":"m","tools":[]}]}]}`, "tools[0].tools[0].type"},
		{`{"tools":[{"type":"function","name":"mcp__x__y"},{"type":"namespace","name":"mcp__x","tools":[{"type":"function","name":"z"}]}]}`, "tools[0].name"},
		{`{"tool_choice":"sometimes"}`, "tool_choice"},
		{`{"tool_choice":{"type":"web_search_preview"}}`, "tool_choice.type"},
		{`{"tool_choice":{"type":"function","name":"ghost"}}`, "tool_choice.name"},
		{`{"tool_choice":{"type":"allowed_tools","mode":"maybe","tools":[]}}`, "tool_choice.mode"},
		{`{"text":{"format":{"type":"xml"}}}`, "text.format.type"},
		{`{"text":{"format":{"type":"json_schema","name":"x"}}}`, "text.format.schema"},
		{`{"reasoning":{"effort":3}}`, "reasoning.effort"},
		{`not json`, "body"},
		{`[1,2]`, "body"},
	}
	for _, tt := range tests {
		_, err := DecodeRequest(Responses, []byte(tt.body))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: got %v, want a 400 naming %s", tt.body, err, tt.param)
			continue
		}
		if e.Status != 400 || e.Param != tt.param || !strings.HasPrefix(e.Message, tt.param+": ") {
			t.Errorf("%s: got %d param %q (%s), want 400 param %q", tt.body, e.Status, e.Param, e.Message, tt.param)
		}
	}
}

// TestResponsesAdvisoryFields: settings that cannot change the answer's
// meaning never fail a request.
func TestResponsesAdvisoryFields(t *testing.T) {
	body := `{"model":"m","input":"x","store":true,"include":["reasoning.encrypted_content","message.output_text.logprobs"],
		"prompt_cache_key":"k","prompt_cache_retention":"24h","client_metadata":{"a":"b"},"metadata":{"k":"v"},"user":"u",
		"safety_identifier":"s","truncation":"auto","service_tier":"flex","text":{"verbosity":"high"},"top_logprobs":2,
		"max_tool_calls":3,"stream_options":{"include_obfuscation":true},"previous_response_id":null,"conversation":null,
		"background":false,"some_future_field":{"x":1}}`
	r, err := DecodeRequest(Responses, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if r.User != "u" {
		t.Errorf("user %q", r.User)
	}
}

// TestResponsesReasoningRoundTrip: thinking that went out as a reasoning
// item comes back with its text and signature, whatever the summary says.
func TestResponsesReasoningRoundTrip(t *testing.T) {
	text := "Let me think: \"quotes\", \\ backslashes, newlines\n and émoji 🐟 \u2028."
	for _, summary := range []bool{true, false} {
		req := &Request{Reasoning: Reasoning{Summary: summary}}
		out := encodeRespResponse(&Response{Model: "claude", Created: 1, Content: []Block{
			{Kind: Thinking, Text: text, Signature: "EqQBCkYIBxgCKkB+/="},
			{Kind: RedactedThinking, Data: "RXFRQkNr\"odd\""},
			{Kind: ToolCall, ID: "toolu_1", Name: "f", Input: `{}`},
		}}, req, testIDs())
		var resp struct {
			Output []json.RawMessage `json:"output"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		// The client sends the output back as input, with the call's answer.
		input := `[{"role":"user","content":"hi"},` + string(resp.Output[0]) + `,` + string(resp.Output[1]) + `,` + string(resp.Output[2]) +
			`,{"type":"function_call_output","call_id":"call_1","output":"ok"}]`
		r, err := DecodeRequest(Responses, []byte(`{"input":`+input+`}`))
		if err != nil {
			t.Fatal(err)
		}
		got := r.Messages[1].Content
		if len(got) != 3 || got[0].Kind != Thinking || got[0].Text != text || got[0].Signature != "EqQBCkYIBxgCKkB+/=" {
			t.Fatalf("summary %v: got %+v", summary, got)
		}
		if got[1].Kind != RedactedThinking || got[1].Data != "RXFRQkNr\"odd\"" {
			t.Errorf("redacted: got %+v", got[1])
		}
		if got[2].ID != "call_1" || r.Messages[2].Content[0].ID != "call_1" {
			t.Errorf("call ids: %+v / %+v", got[2], r.Messages[2].Content[0])
		}
	}
}
