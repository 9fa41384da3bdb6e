package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"catfish/channel"
	"catfish/engine/enginetest"
	"catfish/engine/keys"
	"catfish/engine/state"
	"catfish/engine/stats"
)

// crashChildEnv makes the engine's test binary run an engine instead of
// the tests (see TestMain): the crash test uses that to kill a process
// whose CompactBytes is tiny, which the real binary cannot be told (no
// environment variable sets CompactBytes).
const (
	crashChildEnv        = "CATFISH_CRASH_CHILD"
	crashChildCompactEnv = "CATFISH_CRASH_COMPACT_BYTES"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) == "1" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashChild is main.go with one more knob.
func crashChild() int {
	cfg, err := LoadConfig(os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "catfish:", err)
		return 2
	}
	if v := os.Getenv(crashChildCompactEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "catfish:", err)
			return 2
		}
		cfg.CompactBytes = n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, err := New(cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "catfish:", err)
		return 1
	}
	if err := e.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "catfish:", err)
		return 1
	}
	return 0
}

// buildCatfish builds the real binary into dir.
func buildCatfish(t *testing.T, dir string) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(dir, "catfish")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// launcher starts catfish processes on one data directory.
type launcher struct {
	t       *testing.T
	argv    []string
	env     []string
	dataDir string
	workDir string // no .env here
}

// proc is one running catfish process.
type proc struct {
	cmd    *exec.Cmd
	base   string
	out    *enginetest.LogBuffer
	exited chan struct{}
	client *http.Client
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// spawn starts a process without waiting for it to listen.
func (l *launcher) spawn() *proc {
	l.t.Helper()
	port := freePort(l.t)
	cmd := exec.Command(l.argv[0], l.argv[1:]...)
	cmd.Dir = l.workDir
	cmd.Env = append([]string{
		"ADMIN_KEY=" + testKey,
		"HOST=127.0.0.1",
		"PORT=" + strconv.Itoa(port),
		"DATA_DIR=" + l.dataDir,
		"SHUTDOWN_TIMEOUT=5",
	}, l.env...)
	out := &enginetest.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", l.argv[0], err)
	}
	p := &proc{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), out: out, exited: make(chan struct{}),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	l.t.Cleanup(func() { p.kill(l.t) })
	return p
}

// start starts a process and waits until it answers /healthz. A process
// that exits first because the free port was taken meanwhile is tried
// again on another.
func (l *launcher) start() *proc {
	l.t.Helper()
	for range 4 {
		p := l.spawn()
		if p.waitReady(60 * time.Second) {
			return p
		}
		select {
		case <-p.exited:
			if strings.Contains(p.out.String(), "address already in use") {
				continue
			}
			l.t.Fatalf("catfish exited before it was ready:\n%s", p.out.String())
		default:
			l.t.Fatalf("catfish not ready after 60 s:\n%s", p.out.String())
		}
	}
	l.t.Fatalf("no free port after 4 tries")
	return nil
}

// waitReady polls /healthz until it answers, the process exits or limit
// passes.
func (p *proc) waitReady(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return false
		default:
		}
		if p.ready() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func (p *proc) ready() bool {
	resp, err := p.client.Get(p.base + "/healthz")
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == 200
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("process %d still there 10 s after SIGKILL", p.cmd.Process.Pid)
	}
	p.client.CloseIdleConnections()
}

// term stops the process gracefully.
func (p *proc) term(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("process still running 30 s after SIGTERM:\n%s", p.out.String())
		p.kill(t)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("graceful stop exited %d:\n%s", code, p.out.String())
	}
}

// do sends one admin request. err is set when no answer arrived (the
// outcome is unknown).
func (p *proc) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// chanFields is what the crash test sets on a channel and checks.
type chanFields struct {
	Name, URL, Key, Scheme string
	Priority               int
}

func fieldsOf(s channel.Settings) chanFields {
	return chanFields{Name: s.Name, URL: s.URL, Key: s.APIKey, Scheme: s.Scheme, Priority: s.Priority}
}

// tracked is one channel a worker owns: what was acknowledged, and the
// change in flight when the process died (it may or may not be there).
type tracked struct {
	id      string      // "" while only an unacknowledged create made it
	acked   *chanFields // nil: does not exist
	pending *pendingOp
	group   string // channels of one unacknowledged import: all or none
}

type pendingOp struct {
	kind string      // create, update, delete
	want *chanFields // nil for delete
}

// crashModel is what the clients know for certain about the state.
type crashModel struct {
	owned    [][]*tracked // per worker
	requests int64        // proxied requests counted at the last check
	acked    atomic.Int64 // acknowledged changes, all rounds
	unknown  atomic.Int64 // changes whose answer the kill swallowed
}

type workerErrs struct {
	mu   sync.Mutex
	errs []string
}

func (w *workerErrs) add(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, fmt.Sprintf(format, args...))
}

// work sends admin changes until the process dies or maxOps are done.
// Workers own disjoint channels, so each channel has at most one change
// in flight and the model stays exact.
func (m *crashModel) work(p *proc, w, round, maxOps int, upstreamURL string, errs *workerErrs) {
	rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
	for i := range maxOps {
		var live []*tracked
		for _, tr := range m.owned[w] {
			if tr.acked != nil && tr.pending == nil {
				live = append(live, tr)
			}
		}
		name := fmt.Sprintf("w%d-r%d-%d", w, round, i)
		f := chanFields{Name: name, URL: upstreamURL, Key: "sk-crash-" + name, Scheme: fmt.Sprintf("s%d", rng.IntN(3)), Priority: rng.IntN(5)}
		create := 0.40
		if len(live) > 30 {
			create = 0.10 // keep the number of channels bounded
		}
		switch r := rng.Float64(); {
		case r >= create && r < create+0.05 && len(live) >= 2:
			// One import (merge) adding two channels: one record, so both
			// or neither.
			fb := f
			fb.Name, fb.Key = f.Name+"-b", f.Key+"-b"
			ids := []string{"imp-" + name + "-a", "imp-" + name + "-b"}
			var list []map[string]any
			for k, x := range []chanFields{f, fb} {
				list = append(list, map[string]any{"id": ids[k], "url": x.URL, "api_key": x.Key, "priority": x.Priority, "name": x.Name})
			}
			code, body, err := p.do("POST", "/admin/import?mode=merge", map[string]any{f.Scheme: list})
			if err == nil && code == 200 {
				m.owned[w] = append(m.owned[w], &tracked{id: ids[0], acked: &f}, &tracked{id: ids[1], acked: &fb})
				m.acked.Add(1)
				continue
			}
			if err == nil {
				errs.add("import %s: %d %s", name, code, body)
			}
			m.owned[w] = append(m.owned[w],
				&tracked{id: ids[0], pending: &pendingOp{kind: "import", want: &f}, group: name},
				&tracked{id: ids[1], pending: &pendingOp{kind: "import", want: &fb}, group: name})
			m.unknown.Add(1)
			return
		case len(live) < 2 || r < create:
			code, body, err := p.do("POST", "/admin/config", map[string]any{
				"url": f.URL, "api_key": f.Key, "priority": f.Priority, "name": f.Name, "scheme_name": f.Scheme})
			var v struct{ ID string }
			if err == nil && code == 200 && json.Unmarshal(body, &v) == nil && v.ID != "" {
				m.owned[w] = append(m.owned[w], &tracked{id: v.ID, acked: &f})
				m.acked.Add(1)
				continue
			}
			if err == nil && code != 200 {
				errs.add("create %s: %d %s", name, code, body)
			}
			m.owned[w] = append(m.owned[w], &tracked{pending: &pendingOp{kind: "create", want: &f}})
			m.unknown.Add(1)
			return
		case r < create+0.05+0.40:
			tr := live[rng.IntN(len(live))]
			f.URL = tr.acked.URL
			code, body, err := p.do("PUT", "/admin/config/"+tr.id, map[string]any{
				"api_key": f.Key, "priority": f.Priority, "name": f.Name, "scheme_name": f.Scheme})
			if err == nil && code == 200 {
				tr.acked = &f
				m.acked.Add(1)
				continue
			}
			if err == nil {
				errs.add("update %s: %d %s", tr.id, code, body)
			}
			tr.pending = &pendingOp{kind: "update", want: &f}
			m.unknown.Add(1)
			return
		default:
			tr := live[rng.IntN(len(live))]
			code, body, err := p.do("DELETE", "/admin/config/"+tr.id, nil)
			if err == nil && code == 204 {
				tr.acked = nil
				m.acked.Add(1)
				continue
			}
			if err == nil {
				errs.add("delete %s: %d %s", tr.id, code, body)
			}
			tr.pending = &pendingOp{kind: "delete"}
			m.unknown.Add(1)
			return
		}
	}
}

// check compares the restarted process's channels with the model and
// then takes what it found as the new certain state.
func (m *crashModel) check(t *testing.T, p *proc, round int) {
	t.Helper()
	code, body, err := p.do("GET", "/admin/export", nil)
	if err != nil || code != 200 {
		t.Fatalf("round %d: export: %d %v %s", round, code, err, body)
	}
	var export state.Export
	if err := json.Unmarshal(body, &export); err != nil {
		t.Fatal(err)
	}
	observed := map[string]chanFields{}
	for scheme, list := range export.Config {
		for _, s := range list {
			if s.Scheme != scheme {
				t.Errorf("round %d: channel %s listed under %q says scheme %q", round, s.ID, scheme, s.Scheme)
			}
			observed[s.ID] = fieldsOf(s)
		}
	}
	seen := map[string]bool{}
	groups := map[string][]bool{} // unacknowledged import → which channels are there
	show := func(f *chanFields) string {
		if f == nil {
			return "absent"
		}
		return fmt.Sprintf("%+v", *f)
	}
	for w := range m.owned {
		for _, tr := range m.owned[w] {
			if tr.id == "" {
				continue
			}
			seen[tr.id] = true
			obs, ok := observed[tr.id]
			candidates := []*chanFields{tr.acked}
			if tr.pending != nil {
				candidates = append(candidates, tr.pending.want)
			}
			match := false
			for _, c := range candidates {
				if (c == nil && !ok) || (c != nil && ok && *c == obs) {
					match = true
				}
			}
			if !match {
				got := "absent"
				if ok {
					got = fmt.Sprintf("%+v", obs)
				}
				want := []string{show(tr.acked)}
				if tr.pending != nil {
					want = append(want, fmt.Sprintf("%s → %s (unacknowledged)", tr.pending.kind, show(tr.pending.want)))
				}
				t.Errorf("round %d: channel %s is %s; acknowledged: %s", round, tr.id, got, strings.Join(want, " or "))
			}
			if tr.group != "" {
				groups[tr.group] = append(groups[tr.group], ok)
				tr.group = ""
			}
			if ok {
				tr.acked = &obs
			} else {
				tr.acked = nil
			}
			tr.pending = nil
		}
	}
	for g, there := range groups {
		if slices.Contains(there, true) && slices.Contains(there, false) {
			t.Errorf("round %d: unacknowledged import %s half applied: channels there %v", round, g, there)
		}
	}
	// Creates whose answer was lost: there with exactly what was sent, or
	// not there.
	for w := range m.owned {
		for _, tr := range m.owned[w] {
			if tr.id != "" {
				continue
			}
			for id, obs := range observed {
				if !seen[id] && obs.Name == tr.pending.want.Name {
					if obs != *tr.pending.want {
						t.Errorf("round %d: unacknowledged create %s half applied: %+v, sent %+v", round, id, obs, *tr.pending.want)
					}
					seen[id] = true
					tr.id, tr.acked = id, &obs
				}
			}
			tr.pending = nil
		}
		m.owned[w] = slices.DeleteFunc(m.owned[w], func(tr *tracked) bool { return tr.acked == nil })
	}
	for id, obs := range observed {
		if !seen[id] {
			t.Errorf("round %d: channel %s %+v appeared that no request made", round, id, obs)
		}
	}

	// Statistics never go back: what a restart shows was durable, and
	// later restarts show at least that.
	code, body, err = p.do("GET", "/admin/stats", nil)
	if err != nil || code != 200 {
		t.Fatalf("round %d: stats: %d %v", round, code, err)
	}
	var st stats.View
	json.Unmarshal(body, &st)
	if n := st.Total.Success + st.Total.Fail; n < m.requests {
		t.Errorf("round %d: %d requests counted, fewer than the %d after the previous restart", round, n, m.requests)
	} else {
		m.requests = n
	}
}

// traffic sends proxied requests until stop, so that stats and breaker
// records are journaled (and compacted) between the admin changes.
func traffic(p *proc, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-p.exited:
			return
		default:
		}
		req, _ := http.NewRequest("POST", p.base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody(fmt.Sprintf("s%d", i%3), false)))
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := p.client.Do(req)
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func crashRounds(t *testing.T, def int) int {
	if v := os.Getenv("CATFISH_CRASH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CATFISH_CRASH_ROUNDS=%q", v)
		}
		return n
	}
	return def
}

// crashRun runs rounds of: concurrent admin changes (and some proxied
// traffic), SIGKILL at a random moment, restart, check. killDelay says
// how long after the writes start the kill comes.
func crashRun(t *testing.T, l *launcher, rounds int, killDelay func(*proc, *rand.Rand) time.Duration, upstreamURL string) (m *crashModel, kinds map[string]int) {
	const workers = 6
	m = &crashModel{owned: make([][]*tracked, workers)}
	kinds = map[string]int{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	p := l.start()
	for round := range rounds {
		if round%4 == 3 {
			// A kill during start-up, while it may be writing its first
			// snapshot.
			p.kill(t)
			early := l.spawn()
			time.Sleep(time.Duration(rng.Int64N(int64(40 * time.Millisecond))))
			early.kill(t)
			kinds["during start-up"]++
			p = l.start()
			m.check(t, p, round)
		}

		var errs workerErrs
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range workers {
			wg.Go(func() { m.work(p, w, round, 2000, upstreamURL, &errs) })
		}
		wg.Go(func() { traffic(p, stop) })
		time.Sleep(killDelay(p, rng))
		p.kill(t)
		close(stop)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: workers still busy 30 s after the kill", round)
		}
		for _, e := range errs.errs {
			t.Errorf("round %d: %s", round, e)
		}
		kinds[classifyDataDir(l.dataDir)]++

		p = l.start()
		m.check(t, p, round)
		if t.Failed() {
			t.Logf("round %d: process output:\n%s", round, p.out.String())
			t.FailNow()
		}
	}
	// A graceful stop and start keep it all too.
	p.term(t)
	p = l.start()
	m.check(t, p, rounds)
	p.kill(t)
	return m, kinds
}

// classifyDataDir says what a kill left: the steps of compaction leave
// traces (a temp snapshot; more than one segment).
func classifyDataDir(dir string) string {
	ents, _ := os.ReadDir(dir)
	segs, tmp := 0, false
	for _, e := range ents {
		switch {
		case strings.HasPrefix(e.Name(), "journal-") && strings.HasSuffix(e.Name(), ".wal"):
			segs++
		case e.Name() == "snapshot.json.tmp":
			tmp = true
		}
	}
	switch {
	case tmp:
		return "while writing a snapshot"
	case segs > 1:
		return "after a rotate, before old segments were dropped"
	}
	return "between compactions"
}

var listeningAt = regexp.MustCompile(`time=(\S+) level=INFO msg="catfish listening"`)

// killNearTick aims the kill at the flusher's compaction: the flusher
// ticks once a second from when the process started listening (its log
// line says when), and a compaction with thousands of channels takes some
// milliseconds (a flush first, then rotate, snapshot, drop: about 5–25 ms
// after the tick here). Three kills in four land 0–30 ms after a tick,
// the others anywhere in the second.
func killNearTick(p *proc, rng *rand.Rand) time.Duration {
	if rng.IntN(4) == 0 {
		return time.Duration(rng.Int64N(int64(time.Second)))
	}
	m := listeningAt.FindStringSubmatch(p.out.String())
	if m == nil {
		return time.Duration(rng.Int64N(int64(time.Second)))
	}
	since, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		return time.Duration(rng.Int64N(int64(time.Second)))
	}
	now := time.Now()
	ticks := now.Sub(since)/state.FlushEvery + 1 + time.Duration(rng.IntN(2))
	return since.Add(ticks*state.FlushEvery).Sub(now) + time.Duration(rng.Int64N(int64(30*time.Millisecond)))
}

func crashUpstream(t *testing.T) string {
	var n atomic.Int64
	u := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%5 == 0 {
			enginetest.WriteErr(w, 500, "flaky")
			return
		}
		enginetest.WriteChat(w, "ok")
	})
	return u.V1()
}

// TestCrashRealBinary kills the real catfish binary at random moments
// during concurrent admin changes and checks that every acknowledged
// change survives and nothing else appears. CATFISH_CRASH_ROUNDS sets the
// number of rounds (default 20).
func TestCrashRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	tmp := t.TempDir()
	l := &launcher{t: t, argv: []string{buildCatfish(t, tmp)}, dataDir: filepath.Join(tmp, "data"), workDir: t.TempDir()}
	rounds := crashRounds(t, 20)
	m, kinds := crashRun(t, l, rounds, func(_ *proc, rng *rand.Rand) time.Duration {
		return time.Duration(rng.Int64N(int64(300*time.Millisecond) + 1))
	}, crashUpstream(t))
	t.Logf("%d rounds: %d acknowledged changes checked, %d unacknowledged at the kill; kills: %v",
		rounds, m.acked.Load(), m.unknown.Load(), kinds)
}

// TestCrashDuringCompaction does the same with an engine that compacts on
// every flush (once a second), so kills land in compaction too. It runs
// this test binary as the engine (TestMain), since CompactBytes has no
// environment variable.
func TestCrashDuringCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	l := &launcher{t: t, argv: []string{exe, "-test.run=^$"}, env: []string{crashChildEnv + "=1", crashChildCompactEnv + "=1"},
		dataDir: filepath.Join(tmp, "data"), workDir: t.TempDir()}
	rounds := max(crashRounds(t, 20)/2, 1)
	m, kinds := crashRun(t, l, rounds, killNearTick, crashUpstream(t))
	t.Logf("%d rounds: %d acknowledged changes checked, %d unacknowledged at the kill; kills: %v",
		rounds, m.acked.Load(), m.unknown.Load(), kinds)
}

// keyFields is what the client key crash test sets on a key and checks.
type keyFields struct {
	Name, Masked string
	RPM          int64
}

func keyFieldsOf(v keys.View) keyFields {
	f := keyFields{Name: v.Name, Masked: v.Key}
	if v.RPM != nil {
		f.RPM = *v.RPM
	}
	return f
}

// createdFields is keyFieldsOf for a create or rotate answer, whose "key"
// is the whole secret.
func createdFields(c keys.Created) keyFields {
	f := keyFieldsOf(c.View)
	f.Masked = keys.SecretPrefix + "…" + c.Key[len(c.Key)-4:]
	return f
}

// TestCrashKeepsClientKeys kills an engine process (this test binary, as
// in TestCrashDuringCompaction, compacting on every flush) at random
// moments while client keys are created, changed, rotated and deleted,
// and checks that every acknowledged change survives and nothing else
// appears. (Key usage comes from /v1 traffic; its survival of a crash
// within the one-second batch is TestClientKeysAndUsageSurviveRestart's
// "crash" case.)
func TestCrashKeepsClientKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	l := &launcher{t: t, argv: []string{exe, "-test.run=^$"}, env: []string{crashChildEnv + "=1", crashChildCompactEnv + "=1"},
		dataDir: filepath.Join(tmp, "data"), workDir: t.TempDir()}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	acked := map[string]*keyFields{} // id → acknowledged state; nil: deleted
	var checked, unknown int
	p := l.start()
	rounds := max(crashRounds(t, 12)/2, 1)
	for round := range rounds {
		type pend struct {
			id   string     // "" for a create
			want *keyFields // nil for a delete
		}
		var pending *pend
		stop := make(chan struct{})
		done := make(chan struct{})
		delay := killNearTick(p, rng) // rng is the worker's from here on
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var live []string
				for id, f := range acked {
					if f != nil {
						live = append(live, id)
					}
				}
				slices.Sort(live)
				name := fmt.Sprintf("r%d-%d", round, i)
				switch r := rng.Float64(); {
				case len(live) < 3 || r < 0.35:
					rpm := int64(rng.IntN(100) + 1)
					code, body, err := p.do("POST", "/admin/keys", map[string]any{"name": name, "rpm": rpm})
					var c keys.Created
					if err == nil && code == 200 && json.Unmarshal(body, &c) == nil {
						f := createdFields(c)
						acked[c.ID] = &f
						continue
					}
					if err == nil {
						t.Errorf("create: %d %s", code, body)
					}
					pending = &pend{want: &keyFields{Name: name, RPM: rpm}}
					return
				case r < 0.65:
					id := live[rng.IntN(len(live))]
					want := keyFields{Name: name, Masked: acked[id].Masked, RPM: int64(rng.IntN(100) + 1)}
					code, body, err := p.do("PUT", "/admin/keys/"+id, map[string]any{"name": want.Name, "rpm": want.RPM})
					if err == nil && code == 200 {
						acked[id] = &want
						continue
					}
					if err == nil {
						t.Errorf("update: %d %s", code, body)
					}
					pending = &pend{id: id, want: &want}
					return
				case r < 0.85:
					id := live[rng.IntN(len(live))]
					code, body, err := p.do("POST", "/admin/keys/"+id+"/rotate", nil)
					var c keys.Created
					if err == nil && code == 200 && json.Unmarshal(body, &c) == nil {
						f := createdFields(c)
						acked[id] = &f
						continue
					}
					if err == nil {
						t.Errorf("rotate: %d %s", code, body)
					}
					want := *acked[id]
					want.Masked = "" // some new secret, or the old one
					pending = &pend{id: id, want: &want}
					return
				default:
					id := live[rng.IntN(len(live))]
					code, body, err := p.do("DELETE", "/admin/keys/"+id, nil)
					if err == nil && code == 204 {
						acked[id] = nil
						continue
					}
					if err == nil {
						t.Errorf("delete: %d %s", code, body)
					}
					pending = &pend{id: id}
					return
				}
			}
		}()
		time.Sleep(delay)
		p.kill(t)
		close(stop)
		<-done
		p = l.start()

		code, body, err := p.do("GET", "/admin/keys", nil)
		if err != nil || code != 200 {
			t.Fatalf("round %d: list: %d %v", round, code, err)
		}
		var list []keys.View
		json.Unmarshal(body, &list)
		observed := map[string]keyFields{}
		for _, v := range list {
			observed[v.ID] = keyFieldsOf(v)
		}
		for id, want := range acked {
			got, ok := observed[id]
			match := (want == nil && !ok) || (want != nil && ok && got == *want)
			if !match && pending != nil && pending.id == id {
				switch w := pending.want; {
				case w == nil:
					match = !ok
				case w.Masked == "": // rotation: any secret, the rest as before
					match = ok && got.Name == w.Name && got.RPM == w.RPM
				default:
					match = ok && got == *w
				}
				unknown++
			}
			if !match {
				t.Errorf("round %d: key %s is %+v (there: %v); acknowledged: %+v", round, id, got, ok, want)
			}
			if ok {
				f := got
				acked[id] = &f
			} else {
				acked[id] = nil
			}
			checked++
		}
		for id, got := range observed {
			if _, known := acked[id]; known {
				continue
			}
			if pending == nil || pending.id != "" || got.Name != pending.want.Name || got.RPM != pending.want.RPM {
				t.Errorf("round %d: key %s %+v appeared that no acknowledged request made", round, id, got)
			}
			f := got
			acked[id] = &f
			unknown++
		}
		if t.Failed() {
			t.Logf("round %d: process output:\n%s", round, p.out.String())
			t.FailNow()
		}
	}
	p.kill(t)
	t.Logf("%d rounds: %d key states checked, %d changes unacknowledged at the kill", rounds, checked, unknown)
}
