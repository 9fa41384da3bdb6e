package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"catfish/channel"
	"catfish/engine/enginetest"
	"catfish/engine/state"
	"catfish/engine/stats"
	"catfish/persist"
)

// node is an engine on a loopback port that a test stops and starts again
// on the same data directory.
type node struct {
	*harness
	cfg    Config
	logs   *enginetest.LogBuffer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func startNode(t *testing.T, cfg Config) *node {
	t.Helper()
	n, err := tryStartNode(t, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

func tryStartNode(t *testing.T, cfg Config) (*node, error) {
	t.Helper()
	logs := &enginetest.LogBuffer{}
	e, err := New(cfg, logs)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{harness: &harness{t: t, e: e, base: "http://" + ln.Addr().String()}, cfg: cfg, logs: logs,
		cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- e.Serve(ctx, ln) }()
	t.Cleanup(n.stop)
	return n, nil
}

// stop shuts the engine down gracefully and waits for it.
func (n *node) stop() {
	n.once.Do(func() {
		n.cancel()
		select {
		case err := <-n.done:
			if err != nil {
				n.t.Errorf("Serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			n.t.Errorf("the engine did not stop within 30 s")
		}
		if n.t.Failed() {
			n.t.Logf("engine logs (%s):\n%s", n.base, n.logs.String())
		}
	})
}

// getJSON GETs path and decodes the answer into v.
func (h *harness) getJSON(path string, v any) {
	h.t.Helper()
	code, _, body := h.call("GET", path, "")
	if code != 200 {
		h.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		h.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// export is the channels of GET /admin/export, each with its key.
func (h *harness) export() map[string][]channel.Settings {
	h.t.Helper()
	var doc state.Export
	h.getJSON("/admin/export", &doc)
	if doc.Version != state.ExportVersion {
		h.t.Fatalf("GET /admin/export: version %d, want %d", doc.Version, state.ExportVersion)
	}
	return doc.Config
}

// exportRaw is GET /admin/export as bytes.
func (h *harness) exportRaw() string {
	h.t.Helper()
	code, _, body := h.call("GET", "/admin/export", "")
	if code != 200 {
		h.t.Fatalf("GET /admin/export: %d %s", code, body)
	}
	return body
}

// listed is one channel of GET /admin/config. (channel.View itself
// does not decode: it embeds channel.Settings, whose UnmarshalJSON would
// take over the whole object.)
type listed struct {
	ID              string              `json:"id"`
	APIKey          string              `json:"api_key"`
	Name            string              `json:"name"`
	Breaker         channel.BreakerView `json:"breaker"`
	PrefillRejected bool                `json:"prefill_rejected"`
}

// views is GET /admin/config by channel id.
func (h *harness) views() map[string]listed {
	h.t.Helper()
	var doc map[string][]listed
	h.getJSON("/admin/config", &doc)
	out := map[string]listed{}
	for _, list := range doc {
		for _, v := range list {
			out[v.ID] = v
		}
	}
	return out
}

// durable is the part of the state that must survive a restart: the
// channels, their breakers, and the statistics that do not depend on the
// clock.
type durable struct {
	Export   map[string][]channel.Settings
	Breakers map[string]string // id → state, fails, open_until
	Total    stats.Counts
	Canceled int64
	Today    stats.TodayView
	Channels map[string]string // id → counts and tokens
	Schemes  map[string]string
}

func (h *harness) durable() durable {
	h.t.Helper()
	d := durable{Export: h.export(), Breakers: map[string]string{}, Channels: map[string]string{}, Schemes: map[string]string{}}
	for id, v := range h.views() {
		until := "-"
		if v.Breaker.OpenUntil != nil {
			until = v.Breaker.OpenUntil.UTC().Format(time.RFC3339Nano)
		}
		d.Breakers[id] = fmt.Sprintf("%s fails=%d until=%s", v.Breaker.State, v.Breaker.ConsecutiveFails, until)
	}
	var st stats.View
	h.getJSON("/admin/stats", &st)
	d.Total, d.Canceled, d.Today = st.Total, st.Canceled, st.Today
	for id, c := range st.ByConfigID {
		d.Channels[id] = fmt.Sprintf("%+v tokens=%+v ttfb_count=%d", c.Counts, c.Tokens, c.TTFB.Count)
	}
	for name, s := range st.Schemes {
		d.Schemes[name] = fmt.Sprintf("%+v tokens=%+v requests=%d", s.Counts, s.Tokens, s.Duration.Count)
	}
	return d
}

func sameDurable(t *testing.T, what string, got, want durable) {
	t.Helper()
	if !reflect.DeepEqual(got.Export, want.Export) {
		g, _ := json.MarshalIndent(got.Export, "", " ")
		w, _ := json.MarshalIndent(want.Export, "", " ")
		t.Errorf("%s: channels differ:\n got %s\nwant %s", what, g, w)
	}
	if !maps.Equal(got.Breakers, want.Breakers) {
		t.Errorf("%s: breakers\n got %v\nwant %v", what, got.Breakers, want.Breakers)
	}
	if got.Total != want.Total || got.Canceled != want.Canceled {
		t.Errorf("%s: total %+v canceled %d, want %+v %d", what, got.Total, got.Canceled, want.Total, want.Canceled)
	}
	if got.Today.Date == want.Today.Date && !reflect.DeepEqual(got.Today, want.Today) {
		t.Errorf("%s: today %+v, want %+v", what, got.Today, want.Today)
	}
	if !maps.Equal(got.Channels, want.Channels) {
		t.Errorf("%s: channel stats\n got %v\nwant %v", what, got.Channels, want.Channels)
	}
	if !maps.Equal(got.Schemes, want.Schemes) {
		t.Errorf("%s: scheme stats\n got %v\nwant %v", what, got.Schemes, want.Schemes)
	}
}

// copyDataDir copies a running engine's data directory: what a kill -9 at
// this moment would leave (everything acknowledged is fsync'd, so it is in
// the files). The files are read twice in a row until both reads agree, so
// a copy never mixes files from before and after a compaction.
func copyDataDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	for range 100 {
		a, b := dirFiles(t, src), dirFiles(t, src)
		if !maps.EqualFunc(a, b, bytes.Equal) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for name, content := range a {
			if err := os.WriteFile(filepath.Join(dst, name), content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dst
	}
	t.Fatalf("%s never held still long enough to copy", src)
	return ""
}

// journal decodes every record in dir's journal segments, in order,
// stopping quietly at a torn tail (a record being written right now).
func journal(t *testing.T, dir string) []persist.Record {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "journal-") && strings.HasSuffix(e.Name(), ".wal") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // fixed-width hex: name order is seq order
	var out []persist.Record
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue // deleted by a compaction meanwhile
		}
		for off := 0; off < len(b); {
			r, n, err := persist.DecodeFrame(b[off:])
			if err != nil {
				break
			}
			out = append(out, r)
			off += n
		}
	}
	return out
}

// snapshotSeq reads the seq of dir's snapshot (0 if there is none).
func snapshotSeq(t *testing.T, dir string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, persist.SnapshotFile))
	if err != nil {
		return 0
	}
	var h struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return h.Seq
}

// restarters are the two ways an engine goes down: a graceful stop (which
// ends with a snapshot) and a crash, simulated by starting the next engine
// on a copy of the running one's files.
var restarters = []struct {
	name    string
	restart func(t *testing.T, n *node) *node
}{
	{"graceful stop", func(t *testing.T, n *node) *node {
		n.stop()
		return startNode(t, n.cfg)
	}},
	{"crash", func(t *testing.T, n *node) *node {
		cfg := n.cfg
		cfg.DataDir = copyDataDir(t, n.cfg.DataDir)
		return startNode(t, cfg)
	}},
}

func TestAdminChangesSurviveRestart(t *testing.T) {
	for _, rs := range restarters {
		t.Run(rs.name, func(t *testing.T) {
			n := startNode(t, testConfig(t))
			a := n.addChannel(map[string]any{"url": "https://a.example/v1", "name": "a", "scheme_name": "s1", "model": "m-a"})
			b := n.addChannel(map[string]any{"url": "https://b.example/v1", "name": "b", "scheme_name": "s2", "priority": 3})
			c := n.addChannel(map[string]any{"url": "https://c.example/v1", "name": "c", "scheme_name": "s2"})
			d := n.addChannel(map[string]any{"url": "https://d.example/v1", "name": "d", "scheme_name": "s1", "priority": 0})
			for _, ch := range []struct{ method, path, body string }{
				{"PUT", "/admin/config/" + b, `{"name":"b2","priority":7,"scheme_name":"s1","api_key":"sk-replaced-key-0002","timeout_seconds":30}`},
				{"PUT", "/admin/config/" + a, `{"enabled":false,"max_retries":0,"model":null}`},
				{"PUT", "/admin/config/" + d, `{"consecutive_failure_threshold":5,"disable_duration_seconds":60}`},
				{"DELETE", "/admin/config/" + c, ``},
			} {
				if code, _, body := n.call(ch.method, ch.path, ch.body); code/100 != 2 {
					t.Fatalf("%s %s: %d %s", ch.method, ch.path, code, body)
				}
			}
			before := n.durable()
			if len(before.Export["s1"]) != 3 || len(before.Export["s2"]) != 0 {
				t.Fatalf("unexpected state before the restart: %+v", before.Export)
			}
			var models struct{ Data []struct{ ID string } }
			n.getJSON("/v1/models", &models)

			n2 := rs.restart(t, n)
			sameDurable(t, "after restart", n2.durable(), before)
			var models2 struct{ Data []struct{ ID string } }
			n2.getJSON("/v1/models", &models2)
			if !reflect.DeepEqual(models, models2) {
				t.Errorf("models %v, want %v", models2, models)
			}
			if _, ok := n2.views()[c]; ok {
				t.Errorf("deleted channel %s is back", c)
			}
			// And once more: the first restart folded the journal into a
			// snapshot; the next start reads that.
			n2.stop()
			n3 := startNode(t, n2.cfg)
			sameDurable(t, "after a second restart", n3.durable(), before)
			// Changes still work after recovery and survive too.
			if code, _, body := n3.call("PUT", "/admin/config/"+d, `{"name":"d2"}`); code != 200 {
				t.Fatalf("update after restart: %d %s", code, body)
			}
			want := n3.durable()
			n3.stop()
			sameDurable(t, "after a third restart", startNode(t, n3.cfg).durable(), want)
		})
	}
}

func TestImportSurvivesRestart(t *testing.T) {
	for _, rs := range restarters {
		t.Run(rs.name, func(t *testing.T) {
			n := startNode(t, testConfig(t))
			n.addChannel(map[string]any{"url": "https://old.example/v1", "name": "old"})
			doc := `{"x":[{"id":"11111111-1111-1111-1111-111111111111","priority":1,"url":"https://x.example/v1","api_key":"sk-x-000000000001"}],
				"y":[{"id":"22222222-2222-2222-2222-222222222222","priority":2,"url":"https://y.example/v1","api_key":"sk-y-000000000002","name":"why"}]}`
			if code, _, body := n.call("POST", "/admin/import", doc); code != 200 {
				t.Fatalf("import: %d %s", code, body)
			}
			before := n.durable()
			if len(before.Export) != 2 {
				t.Fatalf("after import: %+v", before.Export)
			}
			sameDurable(t, "after restart", rs.restart(t, n).durable(), before)
		})
	}
}

// failingUpstream answers every request with a 500.
func failingUpstream(t *testing.T) *enginetest.Upstream {
	return enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteErr(w, 500, "boom") })
}

func goodUpstream(t *testing.T) *enginetest.Upstream {
	return enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteChat(w, "ok") })
}

// trafficSetup makes channel bad (breaker opens on one failure and stays
// open an hour) and channel good, and sends requests through both.
func trafficSetup(t *testing.T, n *node, bad, good *enginetest.Upstream) (badID, goodID string) {
	t.Helper()
	badID = n.addChannel(map[string]any{"url": bad.V1(), "name": "bad", "scheme_name": "bad",
		"consecutive_failure_threshold": 1, "disable_duration_seconds": 3600, "max_retries": 0})
	goodID = n.addChannel(map[string]any{"url": good.V1(), "name": "good", "scheme_name": "good"})
	if code, _, body := n.chat("bad", false); code < 500 {
		t.Fatalf("request to the failing channel: %d %s", code, body)
	}
	for range 3 {
		if code, _, body := n.chat("good", false); code != 200 {
			t.Fatalf("request to the good channel: %d %s", code, body)
		}
	}
	if code, _, _ := n.chat("good", true); code != 200 {
		t.Fatalf("stream request to the good channel: %d", code)
	}
	if st, fails := n.breakerOf(badID); st != "open" || fails != 1 {
		t.Fatalf("breaker of the failing channel: %s, %d fails; want open, 1", st, fails)
	}
	return badID, goodID
}

// waitFlushed waits until the journal holds a breakers record opening id
// and a stats record with total want.
func waitFlushed(t *testing.T, dir, id string, want stats.Counts) {
	t.Helper()
	enginetest.WaitFor(t, 15*time.Second, "the flusher to journal stats and the breaker", func() bool {
		var open bool
		var total stats.Counts
		for _, r := range journal(t, dir) {
			switch r.Type {
			case state.RecBreakers:
				var m map[string]state.BreakerRec
				json.Unmarshal(r.Payload, &m)
				if b, ok := m[id]; ok {
					open = b.State == "open"
				}
			case state.RecStats:
				var d stats.Doc
				json.Unmarshal(r.Payload, &d)
				if d.Total != nil {
					total = *d.Total
				}
			}
		}
		return open && total == want
	})
}

func TestStatsAndBreakerSurviveRestart(t *testing.T) {
	for _, rs := range restarters {
		t.Run(rs.name, func(t *testing.T) {
			bad, good := failingUpstream(t), goodUpstream(t)
			n := startNode(t, testConfig(t))
			badID, _ := trafficSetup(t, n, bad, good)
			waitFlushed(t, n.cfg.DataDir, badID, stats.Counts{Success: 4, Fail: 1})
			before := n.durable()
			if before.Total != (stats.Counts{Success: 4, Fail: 1}) {
				t.Fatalf("total before restart %+v", before.Total)
			}

			n2 := rs.restart(t, n)
			sameDurable(t, "after restart", n2.durable(), before)
			// The breaker is not only shown open: it keeps traffic away.
			hits := bad.Hits()
			if code, _, _ := n2.chat("bad", false); code < 500 {
				t.Errorf("request to the open channel: %d", code)
			}
			if bad.Hits() != hits {
				t.Errorf("the open channel was called after the restart")
			}
		})
	}
}

func TestCompactionKeepsEverything(t *testing.T) {
	bad, good := failingUpstream(t), goodUpstream(t)
	cfg := testConfig(t)
	cfg.CompactBytes = 1 // every flush compacts
	n := startNode(t, cfg)
	badID, goodID := trafficSetup(t, n, bad, good)
	other := n.addChannel(map[string]any{"url": "https://other.example/v1", "scheme_name": "good", "name": "other"})
	n.call("PUT", "/admin/config/"+goodID, `{"name":"good2","priority":4}`)
	gone := n.addChannel(map[string]any{"url": "https://gone.example/v1"})
	if code, _, _ := n.call("DELETE", "/admin/config/"+gone, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}

	// settled: a snapshot covers every record and the journal is empty.
	settled := func() bool {
		return n.e.journal.Size() == 0 && snapshotSeq(t, cfg.DataDir) == n.e.journal.LastSeq() && n.e.journal.LastSeq() > 0
	}
	enginetest.WaitFor(t, 15*time.Second, "a compaction", func() bool {
		return strings.Contains(n.logs.String(), "journal compacted") && settled()
	})
	if segs := len(journal(t, cfg.DataDir)); segs != 0 {
		t.Errorf("%d records left in the journal after compaction", segs)
	}
	if ents, _ := os.ReadDir(cfg.DataDir); len(ents) > 3 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("data dir after compaction holds %v: old segments were not dropped", names)
	}
	before := n.durable()
	if _, ok := before.Breakers[badID]; !ok || !strings.HasPrefix(before.Breakers[badID], "open") {
		t.Fatalf("breaker before restart: %v", before.Breakers)
	}

	// A crash right after the compaction recovers from the snapshot alone.
	crashed := cfg
	crashed.DataDir = copyDataDir(t, cfg.DataDir)
	sameDurable(t, "crash after compaction", startNode(t, crashed).durable(), before)

	// A change after the compaction sits in the journal behind the snapshot.
	if code, _, body := n.call("PUT", "/admin/config/"+other, `{"name":"other2","enabled":false}`); code != 200 {
		t.Fatalf("update: %d %s", code, body)
	}
	before = n.durable()
	crashed.DataDir = copyDataDir(t, cfg.DataDir)
	sameDurable(t, "crash after a change behind the snapshot", startNode(t, crashed).durable(), before)

	enginetest.WaitFor(t, 15*time.Second, "the change to be compacted", settled)
	n.stop()
	sameDurable(t, "graceful restart", startNode(t, cfg).durable(), before)
}

// A channel deleted and then brought back by an import with its old id
// (restoring a backup) starts with a closed breaker and no counts, live.
// Replay after a crash must rebuild that, but recovered.apply keeps the
// breakers and stats records of the deleted channel: the re-imported
// channel comes back with the old open breaker and the old counts.
func TestReimportedChannelStartsFreshAfterCrash(t *testing.T) {
	bad, good := failingUpstream(t), goodUpstream(t)
	n := startNode(t, testConfig(t))
	badID, _ := trafficSetup(t, n, bad, good)
	waitFlushed(t, n.cfg.DataDir, badID, stats.Counts{Success: 4, Fail: 1})
	backup := n.exportRaw()
	if code, _, _ := n.call("DELETE", "/admin/config/"+badID, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _, body := n.call("POST", "/admin/import?mode=merge", backup); code != 200 {
		t.Fatalf("import: %d %s", code, body)
	}
	live := n.durable()
	if !strings.HasPrefix(live.Breakers[badID], "closed") {
		t.Fatalf("live breaker of the re-imported channel: %s", live.Breakers[badID])
	}
	crashed := n.cfg
	crashed.DataDir = copyDataDir(t, n.cfg.DataDir)
	sameDurable(t, "crash after re-import", startNode(t, crashed).durable(), live)
}

// A corrupt journal record followed by good ones stops the engine with a
// message naming the file and offset; nothing in the directory changes.
func TestEngineRefusesCorruptJournal(t *testing.T) {
	n := startNode(t, testConfig(t))
	for i := range 3 {
		n.addChannel(map[string]any{"url": fmt.Sprintf("https://c%d.example/v1", i)})
	}
	crashed := n.cfg
	crashed.DataDir = copyDataDir(t, n.cfg.DataDir)
	var seg string
	ents, _ := os.ReadDir(crashed.DataDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "journal-") {
			seg = filepath.Join(crashed.DataDir, e.Name())
		}
	}
	b, _ := os.ReadFile(seg)
	_, first, err := persist.DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	b[first+12] ^= 0x08 // inside the second record
	os.WriteFile(seg, b, 0o600)
	before := dirFiles(t, crashed.DataDir)
	_, err = New(crashed, io.Discard)
	if err == nil || !strings.Contains(err.Error(), seg) || !strings.Contains(err.Error(), fmt.Sprint("offset ", first)) {
		t.Fatalf("New = %v; want an error naming %s offset %d", err, seg, first)
	}
	if after := dirFiles(t, crashed.DataDir); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Errorf("the data dir changed: %v → %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}

	// Garbage after the last record is a torn write: cut, warned, started.
	crashed.DataDir = copyDataDir(t, n.cfg.DataDir)
	want := n.durable()
	for _, e := range must(os.ReadDir(crashed.DataDir)) {
		if strings.HasPrefix(e.Name(), "journal-") {
			f, _ := os.OpenFile(filepath.Join(crashed.DataDir, e.Name()), os.O_WRONLY|os.O_APPEND, 0)
			f.Write([]byte{0x40, 0, 0, 0, 1, 2, 3, 4, '{', '"'})
			f.Close()
		}
	}
	n2 := startNode(t, crashed)
	sameDurable(t, "after a torn tail", n2.durable(), want)
	if !strings.Contains(n2.logs.String(), "torn record") {
		t.Errorf("no warning about the torn record in the logs")
	}
}

// A corrupt snapshot stops the engine and is left as it is.
func TestEngineRefusesCorruptSnapshot(t *testing.T) {
	n := startNode(t, testConfig(t))
	n.addChannel(map[string]any{"url": "https://a.example/v1"})
	n.stop()
	path := filepath.Join(n.cfg.DataDir, persist.SnapshotFile)
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte("https://a.example"), []byte("https://b.example"), 1)
	os.WriteFile(path, b, 0o600)
	before := dirFiles(t, n.cfg.DataDir)
	_, err := New(n.cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("New = %v; want an error naming %s", err, path)
	}
	if after := dirFiles(t, n.cfg.DataDir); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Errorf("the data dir changed")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// dirFiles reads every regular file of dir.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// Measurements: they only log numbers. CATFISH_MEASURE=1 runs them (best
// without -race).

func measuring(t *testing.T) {
	if os.Getenv("CATFISH_MEASURE") != "1" {
		t.Skip("measurement; set CATFISH_MEASURE=1")
	}
}

func percentile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

func latencyLine(d []time.Duration, wall time.Duration) string {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v max=%v mean=%v; %.0f writes/s",
		len(d), percentile(d, 0.5).Round(time.Microsecond), percentile(d, 0.9).Round(time.Microsecond),
		percentile(d, 0.99).Round(time.Microsecond), slices.Max(d).Round(time.Microsecond),
		(sum / time.Duration(len(d))).Round(time.Microsecond), float64(len(d))/wall.Seconds())
}

// TestMeasureAdminWriteLatency: admin writes are fsync'd before the
// answer; how long does that take here, alone and with 8 writers?
func TestMeasureAdminWriteLatency(t *testing.T) {
	measuring(t)
	n := startNode(t, testConfig(t))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	post := func(i int) time.Duration {
		body := fmt.Sprintf(`{"url":"https://c%d.example/v1","api_key":"sk-measure-%08d","priority":%d,"name":"c%d"}`, i, i, i%5, i)
		req, _ := http.NewRequest("POST", n.base+"/admin/config", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 200 {
			t.Errorf("POST: %d", resp.StatusCode)
		}
		return d
	}
	for i := range 20 { // warm up
		post(-1 - i)
	}
	const seqN = 500
	lat := make([]time.Duration, 0, seqN)
	start := time.Now()
	for i := range seqN {
		lat = append(lat, post(i))
	}
	t.Logf("sequential POST /admin/config: %s", latencyLine(lat, time.Since(start)))

	const writers, each = 8, 100
	var mu sync.Mutex
	lat = lat[:0]
	var wg sync.WaitGroup
	start = time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				d := post(10000 + w*each + i)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d concurrent writers:          %s", writers, latencyLine(lat, time.Since(start)))

	// The store alone, without the admin gate: group commit shares fsyncs.
	dir := t.TempDir()
	s, _, err := persist.Open(dir, func(uint64, []byte) error { return nil }, func(persist.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := []byte(`{"channel":{"id":"9146a734-91db-4bee-be28-05b4084c2a06","priority":1,"url":"https://a.example/v1","api_key":"sk-xxxxxxxxxxxxxxxx","enabled":true,"scheme_name":"default"}}`)
	lat = lat[:0]
	start = time.Now()
	for range seqN {
		t0 := time.Now()
		if _, err := s.Commit(state.RecPut, rec); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	t.Logf("persist.Store.Commit, 1 writer:  %s", latencyLine(lat, time.Since(start)))
	lat = lat[:0]
	start = time.Now()
	for range writers {
		wg.Go(func() {
			for range each {
				t0 := time.Now()
				if _, err := s.Commit(state.RecPut, rec); err != nil {
					t.Error(err)
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("persist.Store.Commit, %d writers: %s", writers, latencyLine(lat, time.Since(start)))
}

// waitJournalStill waits until the journal has not grown for two flush
// periods and returns its size.
func waitJournalStill(t *testing.T, n *node) int64 {
	t.Helper()
	last := n.e.journal.Size()
	for range 20 {
		time.Sleep(2*state.FlushEvery + 200*time.Millisecond)
		cur := n.e.journal.Size()
		if cur == last {
			return cur
		}
		last = cur
	}
	t.Fatalf("the journal keeps growing")
	return 0
}

// TestMeasureJournalBytesPerRequest: how much journal do proxied requests
// cost? Stats are journaled once a second as absolute values of what
// changed, so the cost depends on the rate as much as on the count.
func TestMeasureJournalBytesPerRequest(t *testing.T) {
	measuring(t)
	good := goodUpstream(t)
	n := startNode(t, testConfig(t))
	for i := range 3 {
		n.addChannel(map[string]any{"url": good.V1(), "scheme_name": "m", "name": fmt.Sprint("c", i)})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	send := func(count, conc int, every time.Duration) time.Duration {
		var wg sync.WaitGroup
		next := make(chan struct{})
		start := time.Now()
		for range conc {
			wg.Go(func() {
				for range next {
					req, _ := http.NewRequest("POST", n.base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody("m", false)))
					req.Header.Set("Authorization", "Bearer "+testKey)
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		for i := range count {
			if every > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
			}
			next <- struct{}{}
		}
		close(next)
		wg.Wait()
		return time.Since(start)
	}
	for _, run := range []struct {
		name  string
		count int
		conc  int
		every time.Duration
	}{
		{"burst, 8 clients", 5000, 8, 0},
		{"paced, 200 req/s", 2000, 4, 5 * time.Millisecond},
		{"paced, 20 req/s", 200, 1, 50 * time.Millisecond},
	} {
		before := waitJournalStill(t, n)
		recsBefore := len(journal(t, n.cfg.DataDir))
		took := send(run.count, run.conc, run.every)
		after := waitJournalStill(t, n)
		recs := journal(t, n.cfg.DataDir)[recsBefore:]
		kinds := map[string]int{}
		for _, r := range recs {
			kinds[r.Type]++
		}
		grew := after - before
		t.Logf("%-17s %5d requests in %5.1fs (%4.0f req/s): journal +%d bytes = %.0f bytes per 1,000 requests; %d records %v, %.0f bytes each",
			run.name+":", run.count, took.Seconds(), float64(run.count)/took.Seconds(), grew,
			float64(grew)*1000/float64(run.count), len(recs), kinds, float64(grew)/float64(max(len(recs), 1)))
	}
}

// TestMeasureRestart: start-up with 10,000 channels and a ~100 MB journal,
// built directly with persist.Store.
func TestMeasureRestart(t *testing.T) {
	measuring(t)
	const channels = 10000
	const target = 100 << 20
	cfg := testConfig(t)
	s, _, err := persist.Open(cfg.DataDir, func(uint64, []byte) error { return nil }, func(persist.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, channels)
	buildStart := time.Now()
	for i := range channels {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		b, _ := json.Marshal(map[string]any{"channel": channel.Settings{ID: ids[i], Priority: i % 7,
			URL: fmt.Sprintf("https://upstream-%d.example/v1", i), APIKey: fmt.Sprintf("sk-%040d", i),
			Name: fmt.Sprintf("channel %d", i), Enabled: true, Scheme: fmt.Sprintf("scheme-%d", i%50)}})
		if _, err := s.Append(state.RecPut, b); err != nil {
			t.Fatal(err)
		}
	}
	// Then a long history of stats and breaker flushes, 100 channels each,
	// in the journal's JSON shape.
	hour := time.Now().Unix() / 3600
	var total int64
	for k := 0; s.Size() < target; k++ {
		chans, today := map[string]any{}, map[string]any{}
		br := map[string]state.BreakerRec{}
		for j := range 100 {
			id := ids[(k*100+j)%channels]
			buckets := make([]int64, 31)
			buckets[k%31] = 8
			chans[id] = map[string]any{"success": k, "fail": j,
				"tokens": map[string]any{"prompt": k * 10, "completion": k * 20, "total": k * 30},
				"ttfb":   map[string]any{"sum_ms": 8 * k, "count": 8, "buckets": buckets},
				"hours":  []any{map[string]any{"h": hour, "success": k, "fail": j}}}
			today[id] = map[string]any{"success": k}
			if j%10 == 0 {
				br[id] = state.BreakerRec{State: "closed", Fails: j % 3}
			}
		}
		d := map[string]any{"total": map[string]any{"success": total},
			"today":    map[string]any{"date": time.Now().Format(time.DateOnly), "by_config_id": today},
			"channels": chans,
			"schemes":  map[string]any{fmt.Sprintf("scheme-%d", k%50): map[string]any{"success": k}},
			"hours":    []any{map[string]any{"h": hour, "success": total}}}
		total++
		b, _ := json.Marshal(d)
		if _, err := s.Append(state.RecStats, b); err != nil {
			t.Fatal(err)
		}
		b, _ = json.Marshal(br)
		if _, err := s.Append(state.RecBreakers, b); err != nil {
			t.Fatal(err)
		}
	}
	size, last := s.Size(), s.LastSeq()
	if err := s.Sync(last); err != nil {
		t.Fatal(err)
	}
	s.Close()
	t.Logf("built the data dir in %v: %d records, %.1f MB journal", time.Since(buildStart).Round(time.Millisecond), last, float64(size)/(1<<20))

	for _, phase := range []string{"journal replay", "snapshot only"} {
		start := time.Now()
		logs := &enginetest.LogBuffer{}
		e, err := New(cfg, logs)
		if err != nil {
			t.Fatal(err)
		}
		newTook := time.Since(start)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Serve(ctx, ln) }()
		h := &harness{t: t, e: e, base: "http://" + ln.Addr().String()}
		code, _, _ := h.call("GET", "/healthz", "")
		ready := time.Since(start)
		if code != 200 {
			t.Fatalf("healthz %d", code)
		}
		if got := len(h.views()); got != channels {
			t.Errorf("%d channels after start, want %d", got, channels)
		}
		t.Logf("start-up, %s: engine.New %v, serving (/healthz answered) after %v", phase, newTook.Round(time.Millisecond), ready.Round(time.Millisecond))
		stopStart := time.Now()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		t.Logf("graceful stop (final snapshot) %v", time.Since(stopStart).Round(time.Millisecond))
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("errors logged:\n%s", logs.String())
		}
	}
}
