package engine

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"catfish/channel"
	"catfish/engine/keys"
	"catfish/engine/state"
)

// Client keys: admin operations. Changes go through the admin gate and
// commit like channel changes (journaled and fsync'd, then applied, then
// pushed to the keys actor) before they are answered. Logs name the key
// by id and name, never its secret or hash.

// ListKeys returns every client key, masked, with its usage and limits.
func (e *Engine) ListKeys(ctx context.Context) ([]keys.View, error) {
	return e.keys.List(ctx, time.Now())
}

// GetKey returns one client key.
func (e *Engine) GetKey(ctx context.Context, id string) (keys.View, error) {
	return e.keys.Get(ctx, id, time.Now())
}

// CreateKey makes a client key from p. The answer holds the secret: the
// only time it is ever shown.
func (e *Engine) CreateKey(ctx context.Context, p keys.Patch) (keys.Created, error) {
	now := time.Now()
	if err := e.lock(ctx); err != nil {
		return keys.Created{}, err
	}
	defer e.unlock()
	id := uuid.NewString()
	k, secret, err := e.freshSecret(func(secret string) (keys.Key, error) { return keys.NewKey(id, secret, p, now) })
	if err != nil {
		return keys.Created{}, err
	}
	if err := e.commit(ctx, state.PutKey(k)); err != nil {
		return keys.Created{}, err
	}
	e.log.Info("client key created", "key_id", k.ID, "name", k.Name, "schemes", len(k.Schemes), "limited", k.Limits().Any())
	return e.created(ctx, k, secret, now)
}

// RotateKey gives a client key a new secret, shown in the answer only;
// the old one is refused from the moment this returns.
func (e *Engine) RotateKey(ctx context.Context, id string) (keys.Created, error) {
	now := time.Now()
	if err := e.lock(ctx); err != nil {
		return keys.Created{}, err
	}
	defer e.unlock()
	old, ok := e.doc.Key(id)
	if !ok {
		return keys.Created{}, keys.ErrNotFound
	}
	k, secret, err := e.freshSecret(func(secret string) (keys.Key, error) { return old.WithSecret(secret), nil })
	if err != nil {
		return keys.Created{}, err
	}
	if err := e.commit(ctx, state.PutKey(k)); err != nil {
		return keys.Created{}, err
	}
	e.log.Info("client key rotated", "key_id", k.ID, "name", k.Name)
	return e.created(ctx, k, secret, now)
}

// freshSecret draws secrets until build's key clashes with no other (two
// hashes sharing their first 8 bytes: about never). The caller holds the
// gate.
func (e *Engine) freshSecret(build func(secret string) (keys.Key, error)) (keys.Key, string, error) {
	for {
		secret := keys.NewSecret()
		k, err := build(secret)
		if err != nil {
			return keys.Key{}, "", err
		}
		err = e.doc.KeyConflict(k)
		var fe *channel.FieldError
		if errors.As(err, &fe) && fe.Field == "hash" {
			continue
		}
		return k, secret, err
	}
}

func (e *Engine) created(ctx context.Context, k keys.Key, secret string, now time.Time) (keys.Created, error) {
	v, err := e.keys.Get(context.WithoutCancel(ctx), k.ID, now)
	if err != nil {
		return keys.Created{}, err
	}
	return keys.Created{View: v, Key: secret}, nil
}

// UpdateKey changes the fields p holds; the rest stays.
func (e *Engine) UpdateKey(ctx context.Context, id string, p keys.Patch) (keys.View, error) {
	if err := e.lock(ctx); err != nil {
		return keys.View{}, err
	}
	defer e.unlock()
	old, ok := e.doc.Key(id)
	if !ok {
		return keys.View{}, keys.ErrNotFound
	}
	k, err := keys.ApplyPatch(old, p)
	if err != nil {
		return keys.View{}, err
	}
	if err := e.doc.KeyConflict(k); err != nil {
		return keys.View{}, err
	}
	if err := e.commit(ctx, state.PutKey(k)); err != nil {
		return keys.View{}, err
	}
	e.log.Info("client key changed", "key_id", k.ID, "name", k.Name, "fields", p.Fields())
	return e.keys.Get(context.WithoutCancel(ctx), id, time.Now())
}

// DeleteKey removes a client key: its secret is refused from the moment
// this returns, and its usage is forgotten. Statistics by key name stay.
func (e *Engine) DeleteKey(ctx context.Context, id string) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	old, ok := e.doc.Key(id)
	if !ok {
		return keys.ErrNotFound
	}
	if err := e.commit(ctx, state.DeleteKey(id)); err != nil {
		return err
	}
	e.log.Info("client key deleted", "key_id", id, "name", old.Name)
	return nil
}
