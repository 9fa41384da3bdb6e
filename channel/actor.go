// Package channel holds one upstream channel: its settings, its circuit
// breaker, and the actor that owns both.
//
// Concurrency: each channel runs one Actor goroutine. Only that goroutine
// touches the channel's settings and breaker; everyone else sends it a
// message and reads the reply from a channel of capacity 1. The loop never
// does I/O and never waits on anyone, so it answers within microseconds:
// request goroutines ask it for a permit, make the upstream call
// themselves, and report the outcome back.
package channel

import (
	"context"
	"errors"
	"time"
)

// ErrStopped is returned by calls to an actor that has stopped (the
// channel was deleted, or the server is shutting down).
var ErrStopped = errors.New("channel actor stopped")

// Verdict is what an attempt says about the channel's health.
type Verdict uint8

const (
	Neutral Verdict = iota // nothing: the client left, or the request itself was wrong
	Success                // the channel answered well
	Failure                // counts against the channel
)

// Permit is the actor's answer to Acquire. When OK, Settings is a copy of
// what the attempt needs and Admission must be handed back with the outcome.
type Permit struct {
	Admission
	Settings Resolved
}

// Health is the breaker's observable state, relayed to the router after a
// change so that routing skips open channels. Version grows with every
// change, so a late relay never overwrites a newer one.
type Health struct {
	ID        string
	State     State
	Fails     int
	OpenUntil time.Time
	Cooldown  time.Duration
	Version   uint64
	Opens     uint64 // times the breaker opened since the actor started
	// NoPrefill: the upstream refused an assistant prefill, so mid-stream
	// continuation restarts on it instead. Kept until the channel is
	// edited.
	NoPrefill bool
}

// StateAt is the state as seen at now: open past its deadline reads as
// half-open (the next request will be the probe).
func (h Health) StateAt(now time.Time) State {
	if h.State == Open && !now.Before(h.OpenUntil) {
		return HalfOpen
	}
	return h.State
}

// Admits reports whether a request at now may be offered this channel.
func (h Health) Admits(now time.Time) bool {
	return h.State == Closed || !now.Before(h.OpenUntil)
}

// Report is an attempt's outcome, sent back to the actor.
type Report struct {
	Admission
	Verdict Verdict
	// OpenFor asks the breaker to stay open at least this long (429 with a
	// long Retry-After). Only read with Failure.
	OpenFor time.Duration
	// NoPrefill says the upstream refused an assistant prefill: stop
	// offering the channel prefilled continuations.
	NoPrefill bool
}

// Ack is the actor's answer to a report.
type Ack struct {
	Opened  bool   // this failure opened the breaker: do not retry here
	Changed bool   // Health moved: relay it to the router
	Health  Health // current health after the report
}

type msgKind uint8

const (
	msgAcquire msgKind = iota
	msgReport
	msgCtl
)

type ctlOp uint8

const (
	opUpdate ctlOp = iota
	opReset
	opRestore
	opRead
	opPrefillOK // the channel was edited: forget a refused prefill
)

// msg is one request to the actor. One mailbox carrying a small tagged
// value keeps the loop's select at two cases, which matters when a
// scheme has a thousand mostly idle actors whose channels are cold in
// the cache.
type msg struct {
	kind      msgKind
	report    Report
	op        ctlOp
	settings  Resolved
	saved     BreakerState
	noPrefill bool        // opRestore
	permit    chan Permit // msgAcquire
	ack       chan Ack    // msgReport
	health    chan Health // msgCtl
}

// Actor owns one channel. Create it with NewActor, run it with Run, talk to
// it with the methods; all of them are safe for concurrent use.
type Actor struct {
	id string
	// in: request goroutines (permits, outcomes) and the engine (admin
	// changes, restore, reads) → loop. A send never waits for long: the
	// loop only ever waits on this mailbox, and answers every message on
	// its reply channel (capacity 1) before taking the next.
	in chan msg
	// done is closed when the loop has exited; callers select on it so
	// they never block on a dead actor.
	done chan struct{}

	// Loop-owned; set before Run starts and never read elsewhere.
	settings  Resolved
	breaker   Breaker // a value: one allocation, one cache line fewer per message
	version   uint64
	opens     uint64
	noPrefill bool
}

// NewActor returns an actor for a channel with the given settings. It does
// nothing until Run.
func NewActor(s Resolved) *Actor {
	return &Actor{
		id:       s.ID,
		in:       make(chan msg),
		done:     make(chan struct{}),
		settings: s,
		breaker:  *NewBreaker(s.Breaker),
		version:  1,
	}
}

// ID returns the channel id. It never changes, so it needs no message.
func (a *Actor) ID() string { return a.id }

// Done is closed once the actor has stopped.
func (a *Actor) Done() <-chan struct{} { return a.done }

// Run is the actor loop. It returns when ctx ends.
func (a *Actor) Run(ctx context.Context) error {
	defer close(a.done)
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-a.in:
			switch m.kind {
			case msgAcquire:
				m.permit <- a.onAcquire()
			case msgReport:
				m.ack <- a.onReport(m.report)
			case msgCtl:
				m.health <- a.onCtl(m)
			}
		}
	}
}

func (a *Actor) onAcquire() Permit {
	if !a.settings.Enabled {
		return Permit{}
	}
	adm := a.breaker.Admit(time.Now())
	if !adm.OK {
		return Permit{Admission: adm}
	}
	p := Permit{Admission: adm, Settings: a.settings}
	p.Settings.Prefill = p.Settings.Prefill && !a.noPrefill
	return p
}

func (a *Actor) onReport(r Report) Ack {
	before := a.breaker.Save()
	var ack Ack
	switch r.Verdict {
	case Success:
		a.breaker.Success(r.Admission)
	case Failure:
		ack.Opened = a.breaker.Failure(time.Now(), r.Admission, r.OpenFor)
	default:
		a.breaker.Release(r.Admission)
	}
	ack.Changed = a.bump(before, true)
	if r.NoPrefill && !a.noPrefill {
		a.noPrefill = true
		a.version++
		ack.Changed = true
	}
	ack.Health = a.health()
	return ack
}

func (a *Actor) onCtl(req msg) Health {
	before := a.breaker.Save()
	switch req.op {
	case opUpdate:
		a.settings = req.settings
		a.breaker.Configure(req.settings.Breaker)
	case opReset:
		a.breaker.Reset()
	case opRestore:
		a.breaker.Restore(req.saved)
		a.noPrefill = req.noPrefill
	case opPrefillOK:
		if a.noPrefill {
			a.noPrefill = false
			a.version++
		}
	}
	a.bump(before, req.op != opRestore)
	return a.health()
}

// bump moves the version when the durable breaker state changed, and
// counts an opening (a restored state is not a new opening).
func (a *Actor) bump(before BreakerState, countOpen bool) bool {
	after := a.breaker.Save()
	if after == before {
		return false
	}
	if countOpen && after.State == Open && (before.State != Open || after.OpenUntil != before.OpenUntil) {
		a.opens++
	}
	a.version++
	return true
}

func (a *Actor) health() Health {
	s := a.breaker.Save()
	return Health{ID: a.id, State: s.State, Fails: s.Fails, OpenUntil: s.OpenUntil, Cooldown: s.Cooldown,
		Version: a.version, Opens: a.opens, NoPrefill: a.noPrefill}
}

// send hands m to the loop. ctx bounds only the hand-over:
// once the loop has the message it always answers, at once, so callers
// then wait for the reply without a select, and a granted probe is never
// lost to an abandoned reply.
func (a *Actor) send(ctx context.Context, m msg) error {
	select {
	case a.in <- m: // the loop is usually waiting: no need for more
		return nil
	default:
	}
	select {
	case a.in <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-a.done:
		return ErrStopped
	}
}

// Acquire asks for a permit to send one attempt.
func (a *Actor) Acquire(ctx context.Context) (Permit, error) {
	reply := make(chan Permit, 1)
	if err := a.send(ctx, msg{kind: msgAcquire, permit: reply}); err != nil {
		return Permit{}, err
	}
	return <-reply, nil
}

// Report hands an attempt's outcome back. It does not take a context: a
// report must arrive even when the client has gone, or a probe slot would
// stay taken. It only fails when the actor has stopped.
func (a *Actor) Report(r Report) (Ack, error) {
	reply := make(chan Ack, 1)
	if err := a.send(context.Background(), msg{kind: msgReport, report: r, ack: reply}); err != nil {
		return Ack{}, err
	}
	return <-reply, nil
}

func (a *Actor) control(ctx context.Context, m msg) (Health, error) {
	m.kind, m.health = msgCtl, make(chan Health, 1)
	if err := a.send(ctx, m); err != nil {
		return Health{}, err
	}
	return <-m.health, nil
}

// Update replaces the channel's settings; the breaker state is kept.
func (a *Actor) Update(ctx context.Context, s Resolved) (Health, error) {
	return a.control(ctx, msg{op: opUpdate, settings: s})
}

// Reset closes the breaker.
func (a *Actor) Reset(ctx context.Context) (Health, error) {
	return a.control(ctx, msg{op: opReset})
}

// Restore loads a breaker state (and the refused-prefill mark) saved
// before a restart.
func (a *Actor) Restore(ctx context.Context, s BreakerState, noPrefill bool) (Health, error) {
	return a.control(ctx, msg{op: opRestore, saved: s, noPrefill: noPrefill})
}

// PrefillOK forgets a refused prefill: the channel was edited, so its
// upstream may have changed.
func (a *Actor) PrefillOK(ctx context.Context) (Health, error) {
	return a.control(ctx, msg{op: opPrefillOK})
}

// Health reads the current breaker state.
func (a *Actor) Health(ctx context.Context) (Health, error) {
	return a.control(ctx, msg{op: opRead})
}
