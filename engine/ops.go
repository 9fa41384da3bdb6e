package engine

import (
	"cmp"
	"context"
	"errors"
	"time"

	"catfish/channel"
	"catfish/engine/state"
)

// ResetChannel closes a channel's breaker by hand.
func (e *Engine) ResetChannel(ctx context.Context, id string) (channel.View, error) {
	if err := e.lock(ctx); err != nil {
		return channel.View{}, err
	}
	defer e.unlock()
	s, _, ok := e.doc.Get(id)
	if !ok {
		return channel.View{}, channel.ErrNotFound
	}
	h, err := e.actors[id].actor.Reset(ctx)
	if err != nil {
		return channel.View{}, err
	}
	e.router.Relay(h)
	e.log.Info("breaker reset by hand", "channel", id)
	return channel.NewView(s, h), nil
}

// TestChannel sends a one-token request through one channel, bypassing
// routing and its breaker. A success closes the breaker. Without a model
// named, it asks for the model real traffic sends that channel: its
// override, else its scheme's name.
func (e *Engine) TestChannel(ctx context.Context, id, model string) (channel.TestResult, error) {
	if err := e.lock(ctx); err != nil {
		return channel.TestResult{}, err
	}
	s, _, ok := e.doc.Get(id)
	var a *channel.Actor
	if ok {
		a = e.actors[id].actor
	}
	e.unlock()
	if !ok {
		return channel.TestResult{}, channel.ErrNotFound
	}
	r := s.Resolve(e.defaults)
	if model == "" {
		model = cmp.Or(r.Model, s.Scheme)
	}
	res := e.proxy.Test(ctx, r, model)
	h, err := a.Health(ctx)
	if res.OK && err == nil && h.State != channel.Closed {
		if h, err = a.Reset(ctx); err == nil {
			e.router.Relay(h)
		}
	}
	if err != nil {
		return channel.TestResult{}, err
	}
	res.Breaker = h.StateAt(time.Now()).String()
	e.log.Info("channel test", "channel", id, "ok", res.OK, "status", res.Status, "latency_ms", res.LatencyMS)
	return res, nil
}

// Export returns the whole configuration with keys, in the original's
// config.json layout (scheme → channels), which Import takes back.
func (e *Engine) Export(ctx context.Context) (map[string][]channel.Settings, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	return e.doc.SchemesInOrder(), nil
}

// Import replaces the configuration with doc (a Catfish export or
// catfishAPIAgg's config.json), or with opt.Merge adds and updates
// channels by id and keeps the rest. The whole document is checked first;
// one bad channel rejects it all and nothing changes. Removing every
// channel takes opt.AllowEmpty.
func (e *Engine) Import(ctx context.Context, doc []byte, opt state.ImportOptions) (state.ImportResult, error) {
	incoming, err := state.ParseOriginalConfig(doc)
	if err != nil {
		var fe *channel.FieldError
		if errors.As(err, &fe) {
			return state.ImportResult{}, fe
		}
		return state.ImportResult{}, &channel.FieldError{Field: "body", Msg: err.Error()}
	}
	if err := e.lock(ctx); err != nil {
		return state.ImportResult{}, err
	}
	defer e.unlock()
	plan, err := state.PlanImport(e.doc, incoming, opt)
	if err != nil {
		return state.ImportResult{}, err
	}
	plan.Result.DryRun = opt.DryRun
	if opt.DryRun {
		return plan.Result, nil
	}
	if err := e.commit(ctx, plan.Change); err != nil {
		return state.ImportResult{}, err
	}
	for _, id := range plan.Removed {
		e.stats.Forget(context.WithoutCancel(ctx), id)
	}
	for _, s := range incoming {
		e.warnIfSelf(s)
	}
	res := plan.Result
	e.log.Info("configuration imported", "mode", res.Mode, "added", res.Added, "updated", res.Updated, "removed", res.Removed)
	return res, nil
}
