package engine

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
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

// Export returns the whole configuration: channels with their upstream
// keys, by scheme in creation order; scheme settings; client keys as
// hashes (never secrets). Import takes it back.
func (e *Engine) Export(ctx context.Context) (state.Export, error) {
	if err := e.lock(ctx); err != nil {
		return state.Export{}, err
	}
	defer e.unlock()
	return e.doc.Export(), nil
}

// Import replaces the configuration with doc (a Catfish export, its
// older bare scheme map, or catfishAPIAgg's config.json), or with
// opt.Merge adds and updates channels (and client keys) by id and keeps
// the rest. Scheme settings and client keys change only when the
// document has them. The whole document is checked first; one bad
// channel or key rejects it all and nothing changes; what it changes is
// one journal record. Removing every channel takes opt.AllowEmpty.
func (e *Engine) Import(ctx context.Context, doc []byte, opt state.ImportOptions) (state.ImportResult, error) {
	parts, err := state.ParseImport(doc)
	if err != nil {
		return state.ImportResult{}, err
	}
	incoming, err := state.ParseOriginalConfig(parts.Config)
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
	change, res, err := e.planExtras(parts, plan, opt.Merge)
	if err != nil {
		return state.ImportResult{}, err
	}
	res.DryRun = opt.DryRun
	if opt.DryRun {
		return res, nil
	}
	if err := e.commit(ctx, change); err != nil {
		return state.ImportResult{}, err
	}
	for _, id := range plan.Removed {
		e.stats.Forget(context.WithoutCancel(ctx), id)
	}
	for _, s := range incoming {
		e.warnIfSelf(s)
	}
	attrs := []any{"mode", res.Mode, "added", res.Added, "updated", res.Updated, "removed", res.Removed}
	if res.Keys != nil {
		attrs = append(attrs, "client_keys", res.Keys.Keys, "client_keys_removed", res.Keys.Removed)
	}
	e.log.Info("configuration imported", attrs...)
	return res, nil
}

// planExtras adds a versioned export's scheme settings and client keys
// to the channel import: one batch record, so a crash leaves all or
// nothing. The caller holds the gate.
func (e *Engine) planExtras(parts state.Parsed, plan state.Import, merge bool) (state.Change, state.ImportResult, error) {
	res := plan.Result
	if parts.Schemes == nil && parts.Keys == nil {
		return plan.Change, res, nil
	}
	changes := []state.Change{plan.Change}
	if parts.Schemes != nil {
		if merge {
			for _, name := range slices.Sorted(maps.Keys(parts.Schemes)) {
				changes = append(changes, state.PutScheme(name, parts.Schemes[name]))
			}
		} else {
			changes = append(changes, state.ReplaceSchemes(parts.Schemes))
		}
	}
	if parts.Keys != nil {
		ki, c, err := state.PlanKeyImport(e.doc, *parts.Keys, merge)
		if err != nil {
			return state.Change{}, state.ImportResult{}, err
		}
		res.Keys = &ki
		changes = append(changes, c)
	}
	return state.Batch(changes...), res, nil
}
