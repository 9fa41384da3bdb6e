package stats

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Shanghai without the system's zone files

	"catfish/channel"
	"catfish/engine/dialect"
)

// Pure tests of the Stats value: every time comes from a record, so days,
// hours and rollovers are literal.

// t0 is an arbitrary hour in UTC.
var t0 = time.Date(2024, 3, 9, 10, 0, 0, 0, time.UTC)

func att(id string, v channel.Verdict, at time.Time) Attempt {
	return Attempt{ChannelID: id, At: at, Verdict: v, TTFB: 10 * time.Millisecond}
}

// rec is a finished request at end, with status and attempts.
func rec(end time.Time, status int, attempts ...Attempt) *Record {
	return &Record{Start: end.Add(-time.Second), End: end, Scheme: "s", Status: status, Attempts: attempts}
}

func TestStatsRequestsVersusAttempts(t *testing.T) {
	s := New(time.UTC)
	// Two failed attempts on A, then B answers: one request, three attempts.
	s.record(rec(t0, 200, att("A", channel.Failure, t0), att("A", channel.Failure, t0), att("B", channel.Success, t0)))
	// A request that every channel failed.
	s.record(rec(t0, 502, att("A", channel.Failure, t0), att("B", channel.Failure, t0)))

	if want := (Counts{Success: 1, Fail: 1}); s.total != want {
		t.Errorf("total: got %+v, want %+v", s.total, want)
	}
	if want := (Counts{Success: 1, Fail: 1}); s.today.Counts != want {
		t.Errorf("today: got %+v, want %+v", s.today.Counts, want)
	}
	wantCh := map[string]Counts{"A": {Fail: 3}, "B": {Success: 1, Fail: 1}}
	for id, want := range wantCh {
		if got := s.channels[id].Counts; got != want {
			t.Errorf("channel %s attempts: got %+v, want %+v", id, got, want)
		}
		if got := *s.today.ByChannel[id]; got != want {
			t.Errorf("channel %s today: got %+v, want %+v", id, got, want)
		}
	}
	if got := s.schemes["s"].Counts; got != (Counts{Success: 1, Fail: 1}) {
		t.Errorf("scheme: got %+v", got)
	}
	if s.failovers != 2 {
		t.Errorf("failovers: got %d, want 2", s.failovers)
	}
	// Retries on one channel are not a failover.
	s.record(rec(t0, 200, att("A", channel.Failure, t0), att("A", channel.Success, t0)))
	if s.failovers != 2 {
		t.Errorf("failovers after a retry on the same channel: got %d, want 2", s.failovers)
	}
}

func TestStatsCanceledCountsOnlyCanceled(t *testing.T) {
	s := New(time.UTC)
	r := rec(t0, 499, att("A", channel.Neutral, t0))
	r.Canceled = true
	s.record(r)
	if s.canceled != 1 {
		t.Errorf("canceled: got %d, want 1", s.canceled)
	}
	if s.total != (Counts{}) || s.today.Counts != (Counts{}) {
		t.Errorf("a canceled request counted: total %+v, today %+v", s.total, s.today.Counts)
	}
	if len(s.channels) != 0 || len(s.today.ByChannel) != 0 {
		t.Errorf("the canceled attempt counted for its channel: %v", s.channels)
	}
	if len(s.schemes) != 0 || len(s.hours) != 0 {
		t.Errorf("a canceled request counted in schemes %v or hours %v", s.schemes, s.hours)
	}
	v := s.view(t0)
	if v.Canceled != 1 || v.Total != (Counts{}) {
		t.Errorf("view: canceled %d total %+v", v.Canceled, v.Total)
	}
	// A channel that failed before the client left still failed.
	r = rec(t0, 499, att("A", channel.Failure, t0), att("B", channel.Neutral, t0))
	r.Canceled = true
	s.record(r)
	if got := s.channels["A"].Counts; got != (Counts{Fail: 1}) {
		t.Errorf("A's failure before the client left: got %+v", got)
	}
	if _, ok := s.channels["B"]; ok {
		t.Errorf("B's canceled attempt counted")
	}
}

func TestStatsNeutralAttemptsCountNowhere(t *testing.T) {
	s := New(time.UTC)
	// context_length on A (not A's fault), then B answers.
	s.record(rec(t0, 200, att("A", channel.Neutral, t0), att("B", channel.Success, t0)))
	// A 400 the client's request earned, passed back as is.
	s.record(rec(t0, 400, att("A", channel.Neutral, t0)))
	if _, ok := s.channels["A"]; ok {
		t.Errorf("neutral attempts counted for A: %+v", s.channels["A"])
	}
	if _, ok := s.today.ByChannel["A"]; ok {
		t.Errorf("neutral attempts counted today for A")
	}
	if got := s.channels["B"].Counts; got != (Counts{Success: 1}) {
		t.Errorf("B: got %+v", got)
	}
	// The client's requests themselves count: one answered, one not.
	if s.total != (Counts{Success: 1, Fail: 1}) {
		t.Errorf("total: got %+v", s.total)
	}
	if s.failovers != 1 {
		t.Errorf("failovers: got %d, want 1", s.failovers)
	}
}

// withUsage gives the last attempt of r the usage u, as the proxy reports
// an answer's tokens.
func withUsage(r *Record, u dialect.Usage) *Record {
	r.Attempts[len(r.Attempts)-1].Usage = u
	r.Answered, r.Usage = r.Attempts[len(r.Attempts)-1].ChannelID, u
	return r
}

func TestStatsTokensGoToTheAnsweringChannel(t *testing.T) {
	s := New(time.UTC)
	s.record(withUsage(rec(t0, 200, att("A", channel.Failure, t0), att("B", channel.Success, t0)),
		dialect.Usage{Prompt: 3, Completion: 5, Total: 8}))
	s.record(withUsage(rec(t0, 200, att("B", channel.Success, t0)), dialect.Usage{Prompt: 1, Completion: 1, Total: 2}))
	r := withUsage(rec(t0, 200, att("C", channel.Success, t0)), dialect.Usage{Prompt: 10, Completion: 20, Total: 30})
	r.Scheme = "other"
	s.record(r)

	if got := s.channels["A"].Tokens; got != (Tokens{}) {
		t.Errorf("A answered nothing but got tokens %+v", got)
	}
	if got, want := s.channels["B"].Tokens, (Tokens{Prompt: 4, Completion: 6, Total: 10}); got != want {
		t.Errorf("B's tokens: got %+v, want %+v", got, want)
	}
	if got, want := s.schemes["s"].Tokens, (Tokens{Prompt: 4, Completion: 6, Total: 10}); got != want {
		t.Errorf("scheme s tokens: got %+v, want %+v", got, want)
	}
	if got, want := s.schemes["other"].Tokens, (Tokens{Prompt: 10, Completion: 20, Total: 30}); got != want {
		t.Errorf("scheme other tokens: got %+v, want %+v", got, want)
	}
	v := s.view(t0)
	if got := v.ByConfigID["B"].Tokens; got != (Tokens{Prompt: 4, Completion: 6, Total: 10}) {
		t.Errorf("view of B's tokens: %+v", got)
	}
}

// TestStatsTokensOfAContinuation: a stream that broke and was continued
// on another channel credits each channel with its own tokens; the
// request (and its scheme) with their sum.
func TestStatsTokensOfAContinuation(t *testing.T) {
	s := New(time.UTC)
	r := rec(t0, 200, att("A", channel.Failure, t0), att("B", channel.Success, t0))
	r.Attempts[0].Usage = dialect.Usage{Prompt: 10, Completion: 40, Total: 50}
	r.Attempts[1].Usage = dialect.Usage{Prompt: 12, Completion: 20, Total: 32}
	r.Answered, r.Usage = "B", dialect.Usage{Prompt: 22, Completion: 60, Total: 82}
	s.record(r)
	if got := s.channels["A"].Tokens; got != (Tokens{Prompt: 10, Completion: 40, Total: 50}) {
		t.Errorf("A's tokens: %+v", got)
	}
	if got := s.channels["B"].Tokens; got != (Tokens{Prompt: 12, Completion: 20, Total: 32}) {
		t.Errorf("B's tokens: %+v", got)
	}
	if got := s.schemes["s"].Tokens; got != (Tokens{Prompt: 22, Completion: 60, Total: 82}) {
		t.Errorf("scheme tokens: %+v", got)
	}
}

func TestStatsBrokenStreamIsAFailedRequest(t *testing.T) {
	// A stream that broke after the first bytes went out: the status sent
	// was 200, but the client got an error event, not an answer.
	s := New(time.UTC)
	r := rec(t0, 200, att("A", channel.Failure, t0))
	r.Outcome, r.Broken = "broken", true
	s.record(r)
	if s.total != (Counts{Fail: 1}) || s.today.Counts != (Counts{Fail: 1}) {
		t.Errorf("total %+v today %+v, want one failure", s.total, s.today.Counts)
	}
	if got := s.schemes["s"].Counts; got != (Counts{Fail: 1}) {
		t.Errorf("scheme: %+v", got)
	}
	if got := s.hours.get(hourOf(t0)).Counts; got != (Counts{Fail: 1}) {
		t.Errorf("hour: %+v", got)
	}
}

func TestStatsHourlyBuckets(t *testing.T) {
	s := New(time.UTC)
	h0 := t0.Truncate(time.Hour)
	s.record(rec(h0.Add(5*time.Minute), 200, att("A", channel.Success, h0.Add(5*time.Minute))))
	s.record(rec(h0.Add(59*time.Minute), 502, att("A", channel.Failure, h0.Add(59*time.Minute))))
	s.record(rec(h0.Add(3*time.Hour), 200, att("A", channel.Success, h0.Add(3*time.Hour))))

	v := s.view(h0.Add(3*time.Hour + 30*time.Minute))
	if len(v.Hourly) != KeepHours {
		t.Fatalf("hourly: %d buckets, want a dense %d", len(v.Hourly), KeepHours)
	}
	last := v.Hourly[len(v.Hourly)-1]
	if !last.Hour.Equal(h0.Add(3*time.Hour)) || last.Counts != (Counts{Success: 1}) {
		t.Errorf("last bucket: %+v", last)
	}
	for i := 1; i < len(v.Hourly); i++ {
		if d := v.Hourly[i].Hour.Sub(v.Hourly[i-1].Hour); d != time.Hour {
			t.Fatalf("buckets %d and %d are %v apart", i-1, i, d)
		}
	}
	if b := v.Hourly[len(v.Hourly)-4]; !b.Hour.Equal(h0) || b.Counts != (Counts{Success: 1, Fail: 1}) {
		t.Errorf("bucket of h0: %+v", b)
	}
	var sum Counts
	for _, b := range v.Hourly {
		sum.Success += b.Success
		sum.Fail += b.Fail
	}
	if sum != v.Total {
		t.Errorf("hourly sums to %+v, total is %+v", sum, v.Total)
	}
	ch := v.ByConfigID["A"].Hourly
	if len(ch) != 2 || !ch[0].Hour.Equal(h0) || ch[0].Counts != (Counts{Success: 1, Fail: 1}) || ch[1].Counts != (Counts{Success: 1}) {
		t.Errorf("A's hourly: %+v", ch)
	}

	// Seven days on, h0 has left the window: gone from memory, not only
	// from the view.
	later := h0.Add(KeepHours * time.Hour)
	s.record(rec(later, 200, att("A", channel.Success, later)))
	if got := s.hours[0].H; got <= hourOf(later)-KeepHours {
		t.Errorf("request hours keep hour %d, older than 7 days before %d", got, hourOf(later))
	}
	if got := s.channels["A"].Hours[0].H; got <= hourOf(later)-KeepHours {
		t.Errorf("channel hours keep hour %d, older than 7 days", got)
	}
	v = s.view(later)
	if first := v.Hourly[0]; !first.Hour.Equal(h0.Add(time.Hour)) || first.Counts != (Counts{}) {
		t.Errorf("first bucket seven days on: %+v", first)
	}
	if ch := v.ByConfigID["A"].Hourly; len(ch) != 2 || !ch[0].Hour.Equal(h0.Add(3*time.Hour)) {
		t.Errorf("A's hourly seven days on: %+v", ch)
	}
}

// TestStatsLateRecordOlderThanTheWindowIsNotKept: hours.add trimmed
// relative to the hour it just added, so a record dated more than seven
// days before the newest hour was inserted and kept.
func TestStatsLateRecordOlderThanTheWindowIsNotKept(t *testing.T) {
	s := New(time.UTC)
	s.record(rec(t0, 200, att("A", channel.Success, t0)))
	old := t0.Add(-(KeepHours + 5) * time.Hour)
	s.record(rec(old, 200, att("A", channel.Success, old)))
	if len(s.hours) != 1 || s.hours[0].H != hourOf(t0) {
		t.Errorf("request hours: %+v, want only hour %d", s.hours, hourOf(t0))
	}
	if h := s.channels["A"].Hours; len(h) != 1 || h[0].H != hourOf(t0) {
		t.Errorf("channel hours: %+v, want only hour %d", h, hourOf(t0))
	}
	if s.total != (Counts{Success: 2}) {
		t.Errorf("total: %+v (the late request still counts)", s.total)
	}
}

func TestStatsTTFBQuantiles(t *testing.T) {
	cases := []struct {
		name           string
		ms             []float64
		mean, p50, p95 float64
	}{
		{"uniform 1..100 ms", seq(1, 100), 50.5, 50, 95},
		{"uniform 100..2000 ms", seqStep(100, 2000, 10), 1050, 1050, 1905},
		{"all 250 ms", repeat(250, 40), 250, 250, 250},
		{"one slow outlier in 100", append(repeat(20, 99), 5000), 69.8, 20, 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h histogram
			for _, ms := range tc.ms {
				h.observe(time.Duration(ms * float64(time.Millisecond)))
			}
			if h.Count != int64(len(tc.ms)) {
				t.Fatalf("count %d, want %d", h.Count, len(tc.ms))
			}
			if got := h.mean(); math.Abs(got-tc.mean) > 0.01*tc.mean {
				t.Errorf("mean: got %.2f, want %.2f", got, tc.mean)
			}
			// Bucket interpolation: within the bucket's width, at most 35 %.
			for _, q := range []struct {
				q, want float64
			}{{0.5, tc.p50}, {0.95, tc.p95}} {
				if got := h.quantile(q.q); math.Abs(got-q.want) > 0.35*q.want {
					t.Errorf("p%.0f: got %.1f, want about %.1f", q.q*100, got, q.want)
				}
			}
		})
	}
	var h histogram
	if h.quantile(0.5) != 0 || h.mean() != 0 {
		t.Errorf("empty histogram: p50 %v mean %v", h.quantile(0.5), h.mean())
	}
	h.observe(time.Hour) // beyond the last bound
	if got := h.quantile(0.95); !(got >= latencyBounds[len(latencyBounds)-1]) || math.IsInf(got, 0) || math.IsNaN(got) {
		t.Errorf("p95 of a value past the last bound: %v", got)
	}
}

func seq(from, to float64) []float64 { return seqStep(from, to, 1) }

func seqStep(from, to, step float64) []float64 {
	var out []float64
	for v := from; v <= to; v += step {
		out = append(out, v)
	}
	return out
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestStatsTTFBOnlyFromSuccessfulAttempts(t *testing.T) {
	s := New(time.UTC)
	fail := att("A", channel.Failure, t0)
	fail.TTFB = time.Second
	ok := att("A", channel.Success, t0)
	ok.TTFB = 40 * time.Millisecond
	s.record(rec(t0, 200, fail, ok))
	if h := s.channels["A"].TTFB; h.Count != 1 || h.SumMS != 40 {
		t.Errorf("TTFB: count %d sum %v ms, want one of 40 ms", h.Count, h.SumMS)
	}
}

// TestStatsDayRollover walks across local midnight in UTC+8, where the
// local date and the UTC date differ for eight hours a day.
func TestStatsDayRollover(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	local := func(d, h, m, s, ns int) time.Time { return time.Date(2024, 3, d, h, m, s, ns, sh) }
	s := New(sh)

	// 07:00 on the 9th in Shanghai is still the 8th in UTC.
	s.record(rec(local(9, 7, 0, 0, 0), 200, att("A", channel.Success, local(9, 7, 0, 0, 0))))
	if s.today.Date != "2024-03-09" {
		t.Fatalf("today: %q, want the local date 2024-03-09", s.today.Date)
	}
	lastNs := local(9, 23, 59, 59, 999_999_999)
	s.record(rec(lastNs, 502, att("A", channel.Failure, lastNs)))
	if s.today.Counts != (Counts{Success: 1, Fail: 1}) {
		t.Fatalf("today before midnight: %+v", s.today.Counts)
	}

	midnight := local(10, 0, 0, 0, 0)
	s.record(rec(midnight, 200, att("B", channel.Success, midnight)))
	if s.today.Date != "2024-03-10" || s.today.Counts != (Counts{Success: 1}) {
		t.Errorf("today after midnight: %q %+v", s.today.Date, s.today.Counts)
	}
	if _, ok := s.today.ByChannel["A"]; ok || *s.today.ByChannel["B"] != (Counts{Success: 1}) {
		t.Errorf("today by channel after midnight: %v", s.today.ByChannel)
	}

	// A request that ended a moment before midnight but is counted after it
	// (records arrive in any order): total yes, today no.
	late := local(9, 23, 59, 59, 0)
	s.record(rec(late, 502, att("A", channel.Failure, late)))
	if s.today.Date != "2024-03-10" || s.today.Counts != (Counts{Success: 1}) {
		t.Errorf("a late record from yesterday changed today: %q %+v", s.today.Date, s.today.Counts)
	}
	if _, ok := s.today.ByChannel["A"]; ok {
		t.Errorf("a late record's attempt counted today: %v", s.today.ByChannel)
	}
	if s.total != (Counts{Success: 2, Fail: 2}) {
		t.Errorf("total: %+v", s.total)
	}
	if got := s.channels["A"].Counts; got != (Counts{Success: 1, Fail: 2}) {
		t.Errorf("A's attempts: %+v", got)
	}

	v := s.view(local(10, 0, 30, 0, 0))
	if v.Today.Date != "2024-03-10" || v.Today.Counts != (Counts{Success: 1}) || v.TimeZone != "Asia/Shanghai" {
		t.Errorf("view just after midnight: %+v zone %s", v.Today, v.TimeZone)
	}
	// The next midnight with no traffic: the view shows an empty new day.
	v = s.view(local(11, 0, 0, 1, 0))
	if v.Today.Date != "2024-03-11" || v.Today.Counts != (Counts{}) || len(v.Today.ByConfigID) != 0 {
		t.Errorf("view on a day without traffic: %+v", v.Today)
	}
	if v.Total != (Counts{Success: 2, Fail: 2}) {
		t.Errorf("total in the view: %+v", v.Total)
	}
}

// statsScript is a deterministic run of records over three days, hours,
// channels, schemes, cancels and late arrivals.
func statsScript(loc *time.Location) []*Record {
	start := time.Date(2024, 3, 9, 20, 0, 0, 0, loc)
	var out []*Record
	ids := []string{"A", "B", "C"}
	for i := range 300 {
		end := start.Add(time.Duration(i) * 13 * time.Minute)
		if i%17 == 0 {
			end = end.Add(-5 * time.Hour) // late, maybe from the day before
		}
		var as []Attempt
		for j := range i%3 + 1 {
			v := channel.Failure
			if j == i%3 {
				v = []channel.Verdict{channel.Success, channel.Failure, channel.Neutral}[i%5%3]
			}
			a := att(ids[(i+j)%3], v, end.Add(-time.Second))
			a.TTFB = time.Duration(i%50+1) * time.Millisecond
			as = append(as, a)
		}
		status := 200
		if as[len(as)-1].Verdict != channel.Success {
			status = 502
		}
		r := rec(end, status, as...)
		r.Scheme = []string{"s1", "s2"}[i%2]
		r.Key = []string{"app", "admin", "", "team"}[i%4]
		if as[len(as)-1].Verdict == channel.Success {
			withUsage(r, dialect.Usage{Prompt: int64(i), Completion: 2, Total: int64(i) + 2})
		}
		if i%23 == 0 {
			r.Canceled, r.Status = true, 499
		}
		out = append(out, r)
	}
	return out
}

// TestStatsDeltaRoundTrip: replaying the journal's deltas, in order, onto
// an empty Stats rebuilds exactly what a snapshot would hold; deltas hold
// absolute values, so replaying one twice changes nothing.
func TestStatsDeltaRoundTrip(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	src := New(sh)
	once, twice := New(sh), New(sh)
	var deltas []*Doc
	for i, r := range statsScript(sh) {
		src.record(r)
		if i%7 == 6 || i%11 == 0 {
			d := roundTripJSON(t, src.takeDelta())
			deltas = append(deltas, d)
			once.Merge(d)
			twice.Merge(d)
			twice.Merge(d)
		}
	}
	final := src.takeDelta()
	if final == nil {
		t.Fatal("no delta for the last records")
	}
	final = roundTripJSON(t, final)
	once.Merge(final)
	twice.Merge(final)
	twice.Merge(final)
	if src.takeDelta() != nil {
		t.Errorf("a second take with nothing new returned a delta")
	}

	want := docJSON(t, src.Doc())
	if got := docJSON(t, once.Doc()); got != want {
		t.Errorf("deltas applied once:\n got %s\nwant %s", got, want)
	}
	if got := docJSON(t, twice.Doc()); got != want {
		t.Errorf("deltas applied twice:\n got %s\nwant %s", got, want)
	}
	// A snapshot merged over a replica that already has it all.
	once.Merge(roundTripJSON(t, src.Doc()))
	if got := docJSON(t, once.Doc()); got != want {
		t.Errorf("snapshot over the replica:\n got %s\nwant %s", got, want)
	}
	// And onto an empty one.
	fresh := New(sh)
	fresh.Merge(roundTripJSON(t, src.Doc()))
	if got := docJSON(t, fresh.Doc()); got != want {
		t.Errorf("snapshot onto an empty Stats:\n got %s\nwant %s", got, want)
	}
	// The views agree as well.
	now := time.Date(2024, 3, 12, 12, 0, 0, 0, sh)
	if a, b := src.view(now), once.view(now); !reflect.DeepEqual(a, b) {
		t.Errorf("views differ:\n got %+v\nwant %+v", b, a)
	}
	if len(deltas) < 10 {
		t.Errorf("only %d deltas: the script is too short to mean much", len(deltas))
	}
}

// TestStatsDeltaAcrossMidnight: a delta taken after the rollover carries
// the new day whole; a replica that saw yesterday's entries drops them.
func TestStatsDeltaAcrossMidnight(t *testing.T) {
	src, dst := New(time.UTC), New(time.UTC)
	day1 := time.Date(2024, 3, 9, 23, 0, 0, 0, time.UTC)
	src.record(rec(day1, 200, att("A", channel.Success, day1)))
	src.record(rec(day1, 200, att("B", channel.Success, day1)))
	dst.Merge(roundTripJSON(t, src.takeDelta()))
	day2 := day1.Add(2 * time.Hour)
	src.record(rec(day2, 200, att("A", channel.Success, day2)))
	dst.Merge(roundTripJSON(t, src.takeDelta()))
	if dst.today.Date != "2024-03-10" || dst.today.Counts != (Counts{Success: 1}) {
		t.Errorf("replica's today: %q %+v", dst.today.Date, dst.today.Counts)
	}
	if _, ok := dst.today.ByChannel["B"]; ok {
		t.Errorf("yesterday's entry for B survived the rollover on the replica: %v", dst.today.ByChannel)
	}
	// An old delta replayed after a newer day leaves today alone.
	old := &Doc{Today: &Today{Date: "2024-03-09", Counts: Counts{Success: 9}}}
	dst.Merge(old)
	if dst.today.Date != "2024-03-10" || dst.today.Counts != (Counts{Success: 1}) {
		t.Errorf("an older day's record changed today: %q %+v", dst.today.Date, dst.today.Counts)
	}
}

func roundTripJSON(t *testing.T, d *Doc) *Doc {
	t.Helper()
	if d == nil {
		t.Fatal("nil delta")
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out Doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func docJSON(t *testing.T, d *Doc) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStatsViewIsACopy: the view shares nothing with the recorder's state.
func TestStatsViewIsACopy(t *testing.T) {
	s := New(time.UTC)
	s.record(rec(t0, 200, att("A", channel.Success, t0)))
	v := s.view(t0)
	v.ByConfigID["A"].Success = 99
	v.Today.ByConfigID["A"] = Counts{Success: 99}
	if len(v.ByConfigID["A"].Hourly) > 0 {
		v.ByConfigID["A"].Hourly[0].Success = 99
	}
	if s.channels["A"].Success != 1 || s.today.ByChannel["A"].Success != 1 || s.channels["A"].Hours[0].Success != 1 {
		t.Errorf("changing the view changed the stats")
	}
}

// Integration: the counts as /admin/stats shows them after real traffic.

func TestStatsByKey(t *testing.T) {
	s := New(time.UTC)
	ok := func(key string, at time.Time, prompt, completion int64) *Record {
		r := rec(at, 200, att("A", channel.Success, at))
		r.Key, r.Answered = key, "A"
		r.Usage = dialect.Usage{Prompt: prompt, Completion: completion, Total: prompt + completion}
		return r
	}
	s.record(ok("app", t0, 3, 5))
	s.record(ok("app", t0.Add(time.Hour), 1, 1))
	s.record(ok("admin", t0, 2, 2))
	s.record(ok("", t0, 9, 9)) // no key known: counted nowhere by key
	failed := rec(t0, 502, att("A", channel.Failure, t0))
	failed.Key = "app"
	s.record(failed)
	gone := ok("app", t0, 100, 100)
	gone.Canceled, gone.Status = true, 499
	s.record(gone) // a canceled request is neither success nor failure

	v := s.view(t0.Add(2 * time.Hour))
	if len(v.ByKey) != 2 {
		t.Fatalf("by_key: %+v", v.ByKey)
	}
	app := v.ByKey["app"]
	if app.Counts != (Counts{Success: 2, Fail: 1}) || app.Tokens != (Tokens{Prompt: 4, Completion: 6, Total: 10}) {
		t.Errorf("app: %+v", app)
	}
	want := []HourView{{Hour: t0, Counts: Counts{Success: 1, Fail: 1}}, {Hour: t0.Add(time.Hour), Counts: Counts{Success: 1}}}
	if !reflect.DeepEqual(app.Hourly, want) {
		t.Errorf("app hourly: %+v, want %+v", app.Hourly, want)
	}
	if a := v.ByKey["admin"]; a.Counts != (Counts{Success: 1}) || a.Tokens.Total != 4 {
		t.Errorf("admin: %+v", a)
	}
	// A week later the hours are gone, the totals stay.
	if later := s.view(t0.Add(8 * 24 * time.Hour)).ByKey["app"]; len(later.Hourly) != 0 || later.Counts != app.Counts {
		t.Errorf("a week later: %+v", later)
	}
	// /metrics counts the same.
	out := string(Metrics(s.metricsView(), nil, "v", t0))
	for _, line := range []string{
		`catfish_key_requests_total{key="app",result="success"} 2`,
		`catfish_key_requests_total{key="app",result="fail"} 1`,
		`catfish_key_requests_total{key="admin",result="success"} 1`,
		`catfish_key_tokens_total{key="app",kind="prompt"} 4`,
		`catfish_key_tokens_total{key="app",kind="completion"} 6`,
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("metrics lack %s", line)
		}
	}
	// Only the keys that changed are in the next delta.
	s.takeDelta()
	s.record(ok("admin", t0, 1, 1))
	if d := s.takeDelta(); len(d.Keys) != 1 || d.Keys["admin"] == nil || len(d.Keys["admin"].Hours) != 1 {
		t.Errorf("delta after one admin request: %+v", d.Keys)
	}
}
