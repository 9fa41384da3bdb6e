package engine

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"catfish/engine/enginetest"
	"catfish/scheme"
)

func TestSchemeAliasesRouteAgentModelNames(t *testing.T) {
	main := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "main") })
	fast := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "fast") })
	h := newHarness(t, func(c *Config) { c.DefaultScheme = "main" })
	h.addChannel(map[string]any{"url": main.V1(), "scheme_name": "main"})
	h.addChannel(map[string]any{"url": fast.V1(), "scheme_name": "fast"})
	code, _, body := h.call("PUT", "/admin/schemes/fast", `{"aliases":["claude-*-haiku-*","claude-haiku-4-5"]}`)
	if code != 200 {
		t.Fatalf("PUT aliases: %d %s", code, body)
	}
	var l scheme.Listing
	if err := json.Unmarshal([]byte(body), &l); err != nil || l.Name != "fast" || l.Channels != 1 || len(l.Aliases) != 2 {
		t.Fatalf("PUT answer %s (%v)", body, err)
	}
	for model, want := range map[string]string{"claude-3-5-haiku-20241022": "fast", "claude-haiku-4-5": "fast",
		"claude-sonnet-4-5": "main", "fast": "fast"} {
		code, _, body := h.chat(model, false)
		if code != 200 || !strings.Contains(body, `"content":"`+want+`"`) {
			t.Errorf("model %q: %d %s, want scheme %s", model, code, body, want)
		}
	}
	if code, _, body := h.call("GET", "/admin/schemes/fast", ""); code != 200 || !strings.Contains(body, "claude-haiku-4-5") {
		t.Errorf("GET /admin/schemes/fast: %d %s", code, body)
	}
	if code, _, _ := h.call("GET", "/admin/schemes/nope", ""); code != 404 {
		t.Errorf("GET an unknown scheme: %d, want 404", code)
	}
}

func TestSchemeSettingsRefuseBadInputAndChangeNothing(t *testing.T) {
	h := newHarness(t, nil)
	if code, _, body := h.call("PUT", "/admin/schemes/s", `{"aliases":["keep-me"]}`); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	before := h.schemesRaw()
	for _, tc := range []struct{ method, path, body, field string }{
		{"PUT", "/admin/schemes/s", `{"Aliases":["x"]}`, "Aliases"},
		{"PUT", "/admin/schemes/s", `{"aliases":["x"],"extra":1}`, "extra"},
		{"PUT", "/admin/schemes/s", `{"aliases":"x"}`, "aliases"},
		{"PUT", "/admin/schemes/s", `{"aliases":["a","a"]}`, "aliases[1]"},
		{"PUT", "/admin/schemes/s", `{"aliases":[""]}`, "aliases[0]"},
		{"PUT", "/admin/schemes/s", `{"aliases":[" padded"]}`, "aliases[0]"},
		{"PUT", "/admin/schemes", `{"s":{"aliases":["ok"]},"t":{"aliases":["bad\nline"]}}`, "t.aliases[0]"},
		{"PUT", "/admin/schemes", `{"s":{"alias":["x"]}}`, "s.alias"},
		{"PUT", "/admin/schemes", `null`, ""}, // not an object: invalid_json
		{"PUT", "/admin/schemes", `[1]`, ""},
	} {
		code, _, body := h.call(tc.method, tc.path, tc.body)
		var e struct{ Error struct{ Param string } }
		json.Unmarshal([]byte(body), &e)
		if code != 400 || e.Error.Param != tc.field {
			t.Errorf("%s %s %s: %d %s, want 400 naming %s", tc.method, tc.path, tc.body, code, body, tc.field)
		}
	}
	if after := h.schemesRaw(); after != before {
		t.Errorf("a refused request changed the schemes:\n%s\n%s", before, after)
	}
}

func (h *harness) schemesRaw() string {
	h.t.Helper()
	code, _, body := h.call("GET", "/admin/schemes", "")
	if code != 200 {
		h.t.Fatalf("GET /admin/schemes: %d %s", code, body)
	}
	return body
}

func TestSchemeSettingsSurviveRestartAndCompaction(t *testing.T) {
	for _, rs := range restarters {
		t.Run(rs.name, func(t *testing.T) {
			up := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { enginetest.WriteChat(w, "fast") })
			cfg := testConfig(t)
			n := startNode(t, cfg)
			n.addChannel(map[string]any{"url": up.V1(), "scheme_name": "fast"})
			n.addChannel(map[string]any{"url": up.V1(), "scheme_name": "a-first"})
			if code, _, body := n.call("PUT", "/admin/schemes", `{"fast":{"aliases":["claude-*"]},"empty":{"aliases":["x"]}}`); code != 200 {
				t.Fatalf("PUT: %d %s", code, body)
			}
			before := n.schemesRaw()
			n2 := rs.restart(t, n)
			if after := n2.schemesRaw(); after != before {
				t.Errorf("schemes after restart:\n%s\nwant\n%s", after, before)
			}
			if code, _, body := n2.chat("claude-opus-4-1", false); code != 200 || !strings.Contains(body, "fast") {
				t.Errorf("alias after restart: %d %s", code, body)
			}
			// Replacing all drops a scheme left out.
			if code, _, body := n2.call("PUT", "/admin/schemes", `{"fast":{"aliases":["claude-*"]}}`); code != 200 || strings.Contains(body, "empty") {
				t.Errorf("replace: %d %s", code, body)
			}
		})
	}
}
