package stats

import (
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
)

// Record is one finished client request, as the proxy reports it.
type Record struct {
	ID       string
	Start    time.Time
	End      time.Time
	Path     string
	Dialect  string // the client's: chat, messages or responses
	Model    string
	Scheme   string
	Key      string // the client key's name; "admin" for ADMIN_KEY; "" when unknown
	Stream   bool
	Status   int
	Outcome  string
	Canceled bool // the client left: neither success nor failure
	// Broken: a 2xx went out, but the answer broke midway (the client got
	// an error event, never a complete answer): a failed request.
	Broken   bool
	Attempts []Attempt
	Answered string        // channel that produced the answer, if any
	Usage    dialect.Usage // every attempt's usage, summed: what the answer cost
}

// Attempt is one entry of a request's attempt chain.
type Attempt struct {
	ChannelID string  `json:"channel_id"`
	Outcome   string  `json:"outcome"`
	Status    int     `json:"status,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
	// Type is the channel's type (openai, anthropic); Upstream the
	// dialect it was spoken to in, which differs from the request's when
	// the attempt was translated.
	Type     string `json:"type,omitempty"`
	Upstream string `json:"upstream,omitempty"`
	// Continuation: this attempt took over a stream that broke after
	// commit (SPEC 11).
	Continuation bool `json:"continuation,omitempty"`

	At      time.Time       `json:"-"` // when the attempt started
	TTFB    time.Duration   `json:"-"` // time to first byte of a good answer
	Verdict channel.Verdict `json:"-"` // how it counts against the channel
	Usage   dialect.Usage   `json:"-"` // the tokens this attempt's upstream reported
}
