package main

// The three dialects a client can speak to catfish: what load sends and how
// it verifies the answer in each.
//
//	chat       POST /v1/chat/completions, Authorization: Bearer
//	messages   POST /v1/messages, x-api-key (Anthropic Messages)
//	responses  POST /v1/responses, Authorization: Bearer (OpenAI Responses)
//
// Chat answers are verified as they always were (main.go). Messages and
// Responses streams are read event by event: every event must carry JSON
// whose "type" matches its event: line, in an order the dialect allows,
// ending with the dialect's own end (message_stop, response.completed) and
// nothing after it; content events (text_delta, response.output_text.delta)
// are counted.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

const (
	dialectChat      = "chat"
	dialectMessages  = "messages"
	dialectResponses = "responses"
)

// dialectPath is the endpoint of each dialect.
var dialectPath = map[string]string{
	dialectChat:      "/v1/chat/completions",
	dialectMessages:  "/v1/messages",
	dialectResponses: "/v1/responses",
}

const (
	systemPrompt = "You are a helpful assistant. Answer briefly and precisely."
	userPrompt   = "Explain in one paragraph why a proxy in front of every LLM call must cost next to nothing, and name three things that keep a Go reverse proxy cheap."
)

// requestBodyFor is a small, realistic request in dialect d: the same
// system prompt and question in each.
func requestBodyFor(d string) []byte {
	var req map[string]any
	switch d {
	case dialectMessages:
		req = map[string]any{
			"model":       *flModel,
			"max_tokens":  256,
			"system":      systemPrompt,
			"messages":    []map[string]string{{"role": "user", "content": userPrompt}},
			"temperature": 0.7,
		}
		if *flStream {
			req["stream"] = true
		}
	case dialectResponses:
		req = map[string]any{
			"model":        *flModel,
			"instructions": systemPrompt,
			"input": []map[string]any{{
				"role": "user", "content": []map[string]string{{"type": "input_text", "text": userPrompt}},
			}},
			"max_output_tokens": 256,
			"temperature":       0.7,
			"store":             false,
		}
		if *flStream {
			req["stream"] = true
		}
	default:
		return requestBody()
	}
	b, _ := json.Marshal(req)
	return b
}

// useXAPIKey says whether the key goes in x-api-key rather than
// Authorization: Bearer.
func useXAPIKey() bool {
	switch *flAuth {
	case "x-api-key":
		return true
	case "bearer":
		return false
	}
	return *flDialect == dialectMessages
}

// ---- non-stream answers ----

type anthropicMessage struct {
	Type    string `json:"type"`
	Role    string `json:"role"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StopReason *string `json:"stop_reason"`
	Usage      *struct {
		InputTokens  *int64 `json:"input_tokens"`
		OutputTokens int64  `json:"output_tokens"`
	} `json:"usage"`
}

type responseObject struct {
	Object string `json:"object"`
	Status string `json:"status"`
	Output []struct {
		Type    string `json:"type"`
		Role    string `json:"role"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
	} `json:"output"`
	Usage *struct {
		InputTokens  *int64 `json:"input_tokens"`
		OutputTokens int64  `json:"output_tokens"`
	} `json:"usage"`
}

// readBody reads a whole JSON answer into wk.buf.
func (wk *worker) readBody(r io.Reader) (outcome, bool) {
	wk.buf.Reset()
	if _, err := wk.buf.ReadFrom(io.LimitReader(r, maxJSONBody+1)); err != nil {
		return failed(classify(err), "reading body: %v", err), false
	}
	if wk.buf.Len() > maxJSONBody {
		return failed("too_large", "body over %d bytes", maxJSONBody), false
	}
	return outcome{}, true
}

// readMessagesJSON verifies an Anthropic "message": assistant text and
// usage.
func (wk *worker) readMessagesJSON(r io.Reader) outcome {
	if o, ok := wk.readBody(r); !ok {
		return o
	}
	var m anthropicMessage
	if err := json.Unmarshal(wk.buf.Bytes(), &m); err != nil {
		return failed("invalid_json", "%v: %.200q", err, wk.buf.Bytes())
	}
	if m.Type != "message" || m.Role != "assistant" {
		return failed("wrong_type", "type %q role %q, want message/assistant: %.200q", m.Type, m.Role, wk.buf.Bytes())
	}
	text := 0
	for _, c := range m.Content {
		if c.Type == "text" {
			text += len(c.Text)
		}
	}
	if text == 0 {
		return failed("no_content", "no text block: %.200q", wk.buf.Bytes())
	}
	if m.StopReason == nil || *m.StopReason == "" {
		return failed("no_stop_reason", "%.200q", wk.buf.Bytes())
	}
	if m.Usage == nil || m.Usage.InputTokens == nil || m.Usage.OutputTokens <= 0 {
		return failed("no_usage", "%.200q", wk.buf.Bytes())
	}
	return outcome{}
}

// readResponsesJSON verifies a Responses "response": completed, an
// assistant message with output_text, usage.
func (wk *worker) readResponsesJSON(r io.Reader) outcome {
	if o, ok := wk.readBody(r); !ok {
		return o
	}
	var resp responseObject
	if err := json.Unmarshal(wk.buf.Bytes(), &resp); err != nil {
		return failed("invalid_json", "%v: %.200q", err, wk.buf.Bytes())
	}
	if resp.Object != "response" {
		return failed("wrong_type", "object %q, want response: %.200q", resp.Object, wk.buf.Bytes())
	}
	if resp.Status != "completed" {
		return failed("not_completed", "status %q: %.200q", resp.Status, wk.buf.Bytes())
	}
	text := 0
	for _, it := range resp.Output {
		if it.Type != "message" {
			continue
		}
		for _, c := range it.Content {
			if c.Type == "output_text" {
				text += len(c.Text)
			}
		}
	}
	if text == 0 {
		return failed("no_content", "no output_text: %.200q", wk.buf.Bytes())
	}
	if resp.Usage == nil || resp.Usage.InputTokens == nil || resp.Usage.OutputTokens <= 0 {
		return failed("no_usage", "%.200q", wk.buf.Bytes())
	}
	return outcome{}
}

// ---- streams with named events ----

// sseEvent is one server-sent event, copied out of the reader's buffer.
type sseEvent struct {
	name    []byte
	data    []byte
	hasData bool
}

// streamCheck is a dialect's state machine over a stream's events.
type streamCheck interface {
	// event checks one event; a non-empty kind fails the stream.
	event(name, data []byte) (kind, detail string)
	// ended says whether the dialect's own end has been seen.
	ended() bool
	// finish checks the whole stream once it closed after its end.
	finish() (kind, detail string)
	counts() (events, content int)
}

// readNamedStream reads an SSE stream of messages or responses events.
func (wk *worker) readNamedStream(r io.Reader, start time.Time, chk streamCheck) outcome {
	var o outcome
	lr := &io.LimitedReader{R: r, N: maxStream + 1}
	if wk.br == nil {
		wk.br = bufio.NewReaderSize(lr, 4096)
	} else {
		wk.br.Reset(lr)
	}
	defer wk.br.Reset(nil)
	ev := &wk.ev
	ev.name, ev.data, ev.hasData = ev.name[:0], ev.data[:0], false
	pending := false // some field of an event read, its blank line not yet
	for {
		line, err := wk.nextLine()
		if lr.N <= 0 {
			return failed("too_large", "stream over %d bytes", maxStream)
		}
		if err == nil {
			switch {
			case len(line) == 0: // blank: the event is complete
				if pending {
					if !ev.hasData {
						return failed("invalid_event", "event %q without data", ev.name)
					}
					if o.ttfb == 0 {
						o.ttfb = time.Since(start)
					}
					if chk.ended() {
						return failed("data_after_end", "%s: %.200q", ev.name, ev.data)
					}
					if kind, detail := chk.event(ev.name, ev.data); kind != "" {
						return failed(kind, "%s", detail)
					}
				}
				ev.name, ev.data, ev.hasData, pending = ev.name[:0], ev.data[:0], false, false
			case line[0] == ':': // comment
			default:
				field, value, _ := bytes.Cut(line, []byte(":"))
				value = bytes.TrimPrefix(value, []byte(" "))
				pending = true
				switch string(field) {
				case "event":
					ev.name = append(ev.name[:0], value...)
				case "data":
					if ev.hasData {
						ev.data = append(ev.data, '\n')
					}
					ev.data = append(ev.data, value...)
					ev.hasData = true
				}
				// id: and retry: are ignored.
			}
		}
		if err == nil {
			continue
		}
		o.events, o.content = chk.counts()
		switch {
		case err == io.EOF && pending:
			return failed("stream_cut", "the stream ended inside an event after %d events", o.events)
		case err == io.EOF && chk.ended():
			if kind, detail := chk.finish(); kind != "" {
				return failed(kind, "%s", detail)
			}
			if *flExpect > 0 && o.events != *flExpect {
				return failed("wrong_event_count", "got %d events, want %d", o.events, *flExpect)
			}
			if *flExpectContent > 0 && o.content != *flExpectContent {
				return failed("wrong_content_count", "got %d content events, want %d", o.content, *flExpectContent)
			}
			return o
		case err == io.EOF:
			return failed("no_end", "stream ended after %d events without its end event", o.events)
		case err == errLineTooLong:
			return failed("too_large", "%v", err)
		case chk.ended():
			return failed("unclean_end", "after the end event: %v", err)
		case o.events == 0:
			return failed(classify(err), "before the first event: %v", err)
		default:
			return failed("stream_cut", "after %d events: %v", o.events, err)
		}
	}
}

// messagesCheck follows Anthropic's event sequence: message_start first;
// content blocks opened, filled and closed; message_delta with usage;
// message_stop last. ping events may come anywhere; an error event fails.
type messagesCheck struct {
	events, content int
	started, delta  bool
	done            bool
	open            int
	usage           bool
	ev              struct {
		Type  string `json:"type"`
		Delta *struct {
			Type       string  `json:"type"`
			Text       string  `json:"text"`
			StopReason *string `json:"stop_reason"`
		} `json:"delta"`
		Usage *struct {
			OutputTokens int64 `json:"output_tokens"`
		} `json:"usage"`
	}
}

func (c *messagesCheck) ended() bool                   { return c.done }
func (c *messagesCheck) counts() (int, int)            { return c.events, c.content }
func (c *messagesCheck) finish() (kind, detail string) { return "", "" }

func (c *messagesCheck) event(name, data []byte) (string, string) {
	c.events++
	ev := &c.ev
	ev.Type, ev.Delta, ev.Usage = "", nil, nil
	if err := json.Unmarshal(data, ev); err != nil {
		return "invalid_event", "event " + strconv.Itoa(c.events) + ": " + err.Error() + ": " + clip(data)
	}
	if len(name) == 0 || ev.Type != string(name) {
		return "invalid_event", "event " + strconv.Itoa(c.events) + ": event line " + strconv.Quote(string(name)) + " but type " + strconv.Quote(ev.Type)
	}
	bad := func(why string) (string, string) {
		return "bad_sequence", "event " + strconv.Itoa(c.events) + " " + ev.Type + ": " + why
	}
	if ev.Type == "error" {
		return "error_event", clip(data)
	}
	if ev.Type == "ping" {
		return "", ""
	}
	if !c.started && ev.Type != "message_start" {
		return bad("before message_start")
	}
	switch ev.Type {
	case "message_start":
		if c.started {
			return bad("a second message_start")
		}
		c.started = true
	case "content_block_start":
		if c.delta {
			return bad("after message_delta")
		}
		c.open++
	case "content_block_delta":
		if c.open == 0 {
			return bad("outside a content block")
		}
		if ev.Delta != nil && ev.Delta.Type == "text_delta" && ev.Delta.Text != "" {
			c.content++
		}
	case "content_block_stop":
		if c.open == 0 {
			return bad("no block open")
		}
		c.open--
	case "message_delta":
		if c.open > 0 {
			return bad("a content block still open")
		}
		if ev.Delta == nil || ev.Delta.StopReason == nil || *ev.Delta.StopReason == "" {
			return "no_stop_reason", clip(data)
		}
		c.delta = true
		c.usage = ev.Usage != nil && ev.Usage.OutputTokens > 0
		if !c.usage {
			return "no_usage", "message_delta without output_tokens: " + clip(data)
		}
	case "message_stop":
		if !c.delta {
			return bad("without message_delta")
		}
		c.done = true
	}
	return "", ""
}

// responsesCheck follows the Responses event sequence: response.created
// first, sequence_number strictly increasing, response.completed (status
// completed, with usage) last. error, response.failed and
// response.incomplete fail the stream.
type responsesCheck struct {
	events, content int
	seq             int64
	done            bool
	ev              struct {
		Type     string          `json:"type"`
		Seq      *int64          `json:"sequence_number"`
		Delta    json.RawMessage `json:"delta"`
		Response *struct {
			Status string `json:"status"`
			Usage  *struct {
				OutputTokens int64 `json:"output_tokens"`
			} `json:"usage"`
		} `json:"response"`
	}
}

func (c *responsesCheck) ended() bool                   { return c.done }
func (c *responsesCheck) counts() (int, int)            { return c.events, c.content }
func (c *responsesCheck) finish() (kind, detail string) { return "", "" }

func (c *responsesCheck) event(name, data []byte) (string, string) {
	c.events++
	ev := &c.ev
	ev.Type, ev.Seq, ev.Delta, ev.Response = "", nil, nil, nil
	if string(data) == "[DONE]" {
		return "invalid_event", "data: [DONE] in a Responses stream"
	}
	if err := json.Unmarshal(data, ev); err != nil {
		return "invalid_event", "event " + strconv.Itoa(c.events) + ": " + err.Error() + ": " + clip(data)
	}
	if ev.Type == "" || (len(name) > 0 && ev.Type != string(name)) {
		return "invalid_event", "event " + strconv.Itoa(c.events) + ": event line " + strconv.Quote(string(name)) + " but type " + strconv.Quote(ev.Type)
	}
	bad := func(why string) (string, string) {
		return "bad_sequence", "event " + strconv.Itoa(c.events) + " " + ev.Type + ": " + why
	}
	if ev.Seq == nil {
		return bad("no sequence_number")
	}
	if c.events > 1 && *ev.Seq <= c.seq {
		return bad("sequence_number " + strconv.FormatInt(*ev.Seq, 10) + " after " + strconv.FormatInt(c.seq, 10))
	}
	c.seq = *ev.Seq
	switch ev.Type {
	case "error", "response.failed", "response.incomplete":
		return "error_event", clip(data)
	}
	if c.events == 1 && ev.Type != "response.created" {
		return bad("before response.created")
	}
	switch ev.Type {
	case "response.output_text.delta":
		if len(ev.Delta) > 2 && ev.Delta[0] == '"' {
			c.content++
		}
	case "response.completed":
		if ev.Response == nil || ev.Response.Status != "completed" {
			return "not_completed", clip(data)
		}
		if ev.Response.Usage == nil || ev.Response.Usage.OutputTokens <= 0 {
			return "no_usage", "response.completed without output_tokens: " + clip(data)
		}
		c.done = true
	}
	return "", ""
}

func clip(b []byte) string {
	if len(b) > 200 {
		return strconv.Quote(string(b[:200])) + "…"
	}
	return strconv.Quote(string(b))
}
