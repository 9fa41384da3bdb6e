package dialect

import "net/http"

// Inbound is a client request as read off the wire: the route it came
// on, its body, and what routing needs of the body.
type Inbound struct {
	Dialect Dialect
	Path    string // after "/v1", e.g. "/chat/completions"
	Query   string // raw query string, passed upstream
	Header  http.Header
	Body    []byte
	Info    BodyInfo
}
