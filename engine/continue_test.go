package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"catfish/engine/enginetest"
)

// Mid-stream continuation (SPEC 11), every branch, against httptest
// upstreams with a deterministic text.

var answer = []string{"The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "lazy ", "dog."}

func joined(pieces []string) string { return strings.Join(pieces, "") }

// lastAssistant returns the text of a request's trailing assistant turn
// (a prefill), in chat or Messages shape; "" when the last turn is not
// the assistant's.
func lastAssistant(body []byte) string {
	var doc struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	json.Unmarshal(body, &doc)
	if len(doc.Messages) == 0 || doc.Messages[len(doc.Messages)-1].Role != "assistant" {
		return ""
	}
	c := doc.Messages[len(doc.Messages)-1].Content
	var s string
	if json.Unmarshal(c, &s) == nil {
		return s
	}
	var blocks []struct{ Text string }
	json.Unmarshal(c, &blocks)
	var b strings.Builder
	for _, bl := range blocks {
		b.WriteString(bl.Text)
	}
	return b.String()
}

// afterPrefix is what a model continues after prefix, from the answer.
func afterPrefix(prefix string) []string {
	rest := strings.TrimPrefix(joined(answer), prefix)
	// Keep it in a few pieces, as a stream would bring it.
	var out []string
	for len(rest) > 0 {
		n := min(5, len(rest))
		out = append(out, rest[:n])
		rest = rest[n:]
	}
	return out
}

func TestContinuationRestartsWithExactMatch(t *testing.T) {
	a := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamChat(w, r, answer, 4) })
	var sawPrefill atomic.Bool
	b := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if lastAssistant(enginetest.Body(r)) != "" {
			sawPrefill.Store(true)
		}
		streamChat(w, r, answer, 0)
	})
	h := newHarness(t, nil)
	idA := h.addChannel(map[string]any{"url": a.V1(), "priority": 1})
	h.addChannel(map[string]any{"url": b.V1(), "priority": 2})
	code, hdr, body := h.call("POST", "/v1/chat/completions",
		`{"model":"default","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`)
	if code != 200 || textOf(body) != joined(answer) {
		t.Fatalf("client text %q (%d), want %q once", textOf(body), code, joined(answer))
	}
	evs := enginetest.SSEData(body)
	if evs[len(evs)-1] != "[DONE]" || strings.Contains(body, `"error"`) {
		t.Fatalf("the continued stream must end cleanly: %q", body)
	}
	// One stream: every chunk keeps the first attempt's id.
	for _, e := range evs[:len(evs)-1] {
		if !strings.Contains(e, `"id":"chatcmpl-9"`) {
			t.Fatalf("chunk with another id: %s", e)
		}
	}
	if sawPrefill.Load() {
		t.Errorf("an openai channel (prefill off by default) got a prefill")
	}
	if chain := enginetest.Attempts(hdr); len(chain) != 1 {
		t.Errorf("X-Catfish-Attempts went out at commit: %v", chain)
	}
	if _, fails := h.breakerOf(idA); fails != 1 {
		t.Errorf("the broken attempt counts against A: %d failures", fails)
	}
	rec := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
	if len(rec.Attempts) != 2 || rec.Attempts[1].Outcome != "continued" || !rec.Attempts[1].Continuation {
		t.Errorf("attempt chain %+v, want A broken then B continued", rec.Attempts)
	}
}

func TestContinuationPrefill(t *testing.T) {
	a := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamMessages(w, answer, 3) })
	var prefill atomic.Value
	b := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		p := lastAssistant(enginetest.Body(r))
		prefill.Store(p)
		streamMessages(w, afterPrefix(p), 0)
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": a.V1(), "type": "anthropic", "priority": 1})
	h.addChannel(map[string]any{"url": b.V1(), "type": "anthropic", "priority": 2})
	code, _, body := h.sendAs("/v1/messages", messagesBody("default", true))
	if code != 200 || textOf(body) != joined(answer) {
		t.Fatalf("client text %q, want %q once", textOf(body), joined(answer))
	}
	// "The quick brown " was sent; the prefill has no trailing space.
	if p, _ := prefill.Load().(string); p != "The quick brown" {
		t.Errorf("prefill %q, want the text sent without its trailing whitespace", p)
	}
	evs := namedEvents(body)
	starts := 0
	for _, e := range evs {
		if e[0] == "message_start" {
			starts++
		}
	}
	if starts != 1 || evs[len(evs)-1][0] != "message_stop" {
		t.Errorf("one message, ended cleanly: %d message_start, last %q", starts, evs[len(evs)-1][0])
	}
}

func TestContinuationRestartDivergesEndsWithError(t *testing.T) {
	a := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamChat(w, r, answer, 4) })
	b := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		streamChat(w, r, []string{"A ", "different ", "answer."}, 0)
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": a.V1(), "priority": 1})
	h.addChannel(map[string]any{"url": b.V1(), "priority": 2})
	code, _, body := h.chat("default", true)
	evs := enginetest.SSEData(body)
	if code != 200 || textOf(body) != joined(answer[:4]) || !strings.HasPrefix(evs[len(evs)-1], `{"error":`) ||
		strings.Contains(body, "[DONE]") || strings.Contains(body, "different") {
		t.Fatalf("a diverging restart must end with the error event and nothing of B: %q", body)
	}
}

func TestContinuationPrefillRefusedThenRestart(t *testing.T) {
	a := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamChat(w, r, answer, 4) })
	var prefills atomic.Int64
	b := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if lastAssistant(enginetest.Body(r)) != "" {
			prefills.Add(1)
			enginetest.WriteErr(w, 400, "invalid_request_error") // a fallback that refuses assistant prefill
			return
		}
		streamChat(w, r, answer, 0)
	})
	cfg := testConfig(t)
	n := startNode(t, cfg)
	n.addChannel(map[string]any{"url": a.V1(), "priority": 1})
	idB := n.addChannel(map[string]any{"url": b.V1(), "priority": 2, "prefill": true})
	code, _, body := n.chat("default", true)
	if code != 200 || textOf(body) != joined(answer) || strings.Contains(body, "invalid_request_error") {
		t.Fatalf("the client must never see the 400: %q", body)
	}
	if prefills.Load() != 1 {
		t.Fatalf("B got %d prefill requests, want 1", prefills.Load())
	}
	refused := func(h *harness) bool { return h.views()[idB].PrefillRejected }
	if !refused(n.harness) {
		t.Fatalf("B is not marked as refusing prefill")
	}
	// The mark is kept: the next break restarts on B at once.
	n.chat("default", true)
	if prefills.Load() != 1 {
		t.Errorf("B was sent a prefill again after refusing one")
	}
	// ... across a restart (flushed with the breakers) ...
	n.stop() // a graceful stop writes the final snapshot
	n2 := startNode(t, cfg)
	if !refused(n2.harness) {
		t.Fatalf("the mark was lost in a restart")
	}
	// ... until the channel is edited.
	if code, _, body := n2.call("PUT", "/admin/config/"+idB, `{"name":"B2"}`); code != 200 || refused(n2.harness) {
		t.Fatalf("edit: %d %s; mark still set: %v", code, body, refused(n2.harness))
	}
}

func TestContinuationNotWithAToolCallInFlight(t *testing.T) {
	a := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		s := enginetest.StartSSE(w)
		s.Data(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"write","arguments":""}}]},"finish_reason":null}]}`)
		s.Data(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"gpt-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"pa"}}]},"finish_reason":null}]}`)
	})
	b := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamChat(w, r, answer, 0) })
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": a.V1(), "priority": 1})
	h.addChannel(map[string]any{"url": b.V1(), "priority": 2})
	_, _, body := h.chat("default", true)
	evs := enginetest.SSEData(body)
	if !strings.HasPrefix(evs[len(evs)-1], `{"error":`) || b.Hits() != 0 {
		t.Fatalf("a tool call in flight: want the error event and B untouched; B %d, %q", b.Hits(), body)
	}
}

func TestContinuationAfterAStall(t *testing.T) {
	a := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		s := enginetest.StartSSE(w)
		for _, p := range answer[:3] {
			s.Data(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"gpt-x","choices":[{"index":0,"delta":{"content":` +
				strings.TrimSpace(mustJSON(p)) + `},"finish_reason":null}]}`)
		}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	b := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamChat(w, r, answer, 0) })
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	h.addChannel(map[string]any{"url": a.V1(), "priority": 1})
	h.addChannel(map[string]any{"url": b.V1(), "priority": 2})
	start := time.Now()
	code, _, body := h.chat("default", true)
	if code != 200 || textOf(body) != joined(answer) || time.Since(start) > 5*time.Second {
		t.Fatalf("after a stall: %q in %v", textOf(body), time.Since(start))
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestContinuationUsageSums(t *testing.T) {
	a := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamMessages(w, answer, 3) })
	b := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamMessages(w, answer, 0) })
	h := newHarness(t, nil)
	idA := h.addChannel(map[string]any{"url": a.V1(), "type": "anthropic", "priority": 1, "prefill": false})
	idB := h.addChannel(map[string]any{"url": b.V1(), "type": "anthropic", "priority": 2, "prefill": false})
	_, hdr, body := h.sendAs("/v1/messages", messagesBody("default", true))
	if textOf(body) != joined(answer) {
		t.Fatalf("text %q", textOf(body))
	}
	// A's message_start said 4 input tokens; B's whole answer 4 in and 9 out.
	var final struct {
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}
	for _, e := range namedEvents(body) {
		if e[0] == "message_delta" {
			json.Unmarshal([]byte(e[1]), &final)
		}
	}
	// A's message_start reported 4 in, 1 out; B's answer 4 in, 9 out.
	if final.Usage.InputTokens != 8 || final.Usage.OutputTokens != 10 {
		t.Errorf("the client's usage %+v, want both attempts': 8 in, 10 out", final.Usage)
	}
	rec := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
	if rec.Tokens.Total != 4+1+4+9 {
		t.Errorf("the request's tokens %+v", rec.Tokens)
	}
	v := h.statsAfter(1)
	if a, b := v.ByConfigID[idA].Tokens, v.ByConfigID[idB].Tokens; a.Prompt != 4 || b.Prompt != 4 || b.Completion != 9 {
		t.Errorf("tokens credited: A %+v, B %+v", a, b)
	}
}

func TestContinuationClientAbortCancelsIt(t *testing.T) {
	a := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamChat(w, r, answer, 4) })
	bGone := make(chan struct{})
	b := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		s := enginetest.StartSSE(w)
		s.Data(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"The quick brown fox jumps "},"finish_reason":null}]}`)
		<-r.Context().Done()
		close(bGone)
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": a.V1(), "priority": 1})
	idB := h.addChannel(map[string]any{"url": b.V1(), "priority": 2})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("default", true)))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	got := ""
	for !strings.Contains(got, "jumps") {
		n, err := resp.Body.Read(buf)
		got += string(buf[:n])
		if err != nil {
			t.Fatalf("stream ended before the continuation relayed: %q", got)
		}
	}
	cancel()
	resp.Body.Close()
	select {
	case <-bGone:
	case <-time.After(5 * time.Second):
		t.Fatal("the continuation's upstream call was not cancelled")
	}
	h.statsAfter(1) // the request is over: its attempts were reported
	if _, fails := h.breakerOf(idB); fails != 0 {
		t.Errorf("a client abort counted against B: %d", fails)
	}
}

func TestContinuationInEveryDialect(t *testing.T) {
	chatCut := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamChat(w, r, answer, 4) })
	antCut := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamMessages(w, answer, 4) })
	chatWhole := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamChat(w, r, answer, 0) })
	antPrefill := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		streamMessages(w, afterPrefix(lastAssistant(enginetest.Body(r))), 0)
	})
	for _, tc := range []struct {
		name, path, body string
		a, b             *enginetest.Upstream
		aType, bType     string
		end              string
	}{
		{"chat over chat, restart", "/v1/chat/completions", enginetest.ChatBody("default", true), chatCut, chatWhole, "openai", "openai", "[DONE]"},
		{"messages over openai, then anthropic prefill", "/v1/messages", messagesBody("default", true), chatCut, antPrefill, "openai", "anthropic", "message_stop"},
		{"responses over anthropic, then chat restart", "/v1/responses", responsesBody("default", true), antCut, chatWhole, "anthropic", "openai", "response.completed"},
		{"responses over chat, then anthropic prefill", "/v1/responses", responsesBody("default", true), chatCut, antPrefill, "openai", "anthropic", "response.completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.addChannel(map[string]any{"url": tc.a.V1(), "type": tc.aType, "priority": 1})
			h.addChannel(map[string]any{"url": tc.b.V1(), "type": tc.bType, "priority": 2})
			code, _, body := h.sendAs(tc.path, tc.body)
			if code != 200 || textOf(body) != joined(answer) {
				t.Fatalf("text %q, want %q once; %q", textOf(body), joined(answer), body)
			}
			evs := namedEvents(body)
			last := evs[len(evs)-1]
			if last[0] != tc.end && last[1] != tc.end {
				t.Errorf("last event %v, want %s", last, tc.end)
			}
		})
	}
}

// checkOneResponse checks that what a Responses client got reads as one
// stream: events numbered 0, 1, 2, ... in order, one response.created,
// every response object under the id want, every event about an item
// about the one the upstream announced (these answers have one). It
// returns the last event's name and its response object (nil for the
// error event).
func checkOneResponse(t *testing.T, body, want string) (string, map[string]any) {
	t.Helper()
	evs := namedEvents(body)
	created := 0
	var last map[string]any
	item := ""
	for i, e := range evs {
		var d struct {
			Type     string         `json:"type"`
			Seq      *int           `json:"sequence_number"`
			Response map[string]any `json:"response"`
			ItemID   string         `json:"item_id"`
			Item     struct{ ID string }
		}
		if err := json.Unmarshal([]byte(e[1]), &d); err != nil || d.Type != e[0] {
			t.Fatalf("event %d %q: %v, type %q", i, e[0], err, d.Type)
		}
		if d.Seq == nil || *d.Seq != i {
			t.Fatalf("event %d (%s) has sequence number %v", i, e[0], d.Seq)
		}
		if d.Type == "response.created" {
			created++
		}
		if d.Response != nil && d.Response["id"] != want {
			t.Fatalf("%s of response %v, want %s", d.Type, d.Response["id"], want)
		}
		for _, id := range []string{d.ItemID, d.Item.ID} {
			if item == "" {
				item = id
			}
			if id != "" && id != item {
				t.Fatalf("%s about item %s, the answer's item is %s", d.Type, id, item)
			}
		}
		last = d.Response
	}
	if created != 1 {
		t.Fatalf("%d response.created events", created)
	}
	return evs[len(evs)-1][0], last
}

// outputText joins a response object's output text, as the SDKs'
// output_text does.
func outputText(resp map[string]any) string {
	var b strings.Builder
	for _, it := range resp["output"].([]any) {
		item := it.(map[string]any)
		if item["type"] != "message" {
			continue
		}
		for _, p := range item["content"].([]any) {
			if part := p.(map[string]any); part["type"] == "output_text" {
				b.WriteString(part["text"].(string))
			}
		}
	}
	return b.String()
}

// A Responses stream relayed byte for byte from a responses: true channel
// is followed on the side, so that when it breaks with only text sent it
// goes on elsewhere as any other does (issue #15): the client sees one
// response (its id, the item it has open, sequence numbers going on) and
// the whole text once. Whatever cannot be continued still ends with
// response.failed and error, never response.completed.
func TestContinuationOfAResponsesPassthrough(t *testing.T) {
	respCut := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamResponses(w, "A", answer, 4) })
	respWhole := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamResponses(w, "B", answer, 0) })
	respOther := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		streamResponses(w, "B", []string{"A ", "different ", "answer."}, 0)
	})
	chatWhole := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { streamChat(w, r, answer, 0) })
	var prefill atomic.Value
	antPrefill := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		p := lastAssistant(enginetest.Body(r))
		prefill.Store(p)
		streamMessages(w, afterPrefix(p), 0)
	})
	callCut := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		s := enginetest.StartSSE(w)
		s.Event("response.created", `{"type":"response.created","sequence_number":0,"response":{"id":"resp_A","object":"response","status":"in_progress","output":[]}}`)
		s.Event("response.output_item.added", `{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"fc_A","type":"function_call","status":"in_progress","arguments":"","call_id":"call_A","name":"write"}}`)
		s.Event("response.function_call_arguments.delta", `{"type":"response.function_call_arguments.delta","sequence_number":2,"item_id":"fc_A","output_index":0,"delta":"{\"pa"}`)
	})
	responses := map[string]any{"type": "openai", "responses": true}
	for _, tc := range []struct {
		name      string
		a, b      *enginetest.Upstream
		bFields   map[string]any
		off       bool   // CONTINUATION=off
		continued bool   // the client gets the whole answer
		prefill   string // what b must be sent as a prefill
	}{
		{name: "then another responses channel: a restart, matched", a: respCut, b: respWhole, bFields: responses, continued: true},
		{name: "then a chat channel: a restart", a: respCut, b: chatWhole, bFields: map[string]any{"type": "openai"}, continued: true},
		{name: "then an anthropic channel: a prefill", a: respCut, b: antPrefill, bFields: map[string]any{"type": "anthropic"},
			continued: true, prefill: "The quick brown fox"},
		{name: "a prefill channel on a responses route restarts", a: respCut, b: respWhole,
			bFields: map[string]any{"type": "openai", "responses": true, "prefill": true}, continued: true},
		{name: "the restart diverges", a: respCut, b: respOther, bFields: responses},
		{name: "a tool call in flight", a: callCut, b: respWhole, bFields: responses},
		{name: "continuation off", a: respCut, b: respWhole, bFields: responses, off: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefill.Store("")
			hitsB := tc.b.Hits()
			h := newHarness(t, func(c *Config) { c.Continuation = new(!tc.off) })
			h.addChannel(map[string]any{"url": tc.a.V1(), "type": "openai", "responses": true, "priority": 1})
			fields := map[string]any{"url": tc.b.V1(), "priority": 2}
			for k, v := range tc.bFields {
				fields[k] = v
			}
			h.addChannel(fields)
			code, hdr, body := h.sendAs("/v1/responses", responsesBody("default", true))
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			last, resp := checkOneResponse(t, body, "resp_A")
			if strings.Contains(body, "msg_B") || strings.Contains(body, "resp_B") {
				t.Errorf("the client saw the second channel's ids: %q", body)
			}
			if !tc.continued {
				evs := namedEvents(body)
				if n := len(evs); n < 2 || evs[n-2][0] != "response.failed" || last != "error" || strings.Contains(body, "response.completed") {
					t.Fatalf("want response.failed then error, never response.completed: %q", body)
				}
				if strings.Contains(body, "different") {
					t.Errorf("the diverging answer reached the client: %q", body)
				}
				if tc.a != respCut || tc.off {
					if n := tc.b.Hits() - hitsB; n != 0 {
						t.Errorf("the second channel was asked %d times", n)
					}
				}
				return
			}
			if textOf(body) != joined(answer) {
				t.Fatalf("text %q, want %q once", textOf(body), joined(answer))
			}
			if last != "response.completed" || resp["status"] != "completed" || outputText(resp) != joined(answer) {
				t.Fatalf("last %s (%v), output text %q", last, resp["status"], outputText(resp))
			}
			if p, _ := prefill.Load().(string); p != tc.prefill {
				t.Errorf("prefill %q, want %q", p, tc.prefill)
			}
			rec := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
			if len(rec.Attempts) != 2 || rec.Attempts[1].Outcome != "continued" || !rec.Attempts[1].Continuation {
				t.Errorf("attempt chain %+v, want A broken then B continued", rec.Attempts)
			}
		})
	}
}
