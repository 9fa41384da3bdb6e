package proxy

import (
	"net/http"
	"strings"

	"catfish/channel"
	"catfish/engine/dialect"
)

// route is how one attempt reaches one channel: the dialect the upstream
// is spoken to in, the path after the channel's base URL, and whether the
// client's bytes pass through (the same dialect on both ends) or are
// translated through the internal form.
type route struct {
	up      dialect.Dialect
	path    string
	through bool
}

// Paths of the dialects' endpoints, after "/v1".
const (
	pathChat        = dialect.PathChat
	pathMessages    = dialect.PathMessages
	pathCountTokens = dialect.PathCountTokens
	pathResponses   = dialect.PathResponses
)

// routeFor picks the route of a request to a channel; false when the
// channel cannot serve it at all (an anthropic channel has no embeddings,
// say), and the request moves on to the next channel without counting
// against this one.
func routeFor(in *dialect.Inbound, ch *channel.Resolved) (route, bool) {
	anthropic := ch.Type == channel.TypeAnthropic
	switch in.Dialect {
	case dialect.Messages:
		if in.Path == pathCountTokens {
			return route{up: dialect.Messages, path: in.Path, through: true}, anthropic
		}
		if anthropic {
			return route{up: dialect.Messages, path: in.Path, through: true}, true
		}
		return route{up: dialect.Chat, path: pathChat}, true
	case dialect.Responses:
		switch {
		case anthropic:
			return route{up: dialect.Messages, path: pathMessages}, true
		case ch.Responses:
			return route{up: dialect.Responses, path: in.Path, through: true}, true
		}
		return route{up: dialect.Chat, path: pathChat}, true
	}
	// Chat, and every other OpenAI-style route (embeddings, images, ...):
	// only chat completions have a Messages equivalent.
	if !anthropic {
		return route{up: dialect.Chat, path: in.Path, through: true}, true
	}
	if in.Path == pathChat {
		return route{up: dialect.Messages, path: pathMessages}, true
	}
	return route{}, false
}

// setAuth sets the channel's credentials and dialect headers on an
// upstream request: Authorization for openai channels; x-api-key and
// anthropic-version (the client's when it sent one) for anthropic ones,
// with anthropic-beta only ever sent to them. The channel's own extra
// headers come last and win.
func setAuth(h http.Header, client http.Header, ch *channel.Resolved) {
	if ch.Type == channel.TypeAnthropic {
		h.Set("X-Api-Key", ch.APIKey)
		v := client.Get("Anthropic-Version")
		if v == "" {
			v = "2023-06-01"
		}
		h.Set("Anthropic-Version", v)
	} else {
		h.Set("Authorization", "Bearer "+ch.APIKey)
		for k := range h {
			if strings.HasPrefix(k, "Anthropic-") {
				delete(h, k)
			}
		}
	}
	for k, v := range ch.Headers {
		h.Set(k, v)
	}
}
