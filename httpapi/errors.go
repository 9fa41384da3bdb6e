package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"catfish/channel"
	"catfish/scheme"
)

// APIError is an error with an HTTP answer. When Body is set it is written
// as is (an upstream's own error answer, passed through); otherwise the
// answer is OpenAI's error shape built from the other fields.
type APIError struct {
	Status  int
	Type    string
	Code    string
	Message string
	Param   string
	// RetryAfter, when positive, is sent as a Retry-After header (seconds).
	RetryAfter int
	// Header holds extra headers to send (e.g. the upstream's Content-Type).
	Header http.Header
	Body   []byte
}

func (e *APIError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return http.StatusText(e.Status)
}

// StatusClientClosed is nginx's code for "the client went away"; used in
// logs and statistics, never sent (there is nobody to send it to).
const StatusClientClosed = 499

// Errorf builds an APIError in OpenAI's shape.
func Errorf(status int, typ, code, msg string) *APIError {
	return &APIError{Status: status, Type: typ, Code: code, Message: msg}
}

type errorBody struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ErrorJSON renders OpenAI's error document.
func ErrorJSON(typ, code, msg, param string) []byte {
	f := errorFields{Message: msg, Type: typ}
	if code != "" {
		f.Code = &code
	}
	if param != "" {
		f.Param = &param
	}
	b, _ := json.Marshal(errorBody{Error: f})
	return b
}

// toAPIError is the one place that turns an error into an answer, for /v1
// and /admin alike.
func toAPIError(err error) *APIError {
	var ae *APIError
	var fe *channel.FieldError
	var se *ScanError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_value", Param: fe.Field, Message: fe.Error()}
	case errors.As(err, &se):
		return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_json",
			Message: "We could not parse the JSON body of your request: " + se.Error()}
	case errors.Is(err, channel.ErrNotFound):
		return Errorf(http.StatusNotFound, "invalid_request_error", "not_found", "no channel with that id")
	case errors.Is(err, scheme.ErrNoScheme):
		return Errorf(http.StatusServiceUnavailable, "upstream_error", "no_channels", "no channel is configured: add one on the admin page or with POST /admin/config")
	case errors.Is(err, channel.ErrStopped), errors.Is(err, scheme.ErrStopped):
		return Errorf(http.StatusServiceUnavailable, "server_error", "shutting_down", "the server is shutting down")
	case errors.Is(err, context.Canceled):
		return Errorf(StatusClientClosed, "client_closed", "client_closed", "client closed the request")
	case errors.Is(err, context.DeadlineExceeded):
		return Errorf(http.StatusGatewayTimeout, "timeout", "request_timeout", "the request took longer than REQUEST_TIMEOUT")
	}
	return Errorf(http.StatusInternalServerError, "server_error", "internal_error", err.Error())
}

// WriteError sends err as an HTTP answer.
func WriteError(w http.ResponseWriter, err error) {
	ae := toAPIError(err)
	if ae.Status == StatusClientClosed {
		return
	}
	h := w.Header()
	for k, v := range ae.Header {
		h[k] = v
	}
	if ae.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	body := ae.Body
	if body == nil {
		body = ErrorJSON(ae.Type, ae.Code, ae.Message, ae.Param)
		h.Set("Content-Type", "application/json")
	} else if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Del("Content-Length")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(ae.Status)
	w.Write(body)
}

// StatusOf returns the status WriteError would send for err.
func StatusOf(err error) int { return toAPIError(err).Status }
