package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"catfish/channel"
	"catfish/engine/enginetest"
	"catfish/engine/stats"
)

// The canary-key test: distinctive keys go in (the admin key, which
// clients also use, and the channels' upstream keys), everything is
// exercised, and no output but /admin/export may show any of them: no log
// line, API answer, header or metric. Client keys' secrets are made by
// the server: each may show only in the answer that created (or rotated)
// it, and its hash only in /admin/export.

const canaryMark = "CANARY"

// canary makes a key holding a "/", which JSON may escape as "\/".
func canary(kind string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return "sk-" + canaryMark + "-" + kind + "/" + hex.EncodeToString(b)
}

// canaryModes are the upstream behaviours, chosen by the channel URL's
// path (/m/<mode>/v1), so the proxy and the channel test both reach them.
// Every "echo" mode puts the Authorization it received into its answer,
// as some providers do ("Incorrect API key provided: ...").
//
// Every echo mode also comes JSON-escaped, as some upstreams send it:
// "<mode>-u" spells every character of the echo as \uXXXX, "<mode>-slash"
// writes its "/" as "\/". Neither contains the key byte for byte.
var canaryModes = withEscapes(
	"ok", "echo-header", "echo-500", "echo-429", "echo-401-text", "echo-400", "echo-context-length",
	"echo-200-error", "echo-stream-error-first", "echo-stream-error-mid", "stream-break",
	"malformed-echo", "hang", "reset",
)

func withEscapes(modes ...string) []string {
	var out []string
	for _, m := range modes {
		out = append(out, m)
		if strings.HasPrefix(m, "echo-") {
			out = append(out, m+"-u", m+"-slash")
		}
	}
	return out
}

// jsonString spells s as a JSON string literal in one of the escape
// styles of canaryModes.
func jsonString(s, style string) string {
	switch style {
	case "-u":
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range s {
			fmt.Fprintf(&b, "\\u%04x", r)
		}
		b.WriteByte('"')
		return b.String()
	case "-slash":
		q, _ := json.Marshal(s)
		return strings.ReplaceAll(string(q), "/", `\/`)
	}
	q, _ := json.Marshal(s)
	return string(q)
}

func canaryUpstream(t *testing.T, adminKey string, sawAdmin *atomic.Bool) *enginetest.Upstream {
	return enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		for _, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, adminKey) {
					sawAdmin.Store(true)
				}
			}
		}
		if strings.Contains(r.URL.String(), adminKey) {
			sawAdmin.Store(true)
		}
		b, _ := io.ReadAll(r.Body)
		stream := strings.Contains(string(b), `"stream":true`)
		mode := strings.Split(strings.TrimPrefix(r.URL.Path, "/m/"), "/")[0]
		style := ""
		for _, st := range []string{"-u", "-slash"} {
			if m, ok := strings.CutSuffix(mode, st); ok {
				mode, style = m, st
			}
		}
		auth := r.Header.Get("Authorization")
		q := jsonString("invalid key: "+auth, style)
		echo := jsonString(auth, style) // as text: without its quotes
		echo = echo[1 : len(echo)-1]
		jsonErr := func(status int, code string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"message":%s,"type":"invalid_request_error","code":%q}}`, q, code)
		}
		if !stream && strings.Contains(mode, "stream") || mode == "malformed-echo" && !stream {
			// Stream modes answer a non-stream request as a good upstream
			// would (an unasked-for stream is refused, never relayed).
			mode = "ok"
		}
		switch mode {
		case "ok", "echo-header":
			if mode == "echo-header" {
				w.Header().Set("X-Upstream-Echo", echo)
			}
			if !stream {
				enginetest.WriteChat(w, "fine")
				return
			}
			s := enginetest.StartSSE(w)
			s.Data(enginetest.Chunk("fine", ""))
			s.Data(enginetest.Chunk("", "stop"))
			s.Data(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
			s.Data("[DONE]")
		case "echo-500":
			jsonErr(500, "server_error")
		case "echo-429":
			w.Header().Set("Retry-After", "0")
			jsonErr(429, "rate_limit_exceeded")
		case "echo-401-text":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(401)
			fmt.Fprintf(w, "Unauthorized: %s", echo)
		case "echo-400":
			jsonErr(400, "content_policy_violation")
		case "echo-context-length":
			jsonErr(400, "context_length_exceeded")
		case "echo-200-error":
			jsonErr(200, "oops")
		case "echo-stream-error-first":
			enginetest.StartSSE(w).Data(fmt.Sprintf(`{"error":{"message":%s,"type":"server_error"}}`, q))
		case "echo-stream-error-mid":
			s := enginetest.StartSSE(w)
			s.Data(enginetest.Chunk("a", ""))
			s.Data(fmt.Sprintf(`{"error":{"message":%s,"type":"server_error"}}`, q))
		case "stream-break":
			s := enginetest.StartSSE(w)
			s.Data(enginetest.Chunk("a", ""))
			enginetest.Reset(w)
		case "malformed-echo":
			s := enginetest.StartSSE(w)
			s.Data(enginetest.Chunk("a", ""))
			s.Data(`{"broken": "` + auth) // not JSON: dropped and logged
			s.Data(enginetest.Chunk("", "stop"))
			s.Data("[DONE]")
		case "hang":
			enginetest.Hang(r)
		case "reset":
			enginetest.Reset(w)
		default:
			http.Error(w, "unknown mode", 404)
		}
	})
}

// canaryClient sends requests with the admin key and keeps every answer.
type canaryClient struct {
	t       *testing.T
	base    string
	key     string
	answers []string       // "METHOD path → status", headers, body
	proxied int64          // answers that went through the proxy (they carry a request id)
	shows   map[int]string // answer index → the one client key secret it may show
}

func (c *canaryClient) send(method, path, auth, body string) (int, http.Header, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // a broken stream may end with an error: keep what came
	if resp.Header.Get("X-Catfish-Request-Id") != "" {
		c.proxied++
	}
	var hdr strings.Builder
	resp.Header.Write(&hdr)
	if path != "/admin/export" {
		c.answers = append(c.answers, fmt.Sprintf("%s %s → %d\n%s\n%s", method, path, resp.StatusCode, hdr.String(), b))
	}
	return resp.StatusCode, resp.Header, string(b)
}

func (c *canaryClient) do(method, path, body string) (int, http.Header, string) {
	c.t.Helper()
	return c.send(method, path, "Bearer "+c.key, body)
}

func TestCanaryKeysNeverLeak(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) { canaryRun(t, format) })
	}
}

func canaryRun(t *testing.T, format string) {
	adminKey := canary("admin")
	keys := map[string]string{"A": canary("upstream"), "B": canary("upstream")}
	cfg := testConfig(t)
	cfg.AdminKey = adminKey
	cfg.LogFormat = format
	cfg.FirstByteTimeout = 300 * time.Millisecond
	cfg.IdleTimeout = 300 * time.Millisecond
	cfg.BreakerCooldown = 50 * time.Millisecond
	cfg.BreakerMaxCooldown = 50 * time.Millisecond
	n := startNode(t, cfg)
	c := &canaryClient{t: t, base: n.base, key: adminKey}
	var sawAdmin atomic.Bool
	u := canaryUpstream(t, adminKey, &sawAdmin)

	// Two channels per mode, each scheme named after its mode.
	ids := map[string][]string{}
	for _, mode := range canaryModes {
		for _, name := range []string{"A", "B"} {
			body, _ := json.Marshal(map[string]any{"url": u.URL + "/m/" + mode + "/v1", "api_key": keys[name],
				"priority": 1, "scheme_name": mode, "name": mode + "-" + name})
			code, _, got := c.do("POST", "/admin/config", string(body))
			if code != 200 {
				t.Fatalf("create: %d %s", code, got)
			}
			var ch struct{ ID string }
			json.Unmarshal([]byte(got), &ch)
			ids[mode] = append(ids[mode], ch.ID)
		}
	}

	// Proxy traffic: every mode, stream and not, twice (the second time
	// some breakers are open).
	for range 2 {
		for _, mode := range canaryModes {
			for _, stream := range []bool{false, true} {
				c.do("POST", "/v1/chat/completions", fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"hi"}]}`, mode, stream))
			}
		}
	}
	// Positive control: escaped echoes come back, with the key masked.
	for _, mode := range []string{"echo-400-u", "echo-400-slash", "echo-401-text-u", "echo-401-text-slash"} {
		_, _, got := c.do("POST", "/v1/chat/completions", enginetest.ChatBody(mode, false))
		if !strings.Contains(got, "invalid key") && !strings.Contains(got, "Unauthorized") ||
			!strings.Contains(got, channel.Mask(keys["A"])) && !strings.Contains(got, channel.Mask(keys["B"])) {
			t.Errorf("%s: the answer %s does not show the masked key", mode, got)
		}
	}
	c.do("POST", "/v1/embeddings", `{"model":"echo-500","input":"x"}`)
	c.do("POST", "/v1/chat/completions", `{"model":"ok","messages":[`) // bad JSON
	c.do("POST", "/v1/chat/completions", `{"messages":[]}`)            // no model
	c.do("GET", "/v1/models", "")
	c.do("GET", "/v1/nothing", "")
	// Wrong keys and malformed Authorization carrying the admin key.
	for _, auth := range []string{"", "Bearer wrong", "Basic " + adminKey, adminKey, "Bearer " + adminKey + "x", "Token " + keys["A"]} {
		c.send("POST", "/v1/chat/completions", auth, enginetest.ChatBody("ok", false))
		c.send("GET", "/admin/config", auth, "")
		c.send("GET", "/metrics", auth, "")
	}

	// Admin operations.
	for _, mode := range withEscapes("ok", "echo-500", "echo-401-text", "echo-200-error", "echo-400", "hang", "reset") {
		code, _, got := c.do("POST", "/admin/config/"+ids[mode][0]+"/test", "")
		if code != 200 {
			t.Errorf("test of %s: %d %s", mode, code, got)
		}
	}
	c.do("POST", "/admin/config/"+ids["echo-500"][0]+"/reset", "")
	c.do("PUT", "/admin/config/"+ids["ok"][0], `{"name":"renamed","api_key":"sk-…"}`)
	c.do("PUT", "/admin/config/"+ids["ok"][1], `{"api_key":"`+keys["B"]+`"}`)
	c.do("PUT", "/admin/config/"+ids["ok"][1], `{"api_key":"`+keys["B"]+`","url":"ftp://bad"}`)
	c.do("POST", "/admin/config", `{"url":"https://x.example/v1","api_key":"`+keys["A"]+`","priority":"high"}`)
	c.do("POST", "/admin/config", `{"url":"https://x.example/v1","api_key":{"k":"`+keys["A"]+`"},"priority":1}`)
	_, _, export := c.do("GET", "/admin/export", "")
	c.do("POST", "/admin/import?dry_run=true", export)
	c.do("POST", "/admin/import", `{"x":[{"priority":1,"url":"ftp://x","api_key":"`+keys["A"]+`"}]}`)
	c.do("POST", "/admin/import", `{"x":[{"priority":1,"url":"https://x.example/v1","api_key":["`+keys["A"]+`"]}]}`)
	c.do("POST", "/admin/import", `[{"priority":1,"url":"https://x.example/v1","api_key":"`+keys["A"]+"\x01"+`"}]`)
	c.do("DELETE", "/admin/config/"+ids["reset"][1], "")

	// Client keys: made, listed, changed, rotated, exported, imported,
	// deleted, and sent where they do not belong.
	clientSecrets := clientKeyTraffic(t, c, n)

	// Let the recorder catch up, then read every view.
	enginetest.WaitFor(t, 15*time.Second, "the recorder", func() bool {
		var v stats.View
		_, _, got := c.do("GET", "/admin/stats", "")
		json.Unmarshal([]byte(got), &v)
		return v.Total.Success+v.Total.Fail+v.Canceled >= c.proxied
	})
	for _, path := range []string{"/admin/config", "/admin/stats", "/admin/requests", "/admin/logs", "/metrics", "/healthz", "/v1/models"} {
		if code, _, got := c.do("GET", path, ""); code != 200 {
			t.Errorf("GET %s: %d %s", path, code, got)
		}
	}
	_, _, logsJSON := c.do("GET", "/admin/logs", "")
	var ringLines []string
	json.Unmarshal([]byte(logsJSON), &ringLines)

	// Positive controls: the canaries really went through the system.
	for name, k := range keys {
		if !strings.Contains(export, k) {
			t.Errorf("/admin/export lacks key %s: the canary check would prove nothing", name)
		}
	}
	if u.Hits() == 0 || !strings.Contains(u.LastHeader().Get("Authorization"), canaryMark) {
		t.Errorf("the upstream did not get a canary key")
	}

	// The checks.
	if sawAdmin.Load() {
		t.Errorf("the admin (client) key reached an upstream")
	}
	if strings.Contains(export, adminKey) {
		t.Errorf("/admin/export holds the admin key")
	}
	secrets := []string{adminKey, keys["A"], keys["B"]}
	for _, s := range clientSecrets {
		// The secret, its hash, and the hash's first 16 hex digits (what
		// the server compares first).
		secrets = append(secrets, s, keyhash(s), keyhash(s)[:16])
	}
	check := func(what, raw, allowed string) {
		t.Helper()
		for _, text := range revealed(raw) {
			for _, k := range secrets {
				if k != allowed && strings.Contains(text, k) {
					t.Errorf("%s shows a key:\n%s", what, excerpt(text, k))
					return
				}
			}
			if strings.Contains(text, canaryMark) {
				t.Errorf("%s shows part of a key:\n%s", what, excerpt(text, canaryMark))
				return
			}
		}
	}
	for i, a := range c.answers {
		first, _, _ := strings.Cut(a, "\n")
		check("answer to "+first, a, c.shows[i])
	}
	n.stop()
	for i, line := range strings.Split(n.logs.String(), "\n") {
		check(fmt.Sprintf("engine log line %d", i+1), line, "")
	}
	for i, line := range ringLines {
		check(fmt.Sprintf("/admin/logs line %d", i+1), line, "")
	}
	if len(ringLines) < 20 {
		t.Errorf("only %d log lines: the traffic did not log much", len(ringLines))
	}
	t.Logf("%d answers and %d log lines checked", len(c.answers), len(ringLines))
}

// revealed returns text and what any reader can decode from it: every
// JSON string literal in it decoded, and in each of those and in text
// itself the escapes \uXXXX and \/ resolved.
func revealed(text string) []string {
	out := []string{text, unescape(text)}
	for i := 0; i < len(text); i++ {
		if text[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(text) && text[j] != '"' {
			if text[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(text) {
			break
		}
		var s string
		if json.Unmarshal([]byte(text[i:j+1]), &s) == nil {
			out = append(out, s, unescape(s))
		}
		i = j
	}
	return out
}

// unescape resolves \uXXXX and \/ wherever they stand.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == '/' {
			b.WriteByte('/')
			i++
			continue
		}
		if s[i] == '\\' && i+5 < len(s) && s[i+1] == 'u' {
			if n, err := strconv.ParseUint(s[i+2:i+6], 16, 16); err == nil {
				b.WriteRune(rune(n))
				i += 5
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// excerpt shows the text around the first needle.
func excerpt(text, needle string) string {
	i := strings.Index(text, needle)
	lo, hi := max(0, i-200), min(len(text), i+len(needle)+100)
	return "…" + text[lo:hi] + "…"
}

// TestUpstreamErrorRelayedWithTheKeyMasked: an upstream error passed back
// to the client keeps its bytes, except the echoed key, which is masked.
func TestUpstreamErrorRelayedWithTheKeyMasked(t *testing.T) {
	const key = "sk-echo-0123456789abcdef"
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":{"message":"bad request from %s","code":"content_policy_violation"}}`, r.Header.Get("Authorization"))
	})
	h := newHarness(t, nil)
	h.addChannel(map[string]any{"url": u.V1(), "api_key": key})
	code, _, body := h.chat("default", false)
	want := `{"error":{"message":"bad request from Bearer sk-…cdef","code":"content_policy_violation"}}`
	if code != 400 || body != want {
		t.Errorf("got %d %s\nwant 400 %s", code, body, want)
	}
}
