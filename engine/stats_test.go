package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Shanghai without the system's zone files

	"catfish/engine/enginetest"
	"catfish/engine/stats"
)

// stats is GET /admin/stats.
func (h *harness) stats() stats.View {
	h.t.Helper()
	var v stats.View
	h.getJSON("/admin/stats", &v)
	return v
}

// statsAfter waits until /admin/stats has counted n finished requests
// (success, fail or canceled) and returns it. The recorder counts a
// request just after its answer went out, so a client can be faster.
func (h *harness) statsAfter(n int64) stats.View {
	h.t.Helper()
	var v stats.View
	enginetest.WaitFor(h.t, 15*time.Second, fmt.Sprintf("%d requests in /admin/stats", n), func() bool {
		v = h.stats()
		return v.Total.Success+v.Total.Fail+v.Canceled >= n
	})
	if got := v.Total.Success + v.Total.Fail + v.Canceled; got != n {
		h.t.Fatalf("/admin/stats counted %d requests, want %d", got, n)
	}
	return v
}

func TestStatsCountsUnderConcurrencyWithFailover(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) {
		c.Location = sh
		// The counts below hold only if no attempt times out. The 200
		// requests start at once and share the CPU with the race
		// detector (and, in CI, other test binaries): on a loaded machine
		// an attempt's first byte took more than the harness's 2 s, and
		// timeouts replaced the 500s. What is counted here does not
		// depend on the time an answer takes.
		c.FirstByteTimeout, c.IdleTimeout = time.Minute, time.Minute
	})
	ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteErr(w, 500, "server_error") })
	ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "from B") })
	// A's breaker is off, so every request tries A twice (max_retries 1).
	a := h.addChannel(map[string]any{"url": ua.V1(), "priority": 1, "consecutive_failure_threshold": 0})
	b := h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
	day := time.Now().In(sh).Format(time.DateOnly)

	const n = 200
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", h.base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("default", false)))
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("request: %v", err)
				bad.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d requests were not answered 200", bad.Load())
	}
	if ua.Hits() != 2*n || ub.Hits() != n {
		t.Fatalf("upstream requests: A %d, B %d; want %d, %d", ua.Hits(), ub.Hits(), 2*n, n)
	}

	v := h.statsAfter(n)
	if v.Total != (stats.Counts{Success: n}) || v.Canceled != 0 {
		t.Errorf("total: %+v canceled %d, want %d successes", v.Total, v.Canceled, n)
	}
	if got, want := v.ByConfigID[a].Counts, (stats.Counts{Fail: 2 * n}); got != want {
		t.Errorf("A's attempts: got %+v, want %+v", got, want)
	}
	if got, want := v.ByConfigID[b].Counts, (stats.Counts{Success: n}); got != want {
		t.Errorf("B's attempts: got %+v, want %+v", got, want)
	}
	if now := time.Now().In(sh).Format(time.DateOnly); now == day { // not across midnight
		if v.Today.Date != day || v.Today.Counts != (stats.Counts{Success: n}) {
			t.Errorf("today: %q %+v, want %q with %d successes", v.Today.Date, v.Today.Counts, day, n)
		}
		if v.Today.ByConfigID[a] != (stats.Counts{Fail: 2 * n}) || v.Today.ByConfigID[b] != (stats.Counts{Success: n}) {
			t.Errorf("today by channel: %+v", v.Today.ByConfigID)
		}
	}
	if v.TimeZone != "Asia/Shanghai" {
		t.Errorf("time zone: %q", v.TimeZone)
	}
	if got, want := v.ByConfigID[b].Tokens, (stats.Tokens{Prompt: 3 * n, Completion: 5 * n, Total: 8 * n}); got != want {
		t.Errorf("B's tokens: got %+v, want %+v", got, want)
	}
	if v.ByConfigID[a].Tokens != (stats.Tokens{}) {
		t.Errorf("A answered nothing but has tokens %+v", v.ByConfigID[a].Tokens)
	}
	if s := v.Schemes["default"]; s.Counts != (stats.Counts{Success: n}) || s.Duration.Count != n || s.Tokens.Total != 8*n {
		t.Errorf("scheme: %+v", s)
	}
	if got := v.ByConfigID[b].TTFB.Count; got != n {
		t.Errorf("B's TTFB count: %d, want %d", got, n)
	}
	if got := v.ByConfigID[a].TTFB.Count; got != 0 {
		t.Errorf("A's TTFB count: %d, want 0 (failed attempts have no TTFB)", got)
	}
	var hourly stats.Counts
	for _, b := range v.Hourly {
		hourly.Success += b.Success
		hourly.Fail += b.Fail
	}
	if len(v.Hourly) != stats.KeepHours || hourly != v.Total {
		t.Errorf("hourly: %d buckets summing to %+v", len(v.Hourly), hourly)
	}
	if st := v.ByConfigID[a].State; st != "closed" {
		t.Errorf("A's breaker (threshold 0): %s", st)
	}
}

// TestStatsEveryChannelListed: a configured channel without traffic is in
// by_config_id with its breaker; a deleted one is gone.
func TestStatsEveryChannelListed(t *testing.T) {
	h := newHarness(t, nil)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "ok") })
	a := h.addChannel(map[string]any{"url": u.V1()})
	idle := h.addChannel(map[string]any{"url": u.V1(), "priority": 5})
	if code, _, _ := h.chat("default", false); code != 200 {
		t.Fatal("request failed")
	}
	v := h.statsAfter(1)
	if c := v.ByConfigID[idle]; c == nil || c.Counts != (stats.Counts{}) || c.State != "closed" || c.Hourly == nil {
		t.Errorf("idle channel: %+v", c)
	}
	if code, _, _ := h.call("DELETE", "/admin/config/"+a, ""); code != 204 {
		t.Fatal("delete failed")
	}
	v = h.stats()
	if _, ok := v.ByConfigID[a]; ok {
		t.Errorf("deleted channel still listed")
	}
	if _, ok := v.Today.ByConfigID[a]; ok {
		t.Errorf("deleted channel still listed today")
	}
	if v.Total != (stats.Counts{Success: 1}) {
		t.Errorf("deleting a channel changed the request counts: %+v", v.Total)
	}
}

// TestStatsTTFBIsPerAttempt: a channel's time to first byte runs from its
// own attempt's start. It was taken from the client request's start, so
// the channel that answered after a failover was charged the time the
// failed channels took.
func TestStatsTTFBIsPerAttempt(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.FirstByteTimeout = 400 * time.Millisecond })
			ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.Hang(r) })
			ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
				if !stream {
					enginetest.WriteChat(w, "B")
					return
				}
				s := enginetest.StartSSE(w)
				s.Data(enginetest.Chunk("B", "stop"))
				s.Data("[DONE]")
			})
			h.addChannel(map[string]any{"url": ua.V1(), "priority": 1})
			b := h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
			code, hdr, body := h.chat("default", stream)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			v := h.statsAfter(1)
			r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
			if len(r.Attempts) != 2 || r.Attempts[0].Outcome != "timeout" || r.Attempts[0].LatencyMS < 400 {
				t.Fatalf("attempts: %+v", r.Attempts)
			}
			ttfb := v.ByConfigID[b].TTFB
			if ttfb.Count != 1 || ttfb.MeanMS > r.Attempts[1].LatencyMS+0.1 {
				t.Errorf("B's TTFB %.1f ms (count %d) is longer than B's whole attempt, %.3f ms",
					ttfb.MeanMS, ttfb.Count, r.Attempts[1].LatencyMS)
			}
		})
	}
}

func TestStatsBrokenStreamCountsAsFailedRequest(t *testing.T) {
	h := newHarness(t, nil)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		s := enginetest.StartSSE(w)
		s.Data(enginetest.Chunk("part", ""))
		enginetest.Reset(w)
	})
	a := h.addChannel(map[string]any{"url": u.V1()})
	code, hdr, body := h.chat("default", true)
	if ev := enginetest.SSEData(body); code != 200 || len(ev) != 2 || !strings.HasPrefix(ev[1], `{"error":`) {
		t.Fatalf("client got %d %q", code, body)
	}
	v := h.statsAfter(1)
	if v.Total != (stats.Counts{Fail: 1}) || v.Today.Counts != (stats.Counts{Fail: 1}) || v.Schemes["default"].Counts != (stats.Counts{Fail: 1}) {
		t.Errorf("a broken stream counted as %+v (today %+v, scheme %+v), want one failure",
			v.Total, v.Today.Counts, v.Schemes["default"].Counts)
	}
	if got := v.ByConfigID[a].Counts; got != (stats.Counts{Fail: 1}) {
		t.Errorf("A's attempts: %+v", got)
	}
	r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
	if r.Status != 200 || r.Outcome != "broken" {
		t.Errorf("recent request: status %d outcome %q", r.Status, r.Outcome)
	}
}

func TestStatsCanceledRequest(t *testing.T) {
	h := newHarness(t, nil)
	started := make(chan struct{}, 1)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		enginetest.Hang(r)
	})
	a := h.addChannel(map[string]any{"url": u.V1()})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("default", false)))
	req.Header.Set("Authorization", "Bearer "+testKey)
	go func() { <-started; cancel() }()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("expected the request to be cancelled")
	}
	v := h.statsAfter(1)
	if v.Canceled != 1 || v.Total != (stats.Counts{}) || v.Today.Counts != (stats.Counts{}) {
		t.Errorf("canceled %d, total %+v, today %+v", v.Canceled, v.Total, v.Today.Counts)
	}
	if got := v.ByConfigID[a].Counts; got != (stats.Counts{}) {
		t.Errorf("the client's leaving counted for the channel: %+v", got)
	}
}

// Token usage.

// usageUpstream answers like OpenAI: usage in every non-stream answer;
// for a stream, with include_usage, "usage":null in every chunk and a
// last usage chunk with empty choices.
func usageUpstream(t *testing.T) *enginetest.Upstream {
	return enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), `"stream":true`) {
			enginetest.WriteChat(w, "whole")
			return
		}
		s := enginetest.StartSSE(w)
		withUsage := strings.Contains(string(b), `"include_usage":true`)
		for _, c := range []string{enginetest.Chunk("a", ""), enginetest.Chunk("", "stop")} {
			if withUsage {
				c = strings.TrimSuffix(c, "}") + `,"usage":null}`
			}
			s.Data(c)
		}
		if withUsage {
			s.Data(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}`)
		}
		s.Data("[DONE]")
	})
}

func TestUsageFromStreamAndNonStream(t *testing.T) {
	h := newHarness(t, nil)
	u := usageUpstream(t)
	id := h.addChannel(map[string]any{"url": u.V1()})
	if code, _, _ := h.chat("default", false); code != 200 {
		t.Fatal("non-stream request failed")
	}
	v := h.statsAfter(1)
	if got, want := v.ByConfigID[id].Tokens, (stats.Tokens{Prompt: 3, Completion: 5, Total: 8}); got != want {
		t.Errorf("after a non-stream answer: %+v, want %+v", got, want)
	}
	if code, _, _ := h.chat("default", true); code != 200 {
		t.Fatal("stream request failed")
	}
	v = h.statsAfter(2)
	if got, want := v.ByConfigID[id].Tokens, (stats.Tokens{Prompt: 10, Completion: 7, Total: 17}); got != want {
		t.Errorf("after a stream's usage chunk: %+v, want %+v", got, want)
	}
	if got := v.Schemes["default"].Tokens; got != (stats.Tokens{Prompt: 10, Completion: 7, Total: 17}) {
		t.Errorf("scheme tokens: %+v", got)
	}
}

// TestUsageHiddenWhateverStreamOptions extends TestUsageChunkHidden to
// clients that send stream_options without include_usage: the proxy turns
// it on upstream, counts the usage, and the client still gets exactly the
// stream it asked for.
func TestUsageHiddenWhateverStreamOptions(t *testing.T) {
	h := newHarness(t, nil)
	u := usageUpstream(t)
	id := h.addChannel(map[string]any{"url": u.V1()})
	want := "data: " + enginetest.Chunk("a", "") + "\n\ndata: " + enginetest.Chunk("", "stop") + "\n\ndata: [DONE]\n\n"
	bodies := []string{
		`{"model":"default","stream":true,"messages":[]}`,
		`{"model":"default","stream":true,"stream_options":{},"messages":[]}`,
		`{"model":"default","stream":true,"stream_options":{"include_usage":false},"messages":[]}`,
		`{"model":"default","stream":true,"stream_options":null,"messages":[]}`,
		`{"model":"default","stream":true,"messages":[],"stream_options":{"include_usage":false}}`,
	}
	for i, body := range bodies {
		code, hdr, got := h.call("POST", "/v1/chat/completions", body)
		if code != 200 || got != want {
			t.Errorf("%s:\n got %d %q\nwant %q", body, code, got, want)
		}
		if !strings.Contains(string(u.LastBody()), `"include_usage":true`) {
			t.Errorf("%s: upstream was not asked for usage: %s", body, u.LastBody())
		}
		r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
		if r.Tokens != (stats.Tokens{Prompt: 7, Completion: 2, Total: 9}) {
			t.Errorf("%s: recent request tokens %+v", body, r.Tokens)
		}
		v := h.statsAfter(int64(i + 1))
		if got := v.ByConfigID[id].Tokens.Total; got != int64(9*(i+1)) {
			t.Errorf("%s: channel total tokens %d, want %d", body, got, 9*(i+1))
		}
	}
}

func TestUsageCreditedToTheChannelThatAnswered(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			h := newHarness(t, nil)
			// A answers 500 but reports usage anyway; it must not count.
			ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(500)
				w.Write([]byte(`{"error":{"message":"boom","type":"server_error"},"usage":{"prompt_tokens":100,"completion_tokens":100,"total_tokens":200}}`))
			})
			ub := usageUpstream(t)
			a := h.addChannel(map[string]any{"url": ua.V1(), "priority": 1})
			b := h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
			code, hdr, body := h.chat("default", stream)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			want := stats.Tokens{Prompt: 3, Completion: 5, Total: 8}
			if stream {
				want = stats.Tokens{Prompt: 7, Completion: 2, Total: 9}
			}
			v := h.statsAfter(1)
			if got := v.ByConfigID[b].Tokens; got != want {
				t.Errorf("B's tokens: %+v, want %+v", got, want)
			}
			if got := v.ByConfigID[a].Tokens; got != (stats.Tokens{}) {
				t.Errorf("A's tokens: %+v, want none", got)
			}
			r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
			if r.ChannelID != b || r.Tokens != want {
				t.Errorf("recent request: answered by %s with %+v, want %s with %+v", r.ChannelID, r.Tokens, b, want)
			}
		})
	}
}

// Recent requests and logs.

// recentByID waits for request id in /admin/requests and returns it.
func (h *harness) recentByID(id string) stats.Recent {
	h.t.Helper()
	if id == "" {
		h.t.Fatal("no X-Catfish-Request-Id")
	}
	var found stats.Recent
	enginetest.WaitFor(h.t, 15*time.Second, "request "+id+" in /admin/requests", func() bool {
		var list []stats.Recent
		h.getJSON("/admin/requests", &list)
		for _, r := range list {
			if r.ID == id {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

func TestAdminRequestsShowsTheAttemptChain(t *testing.T) {
	h := newHarness(t, nil)
	ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteErr(w, 500, "server_error") })
	ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "from B") })
	a := h.addChannel(map[string]any{"url": ua.V1(), "priority": 1, "max_retries": 0})
	b := h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
	code, hdr, _ := h.chat("default", false)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
	if r.Status != 200 || r.Outcome != "ok" || r.ChannelID != b || r.Scheme != "default" || r.Model != "default" ||
		r.Path != "/chat/completions" || r.Stream || r.Time.IsZero() || r.DurationMS < 0 {
		t.Errorf("request: %+v", r)
	}
	if r.Tokens != (stats.Tokens{Prompt: 3, Completion: 5, Total: 8}) {
		t.Errorf("tokens: %+v", r.Tokens)
	}
	want := []struct {
		id, outcome string
		status      int
	}{{a, "http_500", 500}, {b, "ok", 200}}
	if len(r.Attempts) != len(want) {
		t.Fatalf("attempts: %+v", r.Attempts)
	}
	for i, w := range want {
		got := r.Attempts[i]
		if got.ChannelID != w.id || got.Outcome != w.outcome || got.Status != w.status || got.LatencyMS <= 0 {
			t.Errorf("attempt %d: %+v, want %s %s %d with a latency", i, got, w.id, w.outcome, w.status)
		}
	}
	// The raw JSON names the fields the admin page reads.
	_, _, raw := h.call("GET", "/admin/requests", "")
	for _, key := range []string{`"channel_id"`, `"outcome"`, `"latency_ms"`, `"status"`, `"tokens"`, `"attempts"`, `"id"`} {
		if !strings.Contains(raw, key) {
			t.Errorf("/admin/requests lacks %s: %s", key, raw)
		}
	}
}

func TestAdminRequestsBoundedOldestFirst(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.LogLines = 3 })
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "ok") })
	h.addChannel(map[string]any{"url": u.V1()})
	var ids []string
	for range 5 {
		_, hdr, _ := h.chat("default", false)
		ids = append(ids, hdr.Get("X-Catfish-Request-Id"))
		h.recentByID(ids[len(ids)-1]) // in order: one at a time
	}
	var list []stats.Recent
	h.getJSON("/admin/requests", &list)
	var got []string
	for _, r := range list {
		got = append(got, r.ID)
	}
	if !reflect.DeepEqual(got, ids[2:]) {
		t.Errorf("recent requests: got %v, want the newest three oldest first %v", got, ids[2:])
	}
	if _, _, raw := newHarness(t, nil).call("GET", "/admin/requests", ""); raw != "[]" {
		t.Errorf("no requests yet: %s, want []", raw)
	}
}

func TestAdminLogs(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.LogLines = 5; c.LogFormat = format })
			enginetest.WaitFor(t, 15*time.Second, "the start-up log line", func() bool {
				return strings.Contains(strings.Join(h.e.logs.Lines(), "\n"), "catfish listening")
			})
			for i := range 9 {
				h.e.log.Info("numbered", "n", i)
			}
			code, hdr, raw := h.call("GET", "/admin/logs", "")
			if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Fatalf("GET /admin/logs: %d %s", code, hdr.Get("Content-Type"))
			}
			var lines []string
			if err := json.Unmarshal([]byte(raw), &lines); err != nil {
				t.Fatalf("not an array of strings: %v: %s", err, raw)
			}
			if len(lines) != 5 {
				t.Fatalf("%d lines, want the newest 5: %q", len(lines), lines)
			}
			for i, line := range lines {
				if strings.HasSuffix(line, "\n") {
					t.Errorf("line %d keeps its newline: %q", i, line)
				}
				n := i + 4
				if format == "text" && !strings.Contains(line, fmt.Sprintf("msg=numbered n=%d", n)) {
					t.Errorf("line %d: %q, want n=%d", i, line, n)
				}
				if format == "json" {
					var l struct {
						Msg string `json:"msg"`
						N   int    `json:"n"`
					}
					if err := json.Unmarshal([]byte(line), &l); err != nil || l.Msg != "numbered" || l.N != n {
						t.Errorf("line %d: %q, want a JSON line with n=%d", i, line, n)
					}
				}
			}
		})
	}
}

func TestAdminLogsHaveTheRequestLine(t *testing.T) {
	h := newHarness(t, nil)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "ok") })
	h.addChannel(map[string]any{"url": u.V1()})
	_, hdr, _ := h.chat("default", false)
	id := hdr.Get("X-Catfish-Request-Id")
	enginetest.WaitFor(t, 15*time.Second, "the request's log line", func() bool {
		var lines []string
		h.getJSON("/admin/logs", &lines)
		for _, l := range lines {
			if strings.Contains(l, "id="+id) && strings.Contains(l, "status=200") {
				return true
			}
		}
		return false
	})
}

func TestLogRing(t *testing.T) {
	var out strings.Builder
	r := NewLogRing(3, &out)
	if got := r.Lines(); len(got) != 0 {
		t.Errorf("empty ring: %q", got)
	}
	for i := range 7 {
		fmt.Fprintf(r, "line %d\n", i)
		got := r.Lines()
		var want []string
		for j := max(0, i-2); j <= i; j++ {
			want = append(want, fmt.Sprintf("line %d", j))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after %d writes: got %q, want %q", i+1, got, want)
		}
	}
	if !strings.HasPrefix(out.String(), "line 0\nline 1\n") || strings.Count(out.String(), "\n") != 7 {
		t.Errorf("copy to out: %q", out.String())
	}
	// Lines is a copy.
	got := r.Lines()
	got[0] = "changed"
	if r.Lines()[0] == "changed" {
		t.Errorf("Lines shares the ring's memory")
	}
}
