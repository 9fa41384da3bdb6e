package state

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"time"

	"catfish/channel"
	"catfish/engine/keys"
	"catfish/engine/stats"
	"catfish/scheme"
)

// Source is where the Flusher finds the state it writes. The engine
// implements it: breakers come from the channel actors, which own them;
// statistics from the recorder; the configuration from the document,
// under the admin gate.
type Source interface {
	// Breakers returns every configured channel's breaker health.
	Breakers(ctx context.Context) (map[string]channel.Health, error)
	// TakeStats returns the statistics changed since the last take and,
	// with full, all of them as of the same moment.
	TakeStats(ctx context.Context, full bool) (stats.Take, error)
	// TakeKeyUsage returns the client keys' usage changed since the last
	// take and, with full, every key's as of the same moment.
	TakeKeyUsage(ctx context.Context, full bool) (keys.Take, error)
	// Frozen runs f while no config change can be made, handing it the
	// configuration document.
	Frozen(ctx context.Context, f func(doc *Doc) error) error
}

// FlushEvery is how often statistics and breaker changes reach the journal.
const FlushEvery = time.Second

// Flusher journals statistics and breaker changes once a second and
// compacts the journal into a snapshot as it grows. It is a worker, not
// an actor: it owns nothing that others ask about, only what it last
// wrote, so it writes a breaker only when it changed.
type Flusher struct {
	j         *Journal
	src       Source
	compactAt int64
	log       *slog.Logger
	written   map[string]BreakerRec // the journal's view of each breaker
}

// NewFlusher returns a flusher writing src's state to j, compacting when
// the journal passes compactAt bytes. breakers is what the journal holds
// already (the recovered states).
func NewFlusher(j *Journal, src Source, compactAt int64, breakers map[string]BreakerRec, log *slog.Logger) *Flusher {
	return &Flusher{j: j, src: src, compactAt: compactAt, log: log, written: maps.Clone(breakers)}
}

// Run flushes every FlushEvery until ctx ends. Only one goroutine may
// call Run, Flush and Compact at a time.
func (f *Flusher) Run(ctx context.Context) {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.Flush(ctx); err != nil {
				f.log.Error("journal flush failed", "error", err.Error())
				continue
			}
			if f.j.store.Size() > f.compactAt {
				if err := f.Compact(ctx); err != nil {
					f.log.Error("compaction failed", "error", err.Error())
				}
			}
		}
	}
}

// Flush appends what changed since the last flush: one breakers record,
// one stats record and one key usage record, sharing one fsync.
func (f *Flusher) Flush(ctx context.Context) error {
	health, err := f.src.Breakers(ctx)
	if err != nil {
		return err
	}
	changed := map[string]BreakerRec{}
	for id, h := range health {
		rec := BreakerRecOf(h)
		if old, ok := f.written[id]; !ok || !old.equal(rec) {
			changed[id] = rec
		}
	}
	for id := range f.written {
		if _, ok := health[id]; !ok {
			delete(f.written, id) // deleted: nothing to keep
		}
	}
	var last uint64
	if len(changed) > 0 {
		b, _ := json.Marshal(changed)
		if last, err = f.j.store.Append(RecBreakers, b); err != nil {
			return err
		}
		maps.Copy(f.written, changed)
	}
	if t, err := f.src.TakeStats(ctx, false); err != nil {
		return err
	} else if t.Delta != nil {
		b, _ := json.Marshal(t.Delta)
		if last, err = f.j.store.Append(RecStats, b); err != nil {
			return err
		}
	}
	if t, err := f.src.TakeKeyUsage(ctx, false); err != nil {
		return err
	} else if t.Delta != nil {
		b, _ := json.Marshal(t.Delta)
		if last, err = f.j.store.Append(RecKeyUsage, b); err != nil {
			return err
		}
	}
	if last == 0 {
		return nil
	}
	return f.j.store.Sync(last)
}

// Compact writes a snapshot of the whole state and drops the journal
// before it. The order keeps a crash at any step recoverable: the journal
// is rotated (old segments stay) while the configuration is frozen, so
// the snapshot's config is exactly what the journal holds up to that seq;
// only after the snapshot file is durable are the old segments deleted.
func (f *Flusher) Compact(ctx context.Context) error {
	if err := f.Flush(ctx); err != nil {
		return err
	}
	var seq uint64
	var full *stats.Doc
	var config map[string][]channel.Settings
	var schemes map[string]scheme.Settings
	var clientKeys []keys.Key
	var usage map[string]keys.Totals
	err := f.src.Frozen(ctx, func(doc *Doc) error {
		t, err := f.src.TakeStats(ctx, true)
		if err != nil {
			return err
		}
		if t.Delta != nil {
			b, _ := json.Marshal(t.Delta)
			if _, err := f.j.store.Append(RecStats, b); err != nil {
				return err
			}
		}
		// Key usage under the gate too: no key can be created or deleted
		// between the usage and the keys the snapshot holds.
		u, err := f.src.TakeKeyUsage(ctx, true)
		if err != nil {
			return err
		}
		if u.Delta != nil {
			b, _ := json.Marshal(u.Delta)
			if _, err := f.j.store.Append(RecKeyUsage, b); err != nil {
				return err
			}
		}
		if seq, err = f.j.store.Rotate(); err != nil {
			return err
		}
		full, config, schemes = t.Full, doc.SchemesInOrder(), doc.SchemeSettings()
		clientKeys, usage = doc.Keys(), u.Full
		return nil
	})
	if err != nil {
		return err
	}
	// Breakers read after the rotation: a change made meanwhile is in the
	// new segment too, and replaying it over the snapshot is harmless
	// (records hold absolute values).
	health, err := f.src.Breakers(ctx)
	if err != nil {
		return err
	}
	breakers := make(map[string]BreakerRec, len(health))
	for id, h := range health {
		breakers[id] = BreakerRecOf(h)
	}
	state, err := json.Marshal(Snapshot{Config: config, Schemes: schemes, Breakers: breakers, Stats: full,
		Keys: clientKeys, KeyUsage: usage})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := f.j.store.WriteSnapshot(seq, state); err != nil {
		return err
	}
	f.log.Info("journal compacted into a snapshot", "seq", seq, "bytes", len(state), "took", time.Since(start).String())
	return nil
}
