// Package dialect holds the wire formats Catfish speaks: the JSON body
// scanner that finds what routing needs without building the document,
// server-sent event framing, each dialect's error shape and, for the
// routes where client and channel speak differently, the codecs that
// translate through one internal form.
//
// It is pure: no goroutines, no state shared between calls, no I/O but
// the readers and writers handed in. It imports nothing of Catfish's, so
// both the HTTP surface and the proxy build on it without knowing each
// other.
package dialect

// Dialect is a wire format a client or a channel speaks.
type Dialect uint8

const (
	Chat      Dialect = iota // OpenAI chat completions (and every other OpenAI-style /v1 route)
	Messages                 // Anthropic Messages
	Responses                // OpenAI Responses
)

func (d Dialect) String() string {
	switch d {
	case Messages:
		return "messages"
	case Responses:
		return "responses"
	}
	return "chat"
}

// Paths of the dialects' endpoints, after "/v1".
const (
	PathChat        = "/chat/completions"
	PathMessages    = "/messages"
	PathCountTokens = "/messages/count_tokens"
	PathResponses   = "/responses"
)

// OfPath is the dialect of a client request by its path after "/v1":
// Messages for /messages (and its count_tokens), Responses for
// /responses, chat for every other route (embeddings, images, ...),
// which all speak OpenAI's shapes.
func OfPath(path string) Dialect {
	switch path {
	case PathMessages, PathCountTokens:
		return Messages
	case PathResponses:
		return Responses
	}
	return Chat
}
