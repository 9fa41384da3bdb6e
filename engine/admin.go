package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"catfish/channel"
	"catfish/httpapi"
)

// Channels returns every channel by scheme, keys masked, breakers attached.
func (e *Engine) Channels(ctx context.Context) (map[string][]httpapi.ChannelView, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	schemes := e.doc.Schemes()
	e.unlock()
	_, health, err := e.router.Schemes(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]httpapi.ChannelView, len(schemes))
	for name, list := range schemes {
		views := make([]httpapi.ChannelView, len(list))
		for i, s := range list {
			views[i] = view(s, health[s.ID])
		}
		out[name] = views
	}
	return out, nil
}

func view(s channel.Settings, h channel.Health) httpapi.ChannelView {
	v := httpapi.ChannelView{Settings: s.Public(), Breaker: httpapi.BreakerView{State: h.State.String(), ConsecutiveFails: h.Fails}}
	if h.State != channel.Closed {
		until := h.OpenUntil
		v.Breaker.OpenUntil = &until
	}
	return v
}

// CreateChannel adds a channel. The change is applied only once it is
// durable.
func (e *Engine) CreateChannel(ctx context.Context, p channel.Patch) (httpapi.ChannelView, error) {
	s, err := channel.NewFromPatch(uuid.NewString(), p)
	if err != nil {
		return httpapi.ChannelView{}, err
	}
	if err := e.lock(ctx); err != nil {
		return httpapi.ChannelView{}, err
	}
	defer e.unlock()
	return e.putLocked(ctx, s)
}

// UpdateChannel changes the fields p names; the rest stays.
func (e *Engine) UpdateChannel(ctx context.Context, id string, p channel.Patch) (httpapi.ChannelView, error) {
	if err := e.lock(ctx); err != nil {
		return httpapi.ChannelView{}, err
	}
	defer e.unlock()
	old, _, ok := e.doc.Get(id)
	if !ok {
		return httpapi.ChannelView{}, channel.ErrNotFound
	}
	s, err := channel.ApplyPatch(old, p)
	if err != nil {
		return httpapi.ChannelView{}, err
	}
	return e.putLocked(ctx, s)
}

func (e *Engine) putLocked(ctx context.Context, s channel.Settings) (httpapi.ChannelView, error) {
	if err := e.commit(ctx, recPut, putPayload{Channel: s}); err != nil {
		return httpapi.ChannelView{}, err
	}
	h, err := e.actors[s.ID].actor.Health(ctx)
	if err != nil {
		return httpapi.ChannelView{}, err
	}
	return view(s, h), nil
}

// DeleteChannel removes a channel.
func (e *Engine) DeleteChannel(ctx context.Context, id string) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	if _, _, ok := e.doc.Get(id); !ok {
		return channel.ErrNotFound
	}
	if err := e.commit(ctx, recDelete, deletePayload{ID: id}); err != nil {
		return err
	}
	_, err := e.stats.call(context.WithoutCancel(ctx), statsAsk{kind: askForget, id: id})
	return err
}

// commit makes one config change: record it durably, apply it to the
// document with the same Apply that replay uses, then bring actors and
// routing in line. The caller holds the gate.
func (e *Engine) commit(ctx context.Context, typ string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	if err := e.journalConfig(typ, b); err != nil {
		return err
	}
	touched, err := e.doc.Apply(typ, b)
	if err != nil {
		return err
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

// journalConfig makes a config record durable (appended and fsync'd)
// before it is applied, so an acknowledged change survives kill -9.
func (e *Engine) journalConfig(typ string, payload []byte) error {
	_, err := e.store.Commit(typ, payload)
	return err
}
