package dialect

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Error is an error with an HTTP answer. Catfish's own errors carry
// their fields and are rendered in the client's dialect; an upstream's
// error answer carries its Body, in the dialect it came in (BodyDialect),
// and passes through unchanged to a client of that dialect.
type Error struct {
	Status  int
	Type    string // OpenAI's error type; the Anthropic type follows from Status
	Code    string
	Message string
	Param   string
	// RetryAfter, when positive, is sent as a Retry-After header (seconds).
	RetryAfter int
	// Header holds extra headers to send (e.g. the upstream's Content-Type).
	Header http.Header
	// Body is an upstream's own error document, in BodyDialect.
	Body        []byte
	BodyDialect Dialect
}

func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if msg, _ := errorText(e.Body); msg != "" {
		return msg
	}
	return http.StatusText(e.Status)
}

// Errorf builds an Error of Catfish's own.
func Errorf(status int, typ, code, msg string) *Error {
	return &Error{Status: status, Type: typ, Code: code, Message: msg}
}

// StatusClientClosed is nginx's code for "the client went away"; used in
// logs and statistics, never sent (there is nobody to send it to).
const StatusClientClosed = 499

// Render returns the error document for a client speaking d.
func (e *Error) Render(d Dialect) []byte {
	if e.Body != nil {
		if e.BodyDialect == d || (e.BodyDialect != Messages && d != Messages) {
			return e.Body // chat and responses share OpenAI's error shape
		}
		msg, typ := errorText(e.Body)
		if msg == "" {
			msg = "upstream answered HTTP " + strconv.Itoa(e.Status)
		}
		if d == Messages {
			return MessagesErrorJSON(e.Status, msg)
		}
		return OpenAIErrorJSON(cmpOr(openAIType(typ), e.Type, "upstream_error"), e.Code, msg, "")
	}
	if d == Messages {
		return MessagesErrorJSON(e.Status, e.Message)
	}
	return OpenAIErrorJSON(e.Type, e.Code, e.Message, e.Param)
}

// errorText reads the message and type of an OpenAI or Anthropic error
// document.
func errorText(body []byte) (msg, typ string) {
	var doc struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return "", ""
	}
	return doc.Error.Message, doc.Error.Type
}

// openAIType maps an Anthropic error type to OpenAI's nearest; OpenAI
// types pass unchanged.
func openAIType(typ string) string {
	switch typ {
	case "authentication_error", "permission_error", "not_found_error", "request_too_large":
		return "invalid_request_error"
	case "rate_limit_error":
		return "rate_limit_exceeded"
	case "api_error", "overloaded_error":
		return "server_error"
	}
	return typ
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

type openAIError struct {
	Error openAIErrorFields `json:"error"`
}

type openAIErrorFields struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// OpenAIErrorJSON renders OpenAI's error document, used by chat and
// responses: {"error":{"message","type","param","code"}}.
func OpenAIErrorJSON(typ, code, msg, param string) []byte {
	f := openAIErrorFields{Message: msg, Type: typ}
	if code != "" {
		f.Code = &code
	}
	if param != "" {
		f.Param = &param
	}
	return marshalText(openAIError{Error: f})
}

type messagesError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// MessagesErrorJSON renders Anthropic's error document,
// {"type":"error","error":{"type","message"}}, its type chosen by status.
func MessagesErrorJSON(status int, msg string) []byte {
	e := messagesError{Type: "error"}
	e.Error.Type, e.Error.Message = MessagesErrorType(status), msg
	return marshalText(e)
}

// MessagesErrorType is Anthropic's error type for an HTTP status.
func MessagesErrorType(status int) string {
	switch status {
	case 400, 405, 415, 422:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402, 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 503, 529:
		return "overloaded_error"
	case 504:
		return "timeout_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

// marshalText is json.Marshal without HTML escaping: error messages are
// read by people and SDKs, not embedded in pages, and "<key>" should read
// as such rather than as \u003ckey\u003e.
func marshalText(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// MessagesErrorStatus is the HTTP status an Anthropic error type stands
// for: what an error event inside a stream, which has no status of its
// own, is treated as.
func MessagesErrorStatus(typ string) int {
	switch typ {
	case "invalid_request_error":
		return 400
	case "authentication_error":
		return 401
	case "permission_error":
		return 403
	case "not_found_error":
		return 404
	case "request_too_large":
		return 413
	case "rate_limit_error":
		return 429
	case "overloaded_error":
		return 529
	case "timeout_error":
		return 504
	}
	return 500
}
