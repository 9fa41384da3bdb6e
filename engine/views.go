package engine

import (
	"context"
	"net/http"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
	"catfish/engine/keys"
	"catfish/engine/state"
	"catfish/engine/stats"
)

// Stats returns the /admin/stats document: the recorder's counts with
// each channel's breaker from its actor.
func (e *Engine) Stats(ctx context.Context) (*stats.View, error) {
	v, err := e.stats.View(ctx)
	if err != nil {
		return nil, err
	}
	health, err := e.health(ctx)
	if err != nil {
		return nil, err
	}
	v.AttachBreakers(health)
	return v, nil
}

// Requests returns the recent requests, oldest first.
func (e *Engine) Requests(ctx context.Context) ([]stats.Recent, error) {
	return e.stats.Recent(ctx)
}

// Logs returns the newest log lines, oldest first.
func (e *Engine) Logs(ctx context.Context) ([]string, error) {
	return e.logs.Lines(), nil
}

// Metrics renders /metrics.
func (e *Engine) Metrics(ctx context.Context) ([]byte, error) {
	m, err := e.stats.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	health, err := e.health(ctx)
	if err != nil {
		return nil, err
	}
	return stats.Metrics(m, health, e.cfg.Version, time.Now()), nil
}

// Models lists the schemes, which clients see as models.
func (e *Engine) Models(ctx context.Context) ([]string, error) {
	return e.router.Names(ctx)
}

// Breakers is the flusher's view of every breaker, from the actors.
func (e *Engine) Breakers(ctx context.Context) (map[string]channel.Health, error) {
	return e.health(ctx)
}

// TakeStats hands the flusher the statistics to journal.
func (e *Engine) TakeStats(ctx context.Context, full bool) (stats.Take, error) {
	return e.stats.Take(ctx, full)
}

// TakeKeyUsage hands the flusher the client keys' usage to journal.
func (e *Engine) TakeKeyUsage(ctx context.Context, full bool) (keys.Take, error) {
	return e.keys.Take(ctx, full)
}

// ClientKeys is the client keys actor: the /v1 seam authenticates and
// admits requests with it.
func (e *Engine) ClientKeys() *keys.Keys { return e.keys }

// Frozen runs f under the admin gate with the configuration document.
func (e *Engine) Frozen(ctx context.Context, f func(*state.Doc) error) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	return f(e.doc)
}

// Proxy serves one /v1 request.
func (e *Engine) Proxy(w http.ResponseWriter, r *http.Request, in *dialect.Inbound, c keys.Caller) error {
	return e.proxy.Serve(w, r, in, c)
}
