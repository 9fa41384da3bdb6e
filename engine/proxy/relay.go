package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
)

// A streamer is one way of relaying an upstream event stream to the
// client: passed through in one of the three dialects, or translated
// from the channel's dialect into the client's. The relay loop below does
// the reading, the commit, the timing and the writing; a streamer only
// says what each upstream event becomes.
type streamer interface {
	// feed handles one upstream data event. It appends what the client
	// gets to out, and reports whether the event bore content (the
	// commit point). An upstream error event comes back as a *dialect.Error,
	// with the bytes that tell the client already appended; an event that
	// is not valid JSON as errMalformed (dropped and logged).
	feed(name, data, out []byte) (_ []byte, content bool, err error)
	// ended reports that the upstream sent its own end marker ([DONE],
	// message_stop, response.completed): anything after it is ignored.
	ended() bool
	// finish is called at a clean end of the body: it appends what closes
	// the answer for the client, or returns dialect.ErrIncomplete when the
	// answer had not finished.
	finish(out []byte) ([]byte, error)
	// fail appends the client dialect's end of a stream that broke after
	// commit: an error every SDK raises, never a clean end.
	fail(out []byte, e *dialect.Error) []byte
	// usage is the token usage seen so far.
	usage() dialect.Usage
	// encoder is the client's encoder when the stream is encoded by
	// Catfish (translated, continued); nil when it passes through.
	encoder() dialect.Encoder
	// transcript is what the client has been sent, when it is followed
	// (continuation on); nil otherwise.
	transcript() *transcript
}

// errMalformed marks an upstream event whose data is not valid JSON.
var errMalformed = errors.New("malformed stream event")

// relay carries a 2xx event stream to the client through s. Nothing
// reaches the client until the upstream has sent content (or a complete,
// empty answer): until then failover is free, the first-byte timeout is
// running, and what s produces is held back. After that, events are
// relayed one by one, each flushed.
func (a *upstreamAnswer) relay(s streamer) result {
	x := a.x
	sr := x.p.relays.Get().(*streamRelay)
	sr.br.Reset(a.resp.Body)
	sr.sse.Reset(sr.br)
	defer func() {
		sr.br.Reset(nil)
		x.p.relays.Put(sr)
	}()
	held := sr.held[:0]
	defer func() { sr.held = held[:0] }()

	// Before commit.
	for {
		ev, err := sr.sse.Next()
		if err != nil {
			if errors.Is(err, io.EOF) && len(held) > 0 {
				// A complete answer without content (an empty reply) is
				// still an answer; an unfinished one is an empty stream.
				if out, ferr := s.finish(held); ferr == nil {
					return a.commitStream(sr, s, out, true)
				}
			}
			return a.brokenBeforeCommit(err)
		}
		if ev.Comment {
			continue
		}
		var content bool
		held, content, err = s.feed(ev.Name, ev.Data, held)
		if err != nil {
			if errors.Is(err, errMalformed) {
				x.p.log.Warn("dropped a malformed stream event", "channel", x.currentChannel())
				continue
			}
			return a.failedBeforeCommit(err)
		}
		if s.ended() && !content {
			if out, ferr := s.finish(held); ferr == nil {
				return a.commitStream(sr, s, out, true)
			}
			return result{outcome: "empty_stream", status: a.resp.StatusCode, verdict: channel.Failure, next: stepRetry}
		}
		if content {
			return a.commitStream(sr, s, held, s.ended())
		}
	}
}

// commitStream sends the headers and what was held back, then relays the
// rest. With ended, the answer is already whole.
func (a *upstreamAnswer) commitStream(sr *streamRelay, s streamer, held []byte, ended bool) result {
	x := a.x
	res := result{outcome: "ok", status: a.resp.StatusCode, verdict: channel.Success, next: stepDone,
		committed: true, ttfb: time.Since(a.start)}
	a.commit()
	h := x.w.Header()
	copyAnswerHeaders(h, a.resp.Header, a.secrets)
	h.Del("Content-Length")
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set(attemptsHeader, x.attemptsValueNow(res.outcome))
	x.w.WriteHeader(a.resp.StatusCode)
	rc := http.NewResponseController(x.w)
	if !a.write(rc, held) {
		return x.goneAfterCommit(res, s)
	}
	out := sr.out[:0]
	defer func() { sr.out = out[:0] }()
	// Each event is written as it comes and flushed before the relay
	// could wait: events the upstream sent together (the last delta,
	// the finish, the usage and [DONE], say) reach the client in one
	// write. Whatever ends the loop below comes after a flush.
	unflushed := false
	for !ended {
		if unflushed && !sr.sse.Ready() {
			if rc.Flush() != nil {
				return x.goneAfterCommit(res, s)
			}
			unflushed = false
		}
		a.dog.kick()
		ev, err := sr.sse.Next()
		if err != nil {
			if s.ended() {
				// The upstream's end marker was relayed: the client has the
				// whole answer. Whatever happens while the rest of the body
				// drains (the client hanging up at the final event, as Codex
				// does at response.completed; a reset; a shutdown) changes
				// neither what the client got nor how the attempt counts.
				res.usage = s.usage()
				return res
			}
			if errors.Is(context.Cause(x.ctx), ErrShuttingDown) {
				a.write(rc, s.fail(out[:0], dialect.Errorf(http.StatusServiceUnavailable, "server_error", "shutting_down",
					"the proxy is shutting down and could not wait for this stream to end")))
				res.outcome, res.verdict, res.usage = "shutdown", channel.Neutral, s.usage()
				return res
			}
			if x.ctx.Err() != nil {
				return x.goneAfterCommit(res, s)
			}
			if errors.Is(err, io.EOF) {
				if out, ferr := s.finish(out[:0]); ferr == nil {
					a.write(rc, out)
					res.usage = s.usage()
					return res
				}
			}
			if tr := s.transcript(); x.mayContinue(tr) {
				res.outcome = breakOutcome(a.actx, err)
				return x.breakForContinuation(res, s, tr, a.breakReason(err))
			}
			return a.brokenAfterCommit(res, s, err, rc)
		}
		if ev.Comment || s.ended() {
			continue
		}
		var perr error
		out, _, perr = s.feed(ev.Name, ev.Data, out[:0])
		if perr != nil {
			if errors.Is(perr, errMalformed) {
				x.p.log.Warn("dropped a malformed stream event", "channel", x.currentChannel())
				continue
			}
			if unflushed && rc.Flush() != nil {
				return x.goneAfterCommit(res, s)
			}
			return a.failedAfterCommit(res, s, perr, out, rc)
		}
		if len(out) > 0 {
			if _, err := x.w.Write(out); err != nil {
				return x.goneAfterCommit(res, s)
			}
			unflushed = true
		}
	}
	res.usage = s.usage()
	return res
}

// failedBeforeCommit classifies what a streamer refused before commit:
// an upstream error event (retry or fail over), or an unusable stream.
func (a *upstreamAnswer) failedBeforeCommit(err error) result {
	var de *dialect.Error
	if errors.As(err, &de) {
		return result{outcome: "stream_error", status: a.resp.StatusCode, verdict: channel.Failure, next: stepRetry,
			fail: a.redactError(de)}
	}
	return result{outcome: "bad_stream", status: a.resp.StatusCode, verdict: channel.Failure, next: stepNext}
}

// failedAfterCommit ends (or hands to a continuation) a stream whose
// upstream reported an error mid-stream: out holds what feed made of the
// error event, which is the final event (the dialect's error end when
// feed relayed nothing); no clean end follows.
func (a *upstreamAnswer) failedAfterCommit(res result, s streamer, err error, out []byte, rc *http.ResponseController) result {
	var de *dialect.Error
	if !errors.As(err, &de) {
		return a.brokenAfterCommit(res, s, err, rc)
	}
	res.outcome = "stream_error"
	if tr := s.transcript(); a.x.mayContinue(tr) {
		return a.x.breakForContinuation(res, s, tr, a.redactError(de))
	}
	if len(out) == 0 {
		out = s.fail(out, a.redactError(de))
	}
	a.write(rc, redactSecrets(out, a.secrets))
	res.verdict, res.usage = channel.Failure, s.usage()
	return res
}

// write sends b to the client and flushes; false when the client is gone.
func (a *upstreamAnswer) write(rc *http.ResponseController, b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if _, err := a.x.w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// redactError masks the channel's secrets in an upstream error.
func (a *upstreamAnswer) redactError(e *dialect.Error) *dialect.Error {
	out := *e
	out.Body = redactSecrets(out.Body, a.secrets)
	out.Message = string(redactSecrets([]byte(out.Message), a.secrets))
	return &out
}
