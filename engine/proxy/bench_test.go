package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"catfish/engine/dialect"
	"catfish/engine/enginetest"
	"catfish/engine/stats"
)

// BenchmarkModelOverride measures splicing a channel's model override into
// a request body: only the model's bytes change.
func BenchmarkModelOverride(b *testing.B) {
	body := []byte(`{"model":"pool","messages":[{"role":"user","content":"` + strings.Repeat("hello ", 200) + `"}],"temperature":0.2}`)
	info, err := dialect.ScanObject(body)
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

// streamBody is a 20-chunk upstream stream with a usage chunk.
func streamBody() []byte {
	var b bytes.Buffer
	for i := range 20 {
		_ = i
		b.WriteString("data: " + enginetest.Chunk("the quick brown ", "") + "\n\n")
	}
	b.WriteString("data: " + enginetest.Chunk("", "stop") + "\n\n")
	b.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":20,"total_tokens":23}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
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
	b.Run("passthrough", func(b *testing.B) { benchStreamRelay(b, false) })
	// Followed: with continuation on, the stream is also decoded on the
	// side so that a break can be resumed elsewhere.
	b.Run("followed", func(b *testing.B) { benchStreamRelay(b, true) })
}

func benchStreamRelay(b *testing.B, follow bool) {
	body := streamBody()
	p := New(Config{IdleTimeout: time.Hour}, nil, nil, nil, nil, nil, context.Background())
	req := &dialect.Inbound{Path: "/chat/completions", Info: dialect.BodyInfo{Stream: true}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		w := &flushRecorder{h: http.Header{}}
		x := &exchange{p: p, w: w, req: req, ctx: context.Background(), start: time.Now(), hideUsage: true,
			attempts: []stats.Attempt{{ChannelID: "c"}}}
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body: io.NopCloser(bytes.NewReader(body))}
		dog := newWatchdog(time.Hour, time.Hour, func(error) {})
		a := &upstreamAnswer{x: x, resp: resp, dog: dog, actx: context.Background(), commit: func() {},
			rt: route{up: dialect.Chat, path: pathChat, through: true}}
		s := &chatPass{t: streamTracker{hide: true}}
		if follow {
			s.sh = &shadow{dec: dialect.NewDecoder(dialect.Chat)}
		}
		res := a.relay(s)
		dog.stop()
		if res.outcome != "ok" || res.usage.Total != 23 {
			b.Fatalf("%+v", res)
		}
	}
}
