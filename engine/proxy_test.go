package engine

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"catfish/engine/enginetest"
)

// breakerOf reads a channel's breaker through the admin API.
func (h *harness) breakerOf(id string) (state string, fails int) {
	h.t.Helper()
	code, _, body := h.call("GET", "/admin/config", "")
	if code != 200 {
		h.t.Fatalf("GET /admin/config: %d %s", code, body)
	}
	var all map[string][]struct {
		ID      string `json:"id"`
		Breaker struct {
			State string `json:"state"`
			Fails int    `json:"consecutive_fails"`
		} `json:"breaker"`
	}
	if err := json.Unmarshal([]byte(body), &all); err != nil {
		h.t.Fatal(err)
	}
	for _, list := range all {
		for _, c := range list {
			if c.ID == id {
				return c.Breaker.State, c.Breaker.Fails
			}
		}
	}
	h.t.Fatalf("channel %s not listed", id)
	return "", 0
}

// TestFailoverTable walks SPEC 3's failover table row by row: channel A
// (priority 1) misbehaves, channel B (priority 2) answers.
func TestFailoverTable(t *testing.T) {
	status := func(code int, errCode string) func(int64, http.ResponseWriter, *http.Request) {
		return func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteErr(w, code, errCode) }
	}
	cases := []struct {
		name       string
		a          func(n int64, w http.ResponseWriter, r *http.Request)
		refused    bool // A points at a closed port
		wantStatus int
		wantA      int64 // requests A saw
		wantB      int64
		wantChain  []string // outcomes, A's then B's
		wantFailsA int      // A's consecutive failures afterwards
		wantBody   string   // substring of the client's answer
	}{
		{name: "429 once then ok on the same channel",
			a: func(n int64, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", "0")
					enginetest.WriteErr(w, 429, "rate_limit_exceeded")
					return
				}
				enginetest.WriteChat(w, "from A")
			},
			wantStatus: 200, wantA: 2, wantB: 0, wantChain: []string{"http_429", "ok"}, wantFailsA: 0, wantBody: "from A"},
		{name: "500 retried once then next channel", a: status(500, "server_error"),
			wantStatus: 200, wantA: 2, wantB: 1, wantChain: []string{"http_500", "http_500", "ok"}, wantFailsA: 2, wantBody: "from B"},
		{name: "502 retried", a: status(502, ""), wantStatus: 200, wantA: 2, wantB: 1, wantChain: []string{"http_502", "http_502", "ok"}, wantFailsA: 2},
		{name: "503 retried", a: status(503, ""), wantStatus: 200, wantA: 2, wantB: 1, wantChain: []string{"http_503", "http_503", "ok"}, wantFailsA: 2},
		{name: "504 retried", a: status(504, ""), wantStatus: 200, wantA: 2, wantB: 1, wantChain: []string{"http_504", "http_504", "ok"}, wantFailsA: 2},
		{name: "connection reset retried",
			a:          func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.Reset(w) },
			wantStatus: 200, wantA: 2, wantB: 1, wantChain: []string{"reset", "reset", "ok"}, wantFailsA: 2},
		{name: "connect refused not retried", refused: true,
			wantStatus: 200, wantA: 0, wantB: 1, wantChain: []string{"refused", "ok"}, wantFailsA: 1},
		{name: "first byte timeout not retried",
			a:          func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.Hang(r) },
			wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"timeout", "ok"}, wantFailsA: 1},
		{name: "401 next channel", a: status(401, "invalid_api_key"), wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"http_401", "ok"}, wantFailsA: 1},
		{name: "403 next channel", a: status(403, ""), wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"http_403", "ok"}, wantFailsA: 1},
		// 404, 405, 415, 431: the upstream does not serve this request (a
		// path, model or header it lacks). Any client can send such a
		// request, so it must not count against the channel.
		{name: "404 next channel without blame", a: status(404, "model_not_found"), wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"http_404", "ok"}, wantFailsA: 0},
		{name: "405 next channel without blame", a: status(405, ""), wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"http_405", "ok"}, wantFailsA: 0},
		{name: "415 next channel without blame", a: status(415, ""), wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"http_415", "ok"}, wantFailsA: 0},
		{name: "431 next channel without blame", a: status(431, ""), wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"http_431", "ok"}, wantFailsA: 0},
		{name: "408 next channel", a: status(408, ""), wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"http_408", "ok"}, wantFailsA: 1},
		{name: "2xx that is not JSON",
			a: func(_ int64, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte("<html>login</html>"))
			},
			wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"bad_response", "ok"}, wantFailsA: 1},
		{name: "400 context_length_exceeded moves on without blame", a: status(400, "context_length_exceeded"),
			wantStatus: 200, wantA: 1, wantB: 1, wantChain: []string{"context_length", "ok"}, wantFailsA: 0},
		{name: "400 content_policy_violation goes back to the client", a: status(400, "content_policy_violation"),
			wantStatus: 400, wantA: 1, wantB: 0, wantChain: []string{"client_error_400"}, wantFailsA: 0, wantBody: "content_policy_violation"},
		{name: "413 goes back to the client", a: status(413, ""), wantStatus: 413, wantA: 1, wantB: 0, wantChain: []string{"client_error_413"}, wantFailsA: 0},
		{name: "422 goes back to the client", a: status(422, ""), wantStatus: 422, wantA: 1, wantB: 0, wantChain: []string{"client_error_422"}, wantFailsA: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.FirstByteTimeout = 300 * time.Millisecond })
			var aURL string
			var ua *enginetest.Upstream
			if tc.refused {
				aURL = enginetest.ClosedURL(t)
			} else {
				ua = enginetest.NewUpstream(t, tc.a)
				aURL = ua.V1()
			}
			ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "from B") })
			a := h.addChannel(map[string]any{"url": aURL, "priority": 1})
			b := h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})

			code, hdr, body := h.chat("default", false)
			if code != tc.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", code, tc.wantStatus, body)
			}
			if ua != nil && ua.Hits() != tc.wantA {
				t.Errorf("requests to A: got %d, want %d", ua.Hits(), tc.wantA)
			}
			if got := ub.Hits(); got != tc.wantB {
				t.Errorf("requests to B: got %d, want %d", got, tc.wantB)
			}
			chain := enginetest.Attempts(hdr)
			var outcomes []string
			for i, entry := range chain {
				id, outcome, _ := strings.Cut(entry, "=")
				want := a
				if i == len(chain)-1 && tc.wantB > 0 {
					want = b
				}
				if id != want {
					t.Errorf("attempt %d: channel %s, want %s", i, id, want)
				}
				outcomes = append(outcomes, outcome)
			}
			if strings.Join(outcomes, ",") != strings.Join(tc.wantChain, ",") {
				t.Errorf("attempt chain: got %v, want %v", outcomes, tc.wantChain)
			}
			if _, fails := h.breakerOf(a); fails != tc.wantFailsA {
				t.Errorf("A's consecutive failures: got %d, want %d", fails, tc.wantFailsA)
			}
			if tc.wantBody != "" && !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %q lacks %q", body, tc.wantBody)
			}
			if strings.Contains(hdr.Get("X-Catfish-Attempts"), "127.0.0.1") {
				t.Errorf("attempts header leaks a URL: %s", hdr.Get("X-Catfish-Attempts"))
			}
		})
	}
}

func TestAllChannelsFailed(t *testing.T) {
	t.Run("last upstream HTTP error is passed on", func(t *testing.T) {
		h := newHarness(t, nil)
		ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteErr(w, 503, "overloaded_a") })
		ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteErr(w, 401, "bad_key_b") })
		h.addChannel(map[string]any{"url": ua.V1(), "priority": 1})
		h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
		code, hdr, body := h.chat("default", false)
		if code != 401 || !strings.Contains(body, "bad_key_b") {
			t.Fatalf("got %d %s, want B's 401", code, body)
		}
		if hdr.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type: got %q", hdr.Get("Content-Type"))
		}
		if n := len(enginetest.Attempts(hdr)); n != 3 {
			t.Errorf("attempts: got %d (%v), want 3", n, enginetest.Attempts(hdr))
		}
	})
	t.Run("no HTTP answer at all gives 502", func(t *testing.T) {
		h := newHarness(t, nil)
		h.addChannel(map[string]any{"url": enginetest.ClosedURL(t)})
		code, _, body := h.chat("default", false)
		if code != 502 {
			t.Fatalf("got %d %s, want 502", code, body)
		}
		var doc struct {
			Error struct{ Message, Type, Code string }
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Error.Type == "" || doc.Error.Message == "" {
			t.Errorf("not an OpenAI error: %s", body)
		}
	})
	t.Run("no channel configured gives 503", func(t *testing.T) {
		h := newHarness(t, nil)
		code, _, body := h.chat("default", false)
		if code != 503 || !strings.Contains(body, "no_channels") {
			t.Fatalf("got %d %s, want 503 no_channels", code, body)
		}
	})
}

func TestBreakerOpensAndSkips(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.BreakerCooldown = time.Hour; c.BreakerMaxCooldown = time.Hour })
	ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteErr(w, 500, "") })
	a := h.addChannel(map[string]any{"url": ua.V1(), "max_retries": 0, "consecutive_failure_threshold": 2})
	for range 2 {
		h.chat("default", false)
	}
	if state, _ := h.breakerOf(a); state != "open" {
		t.Fatalf("breaker: got %s, want open", state)
	}
	code, hdr, body := h.chat("default", false)
	if code != 503 {
		t.Fatalf("got %d %s, want 503 while the only channel is open", code, body)
	}
	ra := hdr.Get("Retry-After")
	if ra == "" || ra == "0" {
		t.Errorf("Retry-After: got %q, want the seconds until half-open", ra)
	}
	if got := ua.Hits(); got != 2 {
		t.Errorf("an open channel was called: %d requests, want 2", got)
	}
	// Manual reset brings it back.
	if code, _, _ := h.call("PUT", "/admin/config/"+a, `{"consecutive_failure_threshold":0}`); code != 200 {
		t.Fatalf("update: %d", code)
	}
	if state, _ := h.breakerOf(a); state != "closed" {
		t.Errorf("breaker off: got %s, want closed", state)
	}
}

// TestClientCannotOpenBreakersWith404: requests that every channel of a
// scheme answers 404 (a route or model none of them serves) or 431 (a
// header too large) are the client's doing: they are answered, and no
// breaker opens, however many arrive.
func TestClientCannotOpenBreakersWith404(t *testing.T) {
	h := newHarness(t, nil)
	notServed := func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/responses" {
			enginetest.WriteErr(w, 404, "unknown_url")
			return
		}
		enginetest.WriteErr(w, 431, "")
	}
	ua, ub := enginetest.NewUpstream(t, notServed), enginetest.NewUpstream(t, notServed)
	a := h.addChannel(map[string]any{"url": ua.V1(), "priority": 1, "consecutive_failure_threshold": 1})
	b := h.addChannel(map[string]any{"url": ub.V1(), "priority": 1, "consecutive_failure_threshold": 1})
	for i := range 6 {
		path := "/v1/responses"
		if i%2 == 1 {
			path = "/v1/chat/completions"
		}
		code, hdr, body := h.call("POST", path, `{"model":"default","input":"hi"}`)
		if code != 404 && code != 431 {
			t.Fatalf("request %d: got %d %s, want the upstream's 404 or 431", i, code, body)
		}
		if n := len(enginetest.Attempts(hdr)); n != 2 {
			t.Errorf("request %d: %d attempts (%v), want both channels", i, n, enginetest.Attempts(hdr))
		}
	}
	for _, id := range []string{a, b} {
		if state, fails := h.breakerOf(id); state != "closed" || fails != 0 {
			t.Errorf("channel %s: breaker %s with %d failures, want closed with none", id, state, fails)
		}
	}
	if code, _, _ := h.chat("default", false); code != 431 || ua.Hits()+ub.Hits() != 14 {
		t.Errorf("after the 404s: %d, %d upstream requests; want both channels still tried", code, ua.Hits()+ub.Hits())
	}
}

func TestLongRetryAfterOpensBreaker(t *testing.T) {
	h := newHarness(t, nil)
	ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		enginetest.WriteErr(w, 429, "rate_limit_exceeded")
	})
	ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "B") })
	a := h.addChannel(map[string]any{"url": ua.V1(), "priority": 1})
	h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
	if code, _, _ := h.chat("default", false); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	if ua.Hits() != 1 {
		t.Errorf("A retried despite a long Retry-After: %d requests", ua.Hits())
	}
	if state, _ := h.breakerOf(a); state != "open" {
		t.Errorf("breaker after 429 Retry-After 120: got %s, want open", state)
	}
	h.chat("default", false)
	if ua.Hits() != 1 {
		t.Errorf("A called while open: %d requests", ua.Hits())
	}
}

// TestHugeRetryAfterOpensBreakerForAtMostAnHour: a 429 whose Retry-After
// asks for years (or for a date far ahead) keeps the channel out for
// RETRY_AFTER_OPEN_MAX (1 h) at most, not for a year.
func TestHugeRetryAfterOpensBreakerForAtMostAnHour(t *testing.T) {
	for _, ra := range []string{"99999999999999999999", "86400", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		t.Run(ra, func(t *testing.T) {
			h := newHarness(t, nil)
			ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", ra)
				enginetest.WriteErr(w, 429, "rate_limit_exceeded")
			})
			a := h.addChannel(map[string]any{"url": ua.V1()})
			start := time.Now()
			if code, _, body := h.chat("default", false); code != 429 {
				t.Fatalf("got %d %s, want the upstream's 429", code, body)
			}
			var all map[string][]struct {
				ID      string `json:"id"`
				Breaker struct {
					State     string     `json:"state"`
					OpenUntil *time.Time `json:"open_until"`
				} `json:"breaker"`
			}
			_, _, body := h.call("GET", "/admin/config", "")
			if err := json.Unmarshal([]byte(body), &all); err != nil {
				t.Fatal(err)
			}
			br := all["default"][0].Breaker
			if all["default"][0].ID != a || br.State != "open" || br.OpenUntil == nil {
				t.Fatalf("breaker %+v, want open", br)
			}
			if limit := start.Add(time.Hour + time.Minute); br.OpenUntil.After(limit) || br.OpenUntil.Before(start.Add(59*time.Minute)) {
				t.Errorf("open until %v, want about an hour from %v", br.OpenUntil, start)
			}
		})
	}
}

func TestHalfOpenProbeBringsChannelBack(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.BreakerCooldown = 200 * time.Millisecond
		c.BreakerMaxCooldown = 200 * time.Millisecond
	})
	var healthy atomic.Bool
	ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		if healthy.Load() {
			enginetest.WriteChat(w, "A")
			return
		}
		enginetest.WriteErr(w, 500, "")
	})
	ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "B") })
	a := h.addChannel(map[string]any{"url": ua.V1(), "priority": 1, "max_retries": 0, "consecutive_failure_threshold": 1})
	h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
	h.chat("default", false)
	if state, _ := h.breakerOf(a); state != "open" {
		t.Fatalf("got %s, want open", state)
	}
	healthy.Store(true)
	time.Sleep(250 * time.Millisecond)
	_, _, body := h.chat("default", false)
	if !strings.Contains(body, `"A"`) {
		t.Fatalf("after the cooldown the probe should reach A; got %s", body)
	}
	if state, _ := h.breakerOf(a); state != "closed" {
		t.Errorf("after a good probe: got %s, want closed", state)
	}
}

func TestRoundRobinEqualPriority(t *testing.T) {
	h := newHarness(t, nil)
	var ups []*enginetest.Upstream
	for range 3 {
		u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "x") })
		ups = append(ups, u)
		h.addChannel(map[string]any{"url": u.V1(), "priority": 5})
	}
	for range 30 {
		if code, _, _ := h.chat("default", false); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	for i, u := range ups {
		if got := u.Hits(); got != 10 {
			t.Errorf("channel %d: got %d requests, want 10", i, got)
		}
	}
}

func TestSchemeChoice(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DefaultScheme = "fallback" })
	mk := func(name string) *enginetest.Upstream {
		return enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, name) })
	}
	ua, ub, uc := mk("alpha"), mk("beta"), mk("fallback")
	h.addChannel(map[string]any{"url": ua.V1(), "scheme_name": "alpha"})
	h.addChannel(map[string]any{"url": ub.V1(), "scheme_name": "beta"})
	h.addChannel(map[string]any{"url": uc.V1(), "scheme_name": "fallback"})
	for _, tc := range []struct{ model, want string }{
		{"alpha", "alpha"}, {"beta", "beta"}, {"gpt-4o", "fallback"}, {"fallback", "fallback"},
	} {
		_, _, body := h.chat(tc.model, false)
		if !strings.Contains(body, `"`+tc.want+`"`) {
			t.Errorf("model %q: got %s, want scheme %s", tc.model, body, tc.want)
		}
	}
	code, _, body := h.call("GET", "/v1/models", "")
	if code != 200 || !strings.Contains(body, `"alpha"`) || !strings.Contains(body, `"fallback"`) {
		t.Errorf("models: %d %s", code, body)
	}
}

// TestSchemeHeaderNamesTheScheme: every answer of the proxy names the
// scheme that served it in X-Catfish-Scheme, errors included, so a typo
// in "model" that fell to the default scheme is visible.
func TestSchemeHeaderNamesTheScheme(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DefaultScheme = "fallback" })
	ok := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "x") })
	bad := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteErr(w, 401, "invalid_api_key") })
	h.addChannel(map[string]any{"url": ok.V1(), "scheme_name": "gpt-4-pool"})
	h.addChannel(map[string]any{"url": ok.V1(), "scheme_name": "fallback"})
	h.addChannel(map[string]any{"url": bad.V1(), "scheme_name": "broken"})
	h.addChannel(map[string]any{"url": ok.V1(), "scheme_name": "池 100%"})
	h.addChannel(map[string]any{"url": ok.V1(), "scheme_name": "off", "enabled": false})
	for _, tc := range []struct {
		model  string
		stream bool
		status int
		want   string
	}{
		{"gpt-4-pool", false, 200, "gpt-4-pool"},
		{"gpt-4-pool", true, 200, "gpt-4-pool"},
		{"gpt-4-poll", false, 200, "fallback"}, // the typo
		{"broken", false, 401, "broken"},
		{"off", false, 503, "off"},
		{"池 100%", false, 200, "%E6%B1%A0 100%25"},
	} {
		code, hdr, body := h.chat(tc.model, tc.stream)
		if code != tc.status {
			t.Errorf("model %q: got %d %s, want %d", tc.model, code, body, tc.status)
		}
		if got := hdr.Values("X-Catfish-Scheme"); len(got) != 1 || got[0] != tc.want {
			t.Errorf("model %q: X-Catfish-Scheme %q, want %q", tc.model, got, tc.want)
		}
	}
}

// TestNoChannelAdmittedHasNoEmptyAttemptsHeader: the 503 for a scheme
// whose channels are all off or cooling down tried nothing, and says so by
// leaving X-Catfish-Attempts out rather than sending it empty.
func TestNoChannelAdmittedHasNoEmptyAttemptsHeader(t *testing.T) {
	h := newHarness(t, nil)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "x") })
	h.addChannel(map[string]any{"url": u.V1(), "enabled": false})
	code, hdr, body := h.chat("default", false)
	if code != 503 || !strings.Contains(body, "no_channel_available") {
		t.Fatalf("got %d %s, want 503 no_channel_available", code, body)
	}
	if v, ok := hdr["X-Catfish-Attempts"]; ok {
		t.Errorf("X-Catfish-Attempts sent as %q with no attempt made", v)
	}
}

func TestFirstSchemeByNameWithoutDefault(t *testing.T) {
	h := newHarness(t, nil)
	uz := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "zeta") })
	ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "alpha") })
	h.addChannel(map[string]any{"url": uz.V1(), "scheme_name": "zeta"})
	h.addChannel(map[string]any{"url": ua.V1(), "scheme_name": "alpha"})
	if _, _, body := h.chat("unknown-model", false); !strings.Contains(body, `"alpha"`) {
		t.Errorf("got %s, want the first scheme by name (alpha)", body)
	}
}

func TestModelOverrideSplicesOnlyTheModel(t *testing.T) {
	h := newHarness(t, nil)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "ok") })
	h.addChannel(map[string]any{"url": u.V1(), "model": "real-model-7b"})
	in := `{"temperature":0.50, "model" : "default","messages":[{"role":"user","content":"héllo \u00e9"}],"n":1}`
	if code, _, body := h.call("POST", "/v1/chat/completions", in); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	want := `{"temperature":0.50, "model" : "real-model-7b","messages":[{"role":"user","content":"héllo \u00e9"}],"n":1}`
	if got := string(u.LastBody()); got != want {
		t.Errorf("forwarded body:\n got %s\nwant %s", got, want)
	}
	if got := u.LastHeader().Get("Authorization"); got != "Bearer sk-upstream-key-0001" {
		t.Errorf("upstream Authorization: got %q", got)
	}
}

func TestOtherEndpointsKeepTheirPath(t *testing.T) {
	h := newHarness(t, nil)
	var gotPath, gotQuery string
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery = r.URL.Path, r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"usage":{"prompt_tokens":2,"total_tokens":2}}`))
	})
	h.addChannel(map[string]any{"url": u.V1()})
	code, _, body := h.call("POST", "/v1/embeddings?api-version=1", `{"model":"default","input":"hi"}`)
	if code != 200 || !strings.Contains(body, "embedding") {
		t.Fatalf("%d %s", code, body)
	}
	if gotPath != "/v1/embeddings" || gotQuery != "api-version=1" {
		t.Errorf("upstream saw %s?%s", gotPath, gotQuery)
	}
}

// TestEventStreamAnswerToNonStreamRequestIsBad: an upstream that answers
// a non-stream request with an (endless) event stream gave a bad answer:
// the next channel takes over at once, the channel is blamed, and the
// stream's text never reaches the client.
func TestEventStreamAnswerToNonStreamRequestIsBad(t *testing.T) {
	endless := func(_ int64, w http.ResponseWriter, r *http.Request) {
		s := enginetest.StartSSE(w)
		for i := 0; i < 200; i++ {
			s.Data(enginetest.Chunk("secret-sse-text", ""))
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	t.Run("next channel", func(t *testing.T) {
		h := newHarness(t, nil)
		ua := enginetest.NewUpstream(t, endless)
		ub := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "from B") })
		a := h.addChannel(map[string]any{"url": ua.V1(), "priority": 1})
		b := h.addChannel(map[string]any{"url": ub.V1(), "priority": 2})
		start := time.Now()
		code, hdr, body := h.chat("default", false)
		if code != 200 || !strings.Contains(body, "from B") {
			t.Fatalf("got %d %s, want B's answer", code, body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("answered after %v", d)
		}
		if got, want := strings.Join(enginetest.Attempts(hdr), ","), a+"=unexpected_stream,"+b+"=ok"; got != want {
			t.Errorf("attempts %s, want %s", got, want)
		}
		if _, fails := h.breakerOf(a); fails != 1 {
			t.Errorf("A's failures: got %d, want 1", fails)
		}
	})
	t.Run("only channel", func(t *testing.T) {
		h := newHarness(t, nil)
		ua := enginetest.NewUpstream(t, endless)
		h.addChannel(map[string]any{"url": ua.V1(), "max_retries": 0})
		start := time.Now()
		code, hdr, body := h.chat("default", false)
		if code != 502 || strings.Contains(body, "secret-sse-text") || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("got %d %s %s, want a 502 error of the proxy's own", code, hdr.Get("Content-Type"), body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("answered after %v", d)
		}
	})
}

// TestGzipAnswersAreDecoded: an upstream that gzips its answer although
// nobody asked (the proxy sends no Accept-Encoding) is still understood:
// JSON answers, error answers and streams are decoded, checked and
// relayed without the encoding.
func TestGzipAnswersAreDecoded(t *testing.T) {
	gz := func(w http.ResponseWriter, status int, ct string, parts ...string) {
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(status)
		zw := gzip.NewWriter(w)
		for _, p := range parts {
			zw.Write([]byte(p))
			zw.Flush()
			w.(http.Flusher).Flush()
		}
		zw.Close()
	}
	const answer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"unzipped"},"finish_reason":"stop"}]}`
	const refusal = `{"error":{"message":"no, zipped","type":"invalid_request_error","code":"content_policy_violation"}}`
	cases := []struct {
		name, model string
		stream      bool
		handle      func(w http.ResponseWriter)
		status      int
		want        string
	}{
		{"json", "a", false, func(w http.ResponseWriter) { gz(w, 200, "application/json", answer) }, 200, answer},
		{"error", "b", false, func(w http.ResponseWriter) { gz(w, 400, "application/json", refusal) }, 400, refusal},
		{"stream", "c", true, func(w http.ResponseWriter) {
			gz(w, 200, "text/event-stream", "data: "+enginetest.Chunk("un", "")+"\n\n", "data: "+enginetest.Chunk("zipped", "stop")+"\n\n", "data: [DONE]\n\n")
		}, 200, "data: " + enginetest.Chunk("un", "") + "\n\ndata: " + enginetest.Chunk("zipped", "stop") + "\n\ndata: [DONE]\n\n"},
		{"not really gzip", "d", false, func(w http.ResponseWriter) {
			w.Header().Set("Content-Encoding", "gzip")
			enginetest.WriteChat(w, "plain")
		}, 502, `{"error":{"message":"every channel of scheme \"d\" failed; last error: bad_encoding","type":"upstream_error","param":null,"code":"upstream_failed"}}`},
	}
	h := newHarness(t, nil)
	for _, tc := range cases {
		u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept-Encoding") != "" {
				t.Errorf("the upstream was asked for %q", r.Header.Get("Accept-Encoding"))
			}
			tc.handle(w)
		})
		h.addChannel(map[string]any{"url": u.V1(), "scheme_name": tc.model})
	}
	// A client that decodes nothing itself sees what the proxy sends.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", h.base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody(tc.model, tc.stream)))
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || string(body) != tc.want {
				t.Errorf("got %d %q\nwant %d %q", resp.StatusCode, body, tc.status, tc.want)
			}
			if ce := resp.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("Content-Encoding %q relayed with a decoded body", ce)
			}
		})
	}
}

func TestBinaryAnswerPassesThrough(t *testing.T) {
	h := newHarness(t, nil)
	audio := strings.Repeat("\x00\xffID3", 1000)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write([]byte(audio))
	})
	h.addChannel(map[string]any{"url": u.V1()})
	code, hdr, body := h.call("POST", "/v1/audio/speech", `{"model":"default","input":"hi","voice":"alloy"}`)
	if code != 200 || body != audio || hdr.Get("Content-Type") != "audio/mpeg" {
		t.Errorf("got %d %s, %d bytes", code, hdr.Get("Content-Type"), len(body))
	}
}

func TestRequestTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RequestTimeout = 200 * time.Millisecond })
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.Hang(r) })
	id := h.addChannel(map[string]any{"url": u.V1()})
	start := time.Now()
	code, _, body := h.chat("default", false)
	if code != 504 || !strings.Contains(body, "request_timeout") {
		t.Fatalf("got %d %s, want 504 request_timeout", code, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("answered after %v", d)
	}
	if _, fails := h.breakerOf(id); fails != 0 {
		t.Errorf("the total limit is not the channel's fault: %d failures", fails)
	}
}
