package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
	"catfish/engine/keys"
	"catfish/engine/stats"
	"catfish/scheme"
)

// step is what the exchange does after an attempt.
type step uint8

const (
	stepNext  step = iota // try the next channel
	stepRetry             // try this channel again (transient error), if retries are left
	stepDone              // stop: the answer is written, or err is final
	stepAgain             // send again to the same channel at once, uncounted (the request was changed)
)

// result is one attempt's outcome.
type result struct {
	outcome string // short label for logs and X-Catfish-Attempts
	status  int    // upstream HTTP status, if any
	verdict channel.Verdict
	next    step
	// openFor asks the breaker to stay open this long (long Retry-After).
	openFor time.Duration
	// wait is the upstream's Retry-After, when it is short enough to honour.
	wait    time.Duration
	waitSet bool // the upstream gave a Retry-After (0: retry at once)
	// fail is the upstream's error answer, kept as the "last error".
	fail *dialect.Error
	// err is the error to return when next is stepDone and nothing was written.
	err error
	// committed: bytes reached the client; the breaker was already told
	// "success" at that moment.
	committed bool
	// detail is the transport error's text, for the log.
	detail string
	// noPrefill: the channel refused an assistant prefill (its restart
	// was accepted): tell its actor.
	noPrefill bool
	ttfb      time.Duration
	usage     dialect.Usage
}

// exchange is one client request on its way through the channels. It lives
// in the request's goroutine and is never shared.
type exchange struct {
	p        *Proxy
	id       string
	w        http.ResponseWriter
	r        *http.Request
	req      *dialect.Inbound
	ctx      context.Context
	start    time.Time
	scheme   string
	attempts []stats.Attempt
	last     *dialect.Error // the last upstream HTTP error
	lastErr  string         // the last failure without an HTTP answer
	wake     time.Time      // earliest time a skipped channel admits again
	answered *result        // the attempt that produced the answer
	hops     string         // the hop header sent upstream
	// body and info are what is sent upstream before any model override:
	// the client's body, plus include_usage when the proxy asks for usage
	// the client did not ask for (hideUsage then hides it again).
	body      []byte
	info      dialect.BodyInfo
	hideUsage bool
	// ir is the client's request in the internal form, decoded when the
	// first translated route needs it (at once for Messages and
	// Responses clients, whose requests are checked before anything is
	// sent); bodies are its encodings.
	ir     *dialect.Request
	bodies map[translation][]byte
	// sent is ir with the settings upstreams refused relaxed (adjust.go);
	// relaxed names them.
	sent    *dialect.Request
	relaxed map[string]bool
	// skipped counts channels that could not serve the request at all.
	skipped int
	// cont is a stream that broke after commit and goes on on the next
	// channel (SPEC 11); nil otherwise.
	cont *continuation
	// who sent the request; release reports its usage to the key.
	who     keys.Caller
	release func(keys.Usage, bool)
}

// Serve runs one client request through its scheme's channels. It either
// writes the whole answer and returns nil, or writes nothing and returns
// the error to answer with.
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, req *dialect.Inbound, who keys.Caller) error {
	hops, err := p.hops(req.Header)
	if err != nil {
		// Not a client request of its own: the outer attempt records it.
		p.log.Warn("loop: a request came back to this Catfish; a channel's URL points at it",
			"path", stats.Clip(req.Path), "hops", stats.Clip(req.Header.Get(HopHeader)))
		return err
	}
	// A shutdown that runs out of time ends the request with a proper
	// error instead of a cut connection.
	ctx, stop := context.WithCancelCause(r.Context())
	defer stop(nil)
	unhook := context.AfterFunc(p.drain, func() { stop(ErrShuttingDown) })
	defer unhook()
	if p.cfg.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.RequestTimeout)
		defer cancel()
	}
	x := &exchange{p: p, w: w, r: r, req: req, ctx: ctx, start: time.Now(), body: req.Body, info: req.Info,
		id: newRequestID(), hops: hops, who: who}
	w.Header().Set("X-Catfish-Request-Id", x.id)
	err = x.check()
	if err == nil {
		err = x.admit()
	}
	if err == nil {
		x.askUsage()
		err = x.run()
	}
	err = answerable(err, req.Info.Model)
	p.finish(x, err)
	return err
}

// check decodes a Messages or Responses request before anything is sent:
// a request that cannot be honoured gets its 400 now, in the client's
// dialect, whatever channels the scheme has. (Chat requests pass through
// as they are and are decoded only if a route translates them.)
func (x *exchange) check() error {
	if x.req.Dialect == dialect.Messages {
		// Reasoning a chat upstream gave, echoed back without a
		// signature, would make an anthropic channel refuse the request.
		if b, ok := dialect.StripUnsignedThinking(x.body); ok {
			if info, err := dialect.ScanObject(b); err == nil {
				x.body, x.info = b, info
			}
		}
	}
	if x.req.Dialect == dialect.Chat || x.req.Path == pathCountTokens {
		return nil
	}
	ir, err := dialect.DecodeRequest(x.req.Dialect, x.req.Body)
	if err != nil {
		return err
	}
	x.ir = ir
	if len(ir.Dropped) > 0 {
		x.p.log.Info("dropped on translated routes", "id", x.id, "what", strings.Join(ir.Dropped, ", "))
	}
	return nil
}

// admit asks the caller's key for leave to start: the keys actor counts
// requests and tokens against the key's limits. It never counts against
// a channel: nothing has been sent.
func (x *exchange) admit() error {
	if x.p.admit == nil {
		return nil
	}
	release, wait, err := x.p.admit.Admit(x.ctx, x.who, time.Now())
	switch {
	case err == nil:
		x.release = release
		return nil
	case errors.Is(err, keys.ErrRateLimited):
		return &dialect.Error{Status: http.StatusTooManyRequests, Type: "requests", Code: "rate_limit_exceeded",
			Message:    "Rate limit reached for this key (its requests or tokens per minute); retry after the Retry-After seconds.",
			RetryAfter: keys.RetryAfterSeconds(wait)}
	case errors.Is(err, keys.ErrQuotaExceeded):
		return dialect.Errorf(http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota",
			"This key has used its whole token quota.")
	case errors.Is(err, keys.ErrInvalidKey):
		return dialect.Errorf(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
			"Incorrect API key provided.")
	}
	return err
}

// answerable turns what the request path failed with into the answer it
// gets: a *dialect.Error (rendered in the client's dialect), or a client
// that left.
func answerable(err error, model string) error {
	var de *dialect.Error
	switch {
	case err == nil, errors.As(err, &de), errors.Is(err, errClientGone), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, scheme.ErrNoScheme):
		return dialect.Errorf(http.StatusServiceUnavailable, "upstream_error", "no_channels",
			"no channel is configured: add one on the admin page or with POST /admin/config")
	case errors.Is(err, scheme.ErrOutOfScope):
		return dialect.Errorf(http.StatusNotFound, "invalid_request_error", "model_not_found",
			"The model "+strconv.Quote(stats.Clip(model))+" does not exist or you do not have access to it.")
	case errors.Is(err, context.DeadlineExceeded):
		return dialect.Errorf(http.StatusGatewayTimeout, "timeout", "request_timeout", "the request took longer than REQUEST_TIMEOUT")
	case errors.Is(err, scheme.ErrStopped), errors.Is(err, channel.ErrStopped):
		return dialect.Errorf(http.StatusServiceUnavailable, "server_error", "shutting_down", "the server is shutting down")
	}
	return dialect.Errorf(http.StatusInternalServerError, "server_error", "internal_error", err.Error())
}

func (x *exchange) run() error {
	plan, err := x.p.router.Plan(x.ctx, x.req.Info.Model, x.who.Scope)
	if err != nil {
		return err
	}
	x.scheme = plan.Scheme()
	x.wake = plan.Wake()
	// Said on every answer, errors included: a typo in "model" that fell
	// to the default scheme shows here.
	x.w.Header().Set(schemeHeader, headerText(x.scheme))
	for c, ok := plan.Next(); ok; c, ok = plan.Next() {
		if x.cont != nil && !x.cont.open() {
			break
		}
		if done, err := x.tryChannel(c); done {
			return err
		}
	}
	if x.cont != nil {
		x.giveUp() // no channel took the broken stream over
		return nil
	}
	return x.exhausted()
}

// tryChannel sends the request to one channel, retrying transient errors.
// done means the exchange is over (answered, or a final error).
func (x *exchange) tryChannel(c scheme.Candidate) (done bool, err error) {
	for try := 0; ; try++ {
		p, err := c.Actor.Acquire(x.ctx)
		if err != nil {
			if x.ctx.Err() != nil {
				return true, x.ctx.Err()
			}
			return false, nil // deleted meanwhile
		}
		if !p.OK {
			x.noteWake(p.Until)
			return false, nil
		}
		rt, ok := routeFor(x.req, &p.Settings)
		if !ok {
			// This channel cannot serve the request at all: not its fault.
			c.Actor.Report(channel.Report{Admission: p.Admission, Verdict: channel.Neutral})
			x.skipped++
			return false, nil
		}
		mode := x.modeFor(&p.Settings, rt)
		started := time.Now()
		x.attempts = append(x.attempts, stats.Attempt{ChannelID: c.ID, Outcome: "pending", At: started,
			Type: p.Settings.Type, Upstream: rt.up.String(), Continuation: mode != modeNormal})
		res := x.attempt(c.Actor, p, rt, mode)
		log := &x.attempts[len(x.attempts)-1]
		log.Outcome, log.Status, log.Verdict, log.TTFB, log.Usage = res.outcome, res.status, res.verdict, res.ttfb, res.usage
		log.LatencyMS = float64(time.Since(started).Microseconds()) / 1000
		opened := x.report(c, p.Admission, res)
		if x.cont != nil && res.next == stepDone && !res.committed {
			// A continuation cannot answer with an error: the client's
			// stream is open. It ends with its dialect's error end.
			x.giveUp()
			return true, nil
		}
		switch res.next {
		case stepDone:
			x.answered = &res
			var ae *dialect.Error
			if errors.As(res.err, &ae) {
				return true, x.withAttempts(ae)
			}
			return true, res.err
		case stepAgain:
			try-- // not a retry: the request itself changed
		case stepRetry:
			if try >= p.Settings.MaxRetries || opened {
				return false, nil
			}
			if err := x.backoff(try, res.wait, res.waitSet); err != nil {
				return true, err
			}
		default:
			return false, nil
		}
	}
}

// report tells the channel actor how the attempt went and relays a health
// change to the router. A committed stream already reported success; only
// a later break is reported again.
func (x *exchange) report(c scheme.Candidate, adm channel.Admission, res result) (opened bool) {
	if res.fail != nil {
		x.last = res.fail
	} else if res.verdict == channel.Failure && !res.committed {
		x.lastErr = res.outcome // no detail: it names upstream hosts
		x.p.log.Warn("attempt failed", "id", x.id, "channel", c.ID, "outcome", res.outcome, "detail", stats.Clip(res.detail))
	}
	if res.committed && res.verdict != channel.Failure {
		return false
	}
	ack, err := c.Actor.Report(channel.Report{Admission: adm, Verdict: res.verdict, OpenFor: res.openFor,
		NoPrefill: res.noPrefill})
	if err != nil {
		return false
	}
	if ack.Changed {
		x.p.router.Relay(ack.Health)
	}
	return ack.Opened
}

// commit is called by an attempt at the moment it first writes to the
// client: from then on the channel has proven itself.
func (x *exchange) commit(c *channel.Actor, adm channel.Admission) {
	ack, err := c.Report(channel.Report{Admission: adm, Verdict: channel.Success})
	if err == nil && ack.Changed {
		x.p.router.Relay(ack.Health)
	}
}

func (x *exchange) noteWake(t time.Time) {
	if !t.IsZero() && (x.wake.IsZero() || t.Before(x.wake)) {
		x.wake = t
	}
}

// backoff waits before retrying the same channel: the upstream's
// Retry-After when given, else 0.5 s doubling, ±20 %.
func (x *exchange) backoff(try int, wait time.Duration, given bool) error {
	if !given {
		d := x.p.cfg.BackoffBase << min(try, 10)
		wait = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	}
	if wait <= 0 {
		return x.ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-x.ctx.Done():
		return x.ctx.Err()
	}
}

// exhausted builds the answer when no channel succeeded.
func (x *exchange) exhausted() error {
	if len(x.attempts) == 0 && x.skipped > 0 && x.wake.IsZero() {
		if x.req.Path == pathCountTokens {
			return x.countTokensLocally()
		}
		return x.withAttempts(dialect.Errorf(http.StatusNotFound, "invalid_request_error", "unsupported_route",
			"no channel of scheme "+strconv.Quote(x.scheme)+" serves "+x.req.Path))
	}
	if len(x.attempts) == 0 {
		ae := dialect.Errorf(http.StatusServiceUnavailable, "upstream_error", "no_channel_available",
			"no channel of scheme "+strconv.Quote(x.scheme)+" is available right now (all disabled or cooling down)")
		if !x.wake.IsZero() {
			ae.RetryAfter = max(1, int(time.Until(x.wake).Seconds()+0.999))
		}
		return x.withAttempts(ae)
	}
	if x.last != nil {
		return x.withAttempts(x.last)
	}
	return x.withAttempts(dialect.Errorf(http.StatusBadGateway, "upstream_error", "upstream_failed",
		"every channel of scheme "+strconv.Quote(x.scheme)+" failed; last error: "+x.lastErr))
}

// withAttempts adds the X-Catfish-Attempts header to an error answer,
// when there was an attempt to list.
func (x *exchange) withAttempts(ae *dialect.Error) *dialect.Error {
	if len(x.attempts) == 0 {
		return ae
	}
	out := *ae
	out.Header = out.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	out.Header.Set(attemptsHeader, x.attemptsValue())
	return &out
}

const (
	attemptsHeader = "X-Catfish-Attempts"
	schemeHeader   = "X-Catfish-Scheme"
)

// headerText makes a name fit for a header value: bytes outside printable
// ASCII, and '%' itself, are percent-encoded, so a scheme named in any
// script reaches every client intact.
func headerText(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '%' {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// attemptsValueNow renders the attempt chain while the last attempt is
// still running and about to answer with outcome.
func (x *exchange) attemptsValueNow(outcome string) string {
	x.attempts[len(x.attempts)-1].Outcome = outcome
	return x.attemptsValue()
}

// attemptsValue renders the attempt chain: "id=outcome, id=outcome".
func (x *exchange) attemptsValue() string {
	var b strings.Builder
	for i, a := range x.attempts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.ChannelID)
		b.WriteByte('=')
		b.WriteString(a.Outcome)
	}
	return b.String()
}

// askUsage makes a streaming chat or completions request ask for token
// usage (stream_options.include_usage) so statistics can count tokens, and
// remembers to hide the extra usage chunk from a client that did not ask.
func (x *exchange) askUsage() {
	if !x.info.Stream || x.info.IncludeUsage || (x.req.Path != "/chat/completions" && x.req.Path != "/completions") {
		return
	}
	body, ok := withIncludeUsage(x.body, &x.info)
	if !ok {
		return
	}
	info, err := dialect.ScanObject(body)
	if err != nil {
		return
	}
	x.body, x.info, x.hideUsage = body, info, true
}

// dropUsage goes back to the client's own body: an upstream refused the
// stream_options the proxy added.
func (x *exchange) dropUsage() {
	x.body, x.info, x.hideUsage = x.req.Body, x.req.Info, false
}

// withIncludeUsage returns body with stream_options.include_usage set to
// true: a new member appended at the end, or the existing stream_options
// value rewritten. The rest of the bytes are untouched.
func withIncludeUsage(body []byte, info *dialect.BodyInfo) ([]byte, bool) {
	if so := info.StreamOptions; so.Present() {
		opts := map[string]any{}
		if raw := body[so.Start:so.End]; string(raw) != "null" {
			if json.Unmarshal(raw, &opts) != nil {
				return nil, false
			}
		}
		opts["include_usage"] = true
		val, _ := json.Marshal(opts)
		out := make([]byte, 0, len(body)+len(val))
		out = append(out, body[:so.Start]...)
		out = append(out, val...)
		return append(out, body[so.End:]...), true
	}
	end := bytes.LastIndexByte(body, '}')
	if end < 0 {
		return nil, false
	}
	const member = `,"stream_options":{"include_usage":true}`
	out := make([]byte, 0, len(body)+len(member))
	out = append(out, body[:end]...)
	out = append(out, member...)
	return append(out, body[end:]...), true
}

// newRequestID returns a short random id for logs and the admin page.
func newRequestID() string {
	const hex = "0123456789abcdef"
	var b [16]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = hex[v&15]
		v >>= 4
	}
	return string(b[:])
}
