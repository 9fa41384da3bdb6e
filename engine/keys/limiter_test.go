package keys

import (
	"testing"
	"time"
)

// Pure tests of the Limiter: every time is a literal.

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// step is one call on a limiter: an admission (want its verdict and
// wait) or, with tokens > 0, a finished request.
type step struct {
	at       time.Duration
	tokens   int64 // > 0: Finish with these tokens instead of Admit
	want     Verdict
	wantWait time.Duration
}

func TestLimiter(t *testing.T) {
	const s = time.Second
	cases := []struct {
		name  string
		lim   Limits
		spent int64
		steps []step
	}{
		{"no limits admits everything", Limits{}, 0, []step{
			{at: 0}, {at: 0}, {at: 0}, {at: s, tokens: 1 << 40}, {at: 2 * s},
		}},
		{"rpm: the window ends a minute after the oldest request's second", Limits{RPM: 2}, 0, []step{
			{at: 0},
			{at: 500 * time.Millisecond},
			{at: s, want: RateLimited, wantWait: 59 * s},
			{at: 59*s + 999*time.Millisecond, want: RateLimited, wantWait: time.Millisecond},
			{at: 60 * s}, // both of second 0 expired: two more fit
			{at: 60 * s},
			{at: 60 * s, want: RateLimited, wantWait: 60 * s},
		}},
		{"rpm: requests spread over the minute expire one by one", Limits{RPM: 3}, 0, []step{
			{at: 0}, {at: 10 * s}, {at: 20 * s},
			{at: 30 * s, want: RateLimited, wantWait: 30 * s},
			{at: 60 * s},
			{at: 61 * s, want: RateLimited, wantWait: 9 * s},
			{at: 70 * s},
		}},
		{"rpm: a refused request does not count", Limits{RPM: 1}, 0, []step{
			{at: 0},
			{at: 30 * s, want: RateLimited, wantWait: 30 * s},
			{at: 45 * s, want: RateLimited, wantWait: 15 * s},
			{at: 60 * s},
		}},
		{"tpm counts finished requests only", Limits{TPM: 100}, 0, []step{
			{at: 0},
			{at: 0}, // nothing finished yet: in flight requests are not counted
			{at: s, tokens: 80},
			{at: 2 * s}, // 80 < 100
			{at: 3 * s, tokens: 50},
			{at: 4 * s, want: RateLimited, wantWait: 57 * s}, // 130: the 80 of second 1 must expire (at 61 s)
			{at: 61 * s}, // 50 left
			{at: 63 * s}, // the 50 of second 3 expired too
		}},
		{"tpm: exactly at the limit is over it", Limits{TPM: 100}, 0, []step{
			{at: 0, tokens: 100},
			{at: 0, want: RateLimited, wantWait: 60 * s},
			{at: 30 * s, want: RateLimited, wantWait: 30 * s},
		}},
		{"rpm and tpm: the longer wait wins", Limits{RPM: 1, TPM: 10}, 0, []step{
			{at: 0},
			{at: 20 * s, tokens: 10},
			{at: 30 * s, want: RateLimited, wantWait: 50 * s}, // rpm frees at 60 s, tpm at 80 s
			{at: 60 * s, want: RateLimited, wantWait: 20 * s},
			{at: 80 * s},
		}},
		{"quota: spent is permanent and has no wait", Limits{Quota: 100}, 0, []step{
			{at: 0},
			{at: s, tokens: 60},
			{at: 2 * s},
			{at: 3 * s, tokens: 50}, // the request in flight went over: 110
			{at: 4 * s, want: QuotaExceeded},
			{at: 24 * time.Hour, want: QuotaExceeded},
		}},
		{"quota: usage from before a restart counts", Limits{Quota: 100}, 100, []step{
			{at: 0, want: QuotaExceeded},
		}},
		{"quota is checked before the rate limits", Limits{RPM: 1, Quota: 5}, 0, []step{
			{at: 0},
			{at: s, tokens: 5},
			{at: 2 * s, want: QuotaExceeded},
		}},
		{"a report a minute late is ignored, not mixed into the window", Limits{TPM: 10}, 0, []step{
			{at: 61 * s, tokens: 5},
			{at: s, tokens: 100}, // same ring slot as second 61, a minute older
			{at: 62 * s},         // 5 < 10: the late report did not overwrite the slot
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := NewLimiter(c.lim, c.spent)
			for i, st := range c.steps {
				if st.tokens > 0 {
					l.Finish(at(st.at), st.tokens)
					continue
				}
				v, wait := l.Admit(at(st.at))
				if v != st.want || wait != st.wantWait {
					t.Fatalf("step %d (admit at %v): got %v wait %v, want %v wait %v", i, st.at, v, wait, st.want, st.wantWait)
				}
			}
		})
	}
}

func TestLimiterRaisedQuotaAdmitsAgain(t *testing.T) {
	l := NewLimiter(Limits{Quota: 10}, 0)
	l.Finish(t0, 10)
	if v, _ := l.Admit(t0); v != QuotaExceeded {
		t.Fatalf("got %v, want QuotaExceeded", v)
	}
	l.SetLimits(Limits{Quota: 20})
	if v, _ := l.Admit(t0); v != Admitted {
		t.Fatalf("after raising the quota: got %v, want Admitted", v)
	}
}

func TestLimiterMinute(t *testing.T) {
	l := NewLimiter(Limits{RPM: 100}, 0)
	l.Admit(t0)
	l.Admit(at(30 * time.Second))
	l.Finish(at(30*time.Second), 7)
	for _, c := range []struct {
		at         time.Duration
		reqs, toks int64
	}{
		{0, 1, 0},
		{59 * time.Second, 2, 7},
		{60 * time.Second, 1, 7},
		{90 * time.Second, 0, 0},
	} {
		r, tk := l.Minute(at(c.at))
		if r != c.reqs || tk != c.toks {
			t.Errorf("at %v: got %d requests %d tokens, want %d %d", c.at, r, tk, c.reqs, c.toks)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, c := range []struct {
		wait time.Duration
		want int
	}{
		{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {57500 * time.Millisecond, 58}, {60 * time.Second, 60},
	} {
		if got := RetryAfterSeconds(c.wait); got != c.want {
			t.Errorf("RetryAfterSeconds(%v): got %d, want %d", c.wait, got, c.want)
		}
	}
}
