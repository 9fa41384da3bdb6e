package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"catfish/channel"
	"catfish/engine/dialect"
	"catfish/engine/keys"
	"catfish/scheme"
)

// toAPIError is the one place that turns an error into an answer, for /v1
// and /admin alike.
func toAPIError(err error) *dialect.Error {
	var ae *dialect.Error
	var fe *channel.FieldError
	var se *dialect.ScanError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		return &dialect.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_value", Param: fe.Field, Message: fe.Error()}
	case errors.As(err, &se):
		return &dialect.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_json",
			Message: "We could not parse the JSON body of your request: " + se.Error()}
	case errors.Is(err, channel.ErrNotFound):
		return dialect.Errorf(http.StatusNotFound, "invalid_request_error", "not_found", "no channel with that id")
	case errors.Is(err, keys.ErrNotFound):
		return dialect.Errorf(http.StatusNotFound, "invalid_request_error", "not_found", "no client key with that id")
	case errors.Is(err, scheme.ErrNotFound):
		return dialect.Errorf(http.StatusNotFound, "invalid_request_error", "not_found", "no scheme of that name has channels or settings")
	case errors.Is(err, scheme.ErrNoScheme):
		return dialect.Errorf(http.StatusServiceUnavailable, "upstream_error", "no_channels", "no channel is configured: add one on the admin page or with POST /admin/config")
	case errors.Is(err, channel.ErrStopped), errors.Is(err, scheme.ErrStopped), errors.Is(err, keys.ErrStopped):
		return dialect.Errorf(http.StatusServiceUnavailable, "server_error", "shutting_down", "the server is shutting down")
	case errors.Is(err, context.Canceled):
		return dialect.Errorf(dialect.StatusClientClosed, "client_closed", "client_closed", "client closed the request")
	case errors.Is(err, context.DeadlineExceeded):
		return dialect.Errorf(http.StatusGatewayTimeout, "timeout", "request_timeout", "the request took longer than REQUEST_TIMEOUT")
	}
	return dialect.Errorf(http.StatusInternalServerError, "server_error", "internal_error", err.Error())
}

// writeError sends err as an HTTP answer in the client's dialect.
func writeError(w http.ResponseWriter, err error, d dialect.Dialect) {
	ae := toAPIError(err)
	if ae.Status == dialect.StatusClientClosed {
		return
	}
	h := w.Header()
	for k, v := range ae.Header {
		h[k] = v
	}
	if ae.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	body := ae.Render(d)
	if ae.Body == nil || ae.BodyDialect != d || h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(ae.Status)
	w.Write(body)
}

// StatusOf returns the status an answer to err carries.
func StatusOf(err error) int { return toAPIError(err).Status }
