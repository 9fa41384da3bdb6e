package dialect

import (
	"fmt"
	"net/http"
)

// The codecs: each dialect reads and writes the internal form. Upstreams
// speak Chat or Messages (an OpenAI channel that serves Responses itself
// gets Responses clients passed through, never translated), clients any
// of the three.

// DecodeRequest reads a client's request body, in dialect d, into the
// internal form. A body that cannot be honoured is a 400 *Error naming
// the field (Param), never a silent drop.
func DecodeRequest(d Dialect, body []byte) (*Request, error) {
	switch d {
	case Messages:
		return decodeMessagesRequest(body)
	case Responses:
		return decodeResponsesRequest(body)
	}
	return decodeChatRequest(body)
}

// EncodeRequest writes r for a channel speaking d (Chat or Messages),
// asking for model.
func EncodeRequest(d Dialect, r *Request, model string) ([]byte, error) {
	if d == Messages {
		return encodeMessagesRequest(r, model)
	}
	return encodeChatRequest(r, model)
}

// DecodeResponse reads a channel's whole answer, in dialect d.
func DecodeResponse(d Dialect, body []byte) (*Response, error) {
	if d == Messages {
		return decodeMessagesResponse(body)
	}
	return decodeChatResponse(body)
}

// EncodeResponse writes a whole answer for a client speaking d. req is
// the client's request (Responses echoes some of its settings).
func EncodeResponse(d Dialect, r *Response, req *Request) []byte {
	switch d {
	case Messages:
		return encodeMessagesResponse(r)
	case Responses:
		return encodeResponsesResponse(r, req)
	}
	return encodeChatResponse(r)
}

// Decoder turns a channel's stream, one server-sent event at a time, into
// internal events. It keeps the state a dialect's stream needs (open
// blocks, tool call indexes, usage seen so far).
type Decoder interface {
	// Decode reads one event (its name and data) and appends what it
	// says to out. An error event from the upstream is returned as an
	// *Error carrying the upstream's status and message.
	Decode(name, data []byte, out []Event) ([]Event, error)
	// End is called when the upstream closed the stream cleanly. It
	// appends the events that close the answer, or returns
	// ErrIncomplete when the answer had not finished.
	End(out []Event) ([]Event, error)
}

// ErrIncomplete says a stream ended before its answer did.
var ErrIncomplete = &Error{Status: http.StatusBadGateway, Type: "upstream_error", Code: "stream_incomplete",
	Message: "the upstream stream ended before the answer was complete"}

// NewDecoder returns a stream decoder for a channel speaking d.
func NewDecoder(d Dialect) Decoder {
	if d == Messages {
		return &messagesDecoder{}
	}
	return &chatDecoder{}
}

// Encoder writes internal events as a client dialect's stream: whole SSE
// frames, ready to write and flush.
type Encoder interface {
	// Encode appends the frames for ev to dst.
	Encode(dst []byte, ev *Event) []byte
	// Fail appends the dialect's end of a stream that broke after it was
	// committed: never a clean end, always something every SDK raises.
	Fail(dst []byte, e *Error) []byte
}

// NewEncoder returns a stream encoder for a client speaking d. req is the
// client's request: chat needs IncludeUsage, Responses echoes settings.
func NewEncoder(d Dialect, req *Request) Encoder {
	switch d {
	case Messages:
		return &messagesEncoder{}
	case Responses:
		return newResponsesEncoder(req)
	}
	return &chatEncoder{includeUsage: req != nil && req.IncludeUsage}
}

// fieldError is the 400 a request gets for a field that cannot be
// honoured: param names it as a path ("messages[2].content[0].type").
func fieldError(param, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_value", Param: param,
		Message: param + ": " + msg}
}
