package engine

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"catfish/engine/enginetest"
	"catfish/engine/stats"
)

func TestStreamCommitPoint(t *testing.T) {
	cases := []struct {
		name      string
		a         func(w http.ResponseWriter, r *http.Request)
		wantChain string // A's outcome
	}{
		{"error event before any data", func(w http.ResponseWriter, r *http.Request) {
			enginetest.StartSSE(w).Data(`{"error":{"message":"overloaded","type":"server_error"}}`)
		}, "stream_error"},
		{"EOF before any data", func(w http.ResponseWriter, r *http.Request) {
			enginetest.StartSSE(w)
		}, "empty_stream"},
		{"headers then silence until the first-byte timeout", func(w http.ResponseWriter, r *http.Request) {
			enginetest.StartSSE(w).Comment("keep-alive") // comments do not count as data
			enginetest.Hang(r)
		}, "timeout"},
		{"only [DONE]", func(w http.ResponseWriter, r *http.Request) {
			enginetest.StartSSE(w).Data("[DONE]")
		}, "empty_stream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.FirstByteTimeout = 300 * time.Millisecond })
			ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { tc.a(w, r) })
			ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
				s := enginetest.StartSSE(w)
				s.Data(enginetest.Chunk("from B", ""))
				s.Data(enginetest.Chunk("", "stop"))
				s.Data("[DONE]")
			})
			h.addChannel(map[string]any{"url": ua.V1(), "priority": 1, "max_retries": 0})
			h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
			code, hdr, body := h.chat("default", true)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			ev := enginetest.SSEData(body)
			if len(ev) != 3 || !strings.Contains(ev[0], "from B") || ev[2] != "[DONE]" {
				t.Errorf("client stream should be exactly B's: %q", ev)
			}
			if strings.Contains(body, "overloaded") {
				t.Errorf("A's pre-commit error leaked to the client")
			}
			chain := enginetest.Attempts(hdr)
			if len(chain) != 2 || !strings.HasSuffix(chain[0], "="+tc.wantChain) {
				t.Errorf("attempts: got %v, want A=%s then B", chain, tc.wantChain)
			}
			if ct := hdr.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type %q", ct)
			}
			if hdr.Get("Cache-Control") != "no-cache" || hdr.Get("X-Accel-Buffering") != "no" {
				t.Errorf("SSE headers missing: %v", hdr)
			}
		})
	}
}

func TestStreamAfterCommit(t *testing.T) {
	cases := []struct {
		name      string
		a         func(s *enginetest.SSE, r *http.Request)
		wantData  []string // expected data payloads (prefix match for error events)
		wantFails int
	}{
		{"clean with [DONE]", func(s *enginetest.SSE, r *http.Request) {
			s.Data(enginetest.Chunk("a", ""))
			s.Data(enginetest.Chunk("", "stop"))
			s.Data("[DONE]")
		}, []string{enginetest.Chunk("a", ""), enginetest.Chunk("", "stop"), "[DONE]"}, 0},
		{"ends after finish_reason without [DONE]: completed", func(s *enginetest.SSE, r *http.Request) {
			s.Data(enginetest.Chunk("a", ""))
			s.Data(enginetest.Chunk("", "stop"))
		}, []string{enginetest.Chunk("a", ""), enginetest.Chunk("", "stop"), "[DONE]"}, 0},
		{"cut after two chunks: final error event, no [DONE]", func(s *enginetest.SSE, r *http.Request) {
			s.Data(enginetest.Chunk("a", ""))
			s.Data(enginetest.Chunk("b", ""))
		}, []string{enginetest.Chunk("a", ""), enginetest.Chunk("b", ""), `{"error":`}, 1},
		{"stall midway: idle timeout", func(s *enginetest.SSE, r *http.Request) {
			s.Data(enginetest.Chunk("a", ""))
			enginetest.Hang(r)
		}, []string{enginetest.Chunk("a", ""), `{"error":`}, 1},
		{"malformed chunk midway is dropped", func(s *enginetest.SSE, r *http.Request) {
			s.Data(enginetest.Chunk("a", ""))
			s.Data(`{"broken": `)
			s.Data(enginetest.Chunk("", "stop"))
			s.Data("[DONE]")
		}, []string{enginetest.Chunk("a", ""), enginetest.Chunk("", "stop"), "[DONE]"}, 0},
		{"upstream error event midway is the final event", func(s *enginetest.SSE, r *http.Request) {
			s.Data(enginetest.Chunk("a", ""))
			s.Data(`{"error":{"message":"boom","type":"server_error"}}`)
		}, []string{enginetest.Chunk("a", ""), `{"error":{"message":"boom"`}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.IdleTimeout, c.Continuation = 300*time.Millisecond, new(false) })
			ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { tc.a(enginetest.StartSSE(w), r) })
			ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "B must not be used") })
			a := h.addChannel(map[string]any{"url": ua.V1(), "priority": 1})
			h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
			code, _, body := h.chat("default", true)
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			got := enginetest.SSEData(body)
			if len(got) != len(tc.wantData) {
				t.Fatalf("events: got %q, want %q", got, tc.wantData)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.wantData[i]) {
					t.Errorf("event %d: got %q, want prefix %q", i, got[i], tc.wantData[i])
				}
			}
			if !strings.HasSuffix(body, "\n\n") {
				t.Errorf("stream does not end with a blank line: %q", body)
			}
			if ub.Hits() != 0 {
				t.Errorf("failover after commit: B got %d requests", ub.Hits())
			}
			if _, fails := h.breakerOf(a); fails != tc.wantFails {
				t.Errorf("A's consecutive failures: got %d, want %d", fails, tc.wantFails)
			}
		})
	}
}

// TestUsageChunkHidden checks that the include_usage the proxy adds is
// invisible: the client gets byte for byte what the upstream would have
// sent without it.
func TestUsageChunkHidden(t *testing.T) {
	// An upstream that behaves like OpenAI: with include_usage every chunk
	// carries "usage":null and a last usage chunk with empty choices follows.
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := enginetest.StartSSE(w)
		withUsage := strings.Contains(string(b), `"include_usage":true`)
		for _, c := range []string{enginetest.Chunk("a", ""), enginetest.Chunk("", "stop")} {
			if withUsage {
				c = strings.TrimSuffix(c, "}") + `,"usage":null}`
			}
			s.Data(c)
		}
		if withUsage {
			s.Data(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`)
		}
		s.Data("[DONE]")
	})
	h := newHarness(t, nil)
	id := h.addChannel(map[string]any{"url": u.V1()})

	_, _, body := h.chat("default", true)
	want := "data: " + enginetest.Chunk("a", "") + "\n\ndata: " + enginetest.Chunk("", "stop") + "\n\ndata: [DONE]\n\n"
	if body != want {
		t.Errorf("client without include_usage:\n got %q\nwant %q", body, want)
	}
	if !strings.Contains(string(u.LastBody()), `"stream_options":{"include_usage":true}`) {
		t.Errorf("the proxy did not ask the upstream for usage: %s", u.LastBody())
	}

	_, _, body = h.call("POST", "/v1/chat/completions",
		`{"model":"default","stream":true,"stream_options":{"include_usage":true},"messages":[]}`)
	if !strings.Contains(body, `"choices":[],"usage":{"prompt_tokens":3`) || !strings.Contains(body, `"usage":null`) {
		t.Errorf("client that asked for usage must get it untouched: %q", body)
	}
	// Hidden or shown, each stream's usage chunk is counted for the channel.
	if got, want := h.statsAfter(2).ByConfigID[id].Tokens, (stats.Tokens{Prompt: 6, Completion: 4, Total: 10}); got != want {
		t.Errorf("tokens: got %+v, want %+v", got, want)
	}
}

func TestClientAbortCancelsUpstream(t *testing.T) {
	h := newHarness(t, nil)
	upstreamGone := make(chan struct{})
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		s := enginetest.StartSSE(w)
		s.Data(enginetest.Chunk("a", ""))
		select {
		case <-r.Context().Done():
			close(upstreamGone)
		case <-time.After(5 * time.Second):
		}
	})
	id := h.addChannel(map[string]any{"url": u.V1()})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("default", true)))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	io.ReadFull(resp.Body, buf) // the first event has arrived: committed
	cancel()
	resp.Body.Close()
	select {
	case <-upstreamGone:
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream call was not cancelled when the client left")
	}
	h.statsAfter(1) // the request is over: its attempt was reported
	if _, fails := h.breakerOf(id); fails != 0 {
		t.Errorf("a client abort counted against the channel: %d failures", fails)
	}
}

func TestClientAbortBeforeAnswerCountsNothing(t *testing.T) {
	h := newHarness(t, nil)
	started := make(chan struct{}, 1)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		enginetest.Hang(r)
	})
	ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "B") })
	id := h.addChannel(map[string]any{"url": u.V1(), "priority": 1})
	h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("default", false)))
	req.Header.Set("Authorization", "Bearer "+testKey)
	go func() { <-started; cancel() }()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("expected the client's request to be cancelled")
	}
	h.statsAfter(1) // the request is over: no failover can follow
	if ub.Hits() != 0 {
		t.Errorf("failover after the client left: B got %d", ub.Hits())
	}
	if _, fails := h.breakerOf(id); fails != 0 {
		t.Errorf("client abort counted: %d", fails)
	}
}

// TestUpstreamWithoutStreamOptions: an upstream that refuses the
// stream_options the proxy adds gets the client's own request instead.
func TestUpstreamWithoutStreamOptions(t *testing.T) {
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "stream_options") {
			enginetest.WriteErr(w, 400, "invalid_request_error")
			return
		}
		s := enginetest.StartSSE(w)
		s.Data(enginetest.Chunk("a", "stop"))
		s.Data("[DONE]")
	})
	h := newHarness(t, nil)
	id := h.addChannel(map[string]any{"url": u.V1()})
	// writeErr's message does not name stream_options: this is a real 400.
	if code, _, _ := h.chat("default", true); code != 400 {
		t.Fatalf("an unrelated 400 must go back to the client, got %d", code)
	}
	u2 := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "stream_options") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"message":"Unrecognized request argument supplied: stream_options","type":"invalid_request_error"}}`))
			return
		}
		s := enginetest.StartSSE(w)
		s.Data(enginetest.Chunk("a", "stop"))
		s.Data("[DONE]")
	})
	h.call("DELETE", "/admin/config/"+id, "")
	id2 := h.addChannel(map[string]any{"url": u2.V1()})
	code, hdr, body := h.chat("default", true)
	if code != 200 || !strings.Contains(body, "[DONE]") {
		t.Fatalf("got %d %q", code, body)
	}
	if u2.Hits() != 2 {
		t.Errorf("upstream requests: got %d, want 2 (with, then without stream_options)", u2.Hits())
	}
	if got := enginetest.Attempts(hdr); len(got) != 2 || !strings.HasSuffix(got[0], "=no_stream_options") {
		t.Errorf("attempts: %v", got)
	}
	if _, fails := h.breakerOf(id2); fails != 0 {
		t.Errorf("counted against the channel: %d", fails)
	}
}
