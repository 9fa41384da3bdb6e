// Package engine is Catfish's composition root: it reads the
// configuration, builds the router, the channel actors, the statistics
// recorder, the proxy, the durable state and the HTTP surface, runs them
// and stops them. It also holds the admin operations, which coordinate
// the configuration document with the actors.
//
// Concurrency: the scheme router, every channel, the statistics
// recorder and the client keys are actors. A client request runs in its own goroutine (see
// engine/proxy). Admin changes are serialised by the admin gate (a
// one-slot semaphore): its holder alone reads and writes the
// configuration document and starts, updates and stops channel actors.
// docs/architecture.md draws the whole house.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"catfish/channel"
	"catfish/engine/keys"
	"catfish/engine/proxy"
	"catfish/engine/state"
	"catfish/engine/stats"
	"catfish/httpapi"
	"catfish/scheme"
	"catfish/ui"
)

// Engine is a running Catfish.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	logs      *LogRing
	router    *scheme.Router
	transport *http.Transport
	defaults  channel.Defaults
	proxy     *proxy.Proxy
	stats     *stats.Recorder
	keys      *keys.Keys
	journal   *state.Journal
	flusher   *state.Flusher

	// gate admits one admin change at a time; its holder owns doc, actors
	// and restore.
	gate    chan struct{}
	doc     *state.Doc
	actors  map[string]*actorHandle
	restore map[string]state.BreakerRec // breaker states loaded at start-up, used once

	// actx is the actors' context: it outlives the server's so actors
	// answer until every request has finished.
	actx       context.Context
	stopActors context.CancelFunc
	actorsWG   sync.WaitGroup
	// drain ends when shutdown runs out of time; requests still open then
	// finish with an error event.
	drain     context.Context
	stopDrain context.CancelFunc
	inflight  sync.WaitGroup // HTTP handlers still running
	// listen is the address being served, set by Serve before any request
	// arrives: channels pointing at it are warned about.
	listen net.Addr
}

type actorHandle struct {
	actor  *channel.Actor
	cancel context.CancelFunc
}

// New builds an engine from cfg: it recovers the data directory and
// prepares everything, but starts nothing; Serve or Run do.
func New(cfg Config, logOut io.Writer) (*Engine, error) {
	cfg.setDefaults()
	if logOut == nil {
		logOut = os.Stdout
	}
	logs := NewLogRing(cfg.LogLines, logOut)
	var h slog.Handler = slog.NewTextHandler(logs, nil)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(logs, nil)
	}
	e := &Engine{
		cfg:    cfg,
		log:    slog.New(h),
		logs:   logs,
		router: scheme.NewRouter(cfg.DefaultScheme),
		defaults: channel.Defaults{
			Threshold:   *cfg.BreakerThreshold,
			Cooldown:    cfg.BreakerCooldown,
			MaxCooldown: cfg.BreakerMaxCooldown,
			FirstByte:   cfg.FirstByteTimeout,
			MaxRetries:  *cfg.MaxRetries,
		},
		gate:   make(chan struct{}, 1),
		actors: map[string]*actorHandle{},
	}
	e.actx, e.stopActors = context.WithCancel(context.Background())
	e.drain, e.stopDrain = context.WithCancel(context.Background())
	e.transport = newTransport(cfg)
	for _, w := range cfg.Warnings {
		e.log.Warn(w) // the configuration's own: unknown .env names and the like
	}
	if err := e.ensureAdminKey(); err != nil {
		return nil, err
	}
	journal, rec, err := state.Open(cfg.DataDir, cfg.Location, e.log)
	if err != nil {
		return nil, err
	}
	e.journal, e.doc, e.restore = journal, rec.Doc, rec.Breakers
	e.stats = stats.NewRecorder(rec.Stats, cfg.LogLines)
	e.keys = keys.New(rec.KeyUsage)
	e.flusher = state.NewFlusher(journal, e, cfg.CompactBytes, rec.Breakers, e.log)
	e.proxy = proxy.New(proxy.Config{
		IdleTimeout:       cfg.IdleTimeout,
		RequestTimeout:    cfg.RequestTimeout,
		RetryAfterMax:     cfg.RetryAfterMax,
		RetryAfterOpenMax: cfg.RetryAfterOpenMax,
		BackoffBase:       cfg.BackoffBase,
		BodyLimit:         cfg.BodyLimit,
		Continuation:      *cfg.Continuation,
		ContinueTimeout:   cfg.ContinueTimeout,
		MaxContinuations:  *cfg.MaxContinuations,
	}, e.router, e.transport, e.stats, e.keys, e.log, e.drain)
	return e, nil
}

// newTransport returns the upstream HTTP client transport: a connection
// pool sized for a proxy (the default of 2 idle connections per host
// costs 1.5× the CPU under load), no compression (bodies pass through as
// they are), HTTP/2 where the upstream offers it, and the environment's
// proxy settings.
func newTransport(cfg Config) *http.Transport {
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
		// 4 KiB each, as net/http's default: bodies larger than a buffer
		// bypass it, and an open stream holds both for its lifetime
		// (16 KiB each cost 24 KiB more per stream, 1,000 streams:
		// 24 MiB of heap, about twice that in RSS).
		WriteBufferSize: 4 << 10,
		ReadBufferSize:  4 << 10,
	}
}

// AdminKey is the key guarding /admin and /v1.
func (e *Engine) AdminKey() string { return e.cfg.AdminKey }

// Run listens on the configured address and serves until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", e.cfg.Addr, err)
	}
	return e.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: stop
// accepting, let open requests (streams included) finish within
// ShutdownTimeout, write a final snapshot, then stop the actors. An engine
// serves once.
func (e *Engine) Serve(ctx context.Context, ln net.Listener) error {
	e.listen = ln.Addr()
	var loops errgroup.Group // the long-lived actors; they end with actx
	loops.Go(func() error { return e.router.Run(e.actx) })
	loops.Go(func() error { e.stats.Run(e.actx); return nil })
	loops.Go(func() error { e.keys.Run(e.actx); return nil })
	defer func() {
		e.stopActors()
		e.actorsWG.Wait()
		loops.Wait()
		e.transport.CloseIdleConnections()
		if err := e.journal.Close(); err != nil {
			e.log.Error("closing the journal", "error", err.Error())
		}
	}()
	n, err := e.start(ctx)
	if err != nil {
		ln.Close()
		return err
	}

	srv := &http.Server{
		Handler:           e.track(e.handler()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	// The server, its shutdown and the flusher: a server that fails ends
	// the group's context, which runs the same graceful shutdown as a
	// signal does.
	g, gctx := errgroup.WithContext(ctx)
	fctx, stopFlusher := context.WithCancel(e.actx)
	defer stopFlusher()
	g.Go(func() error { e.flusher.Run(fctx); return nil })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		e.shutdown(srv)
		stopFlusher()
		return nil
	})
	e.log.Info("catfish listening", "addr", ln.Addr().String(), "version", e.cfg.Version, "channels", n,
		"instance", e.proxy.Instance())
	err = g.Wait()
	// Everything counted so far goes into a final snapshot, so the next
	// start replays nothing.
	if cerr := e.flusher.Compact(e.actx); cerr != nil {
		e.log.Error("final snapshot failed; the journal still holds everything", "error", cerr.Error())
	}
	e.log.Info("stopped")
	return err
}

// shutdown stops accepting and lets open requests finish within
// ShutdownTimeout; past it, open streams end with a final error event.
func (e *Engine) shutdown(srv *http.Server) {
	e.log.Info("shutting down: finishing open requests", "timeout", e.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), e.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		e.log.Warn("shutdown timeout: ending the remaining requests")
		e.stopDrain()
		done := make(chan struct{})
		go func() { e.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		srv.Close()
	}
	e.inflight.Wait()
}

// handler is the HTTP surface over this engine.
func (e *Engine) handler() http.Handler {
	return httpapi.New(httpapi.Options{
		AdminKey:       e.cfg.AdminKey,
		BodyLimit:      e.cfg.BodyLimit,
		MetricsPublic:  e.cfg.MetricsPublic,
		Version:        e.cfg.Version,
		UI:             ui.FS(),
		Log:            e.log,
		Keys:           e.keys,
		ClientKeysOnly: e.cfg.ClientKeysOnly,
	}, e, e)
}

// track counts running handlers so shutdown can wait for all of them.
func (e *Engine) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.inflight.Add(1)
		defer e.inflight.Done()
		h.ServeHTTP(w, r)
	})
}

// start brings up an actor for every configured channel and returns how
// many there are.
func (e *Engine) start(ctx context.Context) (int, error) {
	if err := e.lock(ctx); err != nil {
		return 0, err
	}
	defer e.unlock()
	all := e.doc.All()
	for _, s := range all {
		if err := e.syncActor(ctx, s.ID); err != nil {
			return 0, err
		}
		e.warnIfSelf(s)
	}
	if err := e.router.SetAliases(ctx, e.doc.Aliases()); err != nil {
		return 0, err
	}
	if err := e.keys.Set(ctx, e.doc.Keys()); err != nil {
		return 0, err
	}
	return len(all), nil
}

// lock takes the admin gate.
func (e *Engine) lock(ctx context.Context) error {
	select {
	case e.gate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) unlock() { <-e.gate }

// syncActor makes channel id's actor and routing match the document:
// start, update or stop it. The caller holds the gate.
func (e *Engine) syncActor(ctx context.Context, id string) error {
	s, order, ok := e.doc.Get(id)
	h, running := e.actors[id]
	switch {
	case !ok && running:
		delete(e.actors, id)
		h.cancel()
		return e.router.Remove(ctx, id)
	case !ok:
		return nil
	case !running:
		a := channel.NewActor(s.Resolve(e.defaults))
		actx, cancel := context.WithCancel(e.actx)
		h = &actorHandle{actor: a, cancel: cancel}
		e.actors[id] = h
		e.actorsWG.Go(func() { a.Run(actx) })
		if saved, ok := e.restore[id]; ok {
			delete(e.restore, id)
			if _, err := a.Restore(ctx, saved.Saved(), saved.NoPrefill); err != nil {
				return err
			}
		}
	}
	health, err := h.actor.Update(ctx, s.Resolve(e.defaults))
	if err != nil {
		return err
	}
	return e.router.Put(ctx, scheme.Member{
		ID: id, Scheme: s.Scheme, Priority: s.Priority, Order: order,
		Enabled: s.Enabled, Actor: h.actor, Health: health,
	})
}
