package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"catfish/engine/dialect"
)

// chatPass relays a chat (or completions) stream as it is, hiding the
// usage chunk the proxy asked for on behalf of a client that did not.
type chatPass struct {
	t       streamTracker
	u       dialect.Usage
	done    bool // [DONE] seen
	data    bool // a chunk seen: a [DONE] alone is no answer
	secrets []string
	sh      *shadow // follows the stream when continuation is on
}

func (c *chatPass) feed(name, data, out []byte) ([]byte, bool, error) {
	if isDone(data) {
		c.done = true
		return append(out, doneEvent...), false, nil
	}
	info, err := dialect.ScanObject(data)
	if err != nil {
		return out, false, errMalformed
	}
	if info.Error.Present() {
		body := redactSecrets(bytes.Clone(data), c.secrets)
		return dialect.AppendEvent(out, nil, body), false,
			&dialect.Error{Status: http.StatusBadGateway, Body: body, Header: jsonHeader()}
	}
	c.data = true
	c.sh.feed(name, data)
	if d, keep := c.t.event(name, data, &info, &c.u); keep {
		out = dialect.AppendEvent(out, name, d)
	}
	return out, true, nil
}

func (c *chatPass) ended() bool { return c.done }

// finish completes a stream that ended without [DONE] after its finish
// (or usage) chunk; one that never finished is incomplete.
func (c *chatPass) finish(out []byte) ([]byte, error) {
	switch {
	case c.done && c.data:
		return out, nil
	case c.t.finished:
		return append(out, doneEvent...), nil
	}
	return out, dialect.ErrIncomplete
}

// fail ends a broken chat stream with a data event whose payload starts
// exactly with {"error": (go-openai looks for that prefix), and no [DONE].
func (c *chatPass) fail(out []byte, e *dialect.Error) []byte {
	return dialect.AppendEvent(out, nil, dialect.OpenAIErrorJSON(e.Type, e.Code, e.Message, ""))
}

func (c *chatPass) usage() dialect.Usage { return c.u }

func (c *chatPass) encoder() dialect.Encoder { return nil }

func (c *chatPass) transcript() *transcript { return c.sh.transcript() }

// messagesPass relays an Anthropic Messages stream as it is.
type messagesPass struct {
	u       dialect.Usage
	done    bool
	secrets []string
	sh      *shadow
}

func (m *messagesPass) feed(name, data, out []byte) ([]byte, bool, error) {
	if _, err := dialect.ScanObject(data); err != nil {
		return out, false, errMalformed
	}
	typ := string(name)
	if typ == "" {
		typ = eventType(data)
	}
	if typ != "error" {
		m.sh.feed(name, data)
	}
	content := false
	switch typ {
	case "error":
		body := redactSecrets(bytes.Clone(data), m.secrets)
		return dialect.AppendEvent(out, []byte("error"), body), false, messagesStreamError(body)
	case "message_start":
		var ev struct {
			Message struct {
				Usage json.RawMessage `json:"usage"`
			} `json:"message"`
		}
		if json.Unmarshal(data, &ev) == nil && len(ev.Message.Usage) > 0 {
			m.u = dialect.ParseUsage(ev.Message.Usage, dialect.Span{Start: 0, End: len(ev.Message.Usage)})
		}
	case "message_delta":
		m.u = messagesDeltaUsage(data, m.u)
	case "message_stop":
		m.done = true
	case "content_block_start", "content_block_delta":
		content = true
	}
	return dialect.AppendEvent(out, name, data), content, nil
}

// messagesDeltaUsage folds message_delta's usage (the output so far, and
// in newer versions the input too) into u.
func messagesDeltaUsage(data []byte, u dialect.Usage) dialect.Usage {
	var ev struct {
		Usage json.RawMessage `json:"usage"`
	}
	if json.Unmarshal(data, &ev) != nil || len(ev.Usage) == 0 {
		return u
	}
	d := dialect.ParseUsage(ev.Usage, dialect.Span{Start: 0, End: len(ev.Usage)})
	if d.Prompt == 0 {
		d.Prompt, d.Cached, d.CacheWrite = u.Prompt, u.Cached, u.CacheWrite
	}
	d.Total = d.Prompt + d.Completion
	return d
}

func (m *messagesPass) ended() bool { return m.done }

func (m *messagesPass) finish(out []byte) ([]byte, error) {
	if m.done {
		return out, nil
	}
	return out, dialect.ErrIncomplete
}

// fail ends a broken Messages stream with `event: error`, never
// message_stop.
func (m *messagesPass) fail(out []byte, e *dialect.Error) []byte {
	return dialect.AppendEvent(out, []byte("error"), dialect.MessagesErrorJSON(e.Status, e.Message))
}

func (m *messagesPass) usage() dialect.Usage { return m.u }

func (m *messagesPass) encoder() dialect.Encoder { return nil }

func (m *messagesPass) transcript() *transcript { return m.sh.transcript() }

// messagesStreamError is the error an Anthropic error event reports,
// with the status its type stands for.
func messagesStreamError(body []byte) *dialect.Error {
	var ev struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(body, &ev)
	return &dialect.Error{Status: dialect.MessagesErrorStatus(ev.Error.Type), Message: ev.Error.Message,
		Body:        dialect.MessagesErrorJSON(dialect.MessagesErrorStatus(ev.Error.Type), ev.Error.Message),
		BodyDialect: dialect.Messages, Header: jsonHeader()}
}

// responsesPass relays an OpenAI Responses stream as it is. Its end is
// response.completed (or incomplete, or failed), never [DONE].
type responsesPass struct {
	u       dialect.Usage
	done    bool
	seq     int64  // the last sequence_number relayed
	id      string // the response's id, from response.created
	secrets []string
	sh      *shadow
	// bare: the last item announced has no content part yet. A stream
	// broken there is not resumed: the encoder would write the text into
	// a part the client was never given.
	bare bool
}

func (r *responsesPass) feed(name, data, out []byte) ([]byte, bool, error) {
	if isDone(data) {
		return out, false, nil // OpenAI never sends it; some look-alikes do
	}
	if _, err := dialect.ScanObject(data); err != nil {
		return out, false, errMalformed
	}
	typ := string(name)
	if typ == "" {
		typ = eventType(data)
	}
	if typ == "response.failed" || typ == "error" {
		body := redactSecrets(bytes.Clone(data), r.secrets)
		out = dialect.AppendEvent(out, name, body)
		return out, false, responsesStreamError(body)
	}
	if n, ok := sequenceNumber(data); ok {
		r.seq = n
	}
	r.sh.feed(name, data)
	content := false
	switch typ {
	case "response.created", "response.in_progress", "response.queued":
		if r.id == "" {
			var ev struct {
				Response struct {
					ID string `json:"id"`
				} `json:"response"`
			}
			json.Unmarshal(data, &ev)
			r.id = ev.Response.ID
		}
	case "response.completed", "response.incomplete":
		r.done = true
		r.u = dialect.ResponseUsage(data)
	case "response.output_item.added":
		r.bare, content = true, true
	case "response.content_part.added", "response.output_item.done":
		r.bare, content = false, true
	default:
		content = true
	}
	return dialect.AppendEvent(out, name, data), content, nil
}

func (r *responsesPass) ended() bool { return r.done }

func (r *responsesPass) finish(out []byte) ([]byte, error) {
	if r.done {
		return out, nil
	}
	return out, dialect.ErrIncomplete
}

// fail ends a broken Responses stream: response.failed, then error.
func (r *responsesPass) fail(out []byte, e *dialect.Error) []byte {
	return appendResponsesFailure(out, r.id, r.seq, e)
}

func (r *responsesPass) usage() dialect.Usage { return r.u }

func (r *responsesPass) encoder() dialect.Encoder { return nil }

// transcript is what the shadow followed, with the sequence number of
// the last event the client got, which a resumed stream goes on from.
func (r *responsesPass) transcript() *transcript {
	tr := r.sh.transcript()
	if tr == nil || r.bare {
		return nil
	}
	tr.seq = r.seq
	return tr
}

// appendResponsesFailure writes the end of a broken Responses stream
// whose last event had sequence number seq. The error event carries the
// error again as a nested "error" member, as the translated route's
// (dialect's responsesEncoder.Fail) does: openai-node raises an APIError
// only for an event with that member; without it a raw stream iteration
// ends as if nothing had gone wrong.
func appendResponsesFailure(out []byte, id string, seq int64, e *dialect.Error) []byte {
	code := e.Code
	if code == "" {
		code = "server_error"
	}
	b := append([]byte(nil), `{"type":"response.failed","sequence_number":`...)
	b = strconv.AppendInt(b, seq+1, 10)
	b = append(b, `,"response":{"id":`...)
	b = dialect.AppendString(b, id)
	b = append(b, `,"object":"response","status":"failed","error":{"code":`...)
	b = dialect.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = dialect.AppendString(b, e.Message)
	b = append(b, `},"output":[]}}`...)
	out = dialect.AppendEvent(out, []byte("response.failed"), b)
	b = append(b[:0], `{"type":"error","sequence_number":`...)
	b = strconv.AppendInt(b, seq+2, 10)
	b = append(b, `,"code":`...)
	b = dialect.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = dialect.AppendString(b, e.Message)
	b = append(b, `,"param":null,"error":{"type":`...)
	b = dialect.AppendString(b, cmpOr(e.Type, "server_error"))
	b = append(b, `,"code":`...)
	b = dialect.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = dialect.AppendString(b, e.Message)
	b = append(b, `,"param":null}}`...)
	return dialect.AppendEvent(out, []byte("error"), b)
}

// responsesStreamError reads a response.failed or error event.
func responsesStreamError(body []byte) *dialect.Error {
	var ev struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		Response struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"response"`
	}
	json.Unmarshal(body, &ev)
	msg, code := cmpOr(ev.Message, ev.Response.Error.Message), cmpOr(ev.Code, ev.Response.Error.Code)
	return &dialect.Error{Status: http.StatusBadGateway, Type: "server_error", Code: code,
		Message: cmpOr(msg, "the upstream reported a failed response")}
}

// translated relays a stream from a channel speaking another dialect:
// each upstream event is decoded into internal events, each encoded for
// the client as it arrives.
type translated struct {
	dec  dialect.Decoder
	enc  dialect.Encoder
	evs  []dialect.Event
	u    dialect.Usage
	done bool
	tr   *transcript // what was encoded, when continuation is on
}

func (t *translated) feed(name, data, out []byte) ([]byte, bool, error) {
	evs, err := t.dec.Decode(name, data, t.evs[:0])
	t.evs = evs
	if err != nil {
		var de *dialect.Error
		if errors.As(err, &de) {
			return out, false, de // the relay writes the client's error end, or continues
		}
		return out, false, errMalformed
	}
	content := false
	for i := range evs {
		out, content = t.encode(out, &evs[i], content)
	}
	return out, content, nil
}

func (t *translated) encode(out []byte, ev *dialect.Event, content bool) ([]byte, bool) {
	switch ev.Kind {
	case dialect.EvBlockStart, dialect.EvDelta:
		content = true
	case dialect.EvUsage:
		t.u = ev.Usage
	case dialect.EvStop:
		t.u, t.done = ev.Usage, true
	}
	if t.tr != nil {
		t.tr.add(ev)
	}
	return t.enc.Encode(out, ev), content
}

func (t *translated) ended() bool { return t.done }

func (t *translated) finish(out []byte) ([]byte, error) {
	if t.done {
		return out, nil
	}
	evs, err := t.dec.End(t.evs[:0])
	t.evs = evs
	if err != nil {
		return out, err
	}
	for i := range evs {
		out, _ = t.encode(out, &evs[i], false)
	}
	if !t.done {
		return out, dialect.ErrIncomplete
	}
	return out, nil
}

func (t *translated) fail(out []byte, e *dialect.Error) []byte { return t.enc.Fail(out, e) }

func (t *translated) usage() dialect.Usage { return t.u }

func (t *translated) encoder() dialect.Encoder { return t.enc }

func (t *translated) transcript() *transcript { return t.tr }

// eventType reads the "type" member of an event's data, for streams whose
// events come without an event: line.
func eventType(data []byte) string {
	var ev struct {
		Type string `json:"type"`
	}
	json.Unmarshal(data, &ev)
	return ev.Type
}

// sequenceNumber finds a top-level "sequence_number" without decoding
// the whole event.
func sequenceNumber(data []byte) (int64, bool) {
	i := bytes.Index(data, []byte(`"sequence_number":`))
	if i < 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(data[i+len(`"sequence_number":`):], " ")
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	v, err := strconv.ParseInt(string(rest[:n]), 10, 64)
	return v, err == nil
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
