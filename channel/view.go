package channel

import "time"

// View is a channel as the admin API shows it: key masked, breaker
// state attached.
type View struct {
	Settings
	Breaker BreakerView `json:"breaker"`
	// PrefillRejected: the upstream refused an assistant prefill, so
	// continuations restart on it; editing the channel clears it.
	PrefillRejected bool `json:"prefill_rejected"`
}

// BreakerView is a channel's breaker as the admin API shows it.
type BreakerView struct {
	State            string     `json:"state"` // closed, open, half_open
	ConsecutiveFails int        `json:"consecutive_fails"`
	OpenUntil        *time.Time `json:"open_until"`
}

// NewView shows s with its breaker health h.
func NewView(s Settings, h Health) View {
	v := View{Settings: s.Public(), Breaker: BreakerView{State: h.State.String(), ConsecutiveFails: h.Fails},
		PrefillRejected: h.NoPrefill}
	if h.State != Closed {
		until := h.OpenUntil
		v.Breaker.OpenUntil = &until
	}
	return v
}

// TestResult is the outcome of a channel test: one tiny request sent
// through that channel only.
type TestResult struct {
	OK        bool    `json:"ok"`
	Status    int     `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Model     string  `json:"model"`
	Error     string  `json:"error,omitempty"`
	Reply     string  `json:"reply,omitempty"`
	Breaker   string  `json:"breaker"`
}
