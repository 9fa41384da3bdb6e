package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"catfish/channel"
	"catfish/engine/state"
	"catfish/engine/stats"
)

// Ids as catfishAPIAgg wrote them (uuid4).
const (
	origA    = "9146a734-91db-4bee-be28-05b4084c2a06"
	origB    = "3f0c1e2d-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
	origC    = "c0ffee00-1234-4567-89ab-cdef01234567"
	origGone = "deadbeef-0000-4000-8000-000000000000" // in stats.json only
)

// pythonISO formats t as Python's datetime.isoformat() of a naive local
// time: no offset, microseconds.
func pythonISO(t time.Time) string {
	return t.In(time.Local).Format("2006-01-02T15:04:05.000000")
}

// originalConfig is a config.json as catfishAPIAgg writes it: the scheme
// map, with the original's extra fields Catfish does not implement.
const originalConfig = `{
  "default": [
    {"priority": 2, "url": "https://a.example/v1", "api_key": "123", "model": "111",
     "consecutive_failure_threshold": 3, "disable_duration_seconds": 300,
     "id": "9146a734-91db-4bee-be28-05b4084c2a06",
     "request_overrides": {"temperature": 0.2, "url": "https://ignored.example"},
     "user_agent_mode": "custom", "custom_user_agent": "Mozilla/5.0",
     "stream_mode_strategy": "auto", "injection_position": "system", "injected_messages": [{"role":"system","content":"x"}],
     "endpoint_preset": "openai", "image_upstream_mode": "none"},
    {"priority": 1, "url": "https://b.example/v1", "api_key": "sk-bbbbbbbbbbbbbbbbbbbb", "model": null,
     "consecutive_failure_threshold": null, "disable_duration_seconds": null,
     "id": "3f0c1e2d-5a6b-4c7d-8e9f-0a1b2c3d4e5f"}
  ],
  "fast": [
    {"priority": 1, "url": "http://c.example:8000/v1/", "api_key": "sk-ccccccccccccccccccc", "model": "",
     "id": "c0ffee00-1234-4567-89ab-cdef01234567", "image_task_poll_timeout_seconds": 60}
  ]
}`

// origStatsJSON is a stats.json as catfishAPIAgg writes it. disabledA is
// channel A's disabled_until.
func origStatsJSON(date, disabledA string) string {
	return fmt.Sprintf(`{
  "total": {"success": 11, "fail": 5},
  "today": {"date": %q, "success": 5, "fail": 3,
            "by_config_id": {%q: {"success": 0, "fail": 3}, %q: {"success": 5, "fail": 0}}},
  "by_config_id": {
    %q: {"success": 0, "fail": 5, "consecutive_fails": 3, "disabled_until": %q},
    %q: {"success": 11, "fail": 0, "consecutive_fails": 0, "disabled_until": null},
    %q: {"success": 2, "fail": 1, "consecutive_fails": 1, "disabled_until": null}
  },
  "round_robin_state": {"default": 1, "fast": 0}
}`, date, origA, origB, origA, disabledA, origB, origGone)
}

// seedDataDir writes the original's files into a new data directory.
func seedDataDir(t *testing.T, files map[string]string) Config {
	t.Helper()
	cfg := testConfig(t)
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(cfg.DataDir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func byID(doc map[string][]channel.Settings) map[string]channel.Settings {
	out := map[string]channel.Settings{}
	for _, list := range doc {
		for _, s := range list {
			out[s.ID] = s
		}
	}
	return out
}

func TestImportOriginalSchemeMap(t *testing.T) {
	now := time.Now()
	date := now.In(time.Local).Format(time.DateOnly)
	until := now.Add(2 * time.Hour).Truncate(time.Microsecond)
	cfg := seedDataDir(t, map[string]string{
		"config.json": originalConfig,
		"stats.json":  origStatsJSON(date, pythonISO(until)),
	})
	n := startNode(t, cfg)

	chans := byID(n.export())
	if len(chans) != 3 {
		t.Fatalf("imported %d channels, want 3: %v", len(chans), slices.Collect(maps.Keys(chans)))
	}
	a, b, c := chans[origA], chans[origB], chans[origC]
	if a.Scheme != "default" || a.Priority != 2 || a.URL != "https://a.example/v1" || a.APIKey != "123" ||
		a.Model == nil || *a.Model != "111" || a.ConsecutiveFailureThreshold == nil || *a.ConsecutiveFailureThreshold != 3 ||
		a.DisableDurationSeconds == nil || *a.DisableDurationSeconds != 300 || !a.Enabled {
		t.Errorf("channel A imported as %+v", a)
	}
	if b.Scheme != "default" || b.Priority != 1 || b.APIKey != "sk-bbbbbbbbbbbbbbbbbbbb" || b.Model != nil ||
		b.ConsecutiveFailureThreshold != nil || b.DisableDurationSeconds != nil || !b.Enabled {
		t.Errorf("channel B imported as %+v", b)
	}
	if c.Scheme != "fast" || c.URL != "http://c.example:8000/v1/" || !c.Enabled {
		t.Errorf("channel C imported as %+v", c)
	}

	// A's breaker is open until the original's disabled_until.
	views := n.views()
	va := views[origA]
	if va.Breaker.State != "open" || va.Breaker.ConsecutiveFails != 3 || va.Breaker.OpenUntil == nil || !va.Breaker.OpenUntil.Equal(until) {
		t.Errorf("channel A breaker %+v (until %v), want open with 3 fails until %v", va.Breaker, va.Breaker.OpenUntil, until)
	}
	if va.APIKey == "123" {
		t.Errorf("GET /admin/config shows a short key in clear")
	}
	if vb := views[origB]; vb.Breaker.State != "closed" {
		t.Errorf("channel B breaker %+v", vb.Breaker)
	}

	var st stats.View
	n.getJSON("/admin/stats", &st)
	if st.Total != (stats.Counts{Success: 11, Fail: 5}) {
		t.Errorf("total %+v, want 11/5", st.Total)
	}
	if st.Today.Date == date {
		if st.Today.Counts != (stats.Counts{Success: 5, Fail: 3}) {
			t.Errorf("today %+v, want 5/3", st.Today)
		}
		if st.Today.ByConfigID[origA] != (stats.Counts{Fail: 3}) || st.Today.ByConfigID[origB] != (stats.Counts{Success: 5}) {
			t.Errorf("today by channel %+v", st.Today.ByConfigID)
		}
	}
	if s := st.ByConfigID[origA]; s == nil || s.Counts != (stats.Counts{Fail: 5}) || s.ConsecutiveFails != 3 || s.State != "open" {
		t.Errorf("stats of A: %+v", s)
	}
	if s := st.ByConfigID[origB]; s == nil || s.Counts != (stats.Counts{Success: 11}) || s.State != "closed" {
		t.Errorf("stats of B: %+v", s)
	}
	if _, ok := st.ByConfigID[origGone]; ok {
		t.Errorf("stats of a channel that is not in config.json are listed")
	}

	// The import happens once: after a restart the state comes from the
	// snapshot, and a changed config.json is not read again.
	before := n.durable()
	n.stop()
	os.WriteFile(filepath.Join(cfg.DataDir, "config.json"), []byte(`{"default":[]}`), 0o600)
	n2 := startNode(t, cfg)
	sameDurable(t, "after restart", n2.durable(), before)
	if strings.Contains(n2.logs.String(), "imported catfishAPIAgg") {
		t.Errorf("imported again on the second start")
	}
	if !strings.Contains(n.logs.String(), "imported catfishAPIAgg") {
		t.Errorf("the first start did not log the import")
	}
}

func TestImportOriginalLegacyArray(t *testing.T) {
	cfg := seedDataDir(t, map[string]string{"config.json": `[
		{"priority": 1, "url": "https://a.example/v1", "api_key": "sk-aaaaaaaaaaaaaaaa", "model": "gpt-4o", "id": "` + origA + `"},
		{"priority": 2, "url": "https://b.example/v1", "api_key": "k2", "user_agent_mode": "default"}
	]`})
	n := startNode(t, cfg)
	doc := n.export()
	if len(doc) != 1 || len(doc["default"]) != 2 {
		t.Fatalf("legacy array imported as %+v, want two channels in scheme default", doc)
	}
	a := doc["default"][0]
	if a.ID != origA || a.Model == nil || *a.Model != "gpt-4o" || a.Scheme != "default" {
		t.Errorf("first channel %+v", a)
	}
	if id := doc["default"][1].ID; id == "" || id == origA {
		t.Errorf("a channel without id got id %q", id)
	}
	var models struct{ Data []struct{ ID string } }
	n.getJSON("/v1/models", &models)
	if len(models.Data) != 1 || models.Data[0].ID != "default" {
		t.Errorf("models %+v, want [default]", models)
	}
}

// Python writes disabled_until in several shapes; all are read, and one in
// the past leaves the breaker closed with its failure count.
func TestImportOriginalDisabledUntilForms(t *testing.T) {
	future := time.Now().Add(90 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name      string
		value     string
		wantState string
		wantUntil time.Time
	}{
		{"naive, microseconds", pythonISO(future), "open", future},
		{"naive, no fraction", future.In(time.Local).Format("2006-01-02T15:04:05"), "open", future},
		{"with offset", future.In(time.FixedZone("", 8*3600)).Format("2006-01-02T15:04:05.000000+08:00"), "open", future},
		{"UTC Z", future.UTC().Format(time.RFC3339), "open", future},
		{"in the past", pythonISO(time.Now().Add(-time.Hour)), "closed", time.Time{}},
		{"empty", "", "closed", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := seedDataDir(t, map[string]string{
				"config.json": originalConfig,
				"stats.json":  origStatsJSON("2020-01-01", tt.value),
			})
			v := startNode(t, cfg).views()[origA]
			if v.Breaker.State != tt.wantState || v.Breaker.ConsecutiveFails != 3 {
				t.Errorf("breaker %+v, want %s with 3 fails", v.Breaker, tt.wantState)
			}
			if tt.wantState == "open" && (v.Breaker.OpenUntil == nil || !v.Breaker.OpenUntil.Equal(tt.wantUntil)) {
				t.Errorf("open until %v, want %v", v.Breaker.OpenUntil, tt.wantUntil)
			}
		})
	}
}

// A config.json that cannot be imported stops start-up with an error
// naming the file and the channel; no state is written.
func TestImportOriginalRefusesBadChannel(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		naming []string
	}{
		{"ftp url", map[string]string{"config.json": `{"default":[
			{"priority":1,"url":"https://ok.example/v1","api_key":"sk-ok","id":"` + origB + `"},
			{"priority":1,"url":"ftp://x","api_key":"sk-x","id":"` + origA + `"}]}`},
			[]string{"config.json", origA, "url"}},
		{"missing key", map[string]string{"config.json": `[{"priority":1,"url":"https://x.example/v1","id":"` + origC + `"}]`},
			[]string{"config.json", origC, "api_key"}},
		{"duplicate id", map[string]string{"config.json": `{"a":[{"priority":1,"url":"https://x.example","api_key":"k","id":"` + origA + `"}],
			"b":[{"priority":1,"url":"https://y.example","api_key":"k","id":"` + origA + `"}]}`},
			[]string{"config.json", origA}},
		{"not a config", map[string]string{"config.json": `{"default": 42}`}, []string{"config.json"}},
		{"not JSON", map[string]string{"config.json": `{"default": [`}, []string{"config.json"}},
		{"bad stats", map[string]string{"config.json": originalConfig, "stats.json": `{"total": "many"}`}, []string{"stats.json"}},
		{"bad disabled_until", map[string]string{"config.json": originalConfig, "stats.json": origStatsJSON("2020-01-01", "next tuesday")},
			[]string{"stats.json", origA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := seedDataDir(t, tt.files)
			before := dirFiles(t, cfg.DataDir)
			_, err := New(cfg, io.Discard)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, s := range tt.naming {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %s", err, s)
				}
			}
			// The original's files are untouched and no state was made
			// from them: no snapshot, no journal record. (persist.Open
			// leaves an empty journal segment behind; harmless, the next
			// start is still fresh and imports.)
			after := dirFiles(t, cfg.DataDir)
			for name, b := range before {
				if !bytes.Equal(after[name], b) {
					t.Errorf("%s changed", name)
				}
			}
			for name, b := range after {
				if _, ok := before[name]; ok {
					continue
				}
				if name == "snapshot.json" || len(b) > 0 {
					t.Errorf("New wrote %s (%d bytes)", name, len(b))
				}
			}
			// Once the file is fixed (here: moved away) the next start works.
			os.Rename(filepath.Join(cfg.DataDir, "config.json"), filepath.Join(cfg.DataDir, "config.json.bad"))
			if n, err := tryStartNode(t, cfg); err != nil {
				t.Errorf("start after moving config.json away: %v", err)
			} else if len(byID(n.export())) != 0 {
				t.Errorf("channels appeared from nowhere")
			}
		})
	}
}

func (h *harness) importDoc(query, doc string) (int, string) {
	h.t.Helper()
	code, _, body := h.call("POST", "/admin/import"+query, doc)
	return code, body
}

func TestAdminImportExport(t *testing.T) {
	n := newNodeWithChannels(t)
	e1 := n.exportRaw()

	// Export → import → export is the identity.
	code, body := n.importDoc("", e1)
	if code != 200 {
		t.Fatalf("import of an export: %d %s", code, body)
	}
	var res state.ImportResult
	json.Unmarshal([]byte(body), &res)
	if res.Added != 0 || res.Updated != 3 || res.Removed != 0 || res.DryRun || res.Mode != "replace" {
		t.Errorf("result %+v, want 3 updated", res)
	}
	if e2 := n.exportRaw(); e2 != e1 {
		t.Errorf("export changed by importing itself:\n%s\n%s", e1, e2)
	}

	// GET /admin/config (keys masked, breakers attached) imports too, and
	// the masked keys keep the stored ones.
	_, _, listed := n.call("GET", "/admin/config", "")
	if code, body := n.importDoc("", listed); code != 200 {
		t.Fatalf("import of GET /admin/config: %d %s", code, body)
	}
	if e2 := n.exportRaw(); e2 != e1 {
		t.Errorf("export changed by importing the masked listing:\n%s\n%s", e1, e2)
	}
}

func newNodeWithChannels(t *testing.T) *node {
	t.Helper()
	n := startNode(t, testConfig(t))
	n.addChannel(map[string]any{"url": "https://a.example/v1", "name": "a", "scheme_name": "s1", "api_key": "sk-aaaa-0000000001"})
	n.addChannel(map[string]any{"url": "https://b.example/v1", "name": "b", "scheme_name": "s1", "priority": 2, "model": "m"})
	n.addChannel(map[string]any{"url": "https://c.example/v1", "name": "c", "scheme_name": "s2", "api_key": "123"})
	return n
}

func TestAdminImportReplaceAndMerge(t *testing.T) {
	doc := `{"new":[{"id":"` + origA + `","priority":1,"url":"https://n.example/v1","api_key":"sk-new-0000000001","name":"n"}]}`

	t.Run("replace", func(t *testing.T) {
		n := newNodeWithChannels(t)
		code, body := n.importDoc("", doc)
		if code != 200 {
			t.Fatalf("import: %d %s", code, body)
		}
		got := n.export()
		if len(got) != 1 || len(got["new"]) != 1 || got["new"][0].ID != origA || got["new"][0].APIKey != "sk-new-0000000001" {
			t.Errorf("after replace: %+v", got)
		}
	})
	t.Run("merge", func(t *testing.T) {
		n := newNodeWithChannels(t)
		before := byID(n.export())
		var bID string
		for id, s := range before {
			if s.Name == "b" {
				bID = id
			}
		}
		merge := `{"new":[{"id":"` + origA + `","priority":1,"url":"https://n.example/v1","api_key":"sk-new-0000000001"}],
			"s1":[{"id":"` + bID + `","priority":9,"url":"https://b2.example/v1","api_key":"sk-…","name":"b2"}]}`
		code, body := n.importDoc("?mode=merge", merge)
		if code != 200 {
			t.Fatalf("merge: %d %s", code, body)
		}
		var res state.ImportResult
		json.Unmarshal([]byte(body), &res)
		if res.Mode != "merge" || res.Added != 1 || res.Updated != 1 || res.Removed != 0 {
			t.Errorf("result %+v", res)
		}
		after := byID(n.export())
		if len(after) != 4 {
			t.Fatalf("after merge %d channels, want 4", len(after))
		}
		for id, s := range before {
			if id == bID {
				continue
			}
			if !reflect.DeepEqual(after[id], s) {
				t.Errorf("merge changed %s: %+v → %+v", id, s, after[id])
			}
		}
		b := after[bID]
		if b.Priority != 9 || b.URL != "https://b2.example/v1" || b.Name != "b2" || b.APIKey != before[bID].APIKey {
			t.Errorf("merged channel b: %+v (key was %q)", b, before[bID].APIKey)
		}
	})
}

func TestAdminImportDryRunAndRefusals(t *testing.T) {
	n := newNodeWithChannels(t)
	before := n.exportRaw()
	viewsBefore := n.views()

	code, body := n.importDoc("?dry_run=true", `{"x":[{"priority":1,"url":"https://x.example/v1","api_key":"sk-x"}]}`)
	if code != 200 {
		t.Fatalf("dry run: %d %s", code, body)
	}
	var res state.ImportResult
	json.Unmarshal([]byte(body), &res)
	if !res.DryRun || res.Added != 1 || res.Removed != 3 || !slices.Equal(res.Schemes, []string{"x"}) {
		t.Errorf("dry run result %+v", res)
	}
	if after := n.exportRaw(); after != before {
		t.Errorf("a dry run changed the configuration:\n%s\n%s", before, after)
	}

	bad := []struct{ name, query, doc, mention string }{
		{"invalid JSON", "", `{"x":[`, ""},
		{"invalid JSON, dry run", "?dry_run=true", `nope`, ""},
		{"not a config", "", `"just a string"`, ""},
		{"number", "", `42`, ""},
		{"ftp url", "", `{"x":[{"priority":1,"url":"ftp://x","api_key":"sk-x"}]}`, "url"},
		{"ftp url among good ones", "?mode=merge", `{"x":[{"priority":1,"url":"https://ok.example","api_key":"sk-ok"},{"priority":1,"url":"ftp://x","api_key":"sk-x"}]}`, "url"},
		{"masked key, unknown id", "", `{"x":[{"id":"` + origC + `","priority":1,"url":"https://x.example/v1","api_key":"sk-…abcd"}]}`, "api_key"},
		{"masked key, unknown id, merge", "?mode=merge", `{"x":[{"id":"` + origC + `","priority":1,"url":"https://x.example/v1","api_key":"…"}]}`, "api_key"},
		{"duplicate id", "", `{"x":[{"id":"` + origC + `","priority":1,"url":"https://x.example","api_key":"k"}],"y":[{"id":"` + origC + `","priority":1,"url":"https://y.example","api_key":"k"}]}`, "twice"},
		{"missing key", "", `[{"priority":1,"url":"https://x.example"}]`, "api_key"},
		{"bad priority type", "", `[{"priority":"high","url":"https://x.example","api_key":"k"}]`, ""},
		{"empty scheme name", "", `{"":[{"priority":1,"url":"https://x.example","api_key":"k"}]}`, "scheme"},
		{"not a channel", "", `{"x":[1]}`, "object"},
		{"a scheme that is not a list", "", `{"x":{"priority":1,"url":"https://x.example","api_key":"k"}}`, "list"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			code, body := n.importDoc(tt.query, tt.doc)
			if code != 400 {
				t.Errorf("import: %d %s, want 400", code, body)
			}
			var e struct {
				Error struct{ Message string } `json:"error"`
			}
			if json.Unmarshal([]byte(body), &e) != nil || e.Error.Message == "" {
				t.Errorf("answer is not an OpenAI error document: %s", body)
			}
			if !strings.Contains(e.Error.Message, tt.mention) {
				t.Errorf("message %q does not mention %q", e.Error.Message, tt.mention)
			}
			if after := n.exportRaw(); after != before {
				t.Errorf("a refused import changed the configuration:\n%s\n%s", before, after)
			}
		})
	}
	if !reflect.DeepEqual(n.views(), viewsBefore) {
		t.Errorf("views changed")
	}
	// Nothing reached the journal either: a restart shows the same.
	n.stop()
	if after := startNode(t, n.cfg).exportRaw(); after != before {
		t.Errorf("after restart:\n%s\nwant\n%s", after, before)
	}
}

// TestAdminImportRefusesToEmptyTheConfiguration: an import that would
// remove every channel (null, [], {}, schemes without channels) is
// refused unless the request says ?allow_empty=true; merging nothing is
// harmless and allowed.
func TestAdminImportRefusesToEmptyTheConfiguration(t *testing.T) {
	n := newNodeWithChannels(t)
	before := n.exportRaw()
	for _, doc := range []string{`null`, `[]`, `{}`, ` { } `, `{"x":[]}`, `{"x":null}`, `{"x":[],"y":[]}`} {
		for _, q := range []string{"", "?dry_run=true", "?allow_empty=false"} {
			code, body := n.importDoc(q, doc)
			if code != 400 || !strings.Contains(body, "allow_empty") {
				t.Errorf("import%s of %s: %d %s, want 400 naming allow_empty", q, doc, code, body)
			}
		}
	}
	if after := n.exportRaw(); after != before {
		t.Fatalf("a refused import changed the configuration:\n%s\n%s", before, after)
	}
	if code, body := n.importDoc("?mode=merge", `{}`); code != 200 || n.exportRaw() != before {
		t.Errorf("merging nothing: %d %s", code, body)
	}
	code, body := n.importDoc("?allow_empty=true", `{}`)
	var res state.ImportResult
	json.Unmarshal([]byte(body), &res)
	if code != 200 || res.Removed != 3 || len(n.export()) != 0 {
		t.Errorf("import of {} with allow_empty: %d %s, then %d schemes", code, body, len(n.export()))
	}
	// Into an empty configuration an empty document removes nothing.
	if code, body := n.importDoc("", `[]`); code != 200 {
		t.Errorf("empty into empty: %d %s", code, body)
	}
}

// TestAdminImportIsStrict: imported ids are uuid-like and short (a 200 KB
// id once went into every X-Catfish-Attempts header and /metrics), and
// channel fields are spelled exactly: a wrong case or an unknown name is a
// 400 that names it, as everywhere else in the admin API.
func TestAdminImportIsStrict(t *testing.T) {
	n := newNodeWithChannels(t)
	before := n.exportRaw()
	ch := func(extra string) string {
		return `{"x":[{"priority":1,"url":"https://x.example/v1","api_key":"sk-x-0000000001"` + extra + `}]}`
	}
	for _, tc := range []struct{ name, doc, param string }{
		{"a 200 KB id", ch(`,"id":"` + strings.Repeat("a", 200<<10) + `"`), "id"},
		{"a 65-character id", ch(`,"id":"` + strings.Repeat("a", 65) + `"`), "id"},
		{"an id with a comma", ch(`,"id":"a, b=c"`), "id"},
		{"an id with a slash", ch(`,"id":"../admin"`), "id"},
		{"an id with a space", ch(`,"id":"a b"`), "id"},
		{"an id that is not a string", ch(`,"id":7`), "id"},
		{"upper-case field", `[{"Priority":1,"url":"https://x.example/v1","api_key":"sk-x"}]`, "Priority"},
		{"upper-case url", ch(`,"URL":"https://y.example/v1"`), "URL"},
		{"unknown field", ch(`,"prioritty":2`), "prioritty"},
		{"priority a string", `[{"priority":"high","url":"https://x.example/v1","api_key":"sk-x"}]`, "priority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := n.call("POST", "/admin/import", tc.doc)
			if code != 400 {
				t.Fatalf("import: %d %.300s, want 400", code, body)
			}
			var e struct {
				Error struct{ Message, Param string } `json:"error"`
			}
			json.Unmarshal([]byte(body), &e)
			if e.Error.Param != tc.param {
				t.Errorf("param %q (%.300s), want %q", e.Error.Param, e.Error.Message, tc.param)
			}
			if len(body) > 2048 {
				t.Errorf("the error is %d bytes long", len(body))
			}
		})
	}
	if after := n.exportRaw(); after != before {
		t.Errorf("a refused import changed the configuration:\n%s\n%s", before, after)
	}
	// The original's ids (uuid4), Catfish's own and short handmade ones are fine.
	ok := `{"x":[{"id":"` + origA + `","priority":1,"url":"https://x.example/v1","api_key":"sk-x-0000000001"},
		{"id":"` + strings.Repeat("b", 64) + `","priority":1,"url":"https://x.example/v1","api_key":"sk-x-0000000001"},
		{"id":"openai_1","priority":1,"url":"https://x.example/v1","api_key":"sk-x-0000000001"}]}`
	if code, body := n.importDoc("", ok); code != 200 {
		t.Errorf("import of good ids: %d %s", code, body)
	}
}
