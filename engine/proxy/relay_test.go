package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
	"catfish/engine/enginetest"
	"catfish/engine/stats"
)

// endThenWait is an upstream body that sends a whole stream, then keeps
// the connection open until release is closed, and then fails with err:
// an upstream slow to close after its end marker.
type endThenWait struct {
	r       *bytes.Reader
	release chan struct{}
	err     error
}

func (b *endThenWait) Read(p []byte) (int, error) {
	if b.r.Len() > 0 {
		return b.r.Read(p)
	}
	<-b.release
	return 0, b.err
}

// watchRecorder is a flushing ResponseWriter that closes seen once what
// was written contains want.
type watchRecorder struct {
	flushRecorder
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *watchRecorder) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}

// Codex closes its connection as soon as it reads response.completed. An
// upstream that had sent its end marker but not yet closed its body then
// made the relay report the request as canceled by the client (499, no
// tokens counted, the channel told nothing) although the client had the
// whole answer (e2e/tests/codex.test.mjs found it; the same held for a
// reset after the end marker, which also appended an error event to a
// complete answer).
func TestStreamEndedBeforeTheBodyClosed(t *testing.T) {
	sse := func(events ...string) string { return strings.Join(events, "\n\n") + "\n\n" }
	streams := []struct {
		name string
		s    func(x *exchange) streamer
		body string
		end  string // what the client has when the answer is whole
		want int64  // total tokens
	}{
		{"chat passthrough", func(*exchange) streamer { return &chatPass{} }, sse(
			"data: "+enginetest.Chunk("Hi", ""), "data: "+enginetest.Chunk("", "stop"),
			`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
			"data: [DONE]"), "[DONE]", 4},
		{"messages passthrough", func(*exchange) streamer { return &messagesPass{} }, sse(
			`event: message_start`+"\n"+`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":3,"output_tokens":0}}}`,
			`event: content_block_start`+"\n"+`data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`,
			`event: content_block_stop`+"\n"+`data: {"type":"content_block_stop","index":0}`,
			`event: message_delta`+"\n"+`data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}`,
			`event: message_stop`+"\n"+`data: {"type":"message_stop"}`), "message_stop", 4},
		{"responses passthrough", func(*exchange) streamer { return &responsesPass{} }, sse(
			`event: response.created`+"\n"+`data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[]}}`,
			`event: response.output_text.delta`+"\n"+`data: {"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}`,
			`event: response.completed`+"\n"+`data: {"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","object":"response","status":"completed","output":[],"usage":{"input_tokens":3,"output_tokens":1,"total_tokens":4}}}`),
			"response.completed", 4},
		{"messages translated for a responses client", func(x *exchange) streamer {
			return &translated{dec: dialect.NewDecoder(dialect.Messages), enc: dialect.NewEncoder(dialect.Responses, &dialect.Request{})}
		}, sse(
			`event: message_start`+"\n"+`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":3,"output_tokens":0}}}`,
			`event: content_block_start`+"\n"+`data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`,
			`event: content_block_stop`+"\n"+`data: {"type":"content_block_stop","index":0}`,
			`event: message_delta`+"\n"+`data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}`,
			`event: message_stop`+"\n"+`data: {"type":"message_stop"}`), "response.completed", 4},
	}
	afters := []struct {
		name   string
		err    error
		cancel bool // the client hangs up once it has the end
	}{
		{"the client hangs up", context.Canceled, true},
		{"the upstream resets", syscall.ECONNRESET, false},
	}
	for _, st := range streams {
		for _, af := range afters {
			t.Run(st.name+", then "+af.name, func(t *testing.T) {
				p := New(Config{IdleTimeout: time.Minute, Continuation: true, MaxContinuations: 1}, nil, nil, nil, nil,
					slog.New(slog.NewTextHandler(io.Discard, nil)), context.Background())
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				w := &watchRecorder{flushRecorder: flushRecorder{h: http.Header{}}, want: st.end, seen: make(chan struct{})}
				seen := w.seen
				req := &dialect.Inbound{Path: "/chat/completions", Info: dialect.BodyInfo{Stream: true}}
				x := &exchange{p: p, w: w, req: req, ctx: ctx, start: time.Now(), attempts: []stats.Attempt{{ChannelID: "c"}}}
				body := &endThenWait{r: bytes.NewReader([]byte(st.body)), release: make(chan struct{}), err: af.err}
				go func() {
					<-seen
					if af.cancel {
						cancel()
					}
					close(body.release)
				}()
				resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(body)}
				dog := newWatchdog(time.Minute, time.Minute, func(error) {})
				defer dog.stop()
				a := &upstreamAnswer{x: x, resp: resp, dog: dog, actx: ctx, commit: func() {}}
				res := a.relay(st.s(x))
				if res.outcome != "ok" || res.verdict != channel.Success || res.err != nil || errors.Is(res.err, errClientGone) {
					t.Errorf("got outcome %q verdict %v err %v, want ok, success, no error", res.outcome, res.verdict, res.err)
				}
				if res.usage.Total != st.want {
					t.Errorf("got usage %+v, want %d tokens in all", res.usage, st.want)
				}
				events := strings.Split(strings.TrimSpace(w.buf.String()), "\n\n")
				if last := events[len(events)-1]; !strings.Contains(last, st.end) || strings.Contains(w.buf.String(), "stream_broken") {
					t.Errorf("the client's stream does not end with its %s: last event %q", st.end, last)
				}
			})
		}
	}
}

// flushWatch is a ResponseWriter that keeps what was written and how
// much of it was flushed.
type flushWatch struct {
	flushRecorder
	buf     bytes.Buffer
	flushed int
	flushes int
}

func (w *flushWatch) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *flushWatch) Flush()                      { w.flushed, w.flushes = w.buf.Len(), w.flushes+1 }

// groupedBody hands out its groups one Read each, as an upstream whose
// events arrive a few at a time. Before each group after the first it
// checks that the client was sent everything the groups before it held:
// a Read is where the relay may wait for the network.
type groupedBody struct {
	t      *testing.T
	w      *flushWatch
	groups []string
	sent   string
}

func (g *groupedBody) Read(p []byte) (int, error) {
	if len(g.groups) == 0 {
		return 0, io.EOF
	}
	if flushed := g.w.buf.String()[:g.w.flushed]; g.sent != "" && !strings.Contains(flushed, lastData(g.sent)) {
		g.t.Errorf("about to read on, but the client was not sent %q; it has %q", lastData(g.sent), flushed)
	}
	n := copy(p, g.groups[0])
	g.sent, g.groups[0] = g.sent+g.groups[0][:n], g.groups[0][n:]
	if g.groups[0] == "" {
		g.groups = g.groups[1:]
	}
	return n, nil
}

// lastData is the payload of the last data line of events.
func lastData(events string) string {
	i := strings.LastIndex(events, "data: ")
	return strings.TrimSpace(events[i+len("data: "):])
}

// Events that arrive together leave together (one flush), and the relay
// never waits for the upstream with something the client was not sent.
func TestStreamRelayFlushesBeforeItWaits(t *testing.T) {
	ev := func(content, finish string) string { return "data: " + enginetest.Chunk(content, finish) + "\n\n" }
	w := &flushWatch{flushRecorder: flushRecorder{h: http.Header{}}}
	body := &groupedBody{t: t, w: w, groups: []string{
		ev("one ", ""),
		ev("two ", "") + ev("three ", ""),
		ev("four", "") + ev("", "stop") + "data: [DONE]\n\n",
	}}
	p := New(Config{IdleTimeout: time.Hour}, nil, nil, nil, nil, nil, context.Background())
	x := &exchange{p: p, w: w, req: &dialect.Inbound{Path: "/chat/completions", Info: dialect.BodyInfo{Stream: true}},
		ctx: context.Background(), start: time.Now(), attempts: []stats.Attempt{{ChannelID: "c"}}}
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(body)}
	dog := newWatchdog(time.Hour, time.Hour, func(error) {})
	defer dog.stop()
	a := &upstreamAnswer{x: x, resp: resp, dog: dog, actx: context.Background(), commit: func() {},
		rt: route{up: dialect.Chat, path: pathChat, through: true}}
	res := a.relay(&chatPass{})
	if res.outcome != "ok" {
		t.Fatalf("outcome %+v", res)
	}
	if w.flushed != w.buf.Len() || !strings.HasSuffix(w.buf.String(), "data: [DONE]\n\n") {
		t.Fatalf("the client was sent %q of %q", w.buf.String()[:w.flushed], w.buf.String())
	}
	if w.flushes != 3 {
		t.Errorf("%d flushes for 3 groups of events, want 3 (one per group)", w.flushes)
	}
}
