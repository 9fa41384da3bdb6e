package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"syscall"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
	"catfish/engine/stats"
)

var doneEvent = []byte("data: [DONE]\n\n")

// streamRelay holds the per-stream buffers, pooled by the engine so a
// stream costs no allocation per event.
type streamRelay struct {
	br  *bufio.Reader
	sse dialect.SSEReader
	out []byte
}

// stream handles a 2xx event stream. Nothing reaches the client until the
// upstream has sent a data event that is valid JSON and not an error: until
// then failover is free and the first-byte timeout is running. After that,
// events are relayed one by one, each flushed.
func (a *upstreamAnswer) stream() result {
	x := a.x
	sr := x.p.relays.Get().(*streamRelay)
	sr.br.Reset(a.resp.Body)
	sr.sse.Reset(sr.br)
	defer func() {
		sr.br.Reset(nil)
		x.p.relays.Put(sr)
	}()

	var ev dialect.Event
	var info dialect.BodyInfo
	for {
		var err error
		ev, err = sr.sse.Next()
		if err != nil {
			return a.brokenBeforeCommit(err)
		}
		if ev.Comment {
			continue
		}
		if isDone(ev.Data) {
			return result{outcome: "empty_stream", status: a.resp.StatusCode, verdict: channel.Failure, next: stepRetry}
		}
		info, err = dialect.ScanObject(ev.Data)
		if err != nil {
			x.p.log.Warn("dropped a malformed stream event", "channel", x.currentChannel(), "error", err.Error())
			continue
		}
		if info.Error.Present() {
			return result{outcome: "stream_error", status: a.resp.StatusCode, verdict: channel.Failure, next: stepRetry,
				fail: &dialect.Error{Status: http.StatusBadGateway, Body: redactKey(bytes.Clone(ev.Data), a.key),
					Header: http.Header{"Content-Type": {"application/json"}}}}
		}
		break
	}

	// Commit: the channel has proven itself.
	res := result{outcome: "ok", status: a.resp.StatusCode, verdict: channel.Success, next: stepDone,
		committed: true, ttfb: time.Since(a.start)}
	a.commit()
	h := x.w.Header()
	copyAnswerHeaders(h, a.resp.Header, a.key)
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set(attemptsHeader, x.attemptsValueNow(res.outcome))
	x.w.WriteHeader(a.resp.StatusCode)
	rc := http.NewResponseController(x.w)

	t := streamTracker{hide: x.hideUsage}
	var doneSeen bool
	for {
		if out, keep := t.event(ev.Name, ev.Data, &info, &res.usage); keep {
			sr.out = dialect.AppendEvent(sr.out[:0], ev.Name, out)
			if _, err := x.w.Write(sr.out); err != nil {
				return x.goneAfterCommit(res)
			}
			if err := rc.Flush(); err != nil {
				return x.goneAfterCommit(res)
			}
		}
		for {
			a.dog.kick()
			var err error
			ev, err = sr.sse.Next()
			if err != nil {
				if errors.Is(context.Cause(x.ctx), ErrShuttingDown) {
					x.w.Write(dialect.AppendEvent(nil, nil, dialect.OpenAIErrorJSON("server_error", "shutting_down",
						"the proxy is shutting down and could not wait for this stream to end", "")))
					rc.Flush()
					res.outcome, res.verdict = "shutdown", channel.Neutral
					return res
				}
				if x.ctx.Err() != nil {
					return x.goneAfterCommit(res)
				}
				if errors.Is(err, io.EOF) && (doneSeen || t.finished) {
					if !doneSeen {
						// Complete but the upstream forgot [DONE]: finish it.
						x.w.Write(doneEvent)
						rc.Flush()
					}
					return res
				}
				return a.brokenAfterCommit(res, err, rc)
			}
			if ev.Comment || doneSeen {
				continue
			}
			if isDone(ev.Data) {
				doneSeen = true
				if _, err := x.w.Write(doneEvent); err != nil {
					return x.goneAfterCommit(res)
				}
				rc.Flush()
				continue
			}
			info, err = dialect.ScanObject(ev.Data)
			if err != nil {
				x.p.log.Warn("dropped a malformed stream event", "channel", x.currentChannel(), "error", err.Error())
				continue
			}
			if info.Error.Present() {
				// The upstream reported an error mid-stream: relay it as
				// the final event; no [DONE] follows.
				sr.out = dialect.AppendEvent(sr.out[:0], nil, redactKey(ev.Data, a.key))
				x.w.Write(sr.out)
				rc.Flush()
				res.outcome, res.verdict = "stream_error", channel.Failure
				return res
			}
			break
		}
	}
}

// brokenBeforeCommit classifies a stream that failed before its first
// event: failover is still free.
func (a *upstreamAnswer) brokenBeforeCommit(err error) result {
	if a.x.ctx.Err() != nil {
		return clientGone(a.x.ctx)
	}
	if errors.Is(err, io.EOF) {
		return result{outcome: "empty_stream", status: a.resp.StatusCode, verdict: channel.Failure, next: stepRetry}
	}
	res := a.x.classifyError(a.actx, err)
	res.status = a.resp.StatusCode
	return res
}

// brokenAfterCommit ends a stream that broke after bytes reached the
// client: one final error event, no [DONE], so every SDK reports an error
// instead of a truncated success.
func (a *upstreamAnswer) brokenAfterCommit(res result, err error, rc *http.ResponseController) result {
	reason := "the upstream stream ended before the answer was complete"
	res.outcome = "broken"
	switch cause := context.Cause(a.actx); {
	case errors.Is(cause, errIdleTimeout):
		reason = "the upstream stream stalled (no data for " + a.dog.d.String() + ")"
		res.outcome = "idle_timeout"
	case errors.Is(err, dialect.ErrEventTooLarge):
		reason = "the upstream sent an event larger than 8 MiB"
	case !errors.Is(err, io.EOF):
		// Never err's text to the client: it names the upstream's
		// address ("read tcp 10.0.0.2:41234->203.0.113.9:443: ...").
		reason = "the upstream stream broke (" + breakKind(err) + ")"
		a.x.p.log.Warn("stream broke after commit", "id", a.x.id, "channel", a.x.currentChannel(), "detail", stats.Clip(errDetail(err)))
	}
	res.verdict = channel.Failure
	a.x.w.Write(dialect.AppendEvent(nil, nil, dialect.OpenAIErrorJSON("upstream_error", "stream_broken", reason, "")))
	rc.Flush()
	return res
}

// breakKind names a mid-stream read error without its addresses.
func breakKind(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of the body"
	}
	return "read error"
}

// goneAfterCommit ends a stream whose client left.
func (x *exchange) goneAfterCommit(res result) result {
	res.outcome, res.verdict = "canceled", channel.Neutral
	res.err = errClientGoneErr(context.Canceled)
	return res
}

func isDone(data []byte) bool {
	return len(data) >= 6 && string(bytes.TrimSpace(data)) == "[DONE]"
}

// streamTracker watches a relayed stream for its end and its usage, and
// hides what the proxy itself asked for.
type streamTracker struct {
	scratch  []byte // reused for the cut events, so hiding costs no allocation
	hide     bool   // the proxy added include_usage: hide its traces
	finished bool   // a finish_reason, a usage chunk or a completed response was seen
}

// event inspects one valid event. It returns the data to relay and whether
// to relay it at all.
func (t *streamTracker) event(name, data []byte, info *dialect.BodyInfo, u *dialect.Usage) ([]byte, bool) {
	if info.Usage.Present() {
		*u = dialect.ParseUsage(data, info.Usage)
		t.finished = true
	} else if bytes.Contains(data, []byte(`"response.completed"`)) || string(name) == "response.completed" {
		// Responses API: usage sits inside the response object.
		if nested := dialect.ResponseUsage(data); nested.Total > 0 {
			*u = nested
		}
		t.finished = true
	}
	if !t.finished && hasFinishReason(data) {
		t.finished = true
	}
	if !t.hide {
		return data, true
	}
	if info.Usage.Present() && info.EmptyChoices {
		return nil, false // the usage chunk the client did not ask for
	}
	if m := info.UsageMember; m.Present() && !info.Usage.Present() {
		t.scratch = cutMember(t.scratch[:0], data, m)
		return t.scratch, true // "usage":null added by include_usage
	}
	return data, true
}

// hasFinishReason reports a "finish_reason" key with a non-null value. An
// unescaped `"finish_reason":` can only be a key: inside a JSON string the
// quotes would be escaped.
func hasFinishReason(data []byte) bool {
	key := []byte(`"finish_reason"`)
	for {
		i := bytes.Index(data, key)
		if i < 0 {
			return false
		}
		rest := bytes.TrimLeft(data[i+len(key):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			rest = bytes.TrimLeft(rest[1:], " \t\r\n")
			if len(rest) > 0 && rest[0] != 'n' {
				return true
			}
		}
		data = data[i+len(key):]
	}
}

// cutMember appends to dst the bytes of data without one object member and
// the comma that joins it to its neighbour; the rest is left as it was.
func cutMember(dst, data []byte, m dialect.Span) []byte {
	start, end := m.Start, m.End
	i := start - 1
	for i >= 0 && isSpace(data[i]) {
		i--
	}
	if i >= 0 && data[i] == ',' {
		start = i
	} else {
		j := end
		for j < len(data) && isSpace(data[j]) {
			j++
		}
		if j < len(data) && data[j] == ',' {
			end = j + 1
			for end < len(data) && isSpace(data[end]) {
				end++
			}
		}
	}
	dst = append(dst, data[:start]...)
	return append(dst, data[end:]...)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
