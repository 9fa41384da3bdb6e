package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"syscall"

	"catfish/channel"
	"catfish/engine/dialect"
	"catfish/engine/stats"
)

var doneEvent = []byte("data: [DONE]\n\n")

// streamRelay holds the per-stream buffers, pooled by the engine so a
// stream costs no allocation per event.
type streamRelay struct {
	br   *bufio.Reader
	sse  dialect.SSEReader
	out  []byte
	held []byte // what waits for the commit point
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
func (a *upstreamAnswer) brokenAfterCommit(res result, s streamer, err error, rc *http.ResponseController) result {
	res.outcome = breakOutcome(a.actx, err)
	res.verdict, res.usage = channel.Failure, s.usage()
	a.write(rc, s.fail(nil, a.breakReason(err)))
	return res
}

// breakOutcome names a break after commit for the attempt chain.
func breakOutcome(actx context.Context, err error) string {
	if errors.Is(context.Cause(actx), errIdleTimeout) {
		return "idle_timeout"
	}
	return "broken"
}

// breakReason is what the client is told of a break after commit.
func (a *upstreamAnswer) breakReason(err error) *dialect.Error {
	reason := "the upstream stream ended before the answer was complete"
	switch {
	case errors.Is(context.Cause(a.actx), errIdleTimeout):
		reason = "the upstream stream stalled (no data for " + a.dog.d.String() + ")"
	case errors.Is(err, dialect.ErrEventTooLarge):
		reason = "the upstream sent an event larger than 8 MiB"
	case errors.Is(err, dialect.ErrIncomplete), errors.Is(err, io.EOF):
	default:
		// Never err's text to the client: it names the upstream's
		// address ("read tcp 10.0.0.2:41234->203.0.113.9:443: ...").
		reason = "the upstream stream broke (" + breakKind(err) + ")"
		a.x.p.log.Warn("stream broke after commit", "id", a.x.id, "channel", a.x.currentChannel(), "detail", stats.Clip(errDetail(err)))
	}
	return dialect.Errorf(http.StatusBadGateway, "upstream_error", "stream_broken", reason)
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
// The tokens the upstream reported so far are kept: they were spent,
// and a key's limits and quota count them.
func (x *exchange) goneAfterCommit(res result, s streamer) result {
	res.outcome, res.verdict, res.usage = "canceled", channel.Neutral, s.usage()
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
