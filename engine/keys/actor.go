package keys

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Keys is the client keys actor. Create it with New, run it with Run;
// every method is safe for concurrent use.
type Keys struct {
	// table is the published key table, replaced (never changed) by the
	// loop after every change; Authenticate reads it without a lock.
	table atomic.Pointer[table]

	// admitc: request goroutines of limited callers → loop, one per
	// request; answered at once on the request's reply channel.
	admitc chan admitReq
	// reportc: release functions → loop, one per finished request, no
	// reply. Buffered, so a finishing request does not wait for the loop;
	// when it is full, senders wait (bounded by the loop's speed). The
	// loop drains it before answering anything else, so an admission or
	// a read sees every request released before it was asked.
	reportc chan report
	// setc: the engine (start-up, every committed key change) → loop: the
	// whole key list; answered once the new table is published.
	setc chan setReq
	// queryc: the admin API and the flusher → loop; answered at once.
	queryc chan query
	// done is closed when the loop has exited.
	done chan struct{}

	// replies recycles admission reply channels (capacity 1). A channel
	// goes back only once its reply was read, so none holds a stale one.
	replies sync.Pool

	// Loop-owned.
	slots    map[string]*slot
	restored map[string]Totals // usage recovered at start-up, until the first set
	dirty    []string          // ids whose slot.dirty is set
}

type slot struct {
	key      Key
	limiter  *Limiter // nil: the key has no limits
	usage    Totals   // LastUsed is kept in lastUsed (no allocation per report)
	lastUsed time.Time
	dirty    bool // usage changed since the last take
}

// totals is the slot's usage as a copy the loop no longer touches.
func (s *slot) totals() Totals {
	t := s.usage
	t.LastUsed = nil
	if !s.lastUsed.IsZero() {
		at := s.lastUsed
		t.LastUsed = &at
	}
	return t
}

type admitReq struct {
	id    string
	now   time.Time
	reply chan admitReply
}

type admitReply struct {
	verdict Verdict
	wait    time.Duration
	invalid bool // deleted, disabled or expired since Authenticate
}

type report struct {
	id     string
	usage  Usage
	failed bool
	at     time.Time
}

type setReq struct {
	keys  []Key
	reply chan struct{}
}

type queryKind uint8

const (
	qList queryKind = iota
	qOne
	qTake
	qTakeFull
)

type query struct {
	kind  queryKind
	id    string    // qOne
	now   time.Time // qList, qOne
	reply chan answer
}

// answer carries copies the loop no longer touches.
type answer struct {
	views []View
	take  Take
}

// Take is what the flusher takes: usage changed since the last take and,
// when asked, every key's usage as of the same moment.
type Take struct {
	Delta map[string]Totals // nil: nothing changed
	Full  map[string]Totals
}

// New returns the actor with usage recovered at start-up (by key id). It
// knows no key until the first Set.
func New(usage map[string]Totals) *Keys {
	k := &Keys{
		admitc:   make(chan admitReq),
		reportc:  make(chan report, 4096),
		setc:     make(chan setReq),
		queryc:   make(chan query),
		done:     make(chan struct{}),
		slots:    map[string]*slot{},
		restored: usage,
	}
	k.replies.New = func() any { return make(chan admitReply, 1) }
	k.table.Store(newTable(nil))
	return k
}

// Run is the loop; it returns when ctx ends, after counting the usage
// already reported, so a graceful shutdown loses none.
func (k *Keys) Run(ctx context.Context) {
	defer close(k.done)
	for {
		select {
		case <-ctx.Done():
			k.drain()
			return
		case r := <-k.reportc:
			k.onReport(r)
		case req := <-k.admitc:
			k.drain()
			req.reply <- k.onAdmit(req)
		case req := <-k.setc:
			k.drain()
			k.onSet(req.keys)
			req.reply <- struct{}{}
		case q := <-k.queryc:
			k.drain()
			q.reply <- k.onQuery(q)
		}
	}
}

// drain counts every report already waiting.
func (k *Keys) drain() {
	for {
		select {
		case r := <-k.reportc:
			k.onReport(r)
		default:
			return
		}
	}
}

func (k *Keys) onReport(r report) {
	s := k.slots[r.id]
	if s == nil {
		return // deleted meanwhile
	}
	s.usage.Requests++
	if r.failed {
		s.usage.Failures++
	}
	s.usage.PromptTokens += max(r.usage.Prompt, 0)
	s.usage.CompletionTokens += max(r.usage.Completion, 0)
	if r.at.After(s.lastUsed) {
		s.lastUsed = r.at.UTC().Round(0)
	}
	if s.limiter != nil {
		s.limiter.Finish(r.at, r.usage.Tokens())
	}
	if !s.dirty {
		s.dirty = true
		k.dirty = append(k.dirty, r.id)
	}
}

func (k *Keys) onAdmit(req admitReq) admitReply {
	s := k.slots[req.id]
	if s == nil || !s.key.Enabled || (s.key.ExpiresAt != nil && !req.now.Before(*s.key.ExpiresAt)) {
		return admitReply{invalid: true}
	}
	if s.limiter == nil {
		return admitReply{verdict: Admitted} // its limits were removed since Authenticate
	}
	v, wait := s.limiter.Admit(req.now)
	return admitReply{verdict: v, wait: wait}
}

// onSet makes the loop's keys match list and publishes the new table.
func (k *Keys) onSet(list []Key) {
	seen := make(map[string]bool, len(list))
	for _, key := range list {
		seen[key.ID] = true
		s := k.slots[key.ID]
		if s == nil {
			s = &slot{usage: k.restored[key.ID]}
			if at := s.usage.LastUsed; at != nil {
				s.lastUsed = *at
			}
			k.slots[key.ID] = s
		}
		s.key = key
		switch lim := key.Limits(); {
		case !lim.Any():
			s.limiter = nil
		case s.limiter == nil:
			s.limiter = NewLimiter(lim, s.usage.Tokens())
		default:
			s.limiter.SetLimits(lim)
		}
	}
	k.restored = nil
	for id := range k.slots {
		if !seen[id] {
			delete(k.slots, id) // its id in k.dirty is skipped by the next take
		}
	}
	k.publish()
}

// publish replaces the table Authenticate reads.
func (k *Keys) publish() {
	entries := make([]entry, 0, len(k.slots))
	for id, s := range k.slots {
		e := entry{hash: s.key.Sum(), enabled: s.key.Enabled,
			caller: Caller{ID: id, Name: s.key.Name, Scope: s.key.Scope(), Limited: s.key.Limits().Any(), release: k.releaser(id)}}
		if s.key.ExpiresAt != nil {
			e.expires = *s.key.ExpiresAt
		}
		entries = append(entries, e)
	}
	k.table.Store(newTable(entries))
}

func (k *Keys) onQuery(q query) answer {
	switch q.kind {
	case qList:
		views := make([]View, 0, len(k.slots))
		for _, s := range k.slots {
			views = append(views, k.view(s, q.now))
		}
		slices.SortFunc(views, func(a, b View) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		})
		return answer{views: views}
	case qOne:
		if s := k.slots[q.id]; s != nil {
			return answer{views: []View{k.view(s, q.now)}}
		}
		return answer{}
	case qTake:
		return answer{take: Take{Delta: k.takeDelta()}}
	case qTakeFull:
		full := make(map[string]Totals, len(k.slots))
		for id, s := range k.slots {
			full[id] = s.totals()
		}
		return answer{take: Take{Delta: k.takeDelta(), Full: full}}
	}
	return answer{}
}

func (k *Keys) view(s *slot, now time.Time) View {
	v := NewView(s.key, s.totals(), now)
	if s.limiter != nil {
		req, tok := s.limiter.Minute(now)
		v.Minute = &Minute{Requests: req, Tokens: tok}
	}
	return v
}

func (k *Keys) takeDelta() map[string]Totals {
	if len(k.dirty) == 0 {
		return nil
	}
	out := make(map[string]Totals, len(k.dirty))
	for _, id := range k.dirty {
		s := k.slots[id]
		if s == nil || !s.dirty {
			continue
		}
		out[id] = s.totals()
		s.dirty = false
	}
	k.dirty = k.dirty[:0]
	if len(out) == 0 {
		return nil
	}
	return out
}

// releaser makes the report function of key id, which the published
// table hands to its callers.
func (k *Keys) releaser(id string) func(Usage, bool) {
	return func(u Usage, failed bool) {
		r := report{id: id, usage: u, failed: failed, at: time.Now()}
		select {
		case k.reportc <- r:
		case <-k.done:
		}
	}
}

// Authenticate finds the client key whose secret is token, as of now.
// It reads the published table: no lock, no round trip to the actor.
//
// The token's SHA-256 is computed first, then one search of fixed length
// finds the only candidate, whose hash is compared in constant time;
// enabled and expiry are then checked without an early exit. A wrong
// key, a disabled one and one expired at or before now all return
// ErrInvalidKey after the same work.
func (k *Keys) Authenticate(token string, now time.Time) (Caller, error) {
	return k.table.Load().authenticate(token, now)
}

func noRelease(Usage, bool) {}

// Admit lets a request of caller c begin at now, or refuses it.
//
// A caller without limits is admitted on the spot, with no round trip to
// the actor. A limited caller costs one round trip: RPM is checked and
// counted at admission; TPM and the token quota are checked against the
// usage of finished requests. Over a limit, Admit returns ErrRateLimited
// with the time until the window admits again (send it as Retry-After,
// rounded up: RetryAfterSeconds) or ErrQuotaExceeded (no wait helps). A
// key deleted, disabled or expired since Authenticate gives
// ErrInvalidKey.
//
// On success, call release exactly once when the request has finished,
// with its token usage and whether it failed: it counts the key's usage
// (and TPM and quota) without waiting for the actor. A Caller that is no
// client key (the zero Caller, e.g. for ADMIN_KEY) gets a release that
// does nothing.
//
// The bound: requests of one key never exceed RPM in any window. TPM and
// the quota see a request's tokens only when it finishes, so concurrent
// requests on one key exceed them by at most the tokens of the requests
// already admitted and still in flight when the limit was reached.
func (k *Keys) Admit(ctx context.Context, c Caller, now time.Time) (release func(usage Usage, failed bool), retryAfter time.Duration, err error) {
	if c.release == nil {
		return noRelease, 0, nil
	}
	if !c.Limited {
		return c.release, 0, nil
	}
	reply := k.replies.Get().(chan admitReply)
	select {
	case k.admitc <- admitReq{id: c.ID, now: now, reply: reply}:
	case <-ctx.Done():
		k.replies.Put(reply)
		return nil, 0, ctx.Err()
	case <-k.done:
		return nil, 0, ErrStopped
	}
	var r admitReply
	select {
	case r = <-reply:
		k.replies.Put(reply)
	case <-k.done:
		return nil, 0, ErrStopped
	}
	switch {
	case r.invalid:
		return nil, 0, ErrInvalidKey
	case r.verdict == RateLimited:
		return nil, r.wait, ErrRateLimited
	case r.verdict == QuotaExceeded:
		return nil, 0, ErrQuotaExceeded
	}
	return c.release, 0, nil
}

// Set replaces every key with list (the configuration document's keys)
// and returns once Authenticate sees the new table: a rotated or deleted
// secret is refused from then on.
func (k *Keys) Set(ctx context.Context, list []Key) error {
	cp := make([]Key, len(list))
	for i, key := range list {
		cp[i] = key.Clone()
	}
	reply := make(chan struct{}, 1)
	_, err := call(ctx, k, k.setc, setReq{keys: cp, reply: reply}, reply)
	return err
}

// List returns every key as the admin API shows it at now, oldest first.
func (k *Keys) List(ctx context.Context, now time.Time) ([]View, error) {
	a, err := k.ask(ctx, query{kind: qList, now: now})
	return a.views, err
}

// Get returns one key as the admin API shows it at now.
func (k *Keys) Get(ctx context.Context, id string, now time.Time) (View, error) {
	a, err := k.ask(ctx, query{kind: qOne, id: id, now: now})
	if err != nil {
		return View{}, err
	}
	if len(a.views) == 0 {
		return View{}, ErrNotFound
	}
	return a.views[0], nil
}

// Take returns the usage changed since the last take, and with full,
// every key's usage as of the same moment.
func (k *Keys) Take(ctx context.Context, full bool) (Take, error) {
	kind := qTake
	if full {
		kind = qTakeFull
	}
	a, err := k.ask(ctx, query{kind: kind})
	return a.take, err
}

func (k *Keys) ask(ctx context.Context, q query) (answer, error) {
	q.reply = make(chan answer, 1)
	return call(ctx, k, k.queryc, q, q.reply)
}

// call sends req on mailbox and waits for the reply, giving up when ctx
// ends or the actor stops.
func call[Req, Rep any](ctx context.Context, k *Keys, mailbox chan Req, req Req, reply chan Rep) (Rep, error) {
	var zero Rep
	select {
	case mailbox <- req:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-k.done:
		return zero, ErrStopped
	}
	select {
	case rep := <-reply:
		return rep, nil
	case <-k.done:
		return zero, ErrStopped
	}
}
