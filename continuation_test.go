package main

// The three faults failoverbench scores as "safe" without continuation,
// reproduced against the built binary at its default settings: a stream
// that dies after 40 of 60 tokens with no final chunk, one that goes
// silent after 20 tokens and then closes, and a fallback that answers 400
// to any request whose last message is an assistant prefill. With
// continuation each must end with the whole, deterministic answer, once.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"catfish/engine/enginetest"
)

// twoChannels starts the binary (default settings) with channel A at
// priority 1 and B at priority 2 in the default scheme.
func twoChannels(t *testing.T, a, b func(n int64, w http.ResponseWriter, r *http.Request)) (s *enginetest.Proc, idA, idB string) {
	t.Helper()
	s = enginetest.Start(t)
	fa, fb := enginetest.NewUpstream(t, a), enginetest.NewUpstream(t, b)
	idA = s.AddChannel(map[string]any{"url": fa.V1(), "priority": 1, "name": "A"})
	idB = s.AddChannel(map[string]any{"url": fb.V1(), "priority": 2, "name": "B"})
	return s, idA, idB
}

// benchTokens is the deterministic answer: 60 tokens.
func benchTokens() []string {
	out := make([]string, 60)
	for i := range out {
		out[i] = fmt.Sprintf("tok%02d ", i+1)
	}
	return out
}

// streamTokens writes tokens as chat chunks, stopping after cut (no
// final chunk, no [DONE]) when cut > 0.
func streamTokens(w http.ResponseWriter, r *http.Request, toks []string, cut int, stall time.Duration) {
	s := enginetest.StartSSE(w)
	for i, tk := range toks {
		if cut > 0 && i == cut {
			if stall > 0 {
				enginetest.SleepOrGone(r, stall)
			}
			return
		}
		s.Data(enginetest.Chunk(tk, ""))
	}
	s.Data(enginetest.Chunk("", "stop"))
	s.Data("[DONE]")
}

// streamedText joins the content of a chat stream and says whether it
// ended cleanly.
func streamedText(t *testing.T, body string) (string, bool) {
	t.Helper()
	var b strings.Builder
	ids := map[string]bool{} // id, created and model: one stream keeps all three
	clean := false
	for _, d := range enginetest.SSEData(body) {
		if d == "[DONE]" {
			clean = true
			continue
		}
		var c struct {
			ID      string `json:"id"`
			Created int64  `json:"created"`
			Model   string `json:"model"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Error any `json:"error"`
		}
		if json.Unmarshal([]byte(d), &c) != nil || c.Error != nil {
			return b.String(), false
		}
		ids[fmt.Sprint(c.ID, "|", c.Created, "|", c.Model)] = true
		if len(c.Choices) > 0 {
			b.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if len(ids) != 1 {
		t.Errorf("chunk ids %v: the client must see one stream", ids)
	}
	return b.String(), clean
}

func TestFailoverbenchStreamCutMidAnswer(t *testing.T) {
	toks := benchTokens()
	s, _, _ := twoChannels(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		streamTokens(w, r, toks, 40, 0)
	}, func(_ int64, w http.ResponseWriter, r *http.Request) { streamTokens(w, r, toks, 0, 0) })
	code, _, body := s.Chat("default", true)
	text, clean := streamedText(t, body)
	if code != 200 || !clean || text != strings.Join(toks, "") {
		t.Fatalf("got %d clean=%v %q, want the 60 tokens once", code, clean, text)
	}
	t.Logf("stream cut after 40 of 60 tokens: the client got all 60 once, cleanly ended")
}

func TestFailoverbenchStreamStall(t *testing.T) {
	stall := 3 * time.Second
	if os.Getenv("CATFISH_FAILOVERBENCH_LITERAL") != "" {
		stall = 30 * time.Second // failoverbench's own figure
	}
	toks := benchTokens()
	s, _, _ := twoChannels(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		streamTokens(w, r, toks, 20, stall)
	}, func(_ int64, w http.ResponseWriter, r *http.Request) { streamTokens(w, r, toks, 0, 0) })
	start := time.Now()
	code, _, body := s.Chat("default", true)
	text, clean := streamedText(t, body)
	if code != 200 || !clean || text != strings.Join(toks, "") {
		t.Fatalf("got %d clean=%v %q, want the 60 tokens once", code, clean, text)
	}
	t.Logf("silent after 20 tokens for %v, then closed: the client got all 60 once after %v", stall, time.Since(start).Round(time.Millisecond))
}

func TestFailoverbenchFallbackRefusesPrefill(t *testing.T) {
	toks := benchTokens()
	var refused atomic.Int64
	s, _, idB := twoChannels(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		streamTokens(w, r, toks, 40, 0)
	}, func(_ int64, w http.ResponseWriter, r *http.Request) {
		var doc struct {
			Messages []struct{ Role string } `json:"messages"`
		}
		json.Unmarshal(enginetest.Body(r), &doc)
		if n := len(doc.Messages); n > 0 && doc.Messages[n-1].Role == "assistant" {
			refused.Add(1)
			enginetest.WriteErr(w, 400, "invalid_request_error")
			return
		}
		streamTokens(w, r, toks, 0, 0)
	})
	// B takes prefills (as an anthropic-compatible relay is assumed to).
	if code, body := s.Admin("PUT", "/admin/config/"+idB, map[string]any{"prefill": true}); code != 200 {
		t.Fatalf("set prefill: %d %s", code, body)
	}
	for round := range 2 {
		code, _, body := s.Chat("default", true)
		text, clean := streamedText(t, body)
		if code != 200 || !clean || text != strings.Join(toks, "") || strings.Contains(body, "invalid_request_error") {
			t.Fatalf("round %d: got %d clean=%v %q, want the 60 tokens once and never the 400", round, code, clean, text)
		}
	}
	if refused.Load() != 1 {
		t.Errorf("B refused %d prefills, want 1: the refusal is remembered", refused.Load())
	}
	t.Logf("fallback refusing prefill: the client got all 60 once; the refusal was remembered (1 prefill sent in 2 rounds)")
}
