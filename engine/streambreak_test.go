package engine

import (
	"net/http"
	"strings"
	"testing"

	"catfish/engine/enginetest"
)

// TestStreamBreakDoesNotLeakUpstreamAddress pins a bug: a stream reset
// after commit ended with the read error's text in the final event,
// "read tcp 127.0.0.1:41234->127.0.0.1:8000: connection reset by peer",
// which handed every client the upstream's address. The client now gets
// the kind of break; the admin log keeps the detail.
func TestStreamBreakDoesNotLeakUpstreamAddress(t *testing.T) {
	h := newHarness(t, nil)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		enginetest.StartSSE(w).Data(enginetest.Chunk("a", ""))
		enginetest.Reset(w)
	})
	h.addChannel(map[string]any{"url": u.V1()})
	code, _, body := h.chat("default", true)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	ev := enginetest.SSEData(body)
	if len(ev) != 2 || !strings.HasPrefix(ev[1], `{"error":`) || !strings.Contains(ev[1], "connection reset") {
		t.Fatalf("events %q: want the chunk, then an error naming a reset", ev)
	}
	host := strings.TrimPrefix(u.URL, "http://")
	if strings.Contains(body, host) || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "tcp") {
		t.Errorf("the final event gives the upstream's address away: %s", ev[1])
	}
	if _, _, logs := h.call("GET", "/admin/logs", ""); !strings.Contains(logs, "stream broke after commit") || !strings.Contains(logs, host) {
		t.Errorf("the admin log lacks the detail of the break")
	}
}
