package engine

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"catfish/engine/enginetest"
	"catfish/engine/stats"
)

// Client keys on /v1, through the whole server: every rule of SPEC 12
// on real requests.

// v1As sends body to path with key as the client's key (Bearer, or
// x-api-key on /v1/messages).
func (h *harness) v1As(key, path, body string) (int, http.Header, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(path, "/v1/messages") {
		req.Header.Set("X-Api-Key", key)
	} else {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, b.String()
}

func errCode(body string) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
			Type string `json:"type"`
		} `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Error.Code
}

func TestClientKeyScope(t *testing.T) {
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			streamChat(w, r, []string{"ok"}, 0)
			return
		}
		enginetest.WriteChat(w, "ok")
	})
	h := newHarness(t, func(c *Config) { c.DefaultScheme = "b" })
	h.addChannel(map[string]any{"url": u.V1(), "scheme_name": "a"})
	h.addChannel(map[string]any{"url": u.V1(), "scheme_name": "b"})
	h.addChannel(map[string]any{"url": u.V1(), "scheme_name": "c"})
	k := h.createKey(`{"name":"app","schemes":["a","c"]}`)

	if code, _, body := h.v1As(k.Key, "/v1/chat/completions", enginetest.ChatBody("a", false)); code != 200 {
		t.Fatalf("in scope: %d %s", code, body)
	}
	hits := u.Hits()
	code, _, body := h.v1As(k.Key, "/v1/chat/completions", enginetest.ChatBody("b", false))
	if code != 404 || errCode(body) != "model_not_found" || !strings.Contains(body, `\"b\"`) {
		t.Errorf("a scheme outside the key's scope: %d %s, want 404 model_not_found", code, body)
	}
	code, _, body = h.v1As(k.Key, "/v1/messages", messagesBody("b", false))
	if code != 404 || !strings.Contains(body, `"type":"not_found_error"`) {
		t.Errorf("out of scope on /v1/messages: %d %s, want Anthropic's not_found_error", code, body)
	}
	if u.Hits() != hits {
		t.Errorf("an out-of-scope request reached an upstream")
	}
	// The default-scheme fallback stays inside the scope: b is the
	// default but not the key's, so an unknown model goes to a.
	_, hdr, _ := h.v1As(k.Key, "/v1/chat/completions", enginetest.ChatBody("no-such-model", false))
	if got := hdr.Get("X-Catfish-Scheme"); got != "a" {
		t.Errorf("fallback for a scoped key went to %q, want a", got)
	}
	// /v1/models lists only the key's schemes.
	req, _ := http.NewRequest("GET", h.base+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+k.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var models struct{ Data []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	var ids []string
	for _, m := range models.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "a,c" {
		t.Errorf("/v1/models for the key: %v, want [a c]", ids)
	}
	// The key never opens /admin.
	req, _ = http.NewRequest("GET", h.base+"/admin/config", nil)
	req.Header.Set("Authorization", "Bearer "+k.Key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("a client key on /admin: %v %v", resp.StatusCode, err)
	}
	// Who made each request.
	rec := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
	if rec.Key != "app" {
		t.Errorf("/admin/requests names key %q, want app", rec.Key)
	}
	_, hdr, _ = h.chat("a", false)
	if rec := h.recentByID(hdr.Get("X-Catfish-Request-Id")); rec.Key != "admin" {
		t.Errorf("ADMIN_KEY's request is named %q, want admin", rec.Key)
	}
}

func TestClientKeyRefusedForms(t *testing.T) {
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "ok") })
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": u.V1()})
	past := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	expired := h.createKey(`{"name":"old","expires_at":"` + past + `"}`)
	disabled := h.createKey(`{"name":"off","enabled":false}`)
	live := h.createKey(`{"name":"live"}`)
	answers := map[string]string{}
	for name, key := range map[string]string{"wrong": "sk-cf-" + strings.Repeat("x", 32), "expired": expired.Key,
		"disabled": disabled.Key} {
		code, _, body := h.v1As(key, "/v1/chat/completions", enginetest.ChatBody("default", false))
		if code != 401 {
			t.Errorf("%s key: %d %s", name, code, body)
		}
		answers[name] = body
	}
	if answers["wrong"] != answers["expired"] || answers["wrong"] != answers["disabled"] {
		t.Errorf("the answers differ: %v", answers)
	}
	// Rotate: the old secret is refused at once, the new one works.
	code, _, body := h.call("POST", "/admin/keys/"+live.ID+"/rotate", "")
	var rotated struct{ Key string }
	json.Unmarshal([]byte(body), &rotated)
	if code != 200 || rotated.Key == "" {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if code, _, _ := h.v1As(live.Key, "/v1/chat/completions", enginetest.ChatBody("default", false)); code != 401 {
		t.Errorf("the rotated-away secret: %d, want 401", code)
	}
	if code, _, body := h.v1As(rotated.Key, "/v1/chat/completions", enginetest.ChatBody("default", false)); code != 200 {
		t.Errorf("the new secret: %d %s", code, body)
	}
}

func TestClientKeyLimits(t *testing.T) {
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if strings.Contains(string(enginetest.Body(r)), `"stream":true`) {
			streamChat(w, r, strings.Split(strings.Repeat("word ", 20), " ")[:20], 0)
			return
		}
		enginetest.WriteChat(w, "ok")
	})
	h := newHarness(t, nil)
	id := h.addChannel(map[string]any{"url": u.V1()})
	k := h.createKey(`{"name":"slow","rpm":2}`)
	for i := range 2 {
		if code, _, body := h.v1As(k.Key, "/v1/chat/completions", enginetest.ChatBody("default", false)); code != 200 {
			t.Fatalf("request %d within rpm: %d %s", i, code, body)
		}
	}
	code, hdr, body := h.v1As(k.Key, "/v1/chat/completions", enginetest.ChatBody("default", false))
	ra, _ := strconv.Atoi(hdr.Get("Retry-After"))
	if code != 429 || errCode(body) != "rate_limit_exceeded" || ra < 1 || ra > 60 {
		t.Errorf("over rpm: %d Retry-After %q %s", code, hdr.Get("Retry-After"), body)
	}
	if _, fails := h.breakerOf(id); fails != 0 {
		t.Errorf("a key's limit counted against the channel")
	}
	// A quota spent mid-stream: the stream finishes, the next request is
	// refused.
	q := h.createKey(`{"name":"quota","token_quota":10}`)
	code, _, body = h.v1As(q.Key, "/v1/chat/completions", enginetest.ChatBody("default", true))
	if code != 200 || textOf(body) == "" || !strings.HasSuffix(strings.TrimSpace(body), "data: [DONE]") {
		t.Fatalf("the stream that spends the quota must finish: %d %q", code, body)
	}
	enginetest.WaitFor(t, 5*time.Second, "the quota spent", func() bool {
		code, _, body := h.v1As(q.Key, "/v1/chat/completions", enginetest.ChatBody("default", false))
		return code == 429 && errCode(body) == "insufficient_quota"
	})
	// Usage is counted per key.
	enginetest.WaitFor(t, 5*time.Second, "usage by key in /admin/stats", func() bool {
		v := h.stats()
		return v.ByKey["quota"].Tokens.Total > 0 && v.ByKey["slow"].Counts != (stats.Counts{})
	})
}

func TestClientKeysOnly(t *testing.T) {
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "ok") })
	h := newHarness(t, func(c *Config) { c.ClientKeysOnly = true })
	h.addChannel(map[string]any{"url": u.V1()})
	k := h.createKey(`{"name":"app"}`)
	if code, _, _ := h.chat("default", false); code != 401 {
		t.Errorf("ADMIN_KEY on /v1 with CLIENT_KEYS_ONLY: %d, want 401", code)
	}
	if code, _, body := h.v1As(k.Key, "/v1/chat/completions", enginetest.ChatBody("default", false)); code != 200 {
		t.Errorf("a client key: %d %s", code, body)
	}
	if code, _, _ := h.call("GET", "/admin/config", ""); code != 200 {
		t.Errorf("ADMIN_KEY on /admin: %d", code)
	}
}

// TestClientKeyRPMUnderConcurrency: many requests at once on one key get
// exactly rpm admissions: RPM is counted when a request is admitted, in
// the keys actor, so concurrency adds nothing to the bound.
func TestClientKeyRPMUnderConcurrency(t *testing.T) {
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "ok") })
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": u.V1()})
	k := h.createKey(`{"name":"burst","rpm":5}`)
	const n = 40
	codes := make(chan int, n)
	for range n {
		go func() {
			code, _, _ := h.v1As(k.Key, "/v1/chat/completions", enginetest.ChatBody("default", false))
			codes <- code
		}()
	}
	got := map[int]int{}
	for range n {
		got[<-codes]++
	}
	if got[200] != 5 || got[429] != n-5 {
		t.Errorf("%d concurrent requests at rpm 5: %v, want 5 × 200 and the rest 429", n, got)
	}
	if u.Hits() != 5 {
		t.Errorf("the upstream got %d requests, want 5", u.Hits())
	}
}
