package engine

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"catfish/channel"
	"catfish/httpapi"
	"catfish/scheme"
)

// BenchmarkModelOverride measures splicing a channel's model override into
// a request body: only the model's bytes change.
func BenchmarkModelOverride(b *testing.B) {
	body := []byte(`{"model":"pool","messages":[{"role":"user","content":"` + strings.Repeat("hello ", 200) + `"}],"temperature":0.2}`)
	info, err := httpapi.ScanObject(body)
	if err != nil {
		b.Fatal(err)
	}
	x := &exchange{body: body, info: info}
	b.ReportAllocs()
	for b.Loop() {
		out := x.upstreamBody("gpt-4o-2024-08-06")
		if len(out) == len(body) {
			b.Fatal("not spliced")
		}
	}
}

// BenchmarkPlanAcquireReport is one attempt's trip through the actors:
// a plan from the router, a permit from the channel, the outcome back.
func BenchmarkPlanAcquireReport(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(strings.Repeat("x", 0)+itoa(n)+"-channels", func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := scheme.NewRouter("")
			go r.Run(ctx)
			for i := range n {
				a := channel.NewActor(channel.Resolved{ID: itoa(i), Enabled: true, Breaker: channel.BreakerConfig{Threshold: 3, Cooldown: time.Second}})
				go a.Run(ctx)
				if err := r.Put(ctx, scheme.Member{ID: itoa(i), Scheme: "s", Priority: 1, Order: uint64(i), Enabled: true, Actor: a}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				p, err := r.Plan(ctx, "s")
				if err != nil {
					b.Fatal(err)
				}
				c, _ := p.Next()
				pm, err := c.Actor.Acquire(ctx)
				if err != nil || !pm.OK {
					b.Fatal(err)
				}
				if _, err := c.Actor.Report(channel.Report{Admission: pm.Admission, Verdict: channel.Success}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// streamBody is a 20-chunk upstream stream with a usage chunk.
func streamBody() []byte {
	var b bytes.Buffer
	for i := range 20 {
		_ = i
		b.WriteString("data: " + chunk("the quick brown ", "") + "\n\n")
	}
	b.WriteString("data: " + chunk("", "stop") + "\n\n")
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":20,"total_tokens":23}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// BenchmarkSSEScan measures splitting an upstream stream into events.
func BenchmarkSSEScan(b *testing.B) {
	body := streamBody()
	br := bufio.NewReaderSize(nil, 16<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(bytes.NewReader(body))
		s := newSSEReader(br)
		n := 0
		for {
			_, err := s.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 23 {
			b.Fatalf("%d events", n)
		}
	}
}

// flushRecorder is a ResponseWriter that discards and supports Flush.
type flushRecorder struct {
	h http.Header
	n int
}

func (f *flushRecorder) Header() http.Header         { return f.h }
func (f *flushRecorder) Write(p []byte) (int, error) { f.n += len(p); return len(p), nil }
func (f *flushRecorder) WriteHeader(int)             {}
func (f *flushRecorder) Flush()                      {}

// BenchmarkStreamRelay measures the relay of a whole 23-event stream
// (check, track usage, hide the usage chunk, frame, write, flush) once the
// upstream has answered.
func BenchmarkStreamRelay(b *testing.B) {
	body := streamBody()
	e, err := New(Config{AdminKey: "k", DataDir: b.TempDir()}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	defer e.store.Close()
	req := &httpapi.ProxyRequest{Path: "/chat/completions", Info: httpapi.BodyInfo{Stream: true}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		w := &flushRecorder{h: http.Header{}}
		x := &exchange{e: e, w: w, req: req, ctx: context.Background(), start: time.Now(), hideUsage: true,
			attempts: []attemptLog{{ChannelID: "c"}}}
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body: io.NopCloser(bytes.NewReader(body))}
		timer := time.NewTimer(time.Hour)
		a := &upstreamAnswer{x: x, resp: resp, timer: timer, actx: context.Background(), idle: time.Hour, commit: func() {}}
		res := a.stream()
		timer.Stop()
		if res.outcome != "ok" || res.usage.Total != 23 {
			b.Fatalf("%+v", res)
		}
	}
}

// BenchmarkProxyNonStream is a whole non-stream request through the
// engine's handler (no network on the client side) to an httptest
// upstream on loopback.
func BenchmarkProxyNonStream(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		writeChat(w, "the quick brown fox jumps over the lazy dog")
	}))
	defer up.Close()
	e, err := New(Config{AdminKey: "k", DataDir: b.TempDir()}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.actx = ctx
	go e.router.Run(ctx)
	go e.stats.Run(ctx)
	defer e.store.Close()
	if _, err := e.CreateChannel(ctx, channel.Patch{
		Priority: channel.Field[int]{Set: true, Value: 1},
		URL:      channel.Field[string]{Set: true, Value: up.URL + "/v1"},
		APIKey:   channel.Field[string]{Set: true, Value: "sk-upstream-0000000000"},
	}); err != nil {
		b.Fatal(err)
	}
	h := e.Handler()
	body := []byte(`{"model":"default","messages":[{"role":"user","content":"hi"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
