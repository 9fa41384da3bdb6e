package main

// Regression tests for what a hostile probe and a new user found (issue
// 16), against the built binary: bodies that trickle, client text that
// grows without bound, loops through Catfish itself, and the answers a
// newcomer meets first.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHugeModelNameStaysSmall: a 20 MB "model" (and a long path) is kept
// and logged cut to a few hundred bytes, marked as cut: the request log
// line, /admin/logs and /admin/requests stay small.
func TestHugeModelNameStaysSmall(t *testing.T) {
	s := startServer(t)
	up := newFake(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { writeChat(w, "fine") })
	s.addChannel(map[string]any{"url": up.v1()})
	model := strings.Repeat("m", 20<<20)
	body, _ := json.Marshal(map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": "hi"}}})
	outBefore := len(s.out.String())
	longPath := "/v1/chat/completions?" + strings.Repeat("q", 100) // the query is never logged
	for range 3 {
		if code, _, got := s.request("POST", longPath, "application/json", body); code != 200 {
			t.Fatalf("status %d: %.200s", code, got)
		}
	}
	if code, _, got := s.request("POST", "/v1/"+strings.Repeat("p", 60<<10), "application/json", []byte(chatBody("default", false))); code != 200 {
		t.Fatalf("long path: status %d: %.200s", code, got)
	}
	var recent []struct {
		Model, Path string
	}
	waitUntil(t, 10*time.Second, "four requests in /admin/requests", func() bool {
		recent = nil
		s.getJSON("/admin/requests", &recent)
		return len(recent) == 4
	})
	_, _, raw := s.request("GET", "/admin/requests", "", nil)
	if len(raw) > 16<<10 {
		t.Errorf("/admin/requests is %d bytes", len(raw))
	}
	for _, r := range recent[:3] {
		if len(r.Model) > 512 || !strings.Contains(r.Model, "cut") || !strings.HasPrefix(r.Model, "mmmm") {
			t.Errorf("recorded model: %d bytes, %.80q…", len(r.Model), r.Model)
		}
	}
	if p := recent[3].Path; len(p) > 512 || !strings.Contains(p, "cut") {
		t.Errorf("recorded path: %d bytes, %.80q…", len(p), p)
	}
	if _, _, logs := s.request("GET", "/admin/logs", "", nil); len(logs) > 32<<10 {
		t.Errorf("/admin/logs is %d bytes", len(logs))
	}
	if grown := len(s.out.String()) - outBefore; grown > 16<<10 {
		t.Errorf("four requests wrote %d bytes of log", grown)
	}
	if !bytes.Contains([]byte(s.out.String()), []byte("cut")) {
		t.Errorf("the log does not say the model was cut")
	}
}
