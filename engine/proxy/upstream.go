package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
)

// Causes of an attempt's cancellation, told apart with context.Cause.
var (
	errFirstByteTimeout = errors.New("first byte timeout")
	errIdleTimeout      = errors.New("stream idle timeout")
)

// watchdog is an attempt's one timer. It first guards the first byte;
// once bytes flow, every kick restarts it as the idle deadline. When it
// fires it cancels the attempt with the cause of the deadline that passed.
type watchdog struct {
	t    *time.Timer
	idle atomic.Bool
	d    time.Duration // the idle limit
}

func newWatchdog(first, idle time.Duration, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{d: idle}
	w.t = time.AfterFunc(first, func() {
		if w.idle.Load() {
			cancel(errIdleTimeout)
		} else {
			cancel(errFirstByteTimeout)
		}
	})
	return w
}

// kick says data arrived: the idle deadline starts again.
func (w *watchdog) kick() {
	w.idle.Store(true)
	w.t.Reset(w.d)
}

func (w *watchdog) stop() { w.t.Stop() }

// maxErrorBody bounds how much of an upstream error answer is kept.
const maxErrorBody = 1 << 20

// attempt sends the request to one channel and, on success, relays the
// answer to the client. It runs in the request's goroutine.
func (x *exchange) attempt(c *channel.Actor, p channel.Permit, rt route, mode attemptMode) result {
	s := &p.Settings
	start := time.Now()
	actx, cancel := context.WithCancelCause(x.ctx)
	defer cancel(nil)
	if mode != modeNormal {
		var stop context.CancelFunc
		actx, stop = context.WithDeadline(actx, x.cont.deadline)
		defer stop()
	}
	dog := newWatchdog(s.FirstByte, x.p.cfg.IdleTimeout, cancel)
	defer dog.stop()

	ureq, err := x.upstreamRequest(actx, s, rt, mode)
	if err != nil {
		var de *dialect.Error
		if errors.As(err, &de) {
			// The request cannot be put in this channel's dialect: every
			// channel of that dialect would refuse it alike.
			return result{outcome: "bad_request", status: de.Status, verdict: channel.Neutral, next: stepDone, err: de}
		}
		return result{outcome: "bad_url", verdict: channel.Failure, next: stepNext}
	}
	resp, err := x.p.transport.RoundTrip(ureq)
	if err != nil {
		return x.classifyError(actx, err)
	}
	defer resp.Body.Close()
	gunzip(resp)
	a := &upstreamAnswer{x: x, resp: resp, dog: dog, actx: actx, start: start, rt: rt,
		secrets: s.Secrets(), commit: func() { x.commit(c, p.Admission) }}
	if mode != modeNormal {
		return a.continuation(c, mode)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return a.failure()
	}
	if x.req.Info.Stream && isEventStream(resp.Header) {
		return a.relay(x.streamerFor(rt, a.secrets))
	}
	return a.whole()
}

// streamerFor picks how a stream on route rt reaches the client. With
// continuation on, what the client is sent is followed in the internal
// form, so a break can be continued elsewhere.
func (x *exchange) streamerFor(rt route, secrets []string) streamer {
	follow := x.p.cfg.Continuation && x.p.cfg.MaxContinuations > 0
	if !rt.through {
		t := &translated{dec: dialect.NewDecoder(rt.up), enc: dialect.NewEncoder(x.req.Dialect, x.ir)}
		if follow {
			t.tr = &transcript{}
		}
		return t
	}
	var sh *shadow
	if follow && (rt.up != dialect.Chat || x.req.Path == pathChat) {
		sh = &shadow{dec: dialect.NewDecoder(rt.up)}
	}
	switch rt.up {
	case dialect.Messages:
		return &messagesPass{secrets: secrets, sh: sh}
	case dialect.Responses:
		return &responsesPass{secrets: secrets, sh: sh}
	}
	return &chatPass{t: streamTracker{hide: x.hideUsage}, secrets: secrets, sh: sh}
}

// upstreamRequest builds the outgoing request on route rt: the channel's
// URL and path, its credentials and dialect headers, the client's headers
// minus the ones that must not travel, and the body: the client's bytes
// with the model override spliced in, or the request translated.
func (x *exchange) upstreamRequest(ctx context.Context, s *channel.Resolved, rt route, mode attemptMode) (*http.Request, error) {
	url := s.URL + rt.path
	var body []byte
	var err error
	switch {
	case mode != modeNormal:
		body, err = x.continuationBody(rt, s.Model, mode == modePrefill)
	case rt.through:
		body = x.upstreamBody(s.Model)
	default:
		body, err = x.translatedBody(rt.up, s.Model)
	}
	if err != nil {
		return nil, err
	}
	if rt.through && x.req.Query != "" {
		url += "?" + x.req.Query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = forwardHeaders(x.req.Header)
	setAuth(req.Header, x.req.Header, s)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HopHeader, x.hops)
	if x.req.Info.Stream {
		req.Header.Set("Accept", "text/event-stream")
	} else if !rt.through {
		req.Header.Set("Accept", "application/json")
	}
	return req, nil
}

// translatedBody is the request in dialect d asking for model (the
// client's model when the channel has no override). The internal form is
// decoded once per request, the encoding once per dialect and model.
func (x *exchange) translatedBody(d dialect.Dialect, model string) ([]byte, error) {
	if model == "" {
		model = x.req.Info.Model
	}
	if x.ir == nil {
		ir, err := dialect.DecodeRequest(x.req.Dialect, x.req.Body)
		if err != nil {
			return nil, err
		}
		x.ir = ir
		if len(ir.Dropped) > 0 {
			x.p.log.Info("dropped on a translated route", "id", x.id, "what", strings.Join(ir.Dropped, ", "))
		}
	}
	key := translation{d, model}
	if b, ok := x.bodies[key]; ok {
		return b, nil
	}
	r := x.ir
	if x.sent != nil {
		r = x.sent // with the settings upstreams refused relaxed
	}
	b, err := dialect.EncodeRequest(d, r, model)
	if err != nil {
		return nil, err
	}
	if x.bodies == nil {
		x.bodies = map[translation][]byte{}
	}
	x.bodies[key] = b
	return b, nil
}

// upstreamBody returns the body to send: the client's bytes, with the
// model value replaced when the channel overrides it. Only the model's
// bytes change; the rest of the document is passed through untouched.
func (x *exchange) upstreamBody(model string) []byte {
	body := x.body
	info := &x.info
	if model == "" || model == info.Model || !info.ModelSpan.Present() {
		return body
	}
	q, _ := json.Marshal(model)
	out := make([]byte, 0, len(body)-info.ModelSpan.End+info.ModelSpan.Start+len(q))
	out = append(out, body[:info.ModelSpan.Start]...)
	out = append(out, q...)
	out = append(out, body[info.ModelSpan.End:]...)
	return out
}

// translation names one encoding of the request.
type translation struct {
	d     dialect.Dialect
	model string
}

// hopHeader reports headers that are never forwarded upstream:
// connection-level headers, the client's credentials (the upstream gets the
// channel's key instead), and length and encoding, which the transport sets.
func hopHeader(k string) bool {
	switch k {
	case "Authorization", "Cookie", "Host", "Content-Length", "Expect",
		"Connection", "Keep-Alive", "Proxy-Authorization", "Proxy-Authenticate",
		"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Accept-Encoding", "X-Api-Key", "Api-Key", "Forwarded",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip":
		return true
	}
	return strings.HasPrefix(k, "X-Catfish-")
}

func forwardHeaders(in http.Header) http.Header {
	out := make(http.Header, len(in))
	for k, v := range in {
		if hopHeader(k) {
			continue
		}
		out[k] = v
	}
	for _, f := range in.Values("Connection") {
		for name := range strings.SplitSeq(f, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	return out
}

// gunzip makes a gzip-encoded answer readable as what it encodes. The
// proxy asks for no encoding, yet some upstreams gzip anyway: decoded, the
// answer is checked and relayed like any other, without the header.
func gunzip(resp *http.Response) {
	switch strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))) {
	case "gzip", "x-gzip":
	default:
		return
	}
	resp.Body = &gzipBody{src: resp.Body}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
}

// gzipBody decodes a gzip body. The gzip header is read with the first
// Read, not at once, so that the wait for it runs under the attempt's
// first-byte deadline like any other read.
type gzipBody struct {
	src io.ReadCloser
	zr  *gzip.Reader
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil {
		zr, err := gzip.NewReader(g.src)
		if err != nil {
			return 0, err
		}
		g.zr = zr
	}
	return g.zr.Read(p)
}

func (g *gzipBody) Close() error { return g.src.Close() }

// classifyError turns a transport error (no HTTP answer) into a result,
// following the failover table: resets are retried, timeouts, refusals and
// TLS errors move on at once.
func (x *exchange) classifyError(actx context.Context, err error) result {
	if x.ctx.Err() != nil {
		return clientGone(x.ctx)
	}
	res := x.classifyNetError(actx, err)
	res.detail = errDetail(err)
	return res
}

// errDetail is an error's text without the request URL the transport
// wraps around it.
func errDetail(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func (x *exchange) classifyNetError(actx context.Context, err error) result {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		// The proxy itself is out of file descriptors: no channel is at
		// fault and none would do better. Say so plainly.
		x.p.log.Error("out of file descriptors: raise the open-files limit (ulimit -n / LimitNOFILE)", "error", err.Error())
		return result{outcome: "local_error", verdict: channel.Neutral, next: stepDone,
			err: dialect.Errorf(http.StatusServiceUnavailable, "server_error", "proxy_overloaded",
				"the proxy has run out of file descriptors; try again later")}
	}
	switch cause := context.Cause(actx); {
	case errors.Is(cause, errFirstByteTimeout):
		return result{outcome: "timeout", verdict: channel.Failure, next: stepNext}
	case errors.Is(cause, errIdleTimeout):
		return result{outcome: "idle_timeout", verdict: channel.Failure, next: stepNext}
	}
	var nerr net.Error
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return result{outcome: "refused", verdict: channel.Failure, next: stepNext}
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, new(flate.CorruptInputError)):
		return result{outcome: "bad_encoding", verdict: channel.Failure, next: stepNext}
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &recErr), errors.As(err, &alert), strings.Contains(err.Error(), "tls: "):
		return result{outcome: "tls_error", verdict: channel.Failure, next: stepNext}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		if errors.As(err, &nerr) && nerr.Timeout() {
			return result{outcome: "connect_timeout", verdict: channel.Failure, next: stepNext}
		}
		return result{outcome: "connect_error", verdict: channel.Failure, next: stepNext}
	case errors.As(err, &nerr) && nerr.Timeout():
		return result{outcome: "timeout", verdict: channel.Failure, next: stepNext}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF):
		return result{outcome: "reset", verdict: channel.Failure, next: stepRetry}
	}
	return result{outcome: "network_error", verdict: channel.Failure, next: stepNext}
}

func clientGone(ctx context.Context) result {
	if errors.Is(context.Cause(ctx), ErrShuttingDown) {
		return result{outcome: "shutdown", verdict: channel.Neutral, next: stepDone,
			err: dialect.Errorf(http.StatusServiceUnavailable, "server_error", "shutting_down", "the proxy is shutting down")}
	}
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return result{outcome: "request_timeout", verdict: channel.Neutral, next: stepDone, err: err}
	}
	return result{outcome: "canceled", verdict: channel.Neutral, next: stepDone, err: errClientGoneErr(err)}
}

func errClientGoneErr(err error) error { return errors.Join(errClientGone, err) }

// upstreamAnswer is an HTTP answer being read.
type upstreamAnswer struct {
	x    *exchange
	resp *http.Response
	dog  *watchdog
	actx context.Context
	// start is when the attempt began: a channel's time to first byte runs
	// from there, not from the client request's start, which would charge
	// it the time earlier channels took.
	start time.Time
	// rt is the route the attempt took.
	rt route
	// secrets are the channel's key and header values, redacted from what
	// the proxy relays.
	secrets []string
	commit  func()
}

// errTooLarge is a 2xx body over the limit: not relayed, not truncated.
var errTooLarge = errors.New("upstream answer larger than the limit")

// readAll reads the body, resetting the idle deadline on every read. It
// reads straight into one buffer sized by Content-Length when the upstream
// sends one. Past limit it stops: with truncate it returns what it has,
// otherwise errTooLarge.
func (a *upstreamAnswer) readAll(limit int64, truncate bool) ([]byte, error) {
	a.dog.kick()
	size := int64(4096)
	if cl := a.resp.ContentLength; cl >= 0 && cl < limit {
		size = cl + 1 // one spare byte to see EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= limit {
				if truncate {
					return buf, nil
				}
				return nil, errTooLarge
			}
			buf = slices.Grow(buf, int(min(int64(cap(buf)), limit-int64(len(buf)))))
		}
		n, err := a.resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		a.dog.kick()
	}
}

// readError classifies a failure to read the body.
func (a *upstreamAnswer) readError(err error) result {
	return a.x.classifyError(a.actx, err)
}

// failure handles a non-2xx answer.
func (a *upstreamAnswer) failure() result {
	status := a.resp.StatusCode
	body, err := a.readAll(maxErrorBody, true)
	if err != nil && a.x.ctx.Err() != nil {
		return clientGone(a.x.ctx)
	}
	body = redactSecrets(body, a.secrets)
	fail := upstreamError(status, a.resp.Header, body, a.rt.up)
	res := result{outcome: "http_" + strconv.Itoa(status), status: status, fail: fail}
	switch {
	case status == 429 || status == 500 || status == 502 || status == 503 || status == 504 || (status >= 520 && status <= 529):
		res.verdict, res.next = channel.Failure, stepRetry
		if ra, ok := retryAfter(a.resp.Header, time.Now()); ok {
			if ra <= a.x.p.cfg.RetryAfterMax {
				res.wait, res.waitSet = ra, true
			} else if status == 429 {
				// Too long to wait here: keep the channel out until then,
				// within reason.
				res.openFor, res.next = min(ra, a.x.p.cfg.RetryAfterOpenMax), stepNext
			}
		}
	case status == http.StatusLoopDetected:
		// The request came back to a Catfish it had passed (maybe this
		// one): the configuration loops, and no channel is to blame.
		res.verdict, res.next = channel.Neutral, stepNext
	case status == 404 || status == 405 || status == 415 || status == 431:
		// The upstream does not serve this request: a path, model or
		// header it lacks. Another channel may; but any client can send
		// such a request, so it must not open this channel's breaker.
		res.verdict, res.next = channel.Neutral, stepNext
	case (status == 400 || status == 413 || status == 422) && isContextLength(body):
		// Another channel may hold a larger context; this one is not at fault.
		res.outcome, res.verdict, res.next = "context_length", channel.Neutral, stepNext
	case (status == 400 || status == 422) && !a.rt.through && a.x.relax(body, a.rt.up):
		// A setting of the client's own vendor this upstream refuses:
		// ask again without it (adjust.go).
		res.outcome, res.verdict, res.next = "setting_refused", channel.Neutral, stepAgain
	case (status == 400 || status == 422) && a.x.hideUsage && bytes.Contains(body, []byte("stream_options")):
		// This upstream does not know the stream_options the proxy added
		// to count tokens: ask again exactly as the client asked.
		a.x.dropUsage()
		res.outcome, res.verdict, res.next = "no_stream_options", channel.Neutral, stepAgain
	case status == 400 || status == 413 || status == 422:
		// The request itself is wrong: every channel would say the same.
		res.outcome, res.verdict, res.next = "client_error_"+strconv.Itoa(status), channel.Neutral, stepDone
		res.err = fail
	default:
		res.verdict, res.next = channel.Failure, stepNext
	}
	return res
}

// upstreamError keeps an upstream's error answer to pass on: its body as is
// when it is OpenAI-shaped JSON, else wrapped in that shape.
func upstreamError(status int, h http.Header, body []byte, d dialect.Dialect) *dialect.Error {
	if info, err := dialect.ScanObject(body); err == nil && info.Error.Present() {
		return &dialect.Error{Status: status, Body: body, BodyDialect: d, Header: jsonHeader()}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 300 {
		text = text[:300] + "…"
	}
	msg := "upstream answered HTTP " + strconv.Itoa(status)
	if text != "" {
		msg += ": " + text
	}
	return dialect.Errorf(status, "upstream_error", "upstream_"+strconv.Itoa(status), msg)
}

// isContextLength reports whether an error answer says the prompt is too
// long for this model: OpenAI's context_length_exceeded, or Anthropic's
// invalid_request_error saying the prompt is too long.
func isContextLength(body []byte) bool {
	var doc struct {
		Error struct {
			Code    any    `json:"code"`
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	code, _ := doc.Error.Code.(string)
	return code == "context_length_exceeded" || doc.Error.Type == "context_length_exceeded" ||
		strings.Contains(doc.Error.Message, "context_length_exceeded") ||
		(doc.Error.Type == "invalid_request_error" && strings.Contains(strings.ToLower(doc.Error.Message), "prompt is too long"))
}

// retryAfter parses Retry-After (seconds or an HTTP date) and the
// retry-after-ms variant some providers send.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return seconds(ms / 1000), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return seconds(s), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// maxRetryAfter caps what an upstream may ask for: a year is "very long"
// and stays clear of time.Duration's overflow (and of NaN and Inf).
const maxRetryAfter = 365 * 24 * time.Hour

func seconds(s float64) time.Duration {
	if !(s < maxRetryAfter.Seconds()) { // also true for NaN and +Inf
		return maxRetryAfter
	}
	return time.Duration(s * float64(time.Second))
}

// whole handles a 2xx answer that is not a stream: read it all, check it,
// then send it. Until the last byte is read, failover is still free.
func (a *upstreamAnswer) whole() result {
	if isEventStream(a.resp.Header) {
		// An event stream nobody asked for: a bad answer, however long it
		// would last. Its text is never relayed raw.
		return result{outcome: "unexpected_stream", status: a.resp.StatusCode, verdict: channel.Failure, next: stepNext}
	}
	ct := a.resp.Header.Get("Content-Type")
	if !expectJSON(ct) {
		return a.passThrough()
	}
	body, err := a.readAll(a.x.p.cfg.BodyLimit*4, false)
	if errors.Is(err, errTooLarge) {
		return result{outcome: "too_large", status: a.resp.StatusCode, verdict: channel.Failure, next: stepNext}
	}
	if err != nil {
		return a.readError(err)
	}
	info, err := dialect.ScanObject(body)
	if err != nil {
		return result{outcome: "bad_response", status: a.resp.StatusCode, verdict: channel.Failure, next: stepNext}
	}
	if info.Error.Present() {
		// 200 with an error document: the upstream failed, whatever its status says.
		return result{outcome: "error_body", status: a.resp.StatusCode, verdict: channel.Failure, next: stepNext,
			fail: &dialect.Error{Status: http.StatusBadGateway, Body: redactSecrets(body, a.secrets), BodyDialect: a.rt.up,
				Header: jsonHeader()}}
	}
	res := result{outcome: "ok", status: a.resp.StatusCode, verdict: channel.Success, next: stepDone,
		ttfb: time.Since(a.start)}
	if a.rt.through {
		res.usage = dialect.ParseUsage(body, info.Usage)
	} else {
		r, err := dialect.DecodeResponse(a.rt.up, body)
		if err != nil {
			return result{outcome: "bad_response", status: a.resp.StatusCode, verdict: channel.Failure, next: stepNext}
		}
		res.usage = r.Usage
		body = dialect.EncodeResponse(a.x.req.Dialect, r, a.x.ir)
	}
	h := a.x.w.Header()
	copyAnswerHeaders(h, a.resp.Header, a.secrets)
	if !a.rt.through {
		h.Set("Content-Type", "application/json")
	}
	h.Set(attemptsHeader, a.x.attemptsValueNow(res.outcome))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	a.x.w.WriteHeader(a.resp.StatusCode)
	a.x.w.Write(body)
	return res
}

// passThrough relays a 2xx answer that is not JSON (audio, an image) as
// it comes, flushing as it goes.
func (a *upstreamAnswer) passThrough() result {
	res := result{outcome: "ok", status: a.resp.StatusCode, verdict: channel.Success, next: stepDone,
		ttfb: time.Since(a.start), committed: true}
	a.dog.kick()
	a.commit()
	h := a.x.w.Header()
	copyAnswerHeaders(h, a.resp.Header, a.secrets)
	if cl := a.resp.Header.Get("Content-Length"); cl != "" {
		h.Set("Content-Length", cl)
	}
	h.Set(attemptsHeader, a.x.attemptsValueNow(res.outcome))
	a.x.w.WriteHeader(a.resp.StatusCode)
	rc := http.NewResponseController(a.x.w)
	buf := a.x.p.bufs.Get().(*[]byte)
	defer a.x.p.bufs.Put(buf)
	for {
		n, err := a.resp.Body.Read(*buf)
		if n > 0 {
			a.dog.kick()
			if _, werr := a.x.w.Write((*buf)[:n]); werr != nil {
				return clientGone(a.x.ctx)
			}
			rc.Flush()
		}
		if err == io.EOF {
			return res
		}
		if err != nil {
			if a.x.ctx.Err() != nil {
				return clientGone(a.x.ctx)
			}
			res.outcome, res.verdict = "broken", channel.Failure
			return res
		}
	}
}

// expectJSON reports whether a 2xx answer with this Content-Type must be
// JSON: JSON types, HTML (an error page in disguise), text and no type at
// all. Audio, images and other binary types pass through.
func expectJSON(ct string) bool {
	if ct == "" {
		return true
	}
	mt := dialect.MediaType(ct)
	return mt == "" || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		(strings.HasPrefix(mt, "text/") && mt != "text/event-stream")
}

func isEventStream(h http.Header) bool {
	return dialect.MediaType(h.Get("Content-Type")) == "text/event-stream"
}

// answerSkip reports upstream answer headers that are not relayed.
func answerSkip(k string) bool {
	switch k {
	case "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding",
		"Trailer", "Upgrade", "Set-Cookie", "Proxy-Authenticate", "Alt-Svc",
		"Strict-Transport-Security":
		return true
	}
	return strings.HasPrefix(k, "X-Catfish-")
}

// copyAnswerHeaders relays the upstream's answer headers, minus the
// skipped ones and with the channel's secrets redacted.
func copyAnswerHeaders(dst, src http.Header, secrets []string) {
	for k, v := range src {
		if answerSkip(k) {
			continue
		}
		cloned := false
		for i, s := range v {
			r := s
			for _, key := range secrets {
				r = redactKeyString(r, key)
			}
			if r != s {
				if !cloned {
					v, cloned = slices.Clone(v), true
				}
				v[i] = r
			}
		}
		dst[k] = v
	}
}

// redactSecrets masks every secret of a channel in b.
func redactSecrets(b []byte, secrets []string) []byte {
	for _, key := range secrets {
		b = redactKey(b, key)
	}
	return b
}
