package engine

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"

	"catfish/channel"
	"catfish/engine/state"
)

// Channels returns every channel by scheme, keys masked, breakers attached.
func (e *Engine) Channels(ctx context.Context) (map[string][]channel.View, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	health, err := e.healthLocked(ctx)
	if err != nil {
		return nil, err
	}
	schemes := e.doc.Schemes()
	out := make(map[string][]channel.View, len(schemes))
	for name, list := range schemes {
		views := make([]channel.View, len(list))
		for i, s := range list {
			views[i] = channel.NewView(s, health[s.ID])
		}
		out[name] = views
	}
	return out, nil
}

// healthLocked asks every channel's actor for its breaker health. The
// caller holds the gate.
func (e *Engine) healthLocked(ctx context.Context) (map[string]channel.Health, error) {
	out := make(map[string]channel.Health, len(e.actors))
	for id, h := range e.actors {
		hl, err := h.actor.Health(ctx)
		if err != nil {
			return nil, err
		}
		out[id] = hl
	}
	return out, nil
}

// health is healthLocked for callers without the gate.
func (e *Engine) health(ctx context.Context) (map[string]channel.Health, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	defer e.unlock()
	return e.healthLocked(ctx)
}

// CreateChannel adds a channel. The change is applied only once it is
// durable.
func (e *Engine) CreateChannel(ctx context.Context, p channel.Patch) (channel.View, error) {
	s, err := channel.NewFromPatch(uuid.NewString(), p)
	if err != nil {
		return channel.View{}, err
	}
	if err := e.lock(ctx); err != nil {
		return channel.View{}, err
	}
	defer e.unlock()
	v, err := e.putLocked(ctx, s)
	if err == nil {
		e.log.Info("channel created", "channel", s.ID, "scheme", s.Scheme, "name", s.Name,
			"priority", s.Priority, "enabled", s.Enabled)
	}
	return v, err
}

// UpdateChannel changes the fields p names; the rest stays.
func (e *Engine) UpdateChannel(ctx context.Context, id string, p channel.Patch) (channel.View, error) {
	if err := e.lock(ctx); err != nil {
		return channel.View{}, err
	}
	defer e.unlock()
	old, _, ok := e.doc.Get(id)
	if !ok {
		return channel.View{}, channel.ErrNotFound
	}
	s, err := channel.ApplyPatch(old, p)
	if err != nil {
		return channel.View{}, err
	}
	v, err := e.putLocked(ctx, s)
	if err == nil {
		// The names of the fields sent, never their values: one is the key.
		e.log.Info("channel updated", "channel", id, "scheme", s.Scheme, "name", s.Name,
			"fields", strings.Join(p.Fields(), ","))
	}
	return v, err
}

func (e *Engine) putLocked(ctx context.Context, s channel.Settings) (channel.View, error) {
	if err := e.commit(ctx, state.Put(s)); err != nil {
		return channel.View{}, err
	}
	e.warnIfSelf(s)
	// An edit may point the channel at another upstream: a refused
	// prefill is forgotten.
	h, err := e.actors[s.ID].actor.PrefillOK(ctx)
	if err != nil {
		return channel.View{}, err
	}
	return channel.NewView(s, h), nil
}

// DeleteChannel removes a channel.
func (e *Engine) DeleteChannel(ctx context.Context, id string) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	s, _, ok := e.doc.Get(id)
	if !ok {
		return channel.ErrNotFound
	}
	if err := e.commit(ctx, state.Delete(id)); err != nil {
		return err
	}
	e.log.Info("channel deleted", "channel", id, "scheme", s.Scheme, "name", s.Name)
	return e.stats.Forget(context.WithoutCancel(ctx), id)
}

// commit makes one config change: record it durably, apply it to the
// document with the same Apply that replay uses, then bring actors and
// routing in line. The caller holds the gate.
func (e *Engine) commit(ctx context.Context, c state.Change) error {
	if err := e.journal.Commit(c); err != nil {
		return err
	}
	touched, err := e.doc.Apply(c.Type, c.Payload)
	if err != nil {
		return err
	}
	types := c.Types()
	if slices.Contains(types, state.RecScheme) || slices.Contains(types, state.RecSchemes) {
		if err := e.router.SetAliases(context.WithoutCancel(ctx), e.doc.Aliases()); err != nil {
			return err
		}
	}
	if slices.Contains(types, state.RecKeyPut) || slices.Contains(types, state.RecKeyDelete) || slices.Contains(types, state.RecKeysReplace) {
		// Before the answer: a rotated or deleted secret is refused from
		// the moment the admin hears it is done.
		if err := e.keys.Set(context.WithoutCancel(ctx), e.doc.Keys()); err != nil {
			return err
		}
	}
	// Actor and routing updates only fail when the server is stopping; the
	// change itself is already durable and replays on the next start.
	for _, id := range touched {
		if err := e.syncActor(context.WithoutCancel(ctx), id); err != nil {
			return err
		}
	}
	return nil
}
