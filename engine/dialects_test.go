package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"catfish/engine/enginetest"
)

// The dialects through the whole engine: a client of each dialect over
// channels of each type, passthrough and translated, with the fakes of
// each vendor below.

// sendAs posts body to path with the headers a client of that dialect
// sends (Messages: x-api-key and anthropic-version).
func (h *harness) sendAs(path, body string, hdr ...string) (int, http.Header, string) {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(path, "/v1/messages") {
		req.Header.Set("X-Api-Key", testKey)
		req.Header.Set("Anthropic-Version", "2023-06-01")
	} else {
		req.Header.Set("Authorization", "Bearer "+testKey)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, b.String()
}

func messagesBody(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"max_tokens":256,"messages":[{"role":"user","content":"hi"}],"stream":%v}`, model, stream)
}

func responsesBody(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"input":"hi","stream":%v}`, model, stream)
}

// writeMessages answers as Anthropic does, whole.
func writeMessages(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"msg_01","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":%q}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":4,"output_tokens":6}}`, text)
}

// streamMessages streams text as Anthropic does, pieces as deltas; with
// cut, the stream stops after that many deltas without an end.
func streamMessages(w http.ResponseWriter, pieces []string, cut int) {
	s := enginetest.StartSSE(w)
	s.Event("message_start", `{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":4,"output_tokens":1}}}`)
	s.Event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	s.Event("ping", `{"type":"ping"}`)
	for i, p := range pieces {
		if cut > 0 && i == cut {
			return
		}
		s.Event("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%q}}`, p))
	}
	s.Event("content_block_stop", `{"type":"content_block_stop","index":0}`)
	s.Event("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":%d}}`, len(pieces)))
	s.Event("message_stop", `{"type":"message_stop"}`)
}

// streamChat streams text as OpenAI does, with a usage chunk when asked;
// with cut, it stops after that many pieces without a finish.
func streamChat(w http.ResponseWriter, r *http.Request, pieces []string, cut int) {
	s := enginetest.StartSSE(w)
	s.Data(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
	for i, p := range pieces {
		if cut > 0 && i == cut {
			return
		}
		s.Data(fmt.Sprintf(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"gpt-x","choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}]}`, p))
	}
	s.Data(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"gpt-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`)
	if strings.Contains(string(enginetest.Body(r)), `"include_usage":true`) {
		s.Data(fmt.Sprintf(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":%d,"total_tokens":%d}}`, len(pieces), 4+len(pieces)))
	}
	s.Data("[DONE]")
}

// streamResponses streams text as OpenAI's Responses API does, every
// event numbered, under response id resp_ID and message item msg_ID;
// with cut, it stops after that many deltas without an end.
func streamResponses(w http.ResponseWriter, id string, pieces []string, cut int) {
	s := enginetest.StartSSE(w)
	seq := 0
	ev := func(typ, rest string) {
		s.Event(typ, fmt.Sprintf(`{"type":%q,"sequence_number":%d,%s}`, typ, seq, rest))
		seq++
	}
	resp := func(status, output, usage string) string {
		return fmt.Sprintf(`"response":{"id":"resp_%s","object":"response","created_at":1756547200,"status":%q,"error":null,"incomplete_details":null,"model":"gpt-resp","output":[%s],"usage":%s,"tools":[]}`,
			id, status, output, usage)
	}
	item := fmt.Sprintf(`"item_id":"msg_%s","output_index":0,"content_index":0`, id)
	ev("response.created", resp("in_progress", "", "null"))
	ev("response.in_progress", resp("in_progress", "", "null"))
	ev("response.output_item.added", fmt.Sprintf(`"output_index":0,"item":{"id":"msg_%s","type":"message","status":"in_progress","content":[],"role":"assistant"}`, id))
	ev("response.content_part.added", item+`,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}`)
	for i, p := range pieces {
		if cut > 0 && i == cut {
			return
		}
		ev("response.output_text.delta", item+fmt.Sprintf(`,"delta":%q,"logprobs":[]`, p))
	}
	text := strings.Join(pieces, "")
	part := fmt.Sprintf(`{"type":"output_text","annotations":[],"logprobs":[],"text":%q}`, text)
	ev("response.output_text.done", item+fmt.Sprintf(`,"text":%q,"logprobs":[]`, text))
	ev("response.content_part.done", item+`,"part":`+part)
	done := fmt.Sprintf(`{"id":"msg_%s","type":"message","status":"completed","content":[%s],"role":"assistant"}`, id, part)
	ev("response.output_item.done", `"output_index":0,"item":`+done)
	ev("response.completed", resp("completed", done, fmt.Sprintf(
		`{"input_tokens":4,"input_tokens_details":{"cached_tokens":0},"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":%d}`,
		len(pieces), 4+len(pieces))))
}

// namedEvents splits an SSE body into (event, data) pairs.
func namedEvents(body string) [][2]string {
	var out [][2]string
	name := ""
	for _, line := range strings.Split(body, "\n") {
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			out = append(out, [2]string{name, strings.TrimPrefix(line, "data: ")})
			name = ""
		}
	}
	return out
}

// textOf joins the text deltas of a stream in any dialect.
func textOf(body string) string {
	var b strings.Builder
	for _, ev := range namedEvents(body) {
		var d struct {
			Type    string `json:"type"`
			Delta   any    `json:"delta"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(ev[1]), &d) != nil {
			continue
		}
		switch {
		case d.Type == "content_block_delta":
			if m, ok := d.Delta.(map[string]any); ok && m["type"] == "text_delta" {
				b.WriteString(m["text"].(string))
			}
		case d.Type == "response.output_text.delta":
			b.WriteString(d.Delta.(string))
		case len(d.Choices) > 0:
			b.WriteString(d.Choices[0].Delta.Content)
		}
	}
	return b.String()
}

func TestMessagesPassthroughToAnthropic(t *testing.T) {
	var gotQuery, gotKey, gotVersion, gotBeta, gotAuth string
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		gotQuery, gotKey, gotVersion = r.URL.RawQuery, r.Header.Get("X-Api-Key"), r.Header.Get("Anthropic-Version")
		gotBeta, gotAuth = r.Header.Get("Anthropic-Beta"), r.Header.Get("Authorization")
		if r.URL.Path != "/v1/messages" {
			http.NotFound(w, r)
			return
		}
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			streamMessages(w, []string{"Hel", "lo"}, 0)
			return
		}
		writeMessages(w, "Hello")
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": u.V1(), "type": "anthropic", "api_key": "sk-ant-channel-0001", "model": "claude-real",
		"headers": map[string]string{"X-Extra": "yes"}})

	code, hdr, body := h.sendAs("/v1/messages?beta=true", messagesBody("default", false), "Anthropic-Beta", "x-1")
	if code != 200 || !strings.Contains(body, `"text":"Hello"`) || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("JSON: %d %s", code, body)
	}
	if gotQuery != "beta=true" || gotKey != "sk-ant-channel-0001" || gotVersion != "2023-06-01" || gotBeta != "x-1" || gotAuth != "" {
		t.Errorf("upstream saw query %q key %q version %q beta %q auth %q", gotQuery, gotKey, gotVersion, gotBeta, gotAuth)
	}
	if b := string(u.LastBody()); !strings.Contains(b, `"model":"claude-real"`) || u.LastHeader().Get("X-Extra") != "yes" {
		t.Errorf("override or extra header missing: %s %v", b, u.LastHeader())
	}
	code, hdr, body = h.sendAs("/v1/messages", messagesBody("default", true))
	evs := namedEvents(body)
	if code != 200 || hdr.Get("Content-Type") != "text/event-stream" || textOf(body) != "Hello" ||
		evs[len(evs)-1][0] != "message_stop" || strings.Contains(body, "[DONE]") {
		t.Fatalf("stream: %d %q", code, body)
	}
}

func TestMessagesOverOpenAITranslated(t *testing.T) {
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-openai-channel-01" {
			http.Error(w, "wrong route", 400)
			return
		}
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			streamChat(w, r, []string{"Hel", "lo"}, 0)
			return
		}
		enginetest.WriteChat(w, "Hello")
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": u.V1(), "api_key": "sk-openai-channel-01", "model": "gpt-real"})

	code, _, body := h.sendAs("/v1/messages", messagesBody("default", false))
	var msg struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Content []struct{ Type, Text string }
		Usage   struct{ InputTokens, OutputTokens int } `json:"usage"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &msg) != nil || msg.Type != "message" || !strings.HasPrefix(msg.ID, "msg_") ||
		len(msg.Content) != 1 || msg.Content[0].Text != "Hello" {
		t.Fatalf("JSON: %d %s", code, body)
	}
	if b := string(u.LastBody()); !strings.Contains(b, `"model":"gpt-real"`) || !strings.Contains(b, `"messages"`) {
		t.Errorf("upstream body %s", b)
	}
	code, _, body = h.sendAs("/v1/messages", messagesBody("default", true))
	evs := namedEvents(body)
	if code != 200 || textOf(body) != "Hello" || len(evs) == 0 || evs[0][0] != "message_start" || evs[len(evs)-1][0] != "message_stop" {
		t.Fatalf("stream: %d %q", code, body)
	}
}

func TestChatOverAnthropicTranslated(t *testing.T) {
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" || r.Header.Get("X-Api-Key") != "sk-ant-channel-0001" {
			http.Error(w, "wrong route", 400)
			return
		}
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			streamMessages(w, []string{"Hel", "lo"}, 0)
			return
		}
		writeMessages(w, "Hello")
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": u.V1(), "type": "anthropic", "api_key": "sk-ant-channel-0001", "model": "claude-real"})
	code, _, body := h.chat("default", false)
	if code != 200 || !strings.Contains(body, `"chat.completion"`) || !strings.Contains(body, `"content":"Hello"`) {
		t.Fatalf("JSON: %d %s", code, body)
	}
	code, _, body = h.chat("default", true)
	evs := enginetest.SSEData(body)
	if code != 200 || textOf(body) != "Hello" || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("stream: %d %q", code, body)
	}
	// Embeddings have no Messages equivalent: the channel is skipped.
	code, _, body = h.call("POST", "/v1/embeddings", `{"model":"default","input":"x"}`)
	if code != 404 || !strings.Contains(body, "unsupported_route") {
		t.Errorf("embeddings over an anthropic channel: %d %s", code, body)
	}
}

func TestResponsesOverChatAndAnthropic(t *testing.T) {
	chat := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			streamChat(w, r, []string{"Hel", "lo"}, 0)
			return
		}
		enginetest.WriteChat(w, "Hello")
	})
	ant := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			streamMessages(w, []string{"Hel", "lo"}, 0)
			return
		}
		writeMessages(w, "Hello")
	})
	for _, ch := range []map[string]any{{"url": chat.V1()}, {"url": ant.V1(), "type": "anthropic"}} {
		h := newHarness(t, nil)
		h.addChannel(ch)
		code, _, body := h.sendAs("/v1/responses", responsesBody("default", false))
		if code != 200 || !strings.Contains(body, `"object":"response"`) || !strings.Contains(body, `"status":"completed"`) ||
			!strings.Contains(body, `"text":"Hello"`) {
			t.Fatalf("%v JSON: %d %s", ch, code, body)
		}
		code, _, body = h.sendAs("/v1/responses", responsesBody("default", true))
		evs := namedEvents(body)
		if code != 200 || textOf(body) != "Hello" || evs[0][0] != "response.created" || evs[len(evs)-1][0] != "response.completed" {
			t.Fatalf("%v stream: %d %q", ch, code, body)
		}
	}
}

func TestResponsesPassthroughEndsItsOwnWay(t *testing.T) {
	cut := false
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/responses" {
			http.NotFound(w, r)
			return
		}
		s := enginetest.StartSSE(w)
		s.Event("response.created", `{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[]}}`)
		s.Event("response.output_item.added", `{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_1","type":"message","role":"assistant","status":"in_progress","content":[]}}`)
		s.Event("response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}`)
		if cut {
			return
		}
		s.Event("response.completed", `{"type":"response.completed","sequence_number":3,"response":{"id":"resp_1","object":"response","status":"completed","output":[],"usage":{"input_tokens":2,"output_tokens":1,"total_tokens":3}}}`)
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": u.V1(), "responses": true})
	code, _, body := h.sendAs("/v1/responses", responsesBody("default", true))
	evs := namedEvents(body)
	if code != 200 || strings.Contains(body, "[DONE]") || evs[len(evs)-1][0] != "response.completed" {
		t.Fatalf("complete stream: %d %q", code, body)
	}
	cut = true
	_, _, body = h.sendAs("/v1/responses", responsesBody("default", true))
	evs = namedEvents(body)
	if n := len(evs); n < 2 || evs[n-2][0] != "response.failed" || evs[n-1][0] != "error" || strings.Contains(body, `{"error":{`) {
		t.Fatalf("broken stream must end with response.failed then error: %q", body)
	}
	if !strings.Contains(evs[len(evs)-1][1], `"sequence_number":4`) {
		t.Errorf("the error event's sequence number: %s", evs[len(evs)-1][1])
	}
}

func TestErrorsInTheClientsDialect(t *testing.T) {
	h := newHarness(t, nil)
	// No key: Anthropic's shape on /v1/messages, OpenAI's elsewhere.
	for _, tc := range []struct{ path, want string }{
		{"/v1/messages", `{"type":"error","error":{"type":"authentication_error"`},
		{"/v1/responses", `{"error":{`},
		{"/v1/chat/completions", `{"error":{`},
	} {
		req, _ := http.NewRequest("POST", h.base+tc.path, strings.NewReader(`{"model":"x"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.HasPrefix(b.String(), tc.want) {
			t.Errorf("%s without a key: %d %s", tc.path, resp.StatusCode, b.String())
		}
	}
	// A bad Messages body: 400 in Anthropic's shape naming the field,
	// nothing sent upstream.
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "x") })
	h.addChannel(map[string]any{"url": u.V1()})
	code, _, body := h.sendAs("/v1/messages", `{"model":"default","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"nope","content":"x"}]}]}`)
	if code != 400 || !strings.HasPrefix(body, `{"type":"error","error":{"type":"invalid_request_error"`) || !strings.Contains(body, "tool_use_id") {
		t.Errorf("bad Messages body: %d %s", code, body)
	}
	code, _, body = h.sendAs("/v1/responses", `{"model":"default","input":"hi","previous_response_id":"resp_1"}`)
	if code != 400 || !strings.Contains(body, `"param":"previous_response_id"`) {
		t.Errorf("previous_response_id on a translated route: %d %s", code, body)
	}
	if u.Hits() != 0 {
		t.Errorf("a refused request reached the upstream")
	}
}

func TestFailoverAcrossChannelTypes(t *testing.T) {
	bad := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(529)
		fmt.Fprint(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	})
	good := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			streamChat(w, r, []string{"from ", "openai"}, 0)
			return
		}
		enginetest.WriteChat(w, "from openai")
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": bad.V1(), "type": "anthropic", "priority": 1, "max_retries": 0})
	h.addChannel(map[string]any{"url": good.V1(), "priority": 2})
	code, hdr, body := h.sendAs("/v1/messages", messagesBody("default", true))
	if code != 200 || textOf(body) != "from openai" || len(enginetest.Attempts(hdr)) != 2 || !strings.HasSuffix(enginetest.Attempts(hdr)[0], "=http_529") {
		t.Fatalf("failover anthropic → openai: %d %v %q", code, enginetest.Attempts(hdr), body)
	}
}

func TestCountTokens(t *testing.T) {
	ant := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/messages/count_tokens" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"input_tokens":42}`)
			return
		}
		http.NotFound(w, r)
	})
	oai := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "x") })
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": oai.V1(), "scheme_name": "plain"})
	h.addChannel(map[string]any{"url": ant.V1(), "scheme_name": "mixed", "type": "anthropic", "priority": 2})
	h.addChannel(map[string]any{"url": oai.V1(), "scheme_name": "mixed", "priority": 1})
	body := `{"model":"mixed","messages":[{"role":"user","content":"count me"}]}`
	if code, _, out := h.sendAs("/v1/messages/count_tokens", body); code != 200 || out != `{"input_tokens":42}` {
		t.Errorf("count_tokens with an anthropic channel: %d %s", code, out)
	}
	body = strings.Replace(body, "mixed", "plain", 1)
	code, hdr, out := h.sendAs("/v1/messages/count_tokens", body)
	if code != 200 || hdr.Get("X-Catfish-Estimate") != "true" || !strings.HasPrefix(out, `{"input_tokens":`) {
		t.Errorf("count_tokens without one: %d %v %s", code, hdr, out)
	}
	if oai.Hits() != 0 {
		t.Errorf("an openai channel was asked to count tokens")
	}
}

// TestUnsignedThinkingNeverReachesAnthropic: a conversation that began on
// a chat channel carries its reasoning back unsigned; failing over to an
// anthropic channel, that block is left out (Anthropic refuses it), and
// the rest passes as it was.
func TestUnsignedThinkingNeverReachesAnthropic(t *testing.T) {
	ant := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if strings.Contains(string(enginetest.Body(r)), `"signature":""`) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprint(w, `{"type":"error","error":{"type":"invalid_request_error","message":"Invalid signature in thinking block"}}`)
			return
		}
		writeMessages(w, "fine")
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": ant.V1(), "type": "anthropic"})
	body := `{"model":"default","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"q","cache_control":{"type":"ephemeral"}}]},` +
		`{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":""},{"type":"text","text":"a"}]},{"role":"user","content":"more"}]}`
	code, _, out := h.sendAs("/v1/messages", body)
	if code != 200 || !strings.Contains(out, "fine") {
		t.Fatalf("%d %s", code, out)
	}
	if sent := string(ant.LastBody()); strings.Contains(sent, `"thinking"`) || !strings.Contains(sent, `"cache_control"`) {
		t.Errorf("upstream got %s", sent)
	}
}

// TestRefusedTranslatedSettingIsRelaxed: Claude Code asks for 128,000
// output tokens; a chat upstream whose model allows fewer answers 400.
// The request goes again without max_tokens, and the client never sees
// the 400; a setting that changes the answer's meaning is not relaxed.
func TestRefusedTranslatedSettingIsRelaxed(t *testing.T) {
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		b := string(enginetest.Body(r))
		switch {
		case strings.Contains(b, `"max_tokens":128000`):
			writeErrMsg(w, 400, "max_tokens is too large: 128000. This model supports at most 8192 completion tokens")
		case strings.Contains(b, `"tool_choice"`):
			writeErrMsg(w, 400, "tool_choice is not supported")
		default:
			enginetest.WriteChat(w, "relaxed")
		}
	})
	h := newHarness(t, nil)
	id := h.addChannel(map[string]any{"url": u.V1()})
	code, hdr, out := h.sendAs("/v1/messages", `{"model":"default","max_tokens":128000,"messages":[{"role":"user","content":"hi"}]}`)
	if code != 200 || !strings.Contains(out, "relaxed") || u.Hits() != 2 {
		t.Fatalf("%d %s after %d requests", code, out, u.Hits())
	}
	if chain := enginetest.Attempts(hdr); len(chain) != 2 || !strings.HasSuffix(chain[0], "=setting_refused") {
		t.Errorf("attempts %v", chain)
	}
	if _, fails := h.breakerOf(id); fails != 0 {
		t.Errorf("a refused setting counted against the channel")
	}
	code, _, out = h.sendAs("/v1/messages", `{"model":"default","max_tokens":100,"tool_choice":{"type":"any"},"tools":[{"name":"t","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"hi"}]}`)
	if code != 400 || !strings.Contains(out, "tool_choice") {
		t.Errorf("a meaning-changing setting must come back as the 400: %d %s", code, out)
	}
}

func writeErrMsg(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error","param":null,"code":null}}`, msg)
}

// TestClientLeavingMidStreamKeepsTheTokensSpent: a client that hangs up
// after the first text leaves the tokens the upstream already reported
// (here the input of message_start) counted to the channel.
func TestClientLeavingMidStreamKeepsTheTokensSpent(t *testing.T) {
	gone := make(chan struct{})
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		s := enginetest.StartSSE(w)
		s.Event("message_start", `{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":40,"output_tokens":1}}}`)
		s.Event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		s.Event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}`)
		<-r.Context().Done()
		close(gone)
	})
	h := newHarness(t, nil)
	id := h.addChannel(map[string]any{"url": u.V1(), "type": "anthropic"})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/v1/messages", strings.NewReader(messagesBody("default", true)))
	req.Header.Set("X-Api-Key", testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	got := ""
	for !strings.Contains(got, "Hel") {
		n, err := resp.Body.Read(buf)
		got += string(buf[:n])
		if err != nil {
			t.Fatalf("stream ended: %q", got)
		}
	}
	cancel()
	resp.Body.Close()
	<-gone
	v := h.statsAfter(1)
	if v.Canceled != 1 || v.ByConfigID[id].Tokens.Prompt != 40 {
		t.Errorf("canceled %d, channel tokens %+v; want the 40 input tokens counted", v.Canceled, v.ByConfigID[id].Tokens)
	}
}
