package proxy

import (
	"encoding/json"
	"strings"

	"catfish/engine/dialect"
)

// A translated request carries settings the client chose for its own
// dialect's vendor: Claude Code asks for 128,000 output tokens and an
// effort; a chat upstream such as DeepSeek refuses a max_tokens above its
// model's and a non-reasoning model refuses reasoning_effort. Such a 400
// says nothing against the channel and would fail the client on every
// turn, so the setting it names is relaxed and the same channel asked
// again, once per setting. Settings that change what the answer means
// (tool choice, a JSON schema, stop sequences) are never relaxed: their
// 400 goes back to the client.

// relaxable is a setting a translated request may lose: the words an
// upstream's error names it by, and what losing it does.
type relaxable struct {
	name  string
	words []string
	relax func(r *dialect.Request, up dialect.Dialect)
}

var relaxables = []relaxable{
	{"max_tokens", []string{"max_tokens", "max_completion_tokens", "max_output_tokens", "maximum output"},
		func(r *dialect.Request, up dialect.Dialect) {
			if up == dialect.Messages {
				r.MaxTokens = 8192 // Messages needs one: a size every Claude model takes
			} else {
				r.MaxTokens = 0 // the upstream's own default
			}
		}},
	{"reasoning", []string{"reasoning_effort", "reasoning", "thinking", "budget_tokens", "effort"},
		func(r *dialect.Request, _ dialect.Dialect) { r.Reasoning = dialect.Reasoning{} }},
	{"parallel_tool_calls", []string{"parallel_tool_calls", "disable_parallel_tool_use"},
		func(r *dialect.Request, _ dialect.Dialect) { r.Parallel = nil }},
	{"temperature", []string{"temperature"},
		func(r *dialect.Request, _ dialect.Dialect) { r.Temperature = nil }},
	{"top_p", []string{"top_p"},
		func(r *dialect.Request, _ dialect.Dialect) { r.TopP = nil }},
}

// relax reads a translated request's 400 and, when it names a setting
// that may be relaxed and has not been yet, relaxes it for the rest of
// the request: true means ask again.
func (x *exchange) relax(body []byte, up dialect.Dialect) bool {
	if x.ir == nil {
		return false
	}
	var doc struct {
		Error struct {
			Message string `json:"message"`
			Param   string `json:"param"`
		} `json:"error"`
	}
	json.Unmarshal(body, &doc)
	text := strings.ToLower(doc.Error.Param + " " + doc.Error.Message)
	if strings.TrimSpace(text) == "" {
		return false
	}
	for _, s := range relaxables {
		if x.relaxed[s.name] || !mentions(text, s.words) {
			continue
		}
		if x.sent == nil {
			r := *x.ir
			x.sent = &r
		}
		s.relax(x.sent, up)
		if x.relaxed == nil {
			x.relaxed = map[string]bool{}
		}
		x.relaxed[s.name] = true
		clear(x.bodies)
		x.p.log.Info("an upstream refused a translated setting: asking again without it", "id", x.id,
			"channel", x.currentChannel(), "setting", s.name)
		return true
	}
	return false
}

func mentions(text string, words []string) bool {
	for _, w := range words {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}
