package dialect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// frame is one SSE frame a Responses encoder wrote.
type frame struct {
	Name string
	Data map[string]any
}

// parseFrames splits encoder output into frames, each "event: T\ndata: {...}\n\n"
// with T equal to the data's type.
func parseFrames(t testing.TB, b []byte) []frame {
	t.Helper()
	var out []frame
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\n\n"))
		if i < 0 {
			t.Fatalf("unterminated frame %q", b)
		}
		block := string(b[:i])
		b = b[i+2:]
		name, data, ok := strings.Cut(block, "\n")
		if !ok || !strings.HasPrefix(name, "event: ") || !strings.HasPrefix(data, "data: ") || strings.Contains(data, "\n") {
			t.Fatalf("frame %q is not one event line and one data line", block)
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(data[6:]))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || dec.More() {
			t.Fatalf("frame data is not one JSON object (%v): %s", err, data)
		}
		if m["type"] != name[7:] {
			t.Fatalf("event %q carries type %v", name[7:], m["type"])
		}
		out = append(out, frame{Name: name[7:], Data: m})
	}
	return out
}

func num(v any) int {
	n, ok := v.(json.Number)
	if !ok {
		panic(fmt.Sprintf("%v is not a number", v))
	}
	i, _ := n.Int64()
	return int(i)
}

// accumulate replays frames the way the SDK accumulators do (openai-node's
// response-accumulator validates the same things) and fails the test on
// anything they would reject: it returns the terminal event's response.
func accumulate(t testing.TB, frames []frame) (terminal string, resp map[string]any) {
	t.Helper()
	if len(frames) < 2 || frames[0].Name != "response.created" || frames[1].Name != "response.in_progress" {
		t.Fatalf("stream must open with response.created, response.in_progress; got %v", names(frames))
	}
	var output []map[string]any
	var finished []bool
	ids, calls := map[string]bool{}, map[string]bool{}
	get := func(f frame) map[string]any {
		oi := num(f.Data["output_index"])
		if oi < 0 || oi >= len(output) {
			t.Fatalf("%s: output_index %d of %d items", f.Name, oi, len(output))
		}
		it := output[oi]
		if id, ok := f.Data["item_id"]; ok && id != it["id"] {
			t.Fatalf("%s: item_id %v, item %d is %v", f.Name, id, oi, it["id"])
		}
		return it
	}
	part := func(it map[string]any, key string, idx any) map[string]any {
		list, _ := it[key].([]any)
		i := num(idx)
		if i < 0 || i >= len(list) {
			t.Fatalf("%s[%d] missing in %v", key, i, it)
		}
		return list[i].(map[string]any)
	}
	for k, f := range frames {
		if got := num(f.Data["sequence_number"]); got != k {
			t.Fatalf("frame %d (%s) has sequence_number %d", k, f.Name, got)
		}
		d := f.Data
		switch f.Name {
		case "response.created", "response.in_progress":
			if k > 1 {
				t.Fatalf("%s at %d", f.Name, k)
			}
			r := d["response"].(map[string]any)
			if r["status"] != "in_progress" || len(r["output"].([]any)) != 0 {
				t.Fatalf("%s: %v", f.Name, r)
			}
		case "response.output_item.added":
			if num(d["output_index"]) != len(output) {
				t.Fatalf("output_item.added at %v, want %d", d["output_index"], len(output))
			}
			it := clone(d["item"]).(map[string]any)
			id, _ := it["id"].(string)
			if id == "" || ids[id] {
				t.Fatalf("item id %q empty or repeated", id)
			}
			ids[id] = true
			if typ := it["type"]; typ == "function_call" || typ == "custom_tool_call" {
				c, _ := it["call_id"].(string)
				if !strings.HasPrefix(c, "call_") || calls[c] {
					t.Fatalf("call_id %q not call_ or repeated", c)
				}
				calls[c] = true
			}
			output = append(output, it)
			finished = append(finished, false)
		case "response.content_part.added":
			it := get(f)
			list := it["content"].([]any)
			if num(d["content_index"]) != len(list) {
				t.Fatalf("content_part.added at %v of %d", d["content_index"], len(list))
			}
			it["content"] = append(list, clone(d["part"]))
		case "response.output_text.delta":
			p := part(get(f), "content", d["content_index"])
			p["text"] = p["text"].(string) + d["delta"].(string)
		case "response.output_text.done":
			if p := part(get(f), "content", d["content_index"]); p["text"] != d["text"] {
				t.Fatalf("output_text.done %q, deltas gave %q", d["text"], p["text"])
			}
		case "response.content_part.done":
			if p := part(get(f), "content", d["content_index"]); !reflect.DeepEqual(p, d["part"]) {
				t.Fatalf("content_part.done %v, deltas gave %v", d["part"], p)
			}
		case "response.reasoning_summary_part.added":
			it := get(f)
			list := it["summary"].([]any)
			if num(d["summary_index"]) != len(list) {
				t.Fatalf("summary_part.added at %v of %d", d["summary_index"], len(list))
			}
			it["summary"] = append(list, clone(d["part"]))
		case "response.reasoning_summary_text.delta":
			p := part(get(f), "summary", d["summary_index"])
			p["text"] = p["text"].(string) + d["delta"].(string)
		case "response.reasoning_summary_text.done":
			if p := part(get(f), "summary", d["summary_index"]); p["text"] != d["text"] {
				t.Fatalf("summary_text.done %q, deltas gave %q", d["text"], p["text"])
			}
		case "response.reasoning_summary_part.done":
			if p := part(get(f), "summary", d["summary_index"]); !reflect.DeepEqual(p, d["part"]) {
				t.Fatalf("summary_part.done %v, deltas gave %v", d["part"], p)
			}
		case "response.function_call_arguments.delta", "response.custom_tool_call_input.delta":
			it := get(f)
			key := map[any]string{"function_call": "arguments", "custom_tool_call": "input"}[it["type"]]
			if key == "" || (it["type"] == "function_call") != strings.Contains(f.Name, "function") {
				t.Fatalf("%s on a %v item", f.Name, it["type"])
			}
			it[key] = it[key].(string) + d["delta"].(string)
		case "response.function_call_arguments.done":
			if it := get(f); it["arguments"] != d["arguments"] {
				t.Fatalf("arguments.done %q, deltas gave %q", d["arguments"], it["arguments"])
			}
		case "response.custom_tool_call_input.done":
			if it := get(f); it["input"] != d["input"] {
				t.Fatalf("input.done %q, deltas gave %q", d["input"], it["input"])
			}
		case "response.output_item.done":
			it := get(f)
			done := d["item"].(map[string]any)
			if done["id"] != it["id"] || done["type"] != it["type"] || done["call_id"] != it["call_id"] || done["status"] == "in_progress" {
				t.Fatalf("output_item.done %v does not finish %v", done, it)
			}
			for _, key := range []string{"arguments", "input"} {
				if _, ok := it[key]; ok && done[key] != it[key] {
					t.Fatalf("output_item.done %s %q, deltas gave %q", key, done[key], it[key])
				}
			}
			if it["type"] == "message" && !reflect.DeepEqual(done["content"], it["content"]) {
				t.Fatalf("output_item.done content %v, deltas gave %v", done["content"], it["content"])
			}
			if it["type"] == "reasoning" && len(it["summary"].([]any)) > 0 && !reflect.DeepEqual(done["summary"], it["summary"]) {
				t.Fatalf("output_item.done summary %v, deltas gave %v", done["summary"], it["summary"])
			}
			if finished[num(d["output_index"])] {
				t.Fatalf("output_item.done twice for %v", done["id"])
			}
			output[num(d["output_index"])] = clone(done).(map[string]any)
			finished[num(d["output_index"])] = true
		case "response.completed", "response.incomplete", "response.failed":
			terminal = f.Name
			resp = d["response"].(map[string]any)
			want := map[string]string{"response.completed": "completed", "response.incomplete": "incomplete", "response.failed": "failed"}[f.Name]
			if resp["status"] != want {
				t.Fatalf("%s with status %v", f.Name, resp["status"])
			}
			got := resp["output"].([]any)
			var done []any
			for i, it := range output {
				if finished[i] {
					done = append(done, it)
				}
			}
			if f.Name != "response.failed" && len(done) != len(output) {
				t.Fatalf("%s with items still open", f.Name)
			}
			if !reflect.DeepEqual(got, done) && !(len(got) == 0 && len(done) == 0) {
				t.Fatalf("%s output differs from the streamed items:\n got %v\nwant %v", f.Name, got, done)
			}
			rest := frames[k+1:]
			if f.Name == "response.failed" {
				if len(rest) != 1 || rest[0].Name != "error" {
					t.Fatalf("response.failed must be followed by one error event, got %v", names(rest))
				}
				e, ok := rest[0].Data["error"].(map[string]any)
				if !ok || e["message"] == "" || rest[0].Data["message"] != e["message"] {
					t.Fatalf("error event %v: want the message flat and nested", rest[0].Data)
				}
				return terminal, resp
			}
			if len(rest) != 0 {
				t.Fatalf("events after %s: %v", f.Name, names(rest))
			}
		default:
			t.Fatalf("unexpected event %s", f.Name)
		}
	}
	if terminal == "" {
		t.Fatalf("stream ended without a terminal event: %v", names(frames))
	}
	return terminal, resp
}

func names(frames []frame) []string {
	var out []string
	for _, f := range frames {
		out = append(out, f.Name)
	}
	return out
}

func clone(v any) any {
	b, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	dec.Decode(&out)
	return out
}

// runStream encodes events (then fail, when not nil) with deterministic ids.
func runStream(req *Request, events []Event, fail *Error) []byte {
	e := newRespEncoder(req, testIDs())
	var out []byte
	for i := range events {
		out = e.Encode(out, &events[i])
	}
	if fail != nil {
		out = e.Fail(out, fail)
	}
	return out
}

// streamReq is the request the stream tests answer: a function tool, a
// custom tool, and namespaced ones of both kinds.
func streamReq(summary bool) *Request {
	body := `{"model":"gpt-5-codex","stream":true,"reasoning":{"summary":"auto"},"tools":[
		{"type":"function","name":"exec_command","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}}},
		{"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: x"}},
		{"type":"namespace","name":"multi_agent_v1","description":"Sub-agents.","tools":[{"type":"function","name":"spawn_agent"}]},
		{"type":"namespace","name":"functions","description":"","tools":[{"type":"custom","name":"exec"}]},
		{"type":"namespace","name":"mcp__docs","description":"","tools":[{"type":"custom","name":"search"}]}]}`
	if !summary {
		body = strings.Replace(body, `"reasoning":{"summary":"auto"},`, ``, 1)
	}
	r, err := DecodeRequest(Responses, []byte(body))
	if err != nil {
		panic(err)
	}
	return r
}

func start() Event {
	return Event{Kind: EvStart, ID: "chatcmpl-1", Model: "deepseek-chat", Created: 1700000000}
}

func textBlock(index int, pieces ...string) []Event {
	evs := []Event{{Kind: EvBlockStart, Index: index, Block: Block{Kind: Text}}}
	for _, p := range pieces {
		evs = append(evs, Event{Kind: EvDelta, Index: index, Text: p})
	}
	return append(evs, Event{Kind: EvBlockStop, Index: index})
}

func callBlock(index int, id, name string, pieces ...string) []Event {
	evs := []Event{{Kind: EvBlockStart, Index: index, Block: Block{Kind: ToolCall, ID: id, Name: name}}}
	for _, p := range pieces {
		evs = append(evs, Event{Kind: EvDelta, Index: index, Text: p})
	}
	return append(evs, Event{Kind: EvBlockStop, Index: index})
}

func thinkingBlock(index int, sig string, pieces ...string) []Event {
	evs := []Event{{Kind: EvBlockStart, Index: index, Block: Block{Kind: Thinking}}}
	for _, p := range pieces {
		evs = append(evs, Event{Kind: EvDelta, Index: index, Text: p})
	}
	if sig != "" {
		evs = append(evs, Event{Kind: EvSignature, Index: index, Text: sig})
	}
	return append(evs, Event{Kind: EvBlockStop, Index: index})
}

func seq(parts ...[]Event) []Event {
	var out []Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func stop(s StopReason, u Usage) []Event { return []Event{{Kind: EvStop, Stop: s, Usage: u}} }

// outputOf lists the final response's items as type:name/text.
func outputOf(resp map[string]any) []map[string]any {
	var out []map[string]any
	for _, it := range resp["output"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func TestResponsesStreamText(t *testing.T) {
	evs := seq([]Event{start()}, textBlock(0, "Hel", "lo, ", "wörld 🐟", "\n\"quoted\""), stop(StopEnd, Usage{Prompt: 12, Completion: 5, Cached: 4}))
	out := runStream(streamReq(true), evs, nil)
	terminal, resp := accumulate(t, parseFrames(t, out))
	if terminal != "response.completed" || resp["model"] != "deepseek-chat" || !strings.HasPrefix(resp["id"].(string), "resp_") {
		t.Fatalf("%s %v", terminal, resp)
	}
	items := outputOf(resp)
	if len(items) != 1 || items[0]["type"] != "message" || items[0]["role"] != "assistant" {
		t.Fatalf("output %v", items)
	}
	if text := items[0]["content"].([]any)[0].(map[string]any)["text"]; text != "Hello, wörld 🐟\n\"quoted\"" {
		t.Errorf("text %q", text)
	}
	u := resp["usage"].(map[string]any)
	if num(u["input_tokens"]) != 12 || num(u["output_tokens"]) != 5 || num(u["total_tokens"]) != 17 ||
		num(u["input_tokens_details"].(map[string]any)["cached_tokens"]) != 4 {
		t.Errorf("usage %v", u)
	}
	golden(t, "stream-text.sse", out)
}

func TestResponsesStreamFunctionCalls(t *testing.T) {
	evs := seq([]Event{start()},
		textBlock(0, "Running two commands."),
		callBlock(1, "call_abc", "exec_command", `{"cmd":`, `"ls"}`),
		callBlock(2, "toolu_01XY", "multi_agent_v1__spawn_agent", `{"message":"hi"}`),
		callBlock(3, "functions.exec_command:2", "exec_command"), // no arguments at all
		stop(StopToolUse, Usage{Prompt: 100, Completion: 20, Total: 120}))
	out := runStream(streamReq(true), evs, nil)
	_, resp := accumulate(t, parseFrames(t, out))
	items := outputOf(resp)
	if len(items) != 4 {
		t.Fatalf("output %v", items)
	}
	want := []struct{ callID, name, ns, args string }{
		{"call_abc", "exec_command", "", `{"cmd":"ls"}`},
		{"call_01XY", "spawn_agent", "multi_agent_v1", `{"message":"hi"}`},
		{"call_functions_exec_command_2", "exec_command", "", `{}`},
	}
	for i, w := range want {
		it := items[i+1]
		ns, _ := it["namespace"].(string)
		if it["type"] != "function_call" || it["call_id"] != w.callID || it["name"] != w.name || ns != w.ns || it["arguments"] != w.args || it["status"] != "completed" {
			t.Errorf("item %d: %v, want %+v", i+1, it, w)
		}
	}
	golden(t, "stream-function-calls.sse", out)
}

func TestResponsesStreamCustomToolCalls(t *testing.T) {
	patch := "*** Begin Patch\n*** Add File: a.txt\n+tab\there \"q\" \\ é 🐟 \u2028\n*** End Patch\n"
	args, _ := json.Marshal(map[string]string{"input": patch})
	argsASCII := strings.ReplaceAll(string(args), "é", `\u00e9`)
	argsASCII = strings.ReplaceAll(argsASCII, "🐟", `\ud83d\udc1f`)
	// Every way of cutting the arguments in two gives the same input.
	for cut := 0; cut <= len(argsASCII); cut++ {
		pieces := []string{" " + argsASCII[:cut], argsASCII[cut:]}
		evs := seq([]Event{start()}, callBlock(0, "call_1", "apply_patch", pieces...), stop(StopToolUse, Usage{}))
		_, resp := accumulate(t, parseFrames(t, runStream(streamReq(true), evs, nil)))
		it := outputOf(resp)[0]
		if it["type"] != "custom_tool_call" || it["input"] != patch || it["name"] != "apply_patch" {
			t.Fatalf("cut at %d: %v", cut, it)
		}
	}
	// Byte by byte, and the input streams as it arrives.
	var pieces []string
	for i := 0; i < len(argsASCII); i++ {
		pieces = append(pieces, argsASCII[i:i+1])
	}
	evs := seq([]Event{start()},
		callBlock(0, "call_1", "apply_patch", pieces...),
		callBlock(1, "call_2", "exec", `{"input":"text(1)"}`),
		callBlock(2, "call_3", "mcp__docs__search", `not json at all`),
		callBlock(3, "call_4", "exec", `{"code":"text(2)"}`),
		stop(StopToolUse, Usage{}))
	out := runStream(streamReq(true), evs, nil)
	frames := parseFrames(t, out)
	_, resp := accumulate(t, frames)
	deltas := 0
	for _, f := range frames {
		if f.Name == "response.custom_tool_call_input.delta" && f.Data["output_index"] == json.Number("0") {
			deltas++
		}
	}
	if deltas < len(patch)/2 {
		t.Errorf("%d input deltas for %d bytes of arguments: the input must stream", deltas, len(argsASCII))
	}
	items := outputOf(resp)
	want := []struct{ input, name, ns string }{{patch, "apply_patch", ""}, {"text(1)", "exec", ""}, {"not json at all", "search", "mcp__docs"}, {"text(2)", "exec", ""}}
	for i, w := range want {
		ns, _ := items[i]["namespace"].(string)
		if items[i]["type"] != "custom_tool_call" || items[i]["input"] != w.input || items[i]["name"] != w.name || ns != w.ns {
			t.Errorf("item %d: %v, want %+v", i, items[i], w)
		}
	}
	// An upstream that already speaks custom tools sends the input itself.
	evs = seq([]Event{start(), {Kind: EvBlockStart, Index: 0, Block: Block{Kind: ToolCall, ID: "c", Name: "apply_patch", Custom: true}},
		{Kind: EvDelta, Index: 0, Text: `{"raw": true}`}, {Kind: EvBlockStop, Index: 0}}, stop(StopToolUse, Usage{}))
	_, resp = accumulate(t, parseFrames(t, runStream(streamReq(true), evs, nil)))
	if in := outputOf(resp)[0]["input"]; in != `{"raw": true}` {
		t.Errorf("raw custom input %q", in)
	}
}

func TestResponsesStreamReasoning(t *testing.T) {
	for _, summary := range []bool{true, false} {
		t.Run(fmt.Sprint("summary=", summary), func(t *testing.T) {
			evs := seq([]Event{start()},
				thinkingBlock(0, "sig-abc", "**Planning**\n\n", "The user wants ", "a file."),
				[]Event{{Kind: EvBlockStart, Index: 1, Block: Block{Kind: RedactedThinking, Data: "opaque=="}}, {Kind: EvBlockStop, Index: 1}},
				thinkingBlock(2, ""), // empty, unsigned: still an item (it may carry a signature elsewhere)
				textBlock(3, "Done."),
				stop(StopEnd, Usage{Prompt: 10, Completion: 30, Reasoning: 25}))
			out := runStream(streamReq(summary), evs, nil)
			frames := parseFrames(t, out)
			_, resp := accumulate(t, frames)
			items := outputOf(resp)
			if len(items) != 4 || items[0]["type"] != "reasoning" || items[1]["type"] != "reasoning" || items[3]["type"] != "message" {
				t.Fatalf("output %v", items)
			}
			summaryParts := items[0]["summary"].([]any)
			if summary && (len(summaryParts) != 1 || summaryParts[0].(map[string]any)["text"] != "**Planning**\n\nThe user wants a file.") {
				t.Errorf("summary %v", summaryParts)
			}
			if !summary && len(summaryParts) != 0 {
				t.Errorf("summary %v: not asked for", summaryParts)
			}
			for _, f := range frames {
				if strings.Contains(f.Name, "reasoning_summary") && !summary {
					t.Errorf("%s without reasoning.summary", f.Name)
				}
			}
			enc := items[0]["encrypted_content"].(string)
			text, sig, ok := openThinking(strings.TrimPrefix(enc, thinkingPrefix))
			if !ok || text != "**Planning**\n\nThe user wants a file." || sig != "sig-abc" {
				t.Errorf("encrypted_content %q opens to %q %q %v", enc, text, sig, ok)
			}
			if items[1]["encrypted_content"] != redactedPrefix+"opaque==" {
				t.Errorf("redacted %v", items[1])
			}
			u := resp["usage"].(map[string]any)["output_tokens_details"].(map[string]any)
			if num(u["reasoning_tokens"]) != 25 {
				t.Errorf("usage %v", u)
			}
			if summary {
				golden(t, "stream-reasoning.sse", out)
			}
		})
	}
}

func TestResponsesStreamUsage(t *testing.T) {
	evs := seq([]Event{{Kind: EvStart, Model: "claude-x", Usage: Usage{Prompt: 50, Cached: 40, CacheWrite: 10}}},
		textBlock(0, "a"),
		[]Event{{Kind: EvUsage, Usage: Usage{Prompt: 50, Cached: 40, CacheWrite: 10, Completion: 7}}},
		[]Event{{Kind: EvStop, Stop: StopEnd}}) // no usage on the stop: the last report stands
	_, resp := accumulate(t, parseFrames(t, runStream(streamReq(true), evs, nil)))
	u := resp["usage"].(map[string]any)
	if num(u["input_tokens"]) != 50 || num(u["output_tokens"]) != 7 || num(u["total_tokens"]) != 57 ||
		num(u["input_tokens_details"].(map[string]any)["cached_tokens"]) != 40 {
		t.Errorf("usage %v", u)
	}
	if resp["model"] != "claude-x" {
		t.Errorf("model %v", resp["model"])
	}
}

func TestResponsesStreamIncomplete(t *testing.T) {
	for _, tt := range []struct {
		stop   StopReason
		reason string
	}{{StopMaxTokens, "max_output_tokens"}, {StopRefusal, "content_filter"}} {
		// The stop arrives with a call still open: it is closed first.
		evs := seq([]Event{start()}, textBlock(0, "partial"),
			[]Event{{Kind: EvBlockStart, Index: 1, Block: Block{Kind: ToolCall, ID: "call_9", Name: "exec_command"}},
				{Kind: EvDelta, Index: 1, Text: `{"cmd":"l`}},
			stop(tt.stop, Usage{Prompt: 1, Completion: 2}))
		terminal, resp := accumulate(t, parseFrames(t, runStream(streamReq(true), evs, nil)))
		if terminal != "response.incomplete" || resp["incomplete_details"].(map[string]any)["reason"] != tt.reason {
			t.Errorf("%s %v", terminal, resp["incomplete_details"])
		}
		if args := outputOf(resp)[1]["arguments"]; args != `{"cmd":"l` {
			t.Errorf("args %v", args)
		}
	}
}

func TestResponsesStreamFailed(t *testing.T) {
	evs := seq([]Event{start()}, textBlock(0, "fine"),
		[]Event{{Kind: EvBlockStart, Index: 1, Block: Block{Kind: Text}}, {Kind: EvDelta, Index: 1, Text: "then bro"}})
	out := runStream(streamReq(true), evs, &Error{Status: 502, Type: "upstream_error", Code: "stream_broken", Message: "the upstream stream broke"})
	frames := parseFrames(t, out)
	terminal, resp := accumulate(t, frames)
	if terminal != "response.failed" {
		t.Fatal(terminal)
	}
	if e := resp["error"].(map[string]any); e["code"] != "stream_broken" || e["message"] != "the upstream stream broke" {
		t.Errorf("error %v", e)
	}
	if len(outputOf(resp)) != 1 {
		t.Errorf("failed response output %v: the finished item only", outputOf(resp))
	}
	last := frames[len(frames)-1].Data
	if last["code"] != "stream_broken" || last["error"].(map[string]any)["type"] != "upstream_error" {
		t.Errorf("error event %v", last)
	}
	golden(t, "stream-failed.sse", out)

	// Broken before anything was encoded: still a well-formed failure.
	frames = parseFrames(t, runStream(nil, nil, &Error{Status: 429, Message: "slow down"}))
	if got := names(frames); !reflect.DeepEqual(got, []string{"response.created", "response.in_progress", "response.failed", "error"}) {
		t.Fatalf("events %v", got)
	}
	if frames[3].Data["code"] != "rate_limit_exceeded" {
		t.Errorf("code %v", frames[2].Data["code"])
	}
	// After the end, nothing more.
	e := newRespEncoder(nil, testIDs())
	out = e.Encode(nil, &Event{Kind: EvStop})
	if n := len(out); len(e.Fail(out, &Error{Status: 500})) != n || len(e.Encode(out, &Event{Kind: EvDelta})) != n {
		t.Error("events after the end of the stream")
	}
}

// TestResponsesStreamTolerates: events a decoder (or a continued answer,
// SPEC section 11) may send out of the ideal order do not break the stream.
func TestResponsesStreamTolerates(t *testing.T) {
	evs := []Event{
		{Kind: EvDelta, Index: 0, Text: "before any start"}, // no EvStart, block never opened: ignored
		{Kind: EvBlockStart, Index: 0, Block: Block{Kind: Text}},
		{Kind: EvDelta, Index: 0, Text: "a"},
		{Kind: EvStart, Model: "second-start"},                   // a second start is ignored
		{Kind: EvBlockStart, Index: 0, Block: Block{Kind: Text}}, // reopened: the same item goes on
		{Kind: EvDelta, Index: 0, Text: "b"},
		{Kind: EvBlockStart, Index: 1, Block: Block{Kind: Image, URL: "https://x/y.png"}}, // nothing to show
		{Kind: EvDelta, Index: 1, Text: "zzz"},
		{Kind: EvBlockStop, Index: 1},
		{Kind: EvBlockStop, Index: 0},
		{Kind: EvDelta, Index: 0, Text: "after its stop"},
		{Kind: EvSignature, Index: 7, Text: "nobody's"},
		{Kind: EvBlockStop, Index: 9},
		{Kind: EvBlockStart, Index: -1, Block: Block{Kind: Text}},
		{Kind: EvStop},
	}
	_, resp := accumulate(t, parseFrames(t, runStream(&Request{Model: "asked"}, evs, nil)))
	items := outputOf(resp)
	if len(items) != 1 || items[0]["content"].([]any)[0].(map[string]any)["text"] != "ab" || resp["model"] != "asked" {
		t.Errorf("output %v model %v", items, resp["model"])
	}
}

// TestResponsesEncoderKeepsOnlyCleanItemIDs: a resumed encoder keeps an
// upstream's item id only when it is safe to write as it is and unused.
func TestResponsesEncoderKeepsOnlyCleanItemIDs(t *testing.T) {
	for _, tt := range []struct {
		items []string
		want  []string
	}{
		{[]string{"msg_ok-1", "msg_2"}, []string{"msg_ok-1", "msg_2"}},
		{[]string{`msg_"x"`, "msg é"}, []string{"msg_0001", "msg_0002"}},
		{[]string{"", "msg_a", "msg_a"}, []string{"msg_0001", "msg_a", "msg_0002"}},
	} {
		e := newRespEncoder(nil, testIDs())
		e.Encode(nil, &Event{Kind: EvStart, ID: "resp_up", KeepID: true})
		var got []string
		for i, id := range tt.items {
			e.Encode(nil, &Event{Kind: EvBlockStart, Index: i, Block: Block{Kind: Text}, Item: id})
			got = append(got, e.items[i].id)
		}
		if !reflect.DeepEqual(got, tt.want) || e.id != "resp_up" {
			t.Errorf("items %q: got %q (response %s), want %q", tt.items, got, e.id, tt.want)
		}
	}
	// Not resumed: the encoder's own ids, whatever the events say.
	e := newRespEncoder(nil, testIDs())
	e.Encode(nil, &Event{Kind: EvStart, ID: "resp_up"})
	e.Encode(nil, &Event{Kind: EvBlockStart, Index: 0, Block: Block{Kind: Text}, Item: "msg_up"})
	if e.id == "resp_up" || e.items[0].id == "msg_up" {
		t.Errorf("ids %s %s kept without KeepID", e.id, e.items[0].id)
	}
}

func TestResponsesResponseGolden(t *testing.T) {
	tests := []struct {
		name string
		req  *Request
		resp Response
	}{
		{"text", streamReq(true), Response{ID: "msg_01", Model: "claude-sonnet", Created: 1700000000, Stop: StopEnd,
			Content: []Block{{Kind: Text, Text: "Hello 🐟 <b>&</b>"}}, Usage: Usage{Prompt: 10, Completion: 3, Cached: 2}}},
		{"tools", streamReq(true), Response{Model: "deepseek-chat", Created: 1700000001, Stop: StopToolUse,
			Content: []Block{
				{Kind: Thinking, Text: "Plan: patch, then spawn.", Signature: "sig=="},
				{Kind: Text, Text: "Patching."},
				{Kind: ToolCall, ID: "toolu_1", Name: "apply_patch", Input: `{"input":"*** Begin Patch\n*** End Patch\n"}`},
				{Kind: ToolCall, ID: "call_2", Name: "multi_agent_v1__spawn_agent", Input: `{"message":"go"}`},
				{Kind: ToolCall, ID: "", Name: "exec", Input: `{"input":"text(1)"}`},
			}, Usage: Usage{Prompt: 200, Completion: 50, Reasoning: 20, Total: 250}}},
		{"incomplete", &Request{Model: "m", MaxTokens: 5}, Response{Model: "m", Created: 1700000002, Stop: StopMaxTokens,
			Content: []Block{{Kind: Text, Text: "Once upon"}}, Usage: Usage{Prompt: 3, Completion: 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := encodeRespResponse(&tt.resp, tt.req, testIDs())
			if !json.Valid(out) {
				t.Fatalf("not JSON: %s", out)
			}
			golden(t, "response-"+tt.name+".golden.json", indentJSON(t, out))
		})
	}
	// The same answer streamed gives the same output items.
	tools := tests[1]
	evs := []Event{{Kind: EvStart, Model: tools.resp.Model, Created: tools.resp.Created}}
	for i, b := range tools.resp.Content {
		open := b
		open.Text, open.Input, open.Signature = "", "", ""
		evs = append(evs, Event{Kind: EvBlockStart, Index: i, Block: open})
		if txt := b.Text + b.Input; txt != "" {
			evs = append(evs, Event{Kind: EvDelta, Index: i, Text: txt})
		}
		if b.Signature != "" {
			evs = append(evs, Event{Kind: EvSignature, Index: i, Text: b.Signature})
		}
		evs = append(evs, Event{Kind: EvBlockStop, Index: i})
	}
	evs = append(evs, Event{Kind: EvStop, Stop: tools.resp.Stop, Usage: tools.resp.Usage})
	_, streamed := accumulate(t, parseFrames(t, runStream(tools.req, evs, nil)))
	var whole map[string]any
	dec := json.NewDecoder(bytes.NewReader(encodeRespResponse(&tools.resp, tools.req, testIDs())))
	dec.UseNumber()
	dec.Decode(&whole)
	if !reflect.DeepEqual(streamed["output"], whole["output"]) || !reflect.DeepEqual(streamed["usage"], whole["usage"]) {
		t.Errorf("streamed and whole answers differ:\n%v\n%v", streamed["output"], whole["output"])
	}
}

// TestResponsesEcho: the response object repeats the settings the route honoured.
func TestResponsesEcho(t *testing.T) {
	body, _ := os.ReadFile("testdata/responses/features.request.json")
	req, err := DecodeRequest(Responses, body)
	if err != nil {
		t.Fatal(err)
	}
	var resp map[string]any
	if err := json.Unmarshal(encodeRespResponse(&Response{Model: "m", Created: 1}, req, testIDs()), &resp); err != nil {
		t.Fatal(err)
	}
	if resp["tool_choice"].(map[string]any)["name"] != "get_weather" || resp["parallel_tool_calls"] != false ||
		resp["max_output_tokens"] != float64(1024) || resp["temperature"] != 0.2 || resp["top_p"] != 0.9 ||
		resp["reasoning"].(map[string]any)["effort"] != "high" || resp["user"] != "user-hash" {
		t.Errorf("echo %v", resp)
	}
	format := resp["text"].(map[string]any)["format"].(map[string]any)
	if format["type"] != "json_schema" || format["name"] != "answer" || format["strict"] != true {
		t.Errorf("text.format %v", format)
	}
	if n := len(resp["tools"].([]any)); n != len(req.Tools) {
		t.Errorf("%d tools echoed, %d offered", n, len(req.Tools))
	}
}
