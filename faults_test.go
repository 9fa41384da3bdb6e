package main

// Fault scenarios against the built binary: each scripts a fake upstream
// to fail the way real providers do (the faults public failover
// benchmarks use) and checks what the client gets, which channels were
// asked, and how often. Channel A (priority 1) misbehaves; channel B
// (priority 2), when present, answers.

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"catfish/engine/enginetest"
)

// pair starts catfish with a misbehaving A and a healthy B.
func pair(t *testing.T, a func(n int64, w http.ResponseWriter, r *http.Request), aFields map[string]any, env ...string) (s *enginetest.Proc, fa, fb *enginetest.Upstream, idA, idB string) {
	t.Helper()
	s = enginetest.Start(t, env...)
	fa = enginetest.NewUpstream(t, a)
	fb = enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			enginetest.WholeStream(w, r, "from B")
			return
		}
		enginetest.WriteChat(w, "from B")
	})
	if aFields == nil {
		aFields = map[string]any{}
	}
	aFields["url"], aFields["priority"], aFields["name"] = fa.V1(), 1, "A"
	idA = s.AddChannel(aFields)
	idB = s.AddChannel(map[string]any{"url": fb.V1(), "priority": 2, "name": "B"})
	return
}

func hits(t *testing.T, f *enginetest.Upstream, want int64, name string) {
	t.Helper()
	if got := f.Hits(); got != want {
		t.Errorf("requests to %s: got %d, want %d", name, got, want)
	}
}

func TestFault429RetryAfterOnce(t *testing.T) {
	s, fa, fb, a, _ := pair(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			enginetest.WriteErr(w, 429, "rate_limit_exceeded")
			return
		}
		enginetest.WriteChat(w, "from A")
	}, nil)
	start := time.Now()
	code, h, body := s.Chat("default", false)
	took := time.Since(start)
	if code != 200 || !strings.Contains(body, "from A") {
		t.Fatalf("got %d %s, want A's answer after the wait", code, body)
	}
	if took < 900*time.Millisecond {
		t.Errorf("answered after %v: the 1 s Retry-After was not honoured", took)
	}
	hits(t, fa, 2, "A")
	hits(t, fb, 0, "B")
	wantChain(t, h, a+"=http_429", a+"=ok")
	if b := s.BreakerOf(a); b.State != "closed" || b.Fails != 0 {
		t.Errorf("A's breaker after the retry succeeded: %+v, want closed with 0 fails", b)
	}
}

func TestFault429Persistent(t *testing.T) {
	t.Run("short Retry-After: retried, then the next channel", func(t *testing.T) {
		s, fa, fb, a, b := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "0")
			enginetest.WriteErr(w, 429, "rate_limit_exceeded")
		}, nil)
		code, h, body := s.Chat("default", false)
		if code != 200 || !strings.Contains(body, "from B") {
			t.Fatalf("got %d %s, want B's answer", code, body)
		}
		hits(t, fa, 2, "A")
		hits(t, fb, 1, "B")
		wantChain(t, h, a+"=http_429", a+"=http_429", b+"=ok")
	})
	t.Run("long Retry-After: the breaker opens until then", func(t *testing.T) {
		s, fa, _, a, b := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "120")
			enginetest.WriteErr(w, 429, "rate_limit_exceeded")
		}, nil)
		code, h, _ := s.Chat("default", false)
		if code != 200 {
			t.Fatalf("first request: %d", code)
		}
		wantChain(t, h, a+"=http_429", b+"=ok")
		if br := s.BreakerOf(a); br.State != "open" {
			t.Errorf("A's breaker after Retry-After 120: got %s, want open", br.State)
		}
		var until struct {
			ByConfigID map[string]struct {
				DisabledUntil *time.Time `json:"disabled_until"`
			} `json:"by_config_id"`
		}
		s.GetJSON("/admin/stats", &until)
		if du := until.ByConfigID[a].DisabledUntil; du == nil || time.Until(*du) < 100*time.Second {
			t.Errorf("A disabled until %v, want about 120 s from now", du)
		}
		for range 3 {
			if code, h, _ := s.Chat("default", false); code != 200 || len(enginetest.Attempts(h)) != 1 {
				t.Errorf("while A is open: %d, attempts %v, want B alone", code, enginetest.Attempts(h))
			}
		}
		hits(t, fa, 1, "A")
	})
}

func TestFault500Once(t *testing.T) {
	s, fa, fb, a, _ := pair(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			enginetest.WriteErr(w, 500, "server_error")
			return
		}
		enginetest.WriteChat(w, "from A")
	}, nil)
	code, h, body := s.Chat("default", false)
	if code != 200 || !strings.Contains(body, "from A") {
		t.Fatalf("got %d %s, want A's answer on the retry", code, body)
	}
	hits(t, fa, 2, "A")
	hits(t, fb, 0, "B")
	wantChain(t, h, a+"=http_500", a+"=ok")
}

func TestFault503Persistent(t *testing.T) {
	s, fa, fb, a, b := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		enginetest.WriteErr(w, 503, "overloaded")
	}, nil)
	code, h, body := s.Chat("default", false)
	if code != 200 || !strings.Contains(body, "from B") {
		t.Fatalf("got %d %s, want B's answer", code, body)
	}
	hits(t, fa, 2, "A")
	hits(t, fb, 1, "B")
	wantChain(t, h, a+"=http_503", a+"=http_503", b+"=ok")
	if br := s.BreakerOf(a); br.Fails != 2 {
		t.Errorf("A's consecutive failures: got %d, want 2", br.Fails)
	}
}

func TestFaultResetBeforeHeaders(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "json", true: "stream"}[stream]
		t.Run(name, func(t *testing.T) {
			s, fa, fb, a, b := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.Reset(w) }, nil)
			code, h, body := s.Chat("default", stream)
			if code != 200 || !strings.Contains(body, "from") || !strings.Contains(body, "B") {
				t.Fatalf("got %d %s, want B's answer", code, body)
			}
			hits(t, fa, 2, "A")
			hits(t, fb, 1, "B")
			wantChain(t, h, a+"=reset", a+"=reset", b+"=ok")
		})
	}
}

func TestFaultNoResponse(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "json", true: "stream"}[stream]
		t.Run(name, func(t *testing.T) {
			s, fa, fb, a, b := pair(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
				enginetest.SleepOrGone(r, 30*time.Second)
			}, map[string]any{"timeout_seconds": 1})
			start := time.Now()
			code, h, body := s.Chat("default", stream)
			took := time.Since(start)
			if code != 200 || !strings.Contains(body, "B") {
				t.Fatalf("got %d %s, want B's answer", code, body)
			}
			if took > 10*time.Second {
				t.Errorf("answered after %v: the 1 s first-byte timeout did not fire", took)
			}
			t.Logf("answered after %v", took.Round(time.Millisecond))
			hits(t, fa, 1, "A") // a silent upstream stays silent: no retry
			hits(t, fb, 1, "B")
			wantChain(t, h, a+"=timeout", b+"=ok")
		})
	}
}

func TestFaultFirstTokenSlow(t *testing.T) {
	s, fa, fb, a, b := pair(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		sw := enginetest.StartSSE(w)
		sw.Comment("keep-alive") // a comment is not a token
		enginetest.SleepOrGone(r, 3*time.Second)
		sw.Data(enginetest.Chunk("late A", ""))
		sw.Data(enginetest.Chunk("", "stop"))
		sw.Data("[DONE]")
	}, map[string]any{"timeout_seconds": 1})
	start := time.Now()
	code, h, body := s.Chat("default", true)
	took := time.Since(start)
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	ev := enginetest.SSEData(body)
	if len(ev) == 0 || ev[len(ev)-1] != "[DONE]" || !strings.Contains(body, "from") || strings.Contains(body, "late A") {
		t.Errorf("want B's whole stream and nothing of A's: %q", ev)
	}
	if took > 2500*time.Millisecond {
		t.Errorf("answered after %v: want a failover after the 1 s timeout", took)
	}
	hits(t, fa, 1, "A")
	hits(t, fb, 1, "B")
	wantChain(t, h, a+"=timeout", b+"=ok")
}

// checkBroken checks a stream that broke after commit: the chunks sent,
// then one final error event, no [DONE].
func checkBroken(t *testing.T, body string, wantChunks int, wantReason string) {
	t.Helper()
	ev := enginetest.SSEData(body)
	if len(ev) != wantChunks+1 {
		t.Fatalf("events: got %d %q, want %d chunks and an error", len(ev), ev, wantChunks)
	}
	last := ev[len(ev)-1]
	if !strings.HasPrefix(last, `{"error":`) || !strings.Contains(last, wantReason) {
		t.Errorf("final event %q: want an error saying %q", last, wantReason)
	}
	if strings.Contains(body, "[DONE]") {
		t.Errorf("a broken stream ended with [DONE]: %q", body)
	}
	if !strings.HasSuffix(body, "\n\n") {
		t.Errorf("the final event is not terminated: %q", body)
	}
}

// TestFaultStreamCut: with continuation off, a stream cut after commit
// ends with an error event, and no other channel is asked.
func TestFaultStreamCut(t *testing.T) {
	cases := []struct {
		name   string
		end    func(w http.ResponseWriter)
		reason string
	}{
		{"clean EOF before finish_reason", func(http.ResponseWriter) {}, "ended before the answer was complete"},
		{"connection reset", enginetest.Reset, "connection reset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, fa, fb, a, _ := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
				sw := enginetest.StartSSE(w)
				for _, c := range []string{"one", "two", "three"} {
					sw.Data(enginetest.Chunk(c, ""))
				}
				tc.end(w)
			}, nil, "CONTINUATION=off")
			code, h, body := s.Chat("default", true)
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			checkBroken(t, body, 3, tc.reason)
			if strings.Contains(body, strings.TrimPrefix(fa.URL, "http://")) || strings.Contains(body, "127.0.0.1") {
				t.Errorf("the final event gives the upstream's address away: %q", body)
			}
			hits(t, fb, 0, "B") // too late to fail over
			wantChain(t, h, a+"=ok")
			enginetest.WaitFor(t, 3*time.Second, "A's failure counted", func() bool { return s.BreakerOf(a).Fails == 1 })
		})
	}
}

// TestFaultStreamStall: with continuation off, a stall after commit ends
// at the idle timeout with an error event.
func TestFaultStreamStall(t *testing.T) {
	s, _, fb, _, _ := pair(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		sw := enginetest.StartSSE(w)
		sw.Data(enginetest.Chunk("one", ""))
		sw.Data(enginetest.Chunk("two", ""))
		enginetest.SleepOrGone(r, 30*time.Second)
	}, nil, "STREAM_IDLE_TIMEOUT=1", "CONTINUATION=off")
	start := time.Now()
	code, _, body := s.Chat("default", true)
	took := time.Since(start)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	checkBroken(t, body, 2, "stalled")
	if took > 10*time.Second {
		t.Errorf("stream ended after %v: the 1 s idle timeout did not fire", took)
	}
	hits(t, fb, 0, "B")
}

func TestFaultMalformedChunk(t *testing.T) {
	s, _, _, _, _ := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		sw := enginetest.StartSSE(w)
		sw.Data(enginetest.Chunk("one", ""))
		sw.Data(`{"choices":[{"delta":{"content":"tw`)
		sw.Data(`<html>bad gateway</html>`)
		sw.Data(enginetest.Chunk("two", ""))
		sw.Data(enginetest.Chunk("", "stop"))
		sw.Data("[DONE]")
	}, nil)
	code, _, body := s.Chat("default", true)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	want := []string{enginetest.Chunk("one", ""), enginetest.Chunk("two", ""), enginetest.Chunk("", "stop"), "[DONE]"}
	if got := enginetest.SSEData(body); !slices.Equal(got, want) {
		t.Errorf("events:\n got %q\nwant %q", got, want)
	}
	if strings.Contains(body, "html") || strings.Contains(body, `"tw`+"\n") {
		t.Errorf("a malformed event was relayed: %q", body)
	}
	// The log line travels through a pipe: it may trail the answer.
	enginetest.WaitFor(t, 5*time.Second, "a log line for the dropped event", func() bool {
		return strings.Contains(s.Out.String(), "dropped a malformed stream event")
	})
}

func TestFaultStreamWithoutDone(t *testing.T) {
	t.Run("after finish_reason", func(t *testing.T) {
		s, _, _, a, _ := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
			sw := enginetest.StartSSE(w)
			sw.Data(enginetest.Chunk("one", ""))
			sw.Data(enginetest.Chunk("", "stop"))
		}, nil)
		code, _, body := s.Chat("default", true)
		want := []string{enginetest.Chunk("one", ""), enginetest.Chunk("", "stop"), "[DONE]"}
		if got := enginetest.SSEData(body); code != 200 || !slices.Equal(got, want) {
			t.Errorf("got %d %q, want %q", code, got, want)
		}
		if br := s.BreakerOf(a); br.Fails != 0 {
			t.Errorf("a complete stream counted as a failure: %+v", br)
		}
	})
	t.Run("after the usage chunk the client asked for", func(t *testing.T) {
		s, _, _, _, _ := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
			sw := enginetest.StartSSE(w)
			sw.Data(enginetest.Chunk("one", ""))
			sw.Data(enginetest.Chunk("", "stop"))
			sw.Data(enginetest.UsageChunk)
		}, nil)
		body := `{"model":"default","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`
		code, _, out := s.Request("POST", "/v1/chat/completions", "application/json", []byte(body))
		want := []string{enginetest.Chunk("one", ""), enginetest.Chunk("", "stop"), enginetest.UsageChunk, "[DONE]"}
		if got := enginetest.SSEData(string(out)); code != 200 || !slices.Equal(got, want) {
			t.Errorf("got %d %q, want %q", code, got, want)
		}
	})
}

func TestFaultContextLength(t *testing.T) {
	t.Run("moves on to the next channel, never resent to the same", func(t *testing.T) {
		s, fa, fb, a, b := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
			enginetest.WriteErr(w, 400, "context_length_exceeded")
		}, map[string]any{"max_retries": 3})
		for _, stream := range []bool{false, true} {
			a0, b0 := fa.Hits(), fb.Hits()
			code, h, body := s.Chat("default", stream)
			if code != 200 || !strings.Contains(body, "B") {
				t.Fatalf("stream=%v: got %d %s, want B's answer", stream, code, body)
			}
			hits(t, fa, a0+1, "A")
			hits(t, fb, b0+1, "B")
			wantChain(t, h, a+"=context_length", b+"=ok")
		}
		if br := s.BreakerOf(a); br.Fails != 0 {
			t.Errorf("context_length counted against A: %+v", br)
		}
	})
	t.Run("every channel too small: the error is passed on", func(t *testing.T) {
		s := enginetest.Start(t)
		var fs []*enginetest.Upstream
		for range 2 {
			f := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
				enginetest.WriteErr(w, 400, "context_length_exceeded")
			})
			fs = append(fs, f)
			s.AddChannel(map[string]any{"url": f.V1(), "priority": len(fs)})
		}
		code, _, body := s.Chat("default", false)
		if code != 400 || !strings.Contains(body, "context_length_exceeded") {
			t.Errorf("got %d %s, want the upstream's 400", code, body)
		}
		for i, f := range fs {
			hits(t, f, 1, string(rune('A'+i)))
		}
	})
}

func TestFaultContentPolicy(t *testing.T) {
	upstreamBody := []byte(`{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":"prompt","code":"content_policy_violation"}}`)
	s, fa, fb, a, _ := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		w.Write(upstreamBody)
	}, nil)
	code, h, body := s.Request("POST", "/v1/chat/completions", "application/json", []byte(enginetest.ChatBody("default", false)))
	if code != 400 {
		t.Fatalf("status %d: %s", code, body)
	}
	if !bytes.Equal(body, upstreamBody) {
		t.Errorf("body:\n got %s\nwant %s", body, upstreamBody)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	hits(t, fa, 1, "A")
	hits(t, fb, 0, "B")
	wantChain(t, h, a+"=client_error_400")
	if br := s.BreakerOf(a); br.Fails != 0 {
		t.Errorf("the client's bad request counted against A: %+v", br)
	}
}

// TestFaultPrimaryRecovers: A fails for a while, its breaker opens and B
// serves; once A is healthy the half-open probe brings traffic back to it
// within a few seconds (disable_duration_seconds=1, cooldown cap 2 s).
func TestFaultPrimaryRecovers(t *testing.T) {
	slowTest(t)
	var down atomic.Bool
	down.Store(true)
	s, fa, _, a, b := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			enginetest.WriteErr(w, 500, "down")
			return
		}
		enginetest.WriteChat(w, "from A")
	}, map[string]any{"consecutive_failure_threshold": 1, "disable_duration_seconds": 1, "max_retries": 0},
		"BREAKER_MAX_COOLDOWN=2")
	answeredBy := func() string {
		code, h, body := s.Chat("default", false)
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		c := enginetest.Attempts(h)
		id, _, _ := strings.Cut(c[len(c)-1], "=")
		return id
	}
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if id := answeredBy(); id != b {
			t.Fatalf("while A is down, %s answered", id)
		}
	}
	if n := fa.Hits(); n < 2 || n > 5 {
		t.Errorf("A saw %d requests while down: want the first and a probe or two, the breaker keeping the rest away", n)
	}
	if br := s.BreakerOf(a); br.State == "closed" {
		t.Errorf("A's breaker while down: %s", br.State)
	}
	down.Store(false)
	recovered := time.Now()
	for answeredBy() != a {
		if time.Since(recovered) > 5*time.Second {
			t.Fatalf("traffic not back on A 5 s after it recovered")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("back on A %v after it recovered", time.Since(recovered).Round(time.Millisecond))
	for range 5 {
		if id := answeredBy(); id != a {
			t.Errorf("after recovery %s answered, want A", id)
		}
	}
	if br := s.BreakerOf(a); br.State != "closed" {
		t.Errorf("A's breaker after the probe: %s, want closed", br.State)
	}
}

// TestFaultStatsAfterFailover: the answering channel and the tokens are
// reported for the channel that answered, the failures for the one that
// failed, in /admin/stats and /admin/requests.
func TestFaultStatsAfterFailover(t *testing.T) {
	s, _, _, a, b := pair(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		enginetest.WriteErr(w, 500, "down")
	}, map[string]any{"consecutive_failure_threshold": 0})
	if code, _, body := s.Chat("default", false); code != 200 {
		t.Fatalf("json: %d %s", code, body)
	}
	code, _, body := s.Chat("default", true)
	if code != 200 {
		t.Fatalf("stream: %d %s", code, body)
	}
	if strings.Contains(body, `"usage"`) {
		t.Errorf("the usage chunk the client did not ask for reached it: %q", body)
	}
	type tokens struct{ Prompt, Completion, Total int64 }
	var st struct {
		Total      struct{ Success, Fail int64 }
		ByConfigID map[string]struct {
			Success, Fail int64
			Tokens        tokens
		} `json:"by_config_id"`
	}
	enginetest.WaitFor(t, 5*time.Second, "stats count both requests", func() bool {
		s.GetJSON("/admin/stats", &st)
		return st.Total.Success == 2
	})
	if st.Total.Fail != 0 {
		t.Errorf("total: %+v, want 2 successes, no failure", st.Total)
	}
	if got := st.ByConfigID[a]; got.Success != 0 || got.Fail != 4 || got.Tokens != (tokens{}) {
		t.Errorf("A: %+v, want 4 failed attempts and no tokens", got)
	}
	// B: 3+5 tokens from the JSON answer, 11+13 from the hidden usage chunk.
	if got := st.ByConfigID[b]; got.Success != 2 || got.Fail != 0 || got.Tokens != (tokens{14, 18, 32}) {
		t.Errorf("B: %+v, want 2 successes and tokens {14 18 32}", got)
	}
	var recent []struct {
		Stream    bool
		Status    int
		ChannelID string `json:"channel_id"`
		Attempts  []struct {
			ChannelID string `json:"channel_id"`
			Outcome   string
		}
		Tokens tokens
	}
	s.GetJSON("/admin/requests", &recent)
	if len(recent) != 2 {
		t.Fatalf("recent requests: %d, want 2", len(recent))
	}
	for i, want := range []tokens{{3, 5, 8}, {11, 13, 24}} {
		r := recent[i]
		if r.Status != 200 || r.ChannelID != b || r.Tokens != want || r.Stream != (i == 1) {
			t.Errorf("request %d: %+v, want 200 answered by B with %v", i, r, want)
		}
		var got []string
		for _, at := range r.Attempts {
			got = append(got, at.ChannelID+"="+at.Outcome)
		}
		if w := []string{a + "=http_500", a + "=http_500", b + "=ok"}; !slices.Equal(got, w) {
			t.Errorf("request %d attempts: %v, want %v", i, got, w)
		}
	}
}
