package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

const testKey = "test-admin-key-0123456789"

// harness is a running engine on a loopback port, with helpers to add
// channels and send requests.
type harness struct {
	t    *testing.T
	e    *Engine
	base string
	logs *bytes.Buffer
	mu   sync.Mutex
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testConfig(t *testing.T) Config {
	return Config{
		AdminKey:         testKey,
		DataDir:          t.TempDir(),
		FirstByteTimeout: 2 * time.Second,
		IdleTimeout:      2 * time.Second,
		BackoffBase:      5 * time.Millisecond,
		ShutdownTimeout:  2 * time.Second,
	}
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	cfg := testConfig(t)
	if mod != nil {
		mod(&cfg)
	}
	logs := &syncBuffer{}
	e, err := New(cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("engine logs:\n%s", logs.String())
		}
	})
	return &harness{t: t, e: e, base: "http://" + ln.Addr().String()}
}

// do sends a request with the admin key.
func (h *harness) do(method, path, body string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// call sends a request and reads the whole answer.
func (h *harness) call(method, path, body string) (int, http.Header, string) {
	h.t.Helper()
	resp := h.do(method, path, body)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read answer: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// addChannel creates a channel through the admin API and returns its id.
func (h *harness) addChannel(fields map[string]any) string {
	h.t.Helper()
	if _, ok := fields["api_key"]; !ok {
		fields["api_key"] = "sk-upstream-key-0001"
	}
	if _, ok := fields["priority"]; !ok {
		fields["priority"] = 1
	}
	b, _ := json.Marshal(fields)
	code, _, body := h.call("POST", "/admin/config", string(b))
	if code != 200 {
		h.t.Fatalf("create channel: %d %s", code, body)
	}
	var ch struct{ ID string }
	json.Unmarshal([]byte(body), &ch)
	return ch.ID
}

// chat sends a chat completion for model.
func (h *harness) chat(model string, stream bool) (int, http.Header, string) {
	h.t.Helper()
	return h.call("POST", "/v1/chat/completions", chatBody(model, stream))
}

func chatBody(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}],"stream":%v}`, model, stream)
}

// upstream is a scripted fake upstream that counts its requests.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last []byte      // last request body
	hdr  http.Header // last request headers
}

// newUpstream starts an upstream; handle gets the 1-based request number.
func newUpstream(t *testing.T, handle func(n int64, w http.ResponseWriter, r *http.Request)) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := u.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last, u.hdr = b, r.Header.Clone()
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		handle(n, w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) v1() string { return u.URL + "/v1" }

func (u *upstream) lastHeader() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hdr
}

func (u *upstream) lastBody() []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

func writeChat(w http.ResponseWriter, content string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`, content)
}

func writeErr(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":"upstream says %d","type":"test_error","code":%q}}`, status, code)
}

func chunk(content string, finish string) string {
	fr := "null"
	if finish != "" {
		fr = fmt.Sprintf("%q", finish)
	}
	return fmt.Sprintf(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":%q},"finish_reason":%s}]}`, content, fr)
}

// sseWriter writes events and flushes each.
type sseWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	f := w.(http.Flusher)
	f.Flush()
	return &sseWriter{w: w, f: f}
}

func (s *sseWriter) data(payload string) {
	fmt.Fprintf(s.w, "data: %s\n\n", payload)
	s.f.Flush()
}

// hijackClose drops the connection without an answer (a reset).
func hijackClose(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST instead of FIN
	}
	conn.Close()
}

// closedURL returns a loopback URL where nothing listens.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/v1"
}

// sseEvents splits a client-side SSE body into its data payloads.
func sseEvents(body string) []string {
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

// attempts parses X-Catfish-Attempts into "id=outcome" entries.
func attempts(h http.Header) []string {
	v := h.Get("X-Catfish-Attempts")
	if v == "" {
		return nil
	}
	return strings.Split(v, ", ")
}
