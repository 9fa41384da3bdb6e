// Package state is Catfish's durable state: the configuration document
// and its one Apply, the journal records and their replay, the import of
// catfishAPIAgg's data files, and the Flusher that batches statistics and
// breaker states into the journal and compacts it into snapshots.
//
// Concurrency: a Doc is a plain value; the engine's admin gate
// serialises every use of it. The Flusher is one goroutine that only
// moves state from its owners (the actors, reached through Source) to
// the disk.
package state

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"catfish/channel"
	"catfish/engine/keys"
	"catfish/engine/stats"
	"catfish/persist"
	"catfish/scheme"
)

// BreakerRec is a channel's breaker as journaled and snapshotted.
type BreakerRec struct {
	State      string     `json:"state"`
	Fails      int        `json:"consecutive_fails"`
	OpenUntil  *time.Time `json:"open_until,omitempty"`
	CooldownMS int64      `json:"cooldown_ms,omitempty"`
	// NoPrefill: the upstream refused an assistant prefill (kept until
	// the channel is edited).
	NoPrefill bool `json:"no_prefill,omitempty"`
}

// BreakerRecOf is the durable part of a channel's health.
func BreakerRecOf(h channel.Health) BreakerRec {
	r := BreakerRec{State: h.State.String(), Fails: h.Fails, CooldownMS: h.Cooldown.Milliseconds(), NoPrefill: h.NoPrefill}
	if h.State != channel.Closed {
		t := h.OpenUntil
		r.OpenUntil = &t
	}
	return r
}

// Saved is the breaker state to restore into a channel's actor.
func (r BreakerRec) Saved() channel.BreakerState {
	st, _ := channel.ParseState(r.State)
	s := channel.BreakerState{State: st, Fails: r.Fails, Cooldown: time.Duration(r.CooldownMS) * time.Millisecond}
	if r.OpenUntil != nil {
		s.OpenUntil = *r.OpenUntil
	}
	return s
}

func (r BreakerRec) equal(o BreakerRec) bool {
	return r.State == o.State && r.Fails == o.Fails && r.CooldownMS == o.CooldownMS && r.NoPrefill == o.NoPrefill &&
		(r.OpenUntil == nil) == (o.OpenUntil == nil) && (r.OpenUntil == nil || r.OpenUntil.Equal(*o.OpenUntil))
}

// Snapshot is the snapshot's "state": the whole of Catfish's durable
// state at one sequence number. "config" has the original's config.json
// layout (scheme → channels), in creation order.
type Snapshot struct {
	Config   map[string][]channel.Settings `json:"config"`
	Schemes  map[string]scheme.Settings    `json:"schemes,omitempty"`
	Breakers map[string]BreakerRec         `json:"breakers"`
	Stats    *stats.Doc                    `json:"stats,omitempty"`
	Keys     []keys.Key                    `json:"keys,omitempty"`
	KeyUsage map[string]keys.Totals        `json:"key_usage,omitempty"`
}

// Recovered is the state rebuilt at start-up.
type Recovered struct {
	Doc      *Doc
	Breakers map[string]BreakerRec
	Stats    *stats.Stats
	KeyUsage map[string]keys.Totals // by key id
}

// apply replays one journal record. Config records go through Doc.Apply,
// the same function live admin changes use.
func (r *Recovered) apply(rec persist.Record) error {
	switch rec.Type {
	case RecBreakers:
		var m map[string]BreakerRec
		if err := json.Unmarshal(rec.Payload, &m); err != nil {
			return err
		}
		for id, b := range m {
			r.Breakers[id] = b
		}
		return nil
	case RecStats:
		var d stats.Doc
		if err := json.Unmarshal(rec.Payload, &d); err != nil {
			return err
		}
		r.Stats.Merge(&d)
		return nil
	case RecKeyUsage:
		var m map[string]keys.Totals
		if err := json.Unmarshal(rec.Payload, &m); err != nil {
			return err
		}
		for id, u := range m {
			// A batch taken just before its key was deleted may follow the
			// delete: it must not bring the usage back.
			if _, ok := r.Doc.Key(id); ok {
				r.KeyUsage[id] = u
			}
		}
		return nil
	case RecBatch:
		var p batchPayload
		if err := json.Unmarshal(rec.Payload, &p); err != nil {
			return err
		}
		for i, sub := range p.Records {
			if sub.Type == RecBatch {
				return fmt.Errorf("%s record %d: a batch inside a batch", rec.Type, i)
			}
			if err := r.apply(persist.Record{Seq: rec.Seq, Type: sub.Type, Payload: sub.Payload}); err != nil {
				return fmt.Errorf("%s record %d: %w", rec.Type, i, err)
			}
		}
		return nil
	case RecKeyPut, RecKeyDelete, RecKeysReplace:
		if _, err := r.Doc.Apply(rec.Type, rec.Payload); err != nil {
			return err
		}
		r.forgetGoneKeys()
		return nil
	}
	// A channel that did not exist before this record starts with no
	// breaker state or statistics, even if an id that was deleted earlier
	// comes back (an old export imported again); a deleted one keeps none.
	var before map[string]bool
	if rec.Type == RecReplace || rec.Type == RecPut {
		before = r.existing(rec)
	}
	touched, err := r.Doc.Apply(rec.Type, rec.Payload)
	if err != nil {
		return err
	}
	for _, id := range touched {
		if _, _, ok := r.Doc.Get(id); !ok || (before != nil && !before[id]) {
			delete(r.Breakers, id)
			r.Stats.Forget(id)
		}
	}
	return nil
}

// forgetGoneKeys drops the usage of client keys that no longer exist.
func (r *Recovered) forgetGoneKeys() {
	for id := range r.KeyUsage {
		if _, ok := r.Doc.Key(id); !ok {
			delete(r.KeyUsage, id)
		}
	}
}

// existing reports, for the ids a put or replace record names, whether
// each exists in the document before the record is applied.
func (r *Recovered) existing(rec persist.Record) map[string]bool {
	var ids []string
	if rec.Type == RecPut {
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
		_, _, out[id] = r.Doc.Get(id)
	}
	return out
}

func (r *Recovered) loadSnapshot(state []byte) error {
	var s Snapshot
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
			r.Doc.put(ch)
		}
	}
	for name, sc := range s.Schemes {
		r.Doc.putScheme(name, sc)
	}
	for id, b := range s.Breakers {
		r.Breakers[id] = b
	}
	if s.Stats != nil {
		r.Stats.Merge(s.Stats)
	}
	for _, k := range s.Keys {
		r.Doc.keys[k.ID] = k.Clone()
	}
	for id, u := range s.KeyUsage {
		r.KeyUsage[id] = u
	}
	return nil
}

// snapshot renders the recovered state (at start-up).
func (r *Recovered) snapshot() []byte {
	b, _ := json.Marshal(Snapshot{Config: r.Doc.SchemesInOrder(), Schemes: r.Doc.SchemeSettings(), Breakers: r.Breakers,
		Stats: r.Stats.Doc(), Keys: r.Doc.Keys(), KeyUsage: r.KeyUsage})
	return b
}

// Journal is the open data directory: config changes are committed to it,
// the Flusher appends batches and compacts it.
type Journal struct {
	store *persist.Store
	log   *slog.Logger
}

// Open recovers the data directory dir: snapshot, then journal replay.
// On a fresh directory it imports catfishAPIAgg's data/config.json and
// stats.json if they are there, and writes the first snapshot. Day
// boundaries of the statistics are in loc.
func Open(dir string, loc *time.Location, log *slog.Logger) (*Journal, *Recovered, error) {
	r := &Recovered{Doc: NewDoc(), Breakers: map[string]BreakerRec{}, Stats: stats.New(loc), KeyUsage: map[string]keys.Totals{}}
	store, info, err := persist.Open(dir,
		func(_ uint64, state []byte) error { return r.loadSnapshot(state) },
		r.apply)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range info.Warnings {
		log.Warn(w)
	}
	if info.Fresh {
		imported, err := importOriginal(dir, r, loc)
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		if imported != "" {
			log.Info("imported catfishAPIAgg data", "files", imported, "channels", r.Doc.Len())
		}
	}
	if info.Fresh || info.Replayed > 0 {
		// Start from a snapshot: an import becomes durable before anything
		// else happens, and a replayed journal is folded in.
		if err := store.WriteSnapshot(store.LastSeq(), r.snapshot()); err != nil {
			store.Close()
			return nil, nil, err
		}
	}
	for id := range r.Stats.Channels() {
		if _, _, ok := r.Doc.Get(id); !ok {
			r.Stats.Forget(id) // a channel deleted since its last counts
		}
	}
	r.forgetGoneKeys()
	log.Info("state loaded", "dir", dir, "channels", r.Doc.Len(), "client_keys", len(r.Doc.keys), "snapshot_seq", info.SnapshotSeq,
		"replayed", info.Replayed)
	return &Journal{store: store, log: log}, r, nil
}

// Commit makes a config change durable (appended and fsync'd) before it
// is applied, so an acknowledged change survives kill -9.
func (j *Journal) Commit(c Change) error {
	_, err := j.store.Commit(c.Type, c.Payload)
	return err
}

// Close closes the journal.
func (j *Journal) Close() error { return j.store.Close() }

// Size is the journal's size in bytes.
func (j *Journal) Size() int64 { return j.store.Size() }

// LastSeq is the sequence number of the last record written.
func (j *Journal) LastSeq() uint64 { return j.store.LastSeq() }
