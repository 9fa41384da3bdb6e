package engine

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"catfish/channel"
	"catfish/engine/enginetest"
	"catfish/scheme"
)

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
				p, err := r.Plan(ctx, "s", nil)
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

// BenchmarkProxyNonStream is a whole non-stream request through the
// engine's handler (no network on the client side) to an httptest
// upstream on loopback.
func BenchmarkProxyNonStream(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		enginetest.WriteChat(w, "the quick brown fox jumps over the lazy dog")
	}))
	defer up.Close()
	e, err := New(Config{AdminKey: "k", DataDir: b.TempDir()}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	if _, err := e.CreateChannel(ctx, channel.Patch{
		Priority: channel.Field[int]{Set: true, Value: 1},
		URL:      channel.Field[string]{Set: true, Value: up.URL + "/v1"},
		APIKey:   channel.Field[string]{Set: true, Value: "sk-upstream-0000000000"},
	}); err != nil {
		b.Fatal(err)
	}
	h := e.handler() // in-process: no client network in the measure
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
