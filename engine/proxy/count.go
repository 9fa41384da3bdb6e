package proxy

import (
	"net/http"
	"strconv"
)

// countTokensLocally answers POST /v1/messages/count_tokens for a scheme
// without an anthropic channel, which alone can count exactly. Claude
// Code asks it for /context and, with many MCP tools, to decide whether
// to defer their definitions (tool search); an error makes it fall back
// to its own estimate. An estimate here keeps /context meaningful and
// the SDK's count_tokens working: about one token per four bytes of the
// request's JSON, which errs on the high side (JSON punctuation counts),
// so tools are deferred a little early rather than too late. The answer
// says it is an estimate in X-Catfish-Estimate.
func (x *exchange) countTokensLocally() error {
	n := (len(x.req.Body) + 3) / 4
	body := []byte(`{"input_tokens":` + strconv.Itoa(n) + `}`)
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Catfish-Estimate", "true")
	x.w.WriteHeader(http.StatusOK)
	x.w.Write(body)
	x.answered = &result{outcome: "estimated", status: http.StatusOK}
	return nil
}
