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
