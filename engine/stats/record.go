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
	Answered string // channel that produced the answer, if any
	Usage    dialect.Usage
}

// Attempt is one entry of a request's attempt chain.
type Attempt struct {
	ChannelID string  `json:"channel_id"`
	Outcome   string  `json:"outcome"`
	Status    int     `json:"status,omitempty"`
	LatencyMS float64 `json:"latency_ms"`

	At      time.Time       `json:"-"` // when the attempt started
	TTFB    time.Duration   `json:"-"` // time to first byte of a good answer
	Verdict channel.Verdict `json:"-"` // how it counts against the channel
}
