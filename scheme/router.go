// Package scheme routes a client request to an ordered list of channels.
//
// A scheme is a named pool of channels; the request's "model" picks it.
// The Router actor owns every scheme's membership, the round-robin
// counters and a routing copy of each channel's breaker health, relayed
// to it by request goroutines after each change (the channel actors own
// the breakers themselves; this copy only decides who is offered). It answers a plan request with an
// immutable View and a rotation number; the request goroutine walks that
// plan on its own, asking each channel's actor for a permit. The router
// never talks to channel actors and never waits on anything but its
// mailboxes, so no lock guards routing and no two actors wait on each
// other.
package scheme

import (
	"context"
	"errors"
	"slices"
	"time"

	"catfish/channel"
)

// ErrNoScheme is returned when there is no channel at all to route to.
var ErrNoScheme = errors.New("no scheme has any channel")

// ErrStopped is returned after the router has stopped.
var ErrStopped = errors.New("router stopped")

// ErrOutOfScope is returned when the model names a scheme the caller's
// key may not use, or when no scheme the key may use exists.
var ErrOutOfScope = errors.New("model not available to this key")

type schemeState struct {
	members []*Member
	view    *View // published; rebuilt when stale or when its wake time passes
	stale   bool
	n       uint64 // requests planned so far: the rotation number
}

type planReq struct {
	model string
	scope Scope
	reply chan planReply
}

type planReply struct {
	plan Plan
	err  error
}

type setReq struct {
	put    *Member // upsert; nil with remove set
	remove string
	reply  chan struct{}
}

type readReq struct {
	reply chan []string
}

// Router is the scheme router actor.
type Router struct {
	// planc: request goroutines → loop, one per client request; answered at once.
	planc chan planReq
	// healthc: request goroutines → loop, relaying a channel's breaker change;
	// no reply. Unbuffered: the loop takes it as soon as it is free.
	healthc chan channel.Health
	// setc: the engine (admin changes, start-up) → loop.
	setc chan setReq
	// readc: the engine (model list) → loop.
	readc chan readReq
	// aliasc: the engine (admin changes, start-up) → loop: every
	// scheme's aliases, replacing the previous set.
	aliasc chan aliasReq
	// done is closed when the loop has exited.
	done chan struct{}

	// Loop-owned.
	defaultScheme string
	members       map[string]*Member
	schemes       map[string]*schemeState
	names         []string // sorted scheme names
	aliases       aliasTable
	now           func() time.Time
}

// NewRouter returns a router. defaultScheme is where a request whose model
// matches no scheme goes; empty means the first scheme by name.
func NewRouter(defaultScheme string) *Router {
	return &Router{
		planc:         make(chan planReq),
		healthc:       make(chan channel.Health),
		setc:          make(chan setReq),
		readc:         make(chan readReq),
		aliasc:        make(chan aliasReq),
		done:          make(chan struct{}),
		defaultScheme: defaultScheme,
		members:       map[string]*Member{},
		schemes:       map[string]*schemeState{},
		now:           time.Now,
	}
}

// Run is the router loop; it returns when ctx ends.
func (r *Router) Run(ctx context.Context) error {
	defer close(r.done)
	for {
		select {
		case <-ctx.Done():
			return nil
		case req := <-r.planc:
			req.reply <- r.onPlan(req.model, req.scope)
		case h := <-r.healthc:
			r.onHealth(h)
		case req := <-r.setc:
			r.onSet(req)
			req.reply <- struct{}{}
		case req := <-r.readc:
			req.reply <- slices.Clone(r.names)
		case req := <-r.aliasc:
			r.aliases = req.table
			req.reply <- struct{}{}
		}
	}
}

func (r *Router) onPlan(model string, scope Scope) planReply {
	name, err := r.resolve(model, scope)
	if err != nil {
		return planReply{err: err}
	}
	s := r.schemes[name]
	now := r.now()
	if s.view == nil || s.stale || (!s.view.wake.IsZero() && !now.Before(s.view.wake)) {
		s.view = BuildView(name, s.members, now)
		s.stale = false
	}
	n := s.n
	s.n++
	return planReply{plan: NewPlan(s.view, n)}
}

// resolve picks the scheme for a model: a scheme of that exact name,
// else the first alias that matches (in scheme-name order), else the
// default scheme, else the first scheme by name. A key's scope limits the
// choice: a model that names a scheme outside it is refused, and the
// fallback looks only inside it.
func (r *Router) resolve(model string, scope Scope) (string, error) {
	if len(r.names) == 0 {
		return "", ErrNoScheme
	}
	if _, ok := r.schemes[model]; ok {
		if !scope.Allows(model) {
			return "", ErrOutOfScope
		}
		return model, nil
	}
	if name := r.aliases.match(model, r.schemes); name != "" {
		if !scope.Allows(name) {
			return "", ErrOutOfScope
		}
		return name, nil
	}
	if _, ok := r.schemes[r.defaultScheme]; ok && scope.Allows(r.defaultScheme) {
		return r.defaultScheme, nil
	}
	for _, name := range r.names {
		if scope.Allows(name) {
			return name, nil
		}
	}
	return "", ErrOutOfScope
}

func (r *Router) onHealth(h channel.Health) {
	m, ok := r.members[h.ID]
	if !ok || h.Version <= m.Health.Version {
		return
	}
	routing := m.Health.State != h.State || !m.Health.OpenUntil.Equal(h.OpenUntil)
	m.Health = h
	if routing {
		r.schemes[m.Scheme].stale = true
	}
}

func (r *Router) onSet(req setReq) {
	if req.put == nil {
		r.removeMember(req.remove)
		return
	}
	m := *req.put
	if old, ok := r.members[m.ID]; ok {
		if old.Health.Version > m.Health.Version {
			m.Health = old.Health
		}
		r.removeMember(m.ID)
	}
	r.members[m.ID] = &m
	s, ok := r.schemes[m.Scheme]
	if !ok {
		s = &schemeState{}
		r.schemes[m.Scheme] = s
		r.names = append(r.names, m.Scheme)
		slices.Sort(r.names)
	}
	s.members = append(s.members, &m)
	s.stale = true
}

// removeMember takes a member out of its scheme.
func (r *Router) removeMember(id string) {
	m, ok := r.members[id]
	if !ok {
		return
	}
	delete(r.members, id)
	s := r.schemes[m.Scheme]
	s.members = slices.DeleteFunc(s.members, func(x *Member) bool { return x.ID == id })
	s.stale = true
	if len(s.members) == 0 {
		// A scheme exists while it has channels.
		delete(r.schemes, m.Scheme)
		r.names = slices.DeleteFunc(r.names, func(n string) bool { return n == m.Scheme })
	}
}

// call sends req on mailbox and waits for the reply, giving up when ctx
// ends or the router stops.
func call[Req any, Rep any](ctx context.Context, r *Router, mailbox chan Req, req Req, reply chan Rep) (Rep, error) {
	var zero Rep
	select {
	case mailbox <- req:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-r.done:
		return zero, ErrStopped
	}
	select {
	case rep := <-reply:
		return rep, nil
	case <-r.done:
		return zero, ErrStopped
	}
}

// Plan returns the attempt order for a request naming model, made by a
// caller whose key may use the schemes in scope.
func (r *Router) Plan(ctx context.Context, model string, scope Scope) (Plan, error) {
	reply := make(chan planReply, 1)
	rep, err := call(ctx, r, r.planc, planReq{model: model, scope: scope, reply: reply}, reply)
	if err != nil {
		return Plan{}, err
	}
	return rep.plan, rep.err
}

// Relay passes a channel's new health to the router. It is fire and
// forget: routing catches up on the next plan.
func (r *Router) Relay(h channel.Health) {
	select {
	case r.healthc <- h:
	case <-r.done:
	}
}

// Put adds or replaces a member. Its Health is kept unless the given one
// is newer.
func (r *Router) Put(ctx context.Context, m Member) error {
	reply := make(chan struct{}, 1)
	_, err := call(ctx, r, r.setc, setReq{put: &m, reply: reply}, reply)
	return err
}

// Remove drops a member; a scheme left empty disappears.
func (r *Router) Remove(ctx context.Context, id string) error {
	reply := make(chan struct{}, 1)
	_, err := call(ctx, r, r.setc, setReq{remove: id, reply: reply}, reply)
	return err
}

// Names returns the scheme names, sorted.
func (r *Router) Names(ctx context.Context) ([]string, error) {
	reply := make(chan []string, 1)
	return call(ctx, r, r.readc, readReq{reply: reply}, reply)
}

// SetAliases replaces every scheme's aliases (scheme → patterns).
func (r *Router) SetAliases(ctx context.Context, aliases map[string][]string) error {
	reply := make(chan struct{}, 1)
	_, err := call(ctx, r, r.aliasc, aliasReq{table: newAliasTable(aliases), reply: reply}, reply)
	return err
}
