package engine

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"catfish/channel"
	"catfish/engine/enginetest"
	"catfish/engine/state"
	"catfish/engine/stats"
)

// Channel operations: test, reset, export and import. (Import's document
// checks live in import_test.go.)

// testChannel is POST /admin/config/{id}/test.
func (h *harness) testChannel(id, body string) channel.TestResult {
	h.t.Helper()
	code, _, raw := h.call("POST", "/admin/config/"+id+"/test", body)
	if code != 200 {
		h.t.Fatalf("test %s: %d %s", id, code, raw)
	}
	var res channel.TestResult
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		h.t.Fatalf("test answer: %v in %s", err, raw)
	}
	return res
}

func TestChannelTest(t *testing.T) {
	cases := []struct {
		name       string
		handle     func(w http.ResponseWriter, r *http.Request)
		refused    bool
		ok         bool
		status     int
		errHas     string // substring of the error text; alternatives split by |
		reply      string
		minLatency float64 // ms
	}{
		{name: "ok", handle: func(w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "pong") },
			ok: true, status: 200, reply: "pong"},
		{name: "500 with an OpenAI error", handle: func(w http.ResponseWriter, r *http.Request) { enginetest.WriteErr(w, 500, "server_error") },
			status: 500, errHas: "upstream says 500"},
		{name: "401 as text", handle: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			w.Write([]byte("bad credentials"))
		}, status: 401, errHas: "HTTP 401: bad credentials"},
		{name: "429 without a body", handle: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) },
			status: 429, errHas: "Too Many Requests"},
		{name: "200 that is not JSON", handle: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>login</html>"))
		}, status: 200, errHas: "<html>login</html>"},
		{name: "200 with an error document", handle: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"error":{"message":"quota exhausted"}}`))
		}, status: 200, errHas: "quota exhausted"},
		{name: "hanging until the first-byte timeout", handle: func(w http.ResponseWriter, r *http.Request) { enginetest.Hang(r) },
			errHas: "deadline exceeded", minLatency: 300},
		{name: "connection reset", handle: func(w http.ResponseWriter, r *http.Request) { enginetest.Reset(w) },
			errHas: "EOF|reset"},
		{name: "connection refused", refused: true, errHas: "refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.FirstByteTimeout = 300 * time.Millisecond })
			url := ""
			var u *enginetest.Upstream
			if tc.refused {
				url = enginetest.ClosedURL(t)
			} else {
				u = enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { tc.handle(w, r) })
				url = u.V1()
			}
			id := h.addChannel(map[string]any{"url": url, "api_key": "sk-test-key-000000000001"})
			res := h.testChannel(id, "")
			if res.OK != tc.ok || res.Status != tc.status || res.Reply != tc.reply {
				t.Errorf("result %+v, want ok=%v status=%d reply=%q", res, tc.ok, tc.status, tc.reply)
			}
			says := func() bool {
				for alt := range strings.SplitSeq(tc.errHas, "|") {
					if strings.Contains(res.Error, alt) {
						return true
					}
				}
				return false
			}
			if tc.errHas == "" && res.Error != "" || !says() {
				t.Errorf("error %q, want it to say %q", res.Error, tc.errHas)
			}
			if res.LatencyMS <= 0 || res.LatencyMS < tc.minLatency {
				t.Errorf("latency %v ms, want more than %v", res.LatencyMS, tc.minLatency)
			}
			if res.Model != "default" || res.Breaker != "closed" {
				t.Errorf("model %q breaker %q", res.Model, res.Breaker)
			}
			if strings.Contains(res.Error, url) {
				t.Errorf("the error shows the channel URL: %q", res.Error)
			}
			if u != nil && u.Hits() > 0 {
				var body struct {
					Model     string `json:"model"`
					MaxTokens int    `json:"max_tokens"`
					Messages  []any  `json:"messages"`
				}
				json.Unmarshal(u.LastBody(), &body)
				if body.MaxTokens != 1 || body.Model != "default" || len(body.Messages) != 1 {
					t.Errorf("the test request was %s", u.LastBody())
				}
				if got := u.LastHeader().Get("Authorization"); got != "Bearer sk-test-key-000000000001" {
					t.Errorf("Authorization upstream: %q", got)
				}
			}
			// A test is no client request.
			if v := h.stats(); v.Total != (stats.Counts{}) || v.ByConfigID[id].Counts != (stats.Counts{}) {
				t.Errorf("the test counted as traffic: %+v %+v", v.Total, v.ByConfigID[id].Counts)
			}
		})
	}
}

func TestChannelTestModel(t *testing.T) {
	h := newHarness(t, nil)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "pong") })
	plain := h.addChannel(map[string]any{"url": u.V1()})
	override := h.addChannel(map[string]any{"url": u.V1(), "model": "the-override"})
	model := func() string {
		var b struct{ Model string }
		json.Unmarshal(u.LastBody(), &b)
		return b.Model
	}
	for _, tc := range []struct{ id, body, want string }{
		{plain, "", "default"},
		{plain, `{"model":"asked-for"}`, "asked-for"},
		{override, "", "the-override"},
		{override, `{}`, "the-override"},
		{override, `{"model":"asked-for"}`, "asked-for"},
	} {
		res := h.testChannel(tc.id, tc.body)
		if res.Model != tc.want || model() != tc.want || !res.OK {
			t.Errorf("body %q: result %+v, upstream got model %q; want %q", tc.body, res, model(), tc.want)
		}
	}
	for _, body := range []string{`{"model":5}`, `{"model":`, `[]`} {
		code, _, raw := h.call("POST", "/admin/config/"+plain+"/test", body)
		if code != 400 || !strings.Contains(raw, `"error"`) {
			t.Errorf("body %q: %d %s, want 400", body, code, raw)
		}
	}
}

// switchable answers 500 until fixed, then OK.
func switchable(t *testing.T) (*enginetest.Upstream, *atomic.Bool) {
	var fixed atomic.Bool
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if fixed.Load() {
			enginetest.WriteChat(w, "fixed")
			return
		}
		enginetest.WriteErr(w, 500, "server_error")
	})
	return u, &fixed
}

// openBreaker makes channel id's breaker open (threshold 1) with a chat.
func openBreaker(t *testing.T, h *harness, model, id string) {
	t.Helper()
	if code, _, _ := h.chat(model, false); code < 500 {
		t.Fatalf("the failing request answered %d", code)
	}
	if st, _ := h.breakerOf(id); st != "open" {
		t.Fatalf("breaker %s, want open", st)
	}
}

func TestChannelTestSuccessClosesTheBreaker(t *testing.T) {
	h := newHarness(t, nil)
	u, fixed := switchable(t)
	id := h.addChannel(map[string]any{"url": u.V1(), "consecutive_failure_threshold": 1,
		"disable_duration_seconds": 3600, "max_retries": 0})
	openBreaker(t, h, "default", id)

	// A failing test leaves it open.
	if res := h.testChannel(id, ""); res.OK || res.Status != 500 || res.Breaker != "open" {
		t.Errorf("failing test: %+v", res)
	}
	if st, _ := h.breakerOf(id); st != "open" {
		t.Errorf("a failed test changed the breaker: %s", st)
	}
	fixed.Store(true)
	if res := h.testChannel(id, ""); !res.OK || res.Breaker != "closed" {
		t.Errorf("passing test: %+v", res)
	}
	if st, fails := h.breakerOf(id); st != "closed" || fails != 0 {
		t.Errorf("after a passing test: %s, %d fails", st, fails)
	}
	v := h.stats()
	if c := v.ByConfigID[id]; c.State != "closed" || c.DisabledUntil != nil || c.ConsecutiveFails != 0 {
		t.Errorf("stats after the test: %+v", c)
	}
	// Traffic flows to it again at once.
	hits := u.Hits()
	if code, _, body := h.chat("default", false); code != 200 || !strings.Contains(body, "fixed") || u.Hits() != hits+1 {
		t.Errorf("after the test: %d %s", code, body)
	}
}

func TestChannelReset(t *testing.T) {
	h := newHarness(t, nil)
	u, fixed := switchable(t)
	id := h.addChannel(map[string]any{"url": u.V1(), "consecutive_failure_threshold": 1,
		"disable_duration_seconds": 3600, "max_retries": 0, "api_key": "sk-reset-0000000000001"})
	openBreaker(t, h, "default", id)
	fixed.Store(true)
	// Open: no request reaches it.
	if code, _, _ := h.chat("default", false); code != 503 {
		t.Errorf("with the breaker open: %d, want 503", code)
	}

	code, _, raw := h.call("POST", "/admin/config/"+id+"/reset", "")
	if code != 200 {
		t.Fatalf("reset: %d %s", code, raw)
	}
	var got listed
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Breaker.State != "closed" || got.Breaker.ConsecutiveFails != 0 || got.Breaker.OpenUntil != nil {
		t.Errorf("reset answer: %+v", got)
	}
	if strings.Contains(raw, "sk-reset-0000000000001") {
		t.Errorf("the reset answer shows the key: %s", raw)
	}
	if st, fails := h.breakerOf(id); st != "closed" || fails != 0 {
		t.Errorf("after reset: %s, %d", st, fails)
	}
	if code, _, body := h.chat("default", false); code != 200 {
		t.Errorf("after reset: %d %s", code, body)
	}
	// Resetting a closed breaker is harmless.
	if code, _, _ := h.call("POST", "/admin/config/"+id+"/reset", ""); code != 200 {
		t.Errorf("second reset: %d", code)
	}
	if st, _ := h.breakerOf(id); st != "closed" {
		t.Errorf("after a second reset: %s", st)
	}
}

func TestChannelOpsUnknownID(t *testing.T) {
	h := newHarness(t, nil)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "x") })
	h.addChannel(map[string]any{"url": u.V1()})
	before := h.exportRaw()
	for _, id := range []string{"00000000-0000-4000-8000-000000000000", "nope"} {
		for _, op := range []string{"test", "reset"} {
			code, _, raw := h.call("POST", "/admin/config/"+id+"/"+op, "")
			var e struct {
				Error struct{ Message, Type, Code string } `json:"error"`
			}
			if code != 404 || json.Unmarshal([]byte(raw), &e) != nil || e.Error.Message == "" || e.Error.Code != "not_found" {
				t.Errorf("%s of %s: %d %s, want 404 in OpenAI's error shape", op, id, code, raw)
			}
		}
	}
	if u.Hits() != 0 {
		t.Errorf("an unknown id reached an upstream")
	}
	if after := h.exportRaw(); after != before {
		t.Errorf("the configuration changed")
	}
	// GET is not a channel operation.
	if code, _, _ := h.call("GET", "/admin/config/x/test", ""); code != 404 && code != 405 {
		t.Errorf("GET .../test: %d", code)
	}
}

// TestExportImportOntoAFreshServer restores a backup into an empty server:
// the same channels, and they work with their keys.
func TestExportImportOntoAFreshServer(t *testing.T) {
	var gotKey atomic.Value
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		gotKey.Store(r.Header.Get("Authorization"))
		enginetest.WriteChat(w, "restored")
	})
	src := newHarness(t, nil)
	src.addChannel(map[string]any{"url": u.V1(), "api_key": "sk-backup-000000000001", "scheme_name": "s1",
		"name": "one", "model": "m1", "timeout_seconds": 30, "max_retries": 2})
	src.addChannel(map[string]any{"url": u.V1(), "api_key": "sk-backup-000000000002", "scheme_name": "s2",
		"priority": 3, "enabled": false})
	backup := src.exportRaw()

	dst := newHarness(t, nil)
	code, raw := dst.importDoc("?dry_run=true", backup)
	var res state.ImportResult
	json.Unmarshal([]byte(raw), &res)
	if code != 200 || !res.DryRun || res.Added != 2 || res.Updated != 0 || res.Removed != 0 {
		t.Fatalf("dry run: %d %s", code, raw)
	}
	if len(dst.export()) != 0 {
		t.Fatalf("the dry run imported")
	}
	if code, raw := dst.importDoc("", backup); code != 200 {
		t.Fatalf("import: %d %s", code, raw)
	}
	if got := dst.exportRaw(); got != backup {
		t.Errorf("export after import:\n%s\nwant\n%s", got, backup)
	}
	if code, _, body := dst.chat("s1", false); code != 200 || !strings.Contains(body, "restored") {
		t.Fatalf("request through the restored channel: %d %s", code, body)
	}
	if got := gotKey.Load(); got != "Bearer sk-backup-000000000001" {
		t.Errorf("the restored channel sent key %v", got)
	}
	if code, _, _ := dst.chat("s2", false); code == 200 {
		t.Errorf("a disabled channel answered after the import")
	}
}

// TestImportOfItselfKeepsState: importing the current export changes
// nothing: not the channels, not their breakers, not their counts.
func TestImportOfItselfKeepsState(t *testing.T) {
	h := newHarness(t, nil)
	u, _ := switchable(t)
	good := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "ok") })
	bad := h.addChannel(map[string]any{"url": u.V1(), "consecutive_failure_threshold": 1,
		"disable_duration_seconds": 3600, "max_retries": 0, "scheme_name": "bad"})
	ok := h.addChannel(map[string]any{"url": good.V1(), "scheme_name": "good"})
	openBreaker(t, h, "bad", bad)
	h.chat("good", false)
	statsBefore := h.statsAfter(2)
	viewsBefore := h.views()

	if code, raw := h.importDoc("", h.exportRaw()); code != 200 {
		t.Fatalf("import: %d %s", code, raw)
	}
	views := h.views()
	for _, id := range []string{bad, ok} {
		if views[id].Breaker.State != viewsBefore[id].Breaker.State || views[id].Breaker.ConsecutiveFails != viewsBefore[id].Breaker.ConsecutiveFails {
			t.Errorf("breaker of %s: %+v, before %+v", id, views[id].Breaker, viewsBefore[id].Breaker)
		}
	}
	v := h.stats()
	for _, id := range []string{bad, ok} {
		if v.ByConfigID[id].Counts != statsBefore.ByConfigID[id].Counts {
			t.Errorf("counts of %s: %+v, before %+v", id, v.ByConfigID[id].Counts, statsBefore.ByConfigID[id].Counts)
		}
	}
	if v.Total != statsBefore.Total {
		t.Errorf("total: %+v, before %+v", v.Total, statsBefore.Total)
	}
}

// TestImportReplaceForgetsRemovedChannels: a channel that a replacing
// import drops leaves /admin/stats and /metrics; request totals stay.
func TestImportReplaceForgetsRemovedChannels(t *testing.T) {
	h := newHarness(t, nil)
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "ok") })
	gone := h.addChannel(map[string]any{"url": u.V1(), "scheme_name": "a"})
	kept := h.addChannel(map[string]any{"url": u.V1(), "scheme_name": "b"})
	h.chat("a", false)
	h.chat("b", false)
	h.statsAfter(2)
	doc := h.export()
	delete(doc, "a")
	b, _ := json.Marshal(doc)
	code, raw := h.importDoc("", string(b))
	var res state.ImportResult
	json.Unmarshal([]byte(raw), &res)
	if code != 200 || res.Removed != 1 || res.Updated != 1 {
		t.Fatalf("import: %d %s", code, raw)
	}
	v := h.stats()
	if _, ok := v.ByConfigID[gone]; ok {
		t.Errorf("the removed channel is still in /admin/stats")
	}
	if _, ok := v.Today.ByConfigID[gone]; ok {
		t.Errorf("the removed channel is still in today's stats")
	}
	if v.ByConfigID[kept].Counts != (stats.Counts{Success: 1}) || v.Total != (stats.Counts{Success: 2}) {
		t.Errorf("kept %+v, total %+v", v.ByConfigID[kept].Counts, v.Total)
	}
	if m := h.metrics(); strings.Contains(m, gone) || !strings.Contains(m, kept) {
		t.Errorf("/metrics after the import:\n%s", m)
	}
}

// TestImportOriginalConfigOverHTTP: POST /admin/import takes the
// original's config.json, both shapes, dry run first.
func TestImportOriginalConfigOverHTTP(t *testing.T) {
	legacy := `[
		{"priority": 1, "url": "https://a.example/v1", "api_key": "sk-aaaaaaaaaaaaaaaa", "model": "gpt-4o", "id": "` + origA + `"},
		{"priority": 2, "url": "https://b.example/v1", "api_key": "k2", "user_agent_mode": "default"}
	]`
	for _, tc := range []struct {
		name, doc string
		channels  int
		schemes   []string
	}{
		{"scheme map", originalConfig, 3, []string{"default", "fast"}},
		{"legacy array", legacy, 2, []string{"default"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			code, raw := h.importDoc("?dry_run=1", tc.doc)
			var res state.ImportResult
			json.Unmarshal([]byte(raw), &res)
			if code != 200 || !res.DryRun || res.Channels != tc.channels || res.Added != tc.channels || strings.Join(res.Schemes, ",") != strings.Join(tc.schemes, ",") {
				t.Fatalf("dry run: %d %s", code, raw)
			}
			if len(h.export()) != 0 {
				t.Fatalf("the dry run changed the configuration")
			}
			if code, raw := h.importDoc("", tc.doc); code != 200 {
				t.Fatalf("import: %d %s", code, raw)
			}
			if got := len(byID(h.export())); got != tc.channels {
				t.Errorf("%d channels after the import, want %d", got, tc.channels)
			}
			var models struct{ Data []struct{ ID string } }
			h.getJSON("/v1/models", &models)
			if len(models.Data) != len(tc.schemes) {
				t.Errorf("models: %+v", models)
			}
		})
	}
}
