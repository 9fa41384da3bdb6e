package main

// Helpers for the tests that run the real, built catfish binary against
// scripted fake upstreams: faults_test.go, storm_test.go,
// shutdown_test.go and hostile_test.go. The binary is built once per test
// process; every process listens on 127.0.0.1 with a fresh data
// directory, and every wait is bounded.

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
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const binKey = "binary-test-admin-key-0123456789"

// built is the binary shared by every test of this process.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// catfishBinary builds ./catfish once (as `make build` would, without
// the version stamp) and returns its path.
func catfishBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "catfish-bin-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "catfish")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", built.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// logBuffer collects a process's output; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// server is one running catfish process.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	addr    string
	dataDir string
	out     *logBuffer
	exited  chan struct{}
	client  *http.Client
}

var listeningRE = regexp.MustCompile(`msg="catfish listening" addr=(\S+)`)

// startServer runs the binary with a fresh data directory. env entries
// ("NAME=value") add to or override the defaults.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	return startServerIn(t, t.TempDir(), env...)
}

// startServerIn runs the binary on dataDir (a restart keeps its state).
// It listens on a port the kernel picks, read back from the log.
func startServerIn(t *testing.T, dataDir string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(catfishBinary(t))
	cmd.Dir = t.TempDir() // no .env here
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"ADMIN_KEY=" + binKey,
		"LISTEN=127.0.0.1:0",
		"DATA_DIR=" + dataDir,
		"TZ=UTC",
		"SHUTDOWN_TIMEOUT=10",
	}, env...)
	s := &server{t: t, cmd: cmd, dataDir: dataDir, out: &logBuffer{}, exited: make(chan struct{}),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start catfish: %v", err)
	}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("catfish output:\n%s", s.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(s.out.String()); m != nil {
			s.addr = m[1]
			s.base = "http://" + m[1]
			break
		}
		select {
		case <-s.exited:
			t.Fatalf("catfish exited at start:\n%s", s.out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("catfish not listening after 30 s:\n%s", s.out.String())
		}
	}
	return s
}

// kill stops the process at once, if it still runs.
func (s *server) kill() {
	s.client.CloseIdleConnections()
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.t.Errorf("catfish %d still there 10 s after SIGKILL", s.cmd.Process.Pid)
	}
}

// stop sends SIGTERM and waits up to limit for the exit; it returns the
// exit code and how long the exit took.
func (s *server) stop(limit time.Duration) (code int, took time.Duration) {
	s.t.Helper()
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(limit):
		s.t.Fatalf("catfish still running %v after SIGTERM:\n%s", limit, s.out.String())
	}
	return s.cmd.ProcessState.ExitCode(), time.Since(start)
}

// request sends one request with the admin key and reads the answer.
func (s *server) request(method, path, contentType string, body []byte) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+binKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// admin sends a JSON admin request; body is marshalled unless it is
// already []byte or nil.
func (s *server) admin(method, path string, body any) (int, []byte) {
	s.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	code, _, out := s.request(method, path, "application/json", b)
	return code, out
}

// getJSON reads an admin document into v.
func (s *server) getJSON(path string, v any) {
	s.t.Helper()
	code, b := s.admin("GET", path, nil)
	if code != 200 {
		s.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		s.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// addChannel creates a channel and returns its id. priority and api_key
// have defaults.
func (s *server) addChannel(fields map[string]any) string {
	s.t.Helper()
	if _, ok := fields["priority"]; !ok {
		fields["priority"] = 1
	}
	if _, ok := fields["api_key"]; !ok {
		fields["api_key"] = "sk-upstream-0000000000000001"
	}
	code, b := s.admin("POST", "/admin/config", fields)
	if code != 200 {
		s.t.Fatalf("create channel: %d %s", code, b)
	}
	var ch struct{ ID string }
	json.Unmarshal(b, &ch)
	return ch.ID
}

// chat sends a chat completion and reads the whole answer.
func (s *server) chat(model string, stream bool) (int, http.Header, string) {
	s.t.Helper()
	code, h, b := s.request("POST", "/v1/chat/completions", "application/json", []byte(chatBody(model, stream)))
	return code, h, string(b)
}

func chatBody(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}],"stream":%v}`, model, stream)
}

// breaker is a channel's breaker as GET /admin/config shows it.
type breaker struct {
	State string `json:"state"`
	Fails int    `json:"consecutive_fails"`
}

func (s *server) breakerOf(id string) breaker {
	s.t.Helper()
	var all map[string][]struct {
		ID      string  `json:"id"`
		Breaker breaker `json:"breaker"`
	}
	s.getJSON("/admin/config", &all)
	for _, list := range all {
		for _, c := range list {
			if c.ID == id {
				return c.Breaker
			}
		}
	}
	s.t.Fatalf("channel %s not listed", id)
	return breaker{}
}

// procStatus reads one field of /proc/<pid>/status, in its own unit.
func (s *server) procStatus(field string) int64 {
	s.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		s.t.Fatalf("read /proc status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			var n int64
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	s.t.Fatalf("no %s in /proc status", field)
	return 0
}

// openFiles counts the process's open file descriptors.
func (s *server) openFiles() int {
	s.t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		s.t.Fatalf("read /proc fd: %v", err)
	}
	return len(ents)
}

// fake is a scripted upstream on a loopback port. handle gets the
// 1-based number of the request.
type fake struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last []byte
}

func newFake(t *testing.T, handle func(n int64, w http.ResponseWriter, r *http.Request)) *fake {
	t.Helper()
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.last = b
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		handle(n, w, r)
	}))
	t.Cleanup(func() {
		f.CloseClientConnections()
		f.Close()
	})
	return f
}

func (f *fake) v1() string { return f.URL + "/v1" }

func (f *fake) lastBody() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func writeChat(w http.ResponseWriter, content string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`, content)
}

func writeErr(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":"upstream says %d %s","type":"test_error","code":%q}}`, status, code, code)
}

func chunk(content, finish string) string {
	fr := "null"
	if finish != "" {
		fr = fmt.Sprintf("%q", finish)
	}
	return fmt.Sprintf(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":%q},"finish_reason":%s}]}`, content, fr)
}

const usageChunk = `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":13,"total_tokens":24}}`

// sse writes events and flushes each.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	f := w.(http.Flusher)
	f.Flush()
	return &sse{w: w, f: f}
}

func (s *sse) data(payload string) {
	fmt.Fprintf(s.w, "data: %s\n\n", payload)
	s.f.Flush()
}

// wholeStream writes a complete stream: n content chunks, the finish, a
// usage chunk when asked for, [DONE].
func wholeStream(w http.ResponseWriter, r *http.Request, text string) {
	s := startSSE(w)
	for _, c := range strings.Split(text, " ") {
		s.data(chunk(c, ""))
	}
	s.data(chunk("", "stop"))
	if strings.Contains(string(mustRead(r)), `"include_usage":true`) {
		s.data(usageChunk)
	}
	s.data("[DONE]")
}

func mustRead(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// reset drops the connection with a TCP RST, before any answer.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// sleepOrGone waits d or until the proxy gives up on the request.
func sleepOrGone(r *http.Request, d time.Duration) {
	select {
	case <-r.Context().Done():
	case <-time.After(d):
	}
}

// sseData splits an SSE body into its data payloads.
func sseData(body string) []string {
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

// chain returns X-Catfish-Attempts as "id=outcome" entries.
func chain(h http.Header) []string {
	v := h.Get("X-Catfish-Attempts")
	if v == "" {
		return nil
	}
	return strings.Split(v, ", ")
}

// wantChain checks the attempt chain against "id=outcome" entries.
func wantChain(t *testing.T, h http.Header, want ...string) {
	t.Helper()
	if got := chain(h); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("attempts: got %v, want %v", got, want)
	}
}

// waitUntil polls cond every 50 ms until it holds or limit passes.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// slowTest skips a test that takes seconds under -short.
func slowTest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary for seconds; skipped in -short mode")
	}
}
