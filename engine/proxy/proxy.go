// Package proxy carries one client request through its scheme's channels:
// it asks the router for a plan, asks each channel's actor for a permit,
// makes the upstream call itself, fails over by the table in SPEC 3, and
// relays the answer (whole, or as a stream, event by event). It reports
// each finished request to a Recorder.
//
// Concurrency: everything here runs in the client request's goroutine.
// The proxy holds no state shared between requests except pools of
// buffers; the router and the channel actors own routing and breakers and
// are only ever asked, never waited on across the network.
package proxy

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
	"catfish/engine/keys"
	"catfish/engine/stats"
	"catfish/scheme"
)

// Config is what the request path needs of the server's settings.
type Config struct {
	// IdleTimeout is the longest silence inside an upstream body.
	IdleTimeout time.Duration
	// RequestTimeout bounds a whole client request. Zero: no limit.
	RequestTimeout time.Duration
	// RetryAfterMax is the longest Retry-After waited for on the same
	// channel; longer ones open the breaker instead.
	RetryAfterMax time.Duration
	// RetryAfterOpenMax caps how long a 429's Retry-After may keep a
	// channel's breaker open: an upstream must not take a channel out for
	// a year. Zero: one hour.
	RetryAfterOpenMax time.Duration
	// BackoffBase is the first retry backoff (doubling, ±20 %).
	BackoffBase time.Duration
	// BodyLimit bounds request bodies; upstream answers may be 4× larger.
	BodyLimit int64
	// Continuation: a stream that breaks after commit while the client
	// has only received text goes on on the next channel (SPEC 11).
	Continuation bool
	// ContinueTimeout bounds one continuation, from the break to its end.
	ContinueTimeout time.Duration
	// MaxContinuations bounds continuations per request.
	MaxContinuations int
	// Instance names this process in the hop header (see HopHeader).
	// Empty: a random id made by New.
	Instance string
}

// Recorder receives every finished request. The statistics actor
// satisfies it; Record must not block for long.
type Recorder interface {
	Record(*stats.Record)
}

// Admitter lets a client key's request begin, or refuses it over the
// key's limits (the keys actor; keys.Keys.Admit says how).
type Admitter interface {
	Admit(ctx context.Context, c keys.Caller, now time.Time) (release func(keys.Usage, bool), wait time.Duration, err error)
}

// Proxy serves client requests. It is safe for concurrent use.
type Proxy struct {
	cfg       Config
	router    *scheme.Router
	transport http.RoundTripper
	rec       Recorder
	admit     Admitter
	log       *slog.Logger
	// drain ends when a shutdown runs out of time; requests still open
	// then end with a final error instead of a cut connection.
	drain context.Context

	bufs   sync.Pool // *[]byte, 32 KiB copy buffers
	relays sync.Pool // *streamRelay
}

// New returns a proxy routing through router and sending with transport.
func New(cfg Config, router *scheme.Router, transport http.RoundTripper, rec Recorder, admit Admitter,
	log *slog.Logger, drain context.Context) *Proxy {
	if cfg.RetryAfterOpenMax <= 0 {
		cfg.RetryAfterOpenMax = time.Hour
	}
	if cfg.Instance == "" {
		cfg.Instance = newRequestID()
	}
	p := &Proxy{cfg: cfg, router: router, transport: transport, rec: rec, admit: admit, log: log, drain: drain}
	p.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	p.relays.New = func() any { return &streamRelay{br: bufio.NewReaderSize(nil, 4<<10)} }
	return p
}

// Instance is the id this proxy puts in the hop header.
func (p *Proxy) Instance() string { return p.cfg.Instance }

// ErrShuttingDown is the cause of requests cut by a shutdown that ran
// out of time.
var ErrShuttingDown = errors.New("shutting down")

// errClientGone marks an exchange whose client left; nothing is written.
var errClientGone = errors.New("client went away")

// finish logs a finished request and hands it to the recorder.
func (p *Proxy) finish(x *exchange, err error) {
	status := 0
	switch {
	case err == nil && x.answered != nil:
		status = x.answered.status
	case err != nil:
		status = statusOf(err)
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
	// The client chose the path and the model, and may have sent
	// megabytes of either: what is logged and kept is cut short.
	path, model := stats.Clip(x.req.Path), stats.Clip(x.req.Info.Model)
	// LogAttrs: typed attributes, no boxing on the hot path.
	p.log.LogAttrs(context.Background(), level, "request", slog.String("id", x.id), slog.String("key", x.who.Name),
		slog.String("path", path), slog.String("dialect", x.req.Dialect.String()),
		slog.String("model", model), slog.String("scheme", x.scheme),
		slog.Bool("stream", x.req.Info.Stream), slog.Int("status", status), slog.String("outcome", outcome),
		slog.String("attempts", x.attemptsValue()), slog.Int64("duration_ms", end.Sub(x.start).Milliseconds()))
	rec := &stats.Record{ID: x.id, Start: x.start, End: end, Path: path, Dialect: x.req.Dialect.String(), Model: model,
		Scheme: x.scheme, Stream: x.req.Info.Stream, Status: status, Outcome: outcome, Attempts: x.attempts,
		Canceled: status == dialect.StatusClientClosed || errors.Is(err, errClientGone),
		Broken: err == nil && x.answered != nil &&
			(x.answered.verdict == channel.Failure || x.answered.outcome == "shutdown")}
	if x.answered != nil && x.answered.verdict != channel.Neutral {
		rec.Answered = x.currentChannel()
	}
	for _, a := range x.attempts {
		rec.Usage.Add(a.Usage)
	}
	rec.Key = x.who.Name
	if x.release != nil {
		failed := !rec.Canceled && (status < 200 || status > 299 || rec.Broken)
		x.release(keys.Usage{Prompt: rec.Usage.Prompt, Completion: rec.Usage.Completion}, failed)
	}
	p.rec.Record(rec)
}

// statusOf is the HTTP status an error answer carries (499 for a client
// that left, which nobody receives).
func statusOf(err error) int {
	var de *dialect.Error
	if errors.As(err, &de) {
		return de.Status
	}
	return dialect.StatusClientClosed
}

// currentChannel is the channel of the attempt under way, for logs.
func (x *exchange) currentChannel() string {
	if len(x.attempts) == 0 {
		return ""
	}
	return x.attempts[len(x.attempts)-1].ChannelID
}
