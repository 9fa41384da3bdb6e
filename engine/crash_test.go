package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catfish/channel"
	"catfish/engine/enginetest"
	"catfish/engine/keys"
	"catfish/engine/state"
	"catfish/engine/stats"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// compactEveryFlush are the linker flags of a catfish binary that
// compacts on every flush (once a second), so kills land in compaction
// too (see compactBytes in config.go).
const compactEveryFlush = "-X catfish/engine.compactBytes=1"

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
func (m *crashModel) work(p *enginetest.Proc, w, round, maxOps int, upstreamURL string, errs *workerErrs) {
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
			code, body, err := p.Do("POST", "/admin/import?mode=merge", map[string]any{f.Scheme: list})
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
			code, body, err := p.Do("POST", "/admin/config", map[string]any{
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
			code, body, err := p.Do("PUT", "/admin/config/"+tr.id, map[string]any{
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
			code, body, err := p.Do("DELETE", "/admin/config/"+tr.id, nil)
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
func (m *crashModel) check(t *testing.T, p *enginetest.Proc, round int) {
	t.Helper()
	code, body, err := p.Do("GET", "/admin/export", nil)
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
	code, body, err = p.Do("GET", "/admin/stats", nil)
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
func traffic(p *enginetest.Proc, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-p.Exited:
			return
		default:
		}
		req, _ := http.NewRequest("POST", p.Base+"/v1/chat/completions", strings.NewReader(enginetest.ChatBody(fmt.Sprintf("s%d", i%3), false)))
		req.Header.Set("Authorization", "Bearer "+enginetest.AdminKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := p.Client.Do(req)
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
func crashRun(t *testing.T, l enginetest.Launch, rounds int, killDelay func(*enginetest.Proc, *rand.Rand) time.Duration, upstreamURL string) (m *crashModel, kinds map[string]int) {
	const workers = 6
	m = &crashModel{owned: make([][]*tracked, workers)}
	kinds = map[string]int{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	p := l.Start(t)
	for round := range rounds {
		if round%4 == 3 {
			// A kill during start-up, while it may be writing its first
			// snapshot.
			p.Kill()
			early := l.Spawn(t)
			time.Sleep(time.Duration(rng.Int64N(int64(40 * time.Millisecond))))
			early.Kill()
			kinds["during start-up"]++
			p = l.Start(t)
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
		p.Kill()
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
		kinds[classifyDataDir(l.DataDir)]++

		p = l.Start(t)
		m.check(t, p, round)
		if t.Failed() {
			t.Logf("round %d: process output:\n%s", round, p.Out.String())
			t.FailNow()
		}
	}
	// A graceful stop and start keep it all too.
	if code, _ := p.Stop(30 * time.Second); code != 0 {
		t.Errorf("graceful stop exited %d:\n%s", code, p.Out.String())
	}
	p = l.Start(t)
	m.check(t, p, rounds)
	p.Kill()
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
func killNearTick(p *enginetest.Proc, rng *rand.Rand) time.Duration {
	if rng.IntN(4) == 0 {
		return time.Duration(rng.Int64N(int64(time.Second)))
	}
	m := listeningAt.FindStringSubmatch(p.Out.String())
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
	l := enginetest.Launch{DataDir: t.TempDir()}
	rounds := crashRounds(t, 20)
	m, kinds := crashRun(t, l, rounds, func(_ *enginetest.Proc, rng *rand.Rand) time.Duration {
		return time.Duration(rng.Int64N(int64(300*time.Millisecond) + 1))
	}, crashUpstream(t))
	t.Logf("%d rounds: %d acknowledged changes checked, %d unacknowledged at the kill; kills: %v",
		rounds, m.acked.Load(), m.unknown.Load(), kinds)
}

// TestCrashDuringCompaction does the same with a real binary built to
// compact on every flush (once a second), so kills land in compaction
// too.
func TestCrashDuringCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	l := enginetest.Launch{Bin: enginetest.Binary(t, compactEveryFlush), DataDir: t.TempDir()}
	compactsEveryFlush(t, l.Bin)
	rounds := max(crashRounds(t, 20)/2, 1)
	m, kinds := crashRun(t, l, rounds, killNearTick, crashUpstream(t))
	t.Logf("%d rounds: %d acknowledged changes checked, %d unacknowledged at the kill; kills: %v",
		rounds, m.acked.Load(), m.unknown.Load(), kinds)
}

// compactsEveryFlush checks that bin was linked with compactEveryFlush (a
// mistyped -X name is silently ignored): after one admin change, the
// next flush compacts.
func compactsEveryFlush(t *testing.T, bin string) {
	t.Helper()
	p := enginetest.Launch{Bin: bin}.Start(t)
	defer p.Kill()
	p.AddChannel(map[string]any{"url": "http://127.0.0.1:1/v1"})
	enginetest.WaitFor(t, 10*state.FlushEvery, "a compaction after one admin change", func() bool {
		return strings.Contains(p.Out.String(), "journal compacted into a snapshot")
	})
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

// TestCrashKeepsClientKeys kills the real binary (built, as in
// TestCrashDuringCompaction, to compact on every flush) at random
// moments while client keys are created, changed, rotated and deleted,
// and checks that every acknowledged change survives and nothing else
// appears. (Key usage comes from /v1 traffic; its survival of a crash
// within the one-second batch is TestClientKeysAndUsageSurviveRestart's
// "crash" case.)
func TestCrashKeepsClientKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	l := enginetest.Launch{Bin: enginetest.Binary(t, compactEveryFlush), DataDir: t.TempDir()}
	compactsEveryFlush(t, l.Bin)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	acked := map[string]*keyFields{} // id → acknowledged state; nil: deleted
	var checked, unknown int
	p := l.Start(t)
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
					code, body, err := p.Do("POST", "/admin/keys", map[string]any{"name": name, "rpm": rpm})
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
					code, body, err := p.Do("PUT", "/admin/keys/"+id, map[string]any{"name": want.Name, "rpm": want.RPM})
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
					code, body, err := p.Do("POST", "/admin/keys/"+id+"/rotate", nil)
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
					code, body, err := p.Do("DELETE", "/admin/keys/"+id, nil)
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
		p.Kill()
		close(stop)
		<-done
		p = l.Start(t)

		code, body, err := p.Do("GET", "/admin/keys", nil)
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
			t.Logf("round %d: process output:\n%s", round, p.Out.String())
			t.FailNow()
		}
	}
	p.Kill()
	t.Logf("%d rounds: %d key states checked, %d changes unacknowledged at the kill", rounds, checked, unknown)
}
