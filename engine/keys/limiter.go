package keys

import "time"

// Limits are one key's limits; 0 means none.
type Limits struct {
	RPM   int64 // requests admitted per minute
	TPM   int64 // tokens of finished requests per minute
	Quota int64 // tokens of finished requests in total
}

// Any reports whether there is a limit at all.
func (l Limits) Any() bool { return l.RPM > 0 || l.TPM > 0 || l.Quota > 0 }

// Verdict is a limiter's answer to an admission.
type Verdict uint8

const (
	Admitted      Verdict = iota
	RateLimited           // over RPM or TPM: try again after the wait
	QuotaExceeded         // the token quota is spent: waiting does not help
)

// Window is the span the per-minute limits look back over.
const Window = time.Minute

// buckets is how many one-second buckets make up Window.
const buckets = int64(Window / time.Second)

// window counts events in one-second buckets over the last minute: the
// bucket of second s counts until second s+60 begins. Requests are thus
// forgotten up to a second early, never late; the memory is fixed
// whatever the limit.
type window struct {
	b [buckets]bucket
}

type bucket struct {
	sec int64 // Unix second this bucket counts; stale when ≤ now-60
	n   int64
}

func (w *window) add(sec, n int64) {
	b := &w.b[mod(sec)]
	if b.sec > sec {
		return // a minute older than what the slot holds: outside every window that matters
	}
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	b.n += n
}

// sum counts the events in the window that ends in second sec.
func (w *window) sum(sec int64) int64 {
	var n int64
	for _, b := range w.b {
		if b.sec > sec-buckets && b.sec <= sec {
			n += b.n
		}
	}
	return n
}

// wait is how long from now until the window's count drops below limit
// (0 if it is below already): the oldest buckets expire first.
func (w *window) wait(now time.Time, limit int64) time.Duration {
	sec := now.Unix()
	n := w.sum(sec)
	if n < limit {
		return 0
	}
	for s := sec - buckets + 1; s <= sec; s++ {
		if b := w.b[mod(s)]; b.sec == s {
			n -= b.n
		}
		if n < limit {
			// Bucket s stops counting when second s+60 begins.
			return time.Unix(s+buckets, 0).Sub(now)
		}
	}
	return time.Unix(sec+buckets, 0).Sub(now) // unreachable: every bucket has expired by then
}

func mod(sec int64) int64 {
	m := sec % buckets
	if m < 0 {
		m += buckets
	}
	return m
}

// Limiter decides admissions for one key. It is a plain single-threaded
// value: the keys actor owns it and passes in the time.
//
// Requests count against RPM when admitted; tokens count against TPM and
// the quota when their request finishes (Finish), since only then is the
// usage known. A request is admitted while the finished requests leave
// some room, so a key may go over TPM or its quota by the tokens of the
// requests admitted before the limit was reached and still in flight
// then, never by more.
type Limiter struct {
	lim   Limits
	reqs  window
	toks  window
	spent int64 // tokens used in total, for the quota
}

// NewLimiter returns a limiter for lim, with spent tokens already used
// (the key's usage so far, so a quota survives restarts).
func NewLimiter(lim Limits, spent int64) *Limiter {
	return &Limiter{lim: lim, spent: spent}
}

// SetLimits changes the limits; the counts so far stay.
func (l *Limiter) SetLimits(lim Limits) { l.lim = lim }

// Admit decides a request at now. Admitted counts it against RPM. When
// refused, wait is how long until the rate limits admit again (0 for a
// spent quota, which no wait cures).
func (l *Limiter) Admit(now time.Time) (Verdict, time.Duration) {
	if l.lim.Quota > 0 && l.spent >= l.lim.Quota {
		return QuotaExceeded, 0
	}
	var wait time.Duration
	if l.lim.RPM > 0 {
		wait = max(wait, l.reqs.wait(now, l.lim.RPM))
	}
	if l.lim.TPM > 0 {
		wait = max(wait, l.toks.wait(now, l.lim.TPM))
	}
	if wait > 0 {
		return RateLimited, wait
	}
	l.reqs.add(now.Unix(), 1)
	return Admitted, 0
}

// Finish counts a finished request's tokens at now.
func (l *Limiter) Finish(now time.Time, tokens int64) {
	if tokens <= 0 {
		return
	}
	l.toks.add(now.Unix(), tokens)
	l.spent += tokens
}

// Minute reports the requests admitted and the tokens finished in the
// window ending at now.
func (l *Limiter) Minute(now time.Time) (requests, tokens int64) {
	return l.reqs.sum(now.Unix()), l.toks.sum(now.Unix())
}

// RetryAfterSeconds is wait as a Retry-After header gives it: whole
// seconds, rounded up, at least 1.
func RetryAfterSeconds(wait time.Duration) int {
	s := int((wait + time.Second - 1) / time.Second)
	return max(s, 1)
}
