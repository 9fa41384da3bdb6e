package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"catfish/engine/enginetest"
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
	logs := &enginetest.LogBuffer{}
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
	return h.call("POST", "/v1/chat/completions", enginetest.ChatBody(model, stream))
}
