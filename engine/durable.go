package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/uuid"

	"catfish/channel"
	"catfish/persist"
)

// breakerRec is a channel's breaker as journaled and snapshotted.
type breakerRec struct {
	State      string     `json:"state"`
	Fails      int        `json:"consecutive_fails"`
	OpenUntil  *time.Time `json:"open_until,omitempty"`
	CooldownMS int64      `json:"cooldown_ms,omitempty"`
}

func breakerRecOf(h channel.Health) breakerRec {
	r := breakerRec{State: h.State.String(), Fails: h.Fails, CooldownMS: h.Cooldown.Milliseconds()}
	if h.State != channel.Closed {
		t := h.OpenUntil
		r.OpenUntil = &t
	}
	return r
}

func (r breakerRec) saved() channel.BreakerState {
	st, _ := channel.ParseState(r.State)
	s := channel.BreakerState{State: st, Fails: r.Fails, Cooldown: time.Duration(r.CooldownMS) * time.Millisecond}
	if r.OpenUntil != nil {
		s.OpenUntil = *r.OpenUntil
	}
	return s
}

// snapshotState is the snapshot's "state": the whole of Catfish's durable
// state at one sequence number. "config" has the original's config.json
// layout (scheme → channels), in creation order.
type snapshotState struct {
	Config   map[string][]channel.Settings `json:"config"`
	Breakers map[string]breakerRec         `json:"breakers"`
	Stats    *statsDoc                     `json:"stats,omitempty"`
}

// recovered is the state rebuilt at start-up.
type recovered struct {
	doc      *Doc
	breakers map[string]breakerRec
	stats    *Stats
}

// apply replays one journal record. Config records go through Doc.Apply,
// the same function live admin changes use.
func (r *recovered) apply(rec persist.Record) error {
	switch rec.Type {
	case recBreakers:
		var m map[string]breakerRec
		if err := json.Unmarshal(rec.Payload, &m); err != nil {
			return err
		}
		for id, b := range m {
			r.breakers[id] = b
		}
		return nil
	case recStats:
		var d statsDoc
		if err := json.Unmarshal(rec.Payload, &d); err != nil {
			return err
		}
		r.stats.merge(&d)
		return nil
	}
	// A channel that did not exist before this record starts with no
	// breaker state or statistics, even if an id that was deleted earlier
	// comes back (an old export imported again); a deleted one keeps none.
	var before map[string]bool
	if rec.Type == recReplace || rec.Type == recPut {
		before = r.existing(rec)
	}
	touched, err := r.doc.Apply(rec.Type, rec.Payload)
	if err != nil {
		return err
	}
	for _, id := range touched {
		if _, _, ok := r.doc.Get(id); !ok || (before != nil && !before[id]) {
			delete(r.breakers, id)
			r.stats.forget(id)
		}
	}
	return nil
}

// existing reports, for the ids a put or replace record names, whether
// each exists in the document before the record is applied.
func (r *recovered) existing(rec persist.Record) map[string]bool {
	var ids []string
	if rec.Type == recPut {
		var p struct {
			Channel struct{ ID string } `json:"channel"`
		}
		json.Unmarshal(rec.Payload, &p)
		ids = []string{p.Channel.ID}
	} else {
		var p struct {
			Channels []struct{ ID string } `json:"channels"`
		}
		json.Unmarshal(rec.Payload, &p)
		for _, c := range p.Channels {
			ids = append(ids, c.ID)
		}
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		_, _, out[id] = r.doc.Get(id)
	}
	return out
}

func (r *recovered) loadSnapshot(state []byte) error {
	var s snapshotState
	if err := json.Unmarshal(state, &s); err != nil {
		return err
	}
	names := make([]string, 0, len(s.Config))
	for name := range s.Config {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, ch := range s.Config[name] {
			ch.Scheme = name
			r.doc.put(ch)
		}
	}
	for id, b := range s.Breakers {
		r.breakers[id] = b
	}
	if s.Stats != nil {
		r.stats.merge(s.Stats)
	}
	return nil
}

// openStore recovers the data directory: snapshot, then journal replay.
// On a fresh directory it imports catfishAPIAgg's data/config.json and
// stats.json if they are there, and writes the first snapshot.
func (e *Engine) openStore() (*recovered, error) {
	r := &recovered{doc: NewDoc(), breakers: map[string]breakerRec{}, stats: newStats(e.cfg.Location)}
	store, info, err := persist.Open(e.cfg.DataDir,
		func(_ uint64, state []byte) error { return r.loadSnapshot(state) },
		r.apply)
	if err != nil {
		return nil, err
	}
	e.store = store
	for _, w := range info.Warnings {
		e.log.Warn(w)
	}
	if info.Fresh {
		imported, err := importOriginal(e.cfg.DataDir, r, e.cfg.Location)
		if err != nil {
			store.Close()
			return nil, err
		}
		if imported != "" {
			e.log.Info("imported catfishAPIAgg data", "files", imported, "channels", r.doc.Len())
		}
	}
	if info.Fresh || info.Replayed > 0 {
		// Start from a snapshot: an import becomes durable before anything
		// else happens, and a replayed journal is folded in.
		if err := store.WriteSnapshot(store.LastSeq(), r.snapshot()); err != nil {
			store.Close()
			return nil, err
		}
	}
	e.log.Info("state loaded", "dir", e.cfg.DataDir, "channels", r.doc.Len(), "snapshot_seq", info.SnapshotSeq,
		"replayed", info.Replayed)
	return r, nil
}

// snapshot renders the recovered state (at start-up).
func (r *recovered) snapshot() []byte {
	st := snapshotState{Config: r.doc.SchemesInOrder(), Breakers: r.breakers, Stats: r.stats.doc()}
	b, _ := json.Marshal(st)
	return b
}

// flushEvery is how often statistics and breaker changes reach the journal.
const flushEvery = time.Second

// flusher journals statistics and breaker changes once a second and
// compacts the journal into a snapshot as it grows. It is a worker, not an
// actor: it owns nothing that others ask about; it only moves state from
// the actors to the disk.
func (e *Engine) flusher(ctx context.Context) {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.flush(ctx); err != nil {
				e.log.Error("journal flush failed", "error", err.Error())
				continue
			}
			if e.store.Size() > e.cfg.CompactBytes {
				if err := e.compact(ctx); err != nil {
					e.log.Error("compaction failed", "error", err.Error())
				}
			}
		}
	}
}

// flush appends what changed since the last flush: one breakers record and
// one stats record, sharing one fsync.
func (e *Engine) flush(ctx context.Context) error {
	dirty, err := e.router.TakeDirty(ctx)
	if err != nil {
		return err
	}
	var last uint64
	if len(dirty) > 0 {
		m := make(map[string]breakerRec, len(dirty))
		for id, h := range dirty {
			m[id] = breakerRecOf(h)
		}
		b, _ := json.Marshal(m)
		if last, err = e.store.Append(recBreakers, b); err != nil {
			return err
		}
	}
	if d, err := e.stats.take(ctx, false); err != nil {
		return err
	} else if d.delta != nil {
		b, _ := json.Marshal(d.delta)
		if last, err = e.store.Append(recStats, b); err != nil {
			return err
		}
	}
	if last == 0 {
		return nil
	}
	return e.store.Sync(last)
}

// compact writes a snapshot of the whole state and drops the journal
// before it. The order keeps a crash at any step recoverable: the journal
// is rotated (old segments stay) under the admin gate, so the snapshot's
// config is exactly what the journal holds up to that seq; only after the
// snapshot file is durable are the old segments deleted.
func (e *Engine) compact(ctx context.Context) error {
	if err := e.flush(ctx); err != nil {
		return err
	}
	if err := e.lock(ctx); err != nil {
		return err
	}
	d, err := e.stats.take(ctx, true)
	if err != nil {
		e.unlock()
		return err
	}
	if d.delta != nil {
		b, _ := json.Marshal(d.delta)
		if _, err := e.store.Append(recStats, b); err != nil {
			e.unlock()
			return err
		}
	}
	seq, err := e.store.Rotate()
	if err != nil {
		e.unlock()
		return err
	}
	config := e.doc.SchemesInOrder()
	e.unlock()

	_, health, err := e.router.Schemes(ctx)
	if err != nil {
		return err
	}
	breakers := make(map[string]breakerRec, len(health))
	for id, h := range health {
		breakers[id] = breakerRecOf(h)
	}
	state, err := json.Marshal(snapshotState{Config: config, Breakers: breakers, Stats: d.full})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := e.store.WriteSnapshot(seq, state); err != nil {
		return err
	}
	e.log.Info("journal compacted into a snapshot", "seq", seq, "bytes", len(state), "took", time.Since(start).String())
	return nil
}

// importOriginal reads catfishAPIAgg's data/config.json (a scheme map, or
// the legacy top-level array meaning scheme "default") and stats.json from
// dir. It returns the names of the files it used, or an error naming the
// file and channel that cannot be imported: nothing is dropped silently.
func importOriginal(dir string, r *recovered, loc *time.Location) (string, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	channels, err := parseOriginalConfig(b)
	if err != nil {
		return "", fmt.Errorf("import %s: %w", path, err)
	}
	for _, ch := range channels {
		r.doc.put(ch)
	}
	used := path
	spath := filepath.Join(dir, "stats.json")
	if sb, err := os.ReadFile(spath); err == nil {
		if err := importOriginalStats(sb, r, loc); err != nil {
			return "", fmt.Errorf("import %s: %w (move it away to import the channels without statistics)", spath, err)
		}
		used += ", " + spath
	}
	return used, nil
}

// parseOriginalConfig decodes and checks a config document of the
// original's shape. Channels keep their ids; missing ids get new ones.
func parseOriginalConfig(b []byte) ([]channel.Settings, error) {
	var schemes map[string][]channel.Settings
	var legacy []channel.Settings
	if err := json.Unmarshal(b, &legacy); err == nil {
		schemes = map[string][]channel.Settings{channel.DefaultScheme: legacy}
	} else if err := json.Unmarshal(b, &schemes); err != nil {
		return nil, fmt.Errorf("want a scheme map {\"name\": [channels]} or a list of channels: %w", err)
	}
	names := make([]string, 0, len(schemes))
	for n := range schemes {
		names = append(names, n)
	}
	slices.Sort(names)
	seen := map[string]bool{}
	var out []channel.Settings
	for _, name := range names {
		for i, ch := range schemes[name] {
			ch.Scheme = name
			if ch.ID == "" {
				ch.ID = uuid.NewString()
			}
			if seen[ch.ID] {
				return nil, fmt.Errorf("scheme %q channel %d: id %s appears twice", name, i, ch.ID)
			}
			seen[ch.ID] = true
			if err := ch.Validate(); err != nil {
				return nil, fmt.Errorf("scheme %q channel %d (id %s): %w", name, i, ch.ID, err)
			}
			out = append(out, ch)
		}
	}
	return out, nil
}

// originalStats is catfishAPIAgg's stats.json.
type originalStats struct {
	Total      Counts `json:"total"`
	Today      today  `json:"today"`
	ByConfigID map[string]struct {
		Counts
		ConsecutiveFails int    `json:"consecutive_fails"`
		DisabledUntil    string `json:"disabled_until"`
	} `json:"by_config_id"`
}

// importOriginalStats folds the original's stats.json into r: request
// totals, today's counts, per-channel attempt counts, and each channel's
// failure streak and disabled_until as its breaker state.
func importOriginalStats(b []byte, r *recovered, loc *time.Location) error {
	var o originalStats
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	s := r.stats
	s.total = o.Total
	if o.Today.Date != "" {
		s.today = today{Date: o.Today.Date, Counts: o.Today.Counts, ByChannel: map[string]*Counts{}}
		for id, c := range o.Today.ByChannel {
			if c != nil {
				v := *c
				s.today.ByChannel[id] = &v
			}
		}
	}
	for id, c := range o.ByConfigID {
		if _, _, ok := r.doc.Get(id); !ok {
			continue // the original kept counts of deleted channels too
		}
		s.channel(id).Counts = c.Counts
		br := breakerRec{State: "closed", Fails: c.ConsecutiveFails}
		if c.DisabledUntil != "" {
			until, err := parseOriginalTime(c.DisabledUntil, loc)
			if err != nil {
				return fmt.Errorf("channel %s: disabled_until %q: %w", id, c.DisabledUntil, err)
			}
			if until.After(time.Now()) {
				br.State, br.OpenUntil = "open", &until
			}
		}
		r.breakers[id] = br
	}
	return nil
}

// parseOriginalTime reads Python's datetime.isoformat(): local time, with
// or without fractional seconds, or with an offset.
func parseOriginalTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05.999999999", s, loc)
}
