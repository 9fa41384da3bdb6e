// Package enginetest holds the helpers that catfish's tests share: a
// scripted fake upstream and the answers it writes, a chaos upstream that
// fails at random, and a runner for the built catfish binary. The engine's
// in-process tests, the proxy's tests and the top-level tests of the real
// binary all use it.
//
// It is imported by _test.go files only and uses the standard library
// only. The upstreams are safe for concurrent use. A Proc's Do and Client
// may be used from any goroutine; its other methods can fail the test and
// so, like t.Fatal, belong to the test's goroutine. Every wait is bounded.
package enginetest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Upstream is a scripted fake upstream on a loopback port. It counts its
// requests and keeps the last one; the handler sees the request body
// already read and replayable.
type Upstream struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last []byte      // last request body
	hdr  http.Header // last request headers
}

// NewUpstream starts an upstream that the test's cleanup closes; handle
// gets the 1-based number of the request.
func NewUpstream(t testing.TB, handle func(n int64, w http.ResponseWriter, r *http.Request)) *Upstream {
	t.Helper()
	u := &Upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := u.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last, u.hdr = b, r.Header.Clone()
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		handle(n, w, r)
	}))
	t.Cleanup(func() {
		// Closing the connections first ends the requests that hang
		// (their context is done), so Close does not wait for them.
		u.CloseClientConnections()
		u.Close()
	})
	return u
}

// V1 is the upstream's base URL as a channel is configured with it.
func (u *Upstream) V1() string { return u.URL + "/v1" }

// Hits is how many requests the upstream has received.
func (u *Upstream) Hits() int64 { return u.hits.Load() }

// LastBody is the body of the last request.
func (u *Upstream) LastBody() []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// LastHeader is the header of the last request.
func (u *Upstream) LastHeader() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hdr
}

// ChatBody is a minimal chat completion request for model.
func ChatBody(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}],"stream":%v}`, model, stream)
}

// WriteChat answers a whole chat completion with content and usage 3+5.
func WriteChat(w http.ResponseWriter, content string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`, content)
}

// WriteErr answers an OpenAI error with status; its message is
// "upstream says <status> <code>".
func WriteErr(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":"upstream says %d %s","type":"test_error","code":%q}}`, status, code, code)
}

// Chunk is one chat.completion.chunk with content; finish "" is null.
func Chunk(content, finish string) string {
	fr := "null"
	if finish != "" {
		fr = fmt.Sprintf("%q", finish)
	}
	return fmt.Sprintf(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":%q},"finish_reason":%s}]}`, content, fr)
}

// UsageChunk is the usage chunk a stream ends with when the request asked
// for include_usage: 11+13 tokens.
const UsageChunk = `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":13,"total_tokens":24}}`

// SSE writes server-sent events, flushing each.
type SSE struct {
	w http.ResponseWriter
	f http.Flusher
}

// StartSSE sends a 200 event-stream header and flushes it.
func StartSSE(w http.ResponseWriter) *SSE {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	f := w.(http.Flusher)
	f.Flush()
	return &SSE{w: w, f: f}
}

// Data writes one unnamed event.
func (s *SSE) Data(payload string) {
	fmt.Fprintf(s.w, "data: %s\n\n", payload)
	s.f.Flush()
}

// Event writes one named event (Anthropic's and Responses' streams).
func (s *SSE) Event(name, payload string) {
	fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, payload)
	s.f.Flush()
}

// Comment writes an SSE comment line (a keep-alive), which is no event.
func (s *SSE) Comment(text string) {
	fmt.Fprintf(s.w, ": %s\n\n", text)
	s.f.Flush()
}

// WholeStream writes a complete chat stream: one chunk per word of text,
// the finish, a usage chunk when the request asked for it, [DONE].
func WholeStream(w http.ResponseWriter, r *http.Request, text string) {
	s := StartSSE(w)
	for _, c := range strings.Split(text, " ") {
		s.Data(Chunk(c, ""))
	}
	s.Data(Chunk("", "stop"))
	if strings.Contains(string(Body(r)), `"include_usage":true`) {
		s.Data(UsageChunk)
	}
	s.Data("[DONE]")
}

// Body reads r's body and puts it back, so it can be read again.
func Body(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// Reset drops the connection with a TCP RST instead of answering (or in
// the middle of an answer).
func Reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST instead of FIN
	}
	conn.Close()
}

// hangLimit bounds a hang, so that a test whose proxy never gives up
// fails on its own deadlines instead of wedging the upstream's Close. It
// is longer than any test's deadline.
const hangLimit = 2 * time.Minute

// Hang blocks until the proxy gives up on the request (its context ends)
// or the upstream closes. It never ends on its own within a test's
// deadlines, so a proxy that fails to time out shows as a hung client.
func Hang(r *http.Request) { SleepOrGone(r, hangLimit) }

// SleepOrGone waits d or until the proxy gives up on the request.
func SleepOrGone(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
	}
}

// ClosedURL is a loopback channel URL where nothing listens.
func ClosedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/v1"
}

// SSEData splits a client's SSE body into its data payloads.
func SSEData(body string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

// Attempts is X-Catfish-Attempts as "id=outcome" entries.
func Attempts(h http.Header) []string {
	v := h.Get("X-Catfish-Attempts")
	if v == "" {
		return nil
	}
	return strings.Split(v, ", ")
}

// WaitFor polls cond until it holds, failing the test after limit. what
// names the awaited condition in the failure.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LogBuffer collects log output; safe for concurrent use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
