// Package engine wires Catfish together: configuration, the router and
// channel actors, the proxy's request path, the admin operations and the
// HTTP server.
//
// Concurrency: the scheme router and every channel are actors (see the
// scheme and channel packages). A client request runs in its own
// goroutine: it asks the router for a plan, asks each channel's actor for a
// permit, does the upstream call itself and reports the outcome back; no
// actor waits on the network or on another actor. Admin changes are
// serialised by the admin gate (a one-slot semaphore): its holder alone
// reads and writes the configuration document and starts, updates and
// stops channel actors.
package engine

import (
	"bufio"
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

	"catfish/channel"
	"catfish/httpapi"
	"catfish/persist"
	"catfish/scheme"
	"catfish/ui"
)

// errStopped is returned by calls to an engine actor after shutdown.
var errStopped = errors.New("engine stopped")

// errShuttingDown is the cause of requests cut by a shutdown that ran out
// of time.
var errShuttingDown = errors.New("shutting down")

// Engine is a running Catfish.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	logs      *LogRing
	router    *scheme.Router
	transport *http.Transport
	defaults  channel.Defaults
	handler   http.Handler

	bufs   sync.Pool // *[]byte, 32 KiB copy buffers
	relays sync.Pool // *streamRelay

	store *persist.Store
	stats *recorder

	// gate admits one admin change at a time; its holder owns doc, actors
	// and restore.
	gate    chan struct{}
	doc     *Doc
	actors  map[string]*actorHandle
	restore map[string]breakerRec // breaker states loaded at start-up, used once

	actx context.Context // the actors' context, set by Serve
	// drain ends when shutdown runs out of time; requests still open then
	// finish with an error event.
	drain     context.Context
	stopDrain context.CancelFunc
	actorsWG  sync.WaitGroup
	inflight  sync.WaitGroup // HTTP handlers still running
}

type actorHandle struct {
	actor  *channel.Actor
	cancel context.CancelFunc
}

// New builds an engine from cfg. It does not listen yet.
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
	e.drain, e.stopDrain = context.WithCancel(context.Background())
	e.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	e.relays.New = func() any { return &streamRelay{br: bufio.NewReaderSize(nil, 16<<10)} }
	e.transport = newTransport(cfg)
	if err := e.ensureAdminKey(); err != nil {
		return nil, err
	}
	rec, err := e.openStore()
	if err != nil {
		return nil, err
	}
	e.doc, e.restore = rec.doc, rec.breakers
	for id := range rec.stats.channels {
		if _, _, ok := e.doc.Get(id); !ok {
			rec.stats.forget(id) // a channel deleted since its last counts
		}
	}
	e.stats = newRecorder(rec.stats, cfg.LogLines)
	e.handler = httpapi.New(httpapi.Options{
		AdminKey:      e.cfg.AdminKey,
		BodyLimit:     cfg.BodyLimit,
		MetricsPublic: cfg.MetricsPublic,
		Version:       cfg.Version,
		UI:            ui.FS(),
	}, e, e)
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
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// Handler is the engine's HTTP handler (for tests that bring their own server).
func (e *Engine) Handler() http.Handler { return e.handler }

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
// ShutdownTimeout, then stop the actors.
func (e *Engine) Serve(ctx context.Context, ln net.Listener) error {
	actx, stopActors := context.WithCancel(context.WithoutCancel(ctx))
	e.actx = actx
	var loops sync.WaitGroup
	loops.Go(func() { e.router.Run(actx) })
	loops.Go(func() { e.stats.Run(actx) })
	defer func() {
		stopActors()
		e.actorsWG.Wait()
		loops.Wait()
		e.transport.CloseIdleConnections()
		if err := e.store.Close(); err != nil {
			e.log.Error("closing the journal", "error", err.Error())
		}
	}()
	n, err := e.start(ctx)
	if err != nil {
		ln.Close()
		return err
	}

	srv := &http.Server{
		Handler:           e.track(e.handler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fctx, stopFlusher := context.WithCancel(actx)
	defer stopFlusher()
	flusherDone := make(chan struct{})
	go func() {
		defer close(flusherDone)
		e.flusher(fctx)
	}()
	e.log.Info("catfish listening", "addr", ln.Addr().String(), "version", e.cfg.Version, "channels", n)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	e.log.Info("shutting down: finishing open requests", "timeout", e.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), e.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		e.log.Warn("shutdown timeout: ending the remaining requests")
		e.stopDrain() // open streams get a final error event
		done := make(chan struct{})
		go func() { e.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		srv.Close()
	}
	e.inflight.Wait()
	stopFlusher()
	<-flusherDone
	// Everything counted so far goes into a final snapshot, so the next
	// start replays nothing.
	if err := e.compact(actx); err != nil {
		e.log.Error("final snapshot failed; the journal still holds everything", "error", err.Error())
	}
	e.log.Info("stopped")
	return nil
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
			if _, err := a.Restore(ctx, saved.saved()); err != nil {
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

// Models lists the schemes, which clients see as models.
func (e *Engine) Models(ctx context.Context) ([]string, error) {
	names, _, err := e.router.Schemes(ctx)
	return names, err
}

// finish logs a finished request and hands it to the statistics.
func (e *Engine) finish(x *exchange, err error) {
	status := 0
	switch {
	case err == nil && x.answered != nil:
		status = x.answered.status
	case err != nil:
		status = httpapi.StatusOf(err)
	}
	level := slog.LevelInfo
	if status >= 500 || (x.answered != nil && x.answered.verdict == channel.Failure) {
		level = slog.LevelWarn
	}
	outcome := "ok"
	if x.answered != nil {
		outcome = x.answered.outcome
	} else if err != nil {
		outcome = "error"
	}
	end := time.Now()
	// LogAttrs: typed attributes, no boxing on the hot path.
	e.log.LogAttrs(context.Background(), level, "request", slog.String("id", x.id),
		slog.String("path", x.req.Path), slog.String("model", x.req.Info.Model), slog.String("scheme", x.scheme),
		slog.Bool("stream", x.req.Info.Stream), slog.Int("status", status), slog.String("outcome", outcome),
		slog.String("attempts", x.attemptsValue()), slog.Int64("duration_ms", end.Sub(x.start).Milliseconds()))
	rec := &requestRecord{ID: x.id, Start: x.start, End: end, Path: x.req.Path, Model: x.req.Info.Model,
		Scheme: x.scheme, Stream: x.req.Info.Stream, Status: status, Outcome: outcome, Attempts: x.attempts,
		Canceled: status == httpapi.StatusClientClosed || errors.Is(err, errClientGone),
		Broken: err == nil && x.answered != nil &&
			(x.answered.verdict == channel.Failure || x.answered.outcome == "shutdown")}
	if x.answered != nil && x.answered.verdict != channel.Neutral {
		rec.Answered, rec.Usage = x.currentChannel(), x.answered.usage
	}
	e.stats.send(rec)
}

// currentChannel is the channel of the attempt under way, for logs.
func (x *exchange) currentChannel() string {
	if len(x.attempts) == 0 {
		return ""
	}
	return x.attempts[len(x.attempts)-1].ChannelID
}
