package channel

import (
	"fmt"
	"time"
)

// State is a breaker's position in closed → open → half-open → closed.
type State uint8

const (
	Closed   State = iota // requests flow; consecutive failures are counted
	Open                  // no request until the cooldown ends
	HalfOpen              // the cooldown ended: one probe may go through
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ParseState is the inverse of String.
func ParseState(s string) (State, error) {
	switch s {
	case "closed", "":
		return Closed, nil
	case "open":
		return Open, nil
	case "half_open":
		return HalfOpen, nil
	}
	return Closed, fmt.Errorf("unknown breaker state %q", s)
}

// BreakerConfig holds one channel's resolved breaker settings.
type BreakerConfig struct {
	// Threshold is the number of failures in a row that opens the breaker.
	// Zero turns the breaker off: the channel is never taken out of rotation.
	Threshold int
	// Cooldown is how long the breaker stays open before the half-open probe.
	// Zero means the next request after opening is already the probe.
	Cooldown time.Duration
	// MaxCooldown caps the doubling after failed probes. Values below
	// Cooldown are raised to Cooldown.
	MaxCooldown time.Duration
}

// Breaker is a single-threaded circuit breaker. Every method takes the
// current time, so tests drive it with literal times; the channel actor owns
// one and is the only caller.
//
// Admissions carry a generation. A report from an older generation (an
// attempt admitted before the breaker last changed state) still counts in
// the statistics but no longer moves the breaker: a slow failure that
// started while the channel was healthy must not re-open a breaker that a
// probe has just closed.
type Breaker struct {
	cfg       BreakerConfig
	state     State
	fails     int           // consecutive failures (kept even when the breaker is off)
	openUntil time.Time     // meaningful while Open
	cooldown  time.Duration // current open time; doubles after a failed probe
	probing   bool          // a half-open probe is out
	gen       uint64        // bumped on every state change
}

// NewBreaker returns a closed breaker.
func NewBreaker(cfg BreakerConfig) *Breaker {
	b := &Breaker{}
	b.Configure(cfg)
	b.cooldown = b.cfg.Cooldown
	return b
}

// Configure applies new settings and keeps the state. Turning the breaker
// off closes it.
func (b *Breaker) Configure(cfg BreakerConfig) {
	if cfg.MaxCooldown < cfg.Cooldown {
		cfg.MaxCooldown = cfg.Cooldown
	}
	b.cfg = cfg
	if b.cooldown < cfg.Cooldown || b.cooldown > cfg.MaxCooldown {
		b.cooldown = cfg.Cooldown
	}
	if cfg.Threshold == 0 && b.state != Closed {
		b.close()
	}
}

// Admission is the breaker's answer to "may a request use this channel now?".
type Admission struct {
	OK    bool
	Probe bool      // this request is the one half-open probe
	Gen   uint64    // hand back with the outcome
	Until time.Time // when !OK: the earliest time the channel may admit again
}

// Admit decides whether one request may go through now. In half-open state
// exactly one caller gets Probe = true; everyone else is turned away until
// the probe reports.
func (b *Breaker) Admit(now time.Time) Admission {
	switch b.state {
	case Open:
		if now.Before(b.openUntil) {
			return Admission{Until: b.openUntil}
		}
		b.state = HalfOpen
		b.gen++
		fallthrough
	case HalfOpen:
		if b.probing {
			// The probe's verdict decides; until then nobody else goes.
			return Admission{Until: now}
		}
		b.probing = true
		return Admission{OK: true, Probe: true, Gen: b.gen}
	}
	return Admission{OK: true, Gen: b.gen}
}

// Success records a good answer. It reports whether the breaker closed.
func (b *Breaker) Success(a Admission) (closed bool) {
	if a.Gen != b.gen {
		return false
	}
	if a.Probe || b.state != Closed {
		b.close()
		return true
	}
	b.fails = 0
	return false
}

// Failure records a failed attempt. It reports whether this failure opened
// the breaker.
//
// openFor > 0 is a 429 whose Retry-After is too long to wait for: the
// breaker opens at once, threshold or not, until exactly now+openFor, the
// moment the upstream named, whether that is shorter or longer than the
// cooldown (the caller caps openFor at RETRY_AFTER_OPEN_MAX). A failed
// probe doubles the cooldown all the same, for the next open that has no
// Retry-After.
func (b *Breaker) Failure(now time.Time, a Admission, openFor time.Duration) (opened bool) {
	if a.Gen != b.gen {
		// Admitted before the breaker last moved: this failure says
		// nothing about the channel as it is now (statistics still count it).
		return false
	}
	b.fails++
	if b.cfg.Threshold == 0 {
		return false
	}
	if a.Probe {
		b.probing = false
		b.cooldown = min(2*b.cooldown, b.cfg.MaxCooldown)
		b.open(now, openFor)
		return true
	}
	if b.state == Closed && (b.fails >= b.cfg.Threshold || openFor > 0) {
		b.open(now, openFor)
		return true
	}
	return false
}

// Release hands back an admission that produced no verdict (the client went
// away, or the answer says nothing about the channel's health). A held
// probe slot is freed so the next request can probe.
func (b *Breaker) Release(a Admission) {
	if a.Probe && a.Gen == b.gen {
		b.probing = false
	}
}

// Reset closes the breaker by hand.
func (b *Breaker) Reset() { b.close() }

// open opens the breaker for the cooldown, or for openFor when it is set.
func (b *Breaker) open(now time.Time, openFor time.Duration) {
	b.state = Open
	if openFor > 0 {
		b.openUntil = now.Add(openFor)
	} else {
		b.openUntil = now.Add(b.cooldown)
	}
	b.probing = false
	b.gen++
}

func (b *Breaker) close() {
	b.state = Closed
	b.fails = 0
	b.openUntil = time.Time{}
	b.cooldown = b.cfg.Cooldown
	b.probing = false
	b.gen++
}

// BreakerState is the part of a breaker that is journaled and survives a
// restart.
type BreakerState struct {
	State     State
	Fails     int
	OpenUntil time.Time
	Cooldown  time.Duration
}

// Save returns the durable part of the breaker.
func (b *Breaker) Save() BreakerState {
	s := BreakerState{State: b.state, Fails: b.fails, Cooldown: b.cooldown}
	if b.state != Closed {
		s.OpenUntil = b.openUntil
	}
	return s
}

// Restore loads a saved state. A probe that was out when the state was saved
// is forgotten: a half-open breaker comes back open with its old deadline,
// so the next request after that deadline probes again.
func (b *Breaker) Restore(s BreakerState) {
	b.fails = max(s.Fails, 0)
	b.cooldown = min(max(s.Cooldown, b.cfg.Cooldown), b.cfg.MaxCooldown)
	b.probing = false
	b.gen++
	if s.State == Closed || b.cfg.Threshold == 0 {
		b.state, b.openUntil = Closed, time.Time{}
		return
	}
	b.state, b.openUntil = Open, s.OpenUntil
}
