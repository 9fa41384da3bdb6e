package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Shanghai without the system's zone files
)

// Pure tests of the Stats value: every time comes from a record, so days,
// hours and rollovers are literal.

// t0 is an arbitrary hour in UTC.
var t0 = time.Date(2024, 3, 9, 10, 0, 0, 0, time.UTC)

func att(id string, v verdictKind, at time.Time) attemptLog {
	return attemptLog{ChannelID: id, At: at, verdict: v, TTFB: 10 * time.Millisecond}
}

// rec is a finished request at end, with status and attempts.
func rec(end time.Time, status int, attempts ...attemptLog) *requestRecord {
	return &requestRecord{Start: end.Add(-time.Second), End: end, Scheme: "s", Status: status, Attempts: attempts}
}

func TestStatsRequestsVersusAttempts(t *testing.T) {
	s := newStats(time.UTC)
	// Two failed attempts on A, then B answers: one request, three attempts.
	s.record(rec(t0, 200, att("A", verdictFail, t0), att("A", verdictFail, t0), att("B", verdictOK, t0)))
	// A request that every channel failed.
	s.record(rec(t0, 502, att("A", verdictFail, t0), att("B", verdictFail, t0)))

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
	s.record(rec(t0, 200, att("A", verdictFail, t0), att("A", verdictOK, t0)))
	if s.failovers != 2 {
		t.Errorf("failovers after a retry on the same channel: got %d, want 2", s.failovers)
	}
}

func TestStatsCanceledCountsOnlyCanceled(t *testing.T) {
	s := newStats(time.UTC)
	r := rec(t0, 499, att("A", verdictNone, t0))
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
	r = rec(t0, 499, att("A", verdictFail, t0), att("B", verdictNone, t0))
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
	s := newStats(time.UTC)
	// context_length on A (not A's fault), then B answers.
	s.record(rec(t0, 200, att("A", verdictNone, t0), att("B", verdictOK, t0)))
	// A 400 the client's request earned, passed back as is.
	s.record(rec(t0, 400, att("A", verdictNone, t0)))
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

func TestStatsTokensGoToTheAnsweringChannel(t *testing.T) {
	s := newStats(time.UTC)
	r := rec(t0, 200, att("A", verdictFail, t0), att("B", verdictOK, t0))
	r.Answered, r.Usage = "B", usage{Prompt: 3, Completion: 5, Total: 8}
	s.record(r)
	r = rec(t0, 200, att("B", verdictOK, t0))
	r.Answered, r.Usage = "B", usage{Prompt: 1, Completion: 1, Total: 2}
	s.record(r)
	r = rec(t0, 200, att("C", verdictOK, t0))
	r.Scheme, r.Answered, r.Usage = "other", "C", usage{Prompt: 10, Completion: 20, Total: 30}
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

func TestStatsBrokenStreamIsAFailedRequest(t *testing.T) {
	// A stream that broke after the first bytes went out: the status sent
	// was 200, but the client got an error event, not an answer.
	s := newStats(time.UTC)
	r := rec(t0, 200, att("A", verdictFail, t0))
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
	s := newStats(time.UTC)
	h0 := t0.Truncate(time.Hour)
	s.record(rec(h0.Add(5*time.Minute), 200, att("A", verdictOK, h0.Add(5*time.Minute))))
	s.record(rec(h0.Add(59*time.Minute), 502, att("A", verdictFail, h0.Add(59*time.Minute))))
	s.record(rec(h0.Add(3*time.Hour), 200, att("A", verdictOK, h0.Add(3*time.Hour))))

	v := s.view(h0.Add(3*time.Hour + 30*time.Minute))
	if len(v.Hourly) != keepHours {
		t.Fatalf("hourly: %d buckets, want a dense %d", len(v.Hourly), keepHours)
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
	later := h0.Add(keepHours * time.Hour)
	s.record(rec(later, 200, att("A", verdictOK, later)))
	if got := s.hours[0].H; got <= hourOf(later)-keepHours {
		t.Errorf("request hours keep hour %d, older than 7 days before %d", got, hourOf(later))
	}
	if got := s.channels["A"].Hours[0].H; got <= hourOf(later)-keepHours {
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
	s := newStats(time.UTC)
	s.record(rec(t0, 200, att("A", verdictOK, t0)))
	old := t0.Add(-(keepHours + 5) * time.Hour)
	s.record(rec(old, 200, att("A", verdictOK, old)))
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
	s := newStats(time.UTC)
	fail := att("A", verdictFail, t0)
	fail.TTFB = time.Second
	ok := att("A", verdictOK, t0)
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
	s := newStats(sh)

	// 07:00 on the 9th in Shanghai is still the 8th in UTC.
	s.record(rec(local(9, 7, 0, 0, 0), 200, att("A", verdictOK, local(9, 7, 0, 0, 0))))
	if s.today.Date != "2024-03-09" {
		t.Fatalf("today: %q, want the local date 2024-03-09", s.today.Date)
	}
	lastNs := local(9, 23, 59, 59, 999_999_999)
	s.record(rec(lastNs, 502, att("A", verdictFail, lastNs)))
	if s.today.Counts != (Counts{Success: 1, Fail: 1}) {
		t.Fatalf("today before midnight: %+v", s.today.Counts)
	}

	midnight := local(10, 0, 0, 0, 0)
	s.record(rec(midnight, 200, att("B", verdictOK, midnight)))
	if s.today.Date != "2024-03-10" || s.today.Counts != (Counts{Success: 1}) {
		t.Errorf("today after midnight: %q %+v", s.today.Date, s.today.Counts)
	}
	if _, ok := s.today.ByChannel["A"]; ok || *s.today.ByChannel["B"] != (Counts{Success: 1}) {
		t.Errorf("today by channel after midnight: %v", s.today.ByChannel)
	}

	// A request that ended a moment before midnight but is counted after it
	// (records arrive in any order): total yes, today no.
	late := local(9, 23, 59, 59, 0)
	s.record(rec(late, 502, att("A", verdictFail, late)))
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
func statsScript(loc *time.Location) []*requestRecord {
	start := time.Date(2024, 3, 9, 20, 0, 0, 0, loc)
	var out []*requestRecord
	ids := []string{"A", "B", "C"}
	for i := range 300 {
		end := start.Add(time.Duration(i) * 13 * time.Minute)
		if i%17 == 0 {
			end = end.Add(-5 * time.Hour) // late, maybe from the day before
		}
		var as []attemptLog
		for j := range i%3 + 1 {
			v := verdictFail
			if j == i%3 {
				v = []verdictKind{verdictOK, verdictFail, verdictNone}[i%5%3]
			}
			a := att(ids[(i+j)%3], v, end.Add(-time.Second))
			a.TTFB = time.Duration(i%50+1) * time.Millisecond
			as = append(as, a)
		}
		status := 200
		if as[len(as)-1].verdict != verdictOK {
			status = 502
		}
		r := rec(end, status, as...)
		r.Scheme = []string{"s1", "s2"}[i%2]
		if as[len(as)-1].verdict == verdictOK {
			r.Answered = as[len(as)-1].ChannelID
			r.Usage = usage{Prompt: int64(i), Completion: 2, Total: int64(i) + 2}
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
	src := newStats(sh)
	once, twice := newStats(sh), newStats(sh)
	var deltas []*statsDoc
	for i, r := range statsScript(sh) {
		src.record(r)
		if i%7 == 6 || i%11 == 0 {
			d := roundTripJSON(t, src.takeDelta())
			deltas = append(deltas, d)
			once.merge(d)
			twice.merge(d)
			twice.merge(d)
		}
	}
	final := src.takeDelta()
	if final == nil {
		t.Fatal("no delta for the last records")
	}
	final = roundTripJSON(t, final)
	once.merge(final)
	twice.merge(final)
	twice.merge(final)
	if src.takeDelta() != nil {
		t.Errorf("a second take with nothing new returned a delta")
	}

	want := docJSON(t, src.doc())
	if got := docJSON(t, once.doc()); got != want {
		t.Errorf("deltas applied once:\n got %s\nwant %s", got, want)
	}
	if got := docJSON(t, twice.doc()); got != want {
		t.Errorf("deltas applied twice:\n got %s\nwant %s", got, want)
	}
	// A snapshot merged over a replica that already has it all.
	once.merge(roundTripJSON(t, src.doc()))
	if got := docJSON(t, once.doc()); got != want {
		t.Errorf("snapshot over the replica:\n got %s\nwant %s", got, want)
	}
	// And onto an empty one.
	fresh := newStats(sh)
	fresh.merge(roundTripJSON(t, src.doc()))
	if got := docJSON(t, fresh.doc()); got != want {
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
	src, dst := newStats(time.UTC), newStats(time.UTC)
	day1 := time.Date(2024, 3, 9, 23, 0, 0, 0, time.UTC)
	src.record(rec(day1, 200, att("A", verdictOK, day1)))
	src.record(rec(day1, 200, att("B", verdictOK, day1)))
	dst.merge(roundTripJSON(t, src.takeDelta()))
	day2 := day1.Add(2 * time.Hour)
	src.record(rec(day2, 200, att("A", verdictOK, day2)))
	dst.merge(roundTripJSON(t, src.takeDelta()))
	if dst.today.Date != "2024-03-10" || dst.today.Counts != (Counts{Success: 1}) {
		t.Errorf("replica's today: %q %+v", dst.today.Date, dst.today.Counts)
	}
	if _, ok := dst.today.ByChannel["B"]; ok {
		t.Errorf("yesterday's entry for B survived the rollover on the replica: %v", dst.today.ByChannel)
	}
	// An old delta replayed after a newer day leaves today alone.
	old := &statsDoc{Today: &today{Date: "2024-03-09", Counts: Counts{Success: 9}}}
	dst.merge(old)
	if dst.today.Date != "2024-03-10" || dst.today.Counts != (Counts{Success: 1}) {
		t.Errorf("an older day's record changed today: %q %+v", dst.today.Date, dst.today.Counts)
	}
}

func roundTripJSON(t *testing.T, d *statsDoc) *statsDoc {
	t.Helper()
	if d == nil {
		t.Fatal("nil delta")
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out statsDoc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func docJSON(t *testing.T, d *statsDoc) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStatsViewIsACopy: the view shares nothing with the recorder's state.
func TestStatsViewIsACopy(t *testing.T) {
	s := newStats(time.UTC)
	s.record(rec(t0, 200, att("A", verdictOK, t0)))
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

// stats is GET /admin/stats.
func (h *harness) stats() StatsView {
	h.t.Helper()
	var v StatsView
	h.getJSON("/admin/stats", &v)
	return v
}

// statsAfter waits until /admin/stats has counted n finished requests
// (success, fail or canceled) and returns it. The recorder counts a
// request just after its answer went out, so a client can be faster.
func (h *harness) statsAfter(n int64) StatsView {
	h.t.Helper()
	var v StatsView
	waitFor(h.t, 15*time.Second, fmt.Sprintf("%d requests in /admin/stats", n), func() bool {
		v = h.stats()
		return v.Total.Success+v.Total.Fail+v.Canceled >= n
	})
	if got := v.Total.Success + v.Total.Fail + v.Canceled; got != n {
		h.t.Fatalf("/admin/stats counted %d requests, want %d", got, n)
	}
	return v
}

func TestStatsCountsUnderConcurrencyWithFailover(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Location = sh })
	ua := newUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { writeErr(w, 500, "server_error") })
	ub := newUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { writeChat(w, "from B") })
	// A's breaker is off, so every request tries A twice (max_retries 1).
	a := h.addChannel(map[string]any{"url": ua.v1(), "priority": 1, "consecutive_failure_threshold": 0})
	b := h.addChannel(map[string]any{"url": ub.v1(), "priority": 2})
	day := time.Now().In(sh).Format(time.DateOnly)

	const n = 200
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", h.base+"/v1/chat/completions", strings.NewReader(chatBody("default", false)))
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("request: %v", err)
				bad.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d requests were not answered 200", bad.Load())
	}
	if ua.hits.Load() != 2*n || ub.hits.Load() != n {
		t.Fatalf("upstream requests: A %d, B %d; want %d, %d", ua.hits.Load(), ub.hits.Load(), 2*n, n)
	}

	v := h.statsAfter(n)
	if v.Total != (Counts{Success: n}) || v.Canceled != 0 {
		t.Errorf("total: %+v canceled %d, want %d successes", v.Total, v.Canceled, n)
	}
	if got, want := v.ByConfigID[a].Counts, (Counts{Fail: 2 * n}); got != want {
		t.Errorf("A's attempts: got %+v, want %+v", got, want)
	}
	if got, want := v.ByConfigID[b].Counts, (Counts{Success: n}); got != want {
		t.Errorf("B's attempts: got %+v, want %+v", got, want)
	}
	if now := time.Now().In(sh).Format(time.DateOnly); now == day { // not across midnight
		if v.Today.Date != day || v.Today.Counts != (Counts{Success: n}) {
			t.Errorf("today: %q %+v, want %q with %d successes", v.Today.Date, v.Today.Counts, day, n)
		}
		if v.Today.ByConfigID[a] != (Counts{Fail: 2 * n}) || v.Today.ByConfigID[b] != (Counts{Success: n}) {
			t.Errorf("today by channel: %+v", v.Today.ByConfigID)
		}
	}
	if v.TimeZone != "Asia/Shanghai" {
		t.Errorf("time zone: %q", v.TimeZone)
	}
	if got, want := v.ByConfigID[b].Tokens, (Tokens{Prompt: 3 * n, Completion: 5 * n, Total: 8 * n}); got != want {
		t.Errorf("B's tokens: got %+v, want %+v", got, want)
	}
	if v.ByConfigID[a].Tokens != (Tokens{}) {
		t.Errorf("A answered nothing but has tokens %+v", v.ByConfigID[a].Tokens)
	}
	if s := v.Schemes["default"]; s.Counts != (Counts{Success: n}) || s.Duration.Count != n || s.Tokens.Total != 8*n {
		t.Errorf("scheme: %+v", s)
	}
	if got := v.ByConfigID[b].TTFB.Count; got != n {
		t.Errorf("B's TTFB count: %d, want %d", got, n)
	}
	if got := v.ByConfigID[a].TTFB.Count; got != 0 {
		t.Errorf("A's TTFB count: %d, want 0 (failed attempts have no TTFB)", got)
	}
	var hourly Counts
	for _, b := range v.Hourly {
		hourly.Success += b.Success
		hourly.Fail += b.Fail
	}
	if len(v.Hourly) != keepHours || hourly != v.Total {
		t.Errorf("hourly: %d buckets summing to %+v", len(v.Hourly), hourly)
	}
	if st := v.ByConfigID[a].State; st != "closed" {
		t.Errorf("A's breaker (threshold 0): %s", st)
	}
}

// TestStatsEveryChannelListed: a configured channel without traffic is in
// by_config_id with its breaker; a deleted one is gone.
func TestStatsEveryChannelListed(t *testing.T) {
	h := newHarness(t, nil)
	u := newUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { writeChat(w, "ok") })
	a := h.addChannel(map[string]any{"url": u.v1()})
	idle := h.addChannel(map[string]any{"url": u.v1(), "priority": 5})
	if code, _, _ := h.chat("default", false); code != 200 {
		t.Fatal("request failed")
	}
	v := h.statsAfter(1)
	if c := v.ByConfigID[idle]; c == nil || c.Counts != (Counts{}) || c.State != "closed" || c.Hourly == nil {
		t.Errorf("idle channel: %+v", c)
	}
	if code, _, _ := h.call("DELETE", "/admin/config/"+a, ""); code != 204 {
		t.Fatal("delete failed")
	}
	v = h.stats()
	if _, ok := v.ByConfigID[a]; ok {
		t.Errorf("deleted channel still listed")
	}
	if _, ok := v.Today.ByConfigID[a]; ok {
		t.Errorf("deleted channel still listed today")
	}
	if v.Total != (Counts{Success: 1}) {
		t.Errorf("deleting a channel changed the request counts: %+v", v.Total)
	}
}

// TestStatsTTFBIsPerAttempt: a channel's time to first byte runs from its
// own attempt's start. It was taken from the client request's start, so
// the channel that answered after a failover was charged the time the
// failed channels took.
func TestStatsTTFBIsPerAttempt(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.FirstByteTimeout = 400 * time.Millisecond })
			ua := newUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) { hang(w, r) })
			ub := newUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
				if !stream {
					writeChat(w, "B")
					return
				}
				s := startSSE(w)
				s.data(chunk("B", "stop"))
				s.data("[DONE]")
			})
			h.addChannel(map[string]any{"url": ua.v1(), "priority": 1})
			b := h.addChannel(map[string]any{"url": ub.v1(), "priority": 2})
			code, hdr, body := h.chat("default", stream)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			v := h.statsAfter(1)
			r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
			if len(r.Attempts) != 2 || r.Attempts[0].Outcome != "timeout" || r.Attempts[0].LatencyMS < 400 {
				t.Fatalf("attempts: %+v", r.Attempts)
			}
			ttfb := v.ByConfigID[b].TTFB
			if ttfb.Count != 1 || ttfb.MeanMS > r.Attempts[1].LatencyMS+0.1 {
				t.Errorf("B's TTFB %.1f ms (count %d) is longer than B's whole attempt, %.3f ms",
					ttfb.MeanMS, ttfb.Count, r.Attempts[1].LatencyMS)
			}
		})
	}
}

func TestStatsBrokenStreamCountsAsFailedRequest(t *testing.T) {
	h := newHarness(t, nil)
	u := newUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		s := startSSE(w)
		s.data(chunk("part", ""))
		hijackClose(w)
	})
	a := h.addChannel(map[string]any{"url": u.v1()})
	code, hdr, body := h.chat("default", true)
	if ev := sseEvents(body); code != 200 || len(ev) != 2 || !strings.HasPrefix(ev[1], `{"error":`) {
		t.Fatalf("client got %d %q", code, body)
	}
	v := h.statsAfter(1)
	if v.Total != (Counts{Fail: 1}) || v.Today.Counts != (Counts{Fail: 1}) || v.Schemes["default"].Counts != (Counts{Fail: 1}) {
		t.Errorf("a broken stream counted as %+v (today %+v, scheme %+v), want one failure",
			v.Total, v.Today.Counts, v.Schemes["default"].Counts)
	}
	if got := v.ByConfigID[a].Counts; got != (Counts{Fail: 1}) {
		t.Errorf("A's attempts: %+v", got)
	}
	r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
	if r.Status != 200 || r.Outcome != "broken" {
		t.Errorf("recent request: status %d outcome %q", r.Status, r.Outcome)
	}
}

func TestStatsCanceledRequest(t *testing.T) {
	h := newHarness(t, nil)
	started := make(chan struct{}, 1)
	u := newUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		hang(w, r)
	})
	a := h.addChannel(map[string]any{"url": u.v1()})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.base+"/v1/chat/completions", strings.NewReader(chatBody("default", false)))
	req.Header.Set("Authorization", "Bearer "+testKey)
	go func() { <-started; cancel() }()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("expected the request to be cancelled")
	}
	v := h.statsAfter(1)
	if v.Canceled != 1 || v.Total != (Counts{}) || v.Today.Counts != (Counts{}) {
		t.Errorf("canceled %d, total %+v, today %+v", v.Canceled, v.Total, v.Today.Counts)
	}
	if got := v.ByConfigID[a].Counts; got != (Counts{}) {
		t.Errorf("the client's leaving counted for the channel: %+v", got)
	}
}

// Token usage.

// usageUpstream answers like OpenAI: usage in every non-stream answer;
// for a stream, with include_usage, "usage":null in every chunk and a
// last usage chunk with empty choices.
func usageUpstream(t *testing.T) *upstream {
	return newUpstream(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), `"stream":true`) {
			writeChat(w, "whole")
			return
		}
		s := startSSE(w)
		withUsage := strings.Contains(string(b), `"include_usage":true`)
		for _, c := range []string{chunk("a", ""), chunk("", "stop")} {
			if withUsage {
				c = strings.TrimSuffix(c, "}") + `,"usage":null}`
			}
			s.data(c)
		}
		if withUsage {
			s.data(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}`)
		}
		s.data("[DONE]")
	})
}

func TestUsageFromStreamAndNonStream(t *testing.T) {
	h := newHarness(t, nil)
	u := usageUpstream(t)
	id := h.addChannel(map[string]any{"url": u.v1()})
	if code, _, _ := h.chat("default", false); code != 200 {
		t.Fatal("non-stream request failed")
	}
	v := h.statsAfter(1)
	if got, want := v.ByConfigID[id].Tokens, (Tokens{Prompt: 3, Completion: 5, Total: 8}); got != want {
		t.Errorf("after a non-stream answer: %+v, want %+v", got, want)
	}
	if code, _, _ := h.chat("default", true); code != 200 {
		t.Fatal("stream request failed")
	}
	v = h.statsAfter(2)
	if got, want := v.ByConfigID[id].Tokens, (Tokens{Prompt: 10, Completion: 7, Total: 17}); got != want {
		t.Errorf("after a stream's usage chunk: %+v, want %+v", got, want)
	}
	if got := v.Schemes["default"].Tokens; got != (Tokens{Prompt: 10, Completion: 7, Total: 17}) {
		t.Errorf("scheme tokens: %+v", got)
	}
}

// TestUsageHiddenWhateverStreamOptions extends TestUsageChunkHidden to
// clients that send stream_options without include_usage: the proxy turns
// it on upstream, counts the usage, and the client still gets exactly the
// stream it asked for.
func TestUsageHiddenWhateverStreamOptions(t *testing.T) {
	h := newHarness(t, nil)
	u := usageUpstream(t)
	id := h.addChannel(map[string]any{"url": u.v1()})
	want := "data: " + chunk("a", "") + "\n\ndata: " + chunk("", "stop") + "\n\ndata: [DONE]\n\n"
	bodies := []string{
		`{"model":"default","stream":true,"messages":[]}`,
		`{"model":"default","stream":true,"stream_options":{},"messages":[]}`,
		`{"model":"default","stream":true,"stream_options":{"include_usage":false},"messages":[]}`,
		`{"model":"default","stream":true,"stream_options":null,"messages":[]}`,
		`{"model":"default","stream":true,"messages":[],"stream_options":{"include_usage":false}}`,
	}
	for i, body := range bodies {
		code, hdr, got := h.call("POST", "/v1/chat/completions", body)
		if code != 200 || got != want {
			t.Errorf("%s:\n got %d %q\nwant %q", body, code, got, want)
		}
		if !strings.Contains(string(u.lastBody()), `"include_usage":true`) {
			t.Errorf("%s: upstream was not asked for usage: %s", body, u.lastBody())
		}
		r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
		if r.Tokens != (Tokens{Prompt: 7, Completion: 2, Total: 9}) {
			t.Errorf("%s: recent request tokens %+v", body, r.Tokens)
		}
		v := h.statsAfter(int64(i + 1))
		if got := v.ByConfigID[id].Tokens.Total; got != int64(9*(i+1)) {
			t.Errorf("%s: channel total tokens %d, want %d", body, got, 9*(i+1))
		}
	}
}

func TestUsageCreditedToTheChannelThatAnswered(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			h := newHarness(t, nil)
			// A answers 500 but reports usage anyway; it must not count.
			ua := newUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(500)
				w.Write([]byte(`{"error":{"message":"boom","type":"server_error"},"usage":{"prompt_tokens":100,"completion_tokens":100,"total_tokens":200}}`))
			})
			ub := usageUpstream(t)
			a := h.addChannel(map[string]any{"url": ua.v1(), "priority": 1})
			b := h.addChannel(map[string]any{"url": ub.v1(), "priority": 2})
			code, hdr, body := h.chat("default", stream)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			want := Tokens{Prompt: 3, Completion: 5, Total: 8}
			if stream {
				want = Tokens{Prompt: 7, Completion: 2, Total: 9}
			}
			v := h.statsAfter(1)
			if got := v.ByConfigID[b].Tokens; got != want {
				t.Errorf("B's tokens: %+v, want %+v", got, want)
			}
			if got := v.ByConfigID[a].Tokens; got != (Tokens{}) {
				t.Errorf("A's tokens: %+v, want none", got)
			}
			r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
			if r.ChannelID != b || r.Tokens != want {
				t.Errorf("recent request: answered by %s with %+v, want %s with %+v", r.ChannelID, r.Tokens, b, want)
			}
		})
	}
}

// Recent requests and logs.

// recentByID waits for request id in /admin/requests and returns it.
func (h *harness) recentByID(id string) recentRequest {
	h.t.Helper()
	if id == "" {
		h.t.Fatal("no X-Catfish-Request-Id")
	}
	var found recentRequest
	waitFor(h.t, 15*time.Second, "request "+id+" in /admin/requests", func() bool {
		var list []recentRequest
		h.getJSON("/admin/requests", &list)
		for _, r := range list {
			if r.ID == id {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

func TestAdminRequestsShowsTheAttemptChain(t *testing.T) {
	h := newHarness(t, nil)
	ua := newUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { writeErr(w, 500, "server_error") })
	ub := newUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { writeChat(w, "from B") })
	a := h.addChannel(map[string]any{"url": ua.v1(), "priority": 1, "max_retries": 0})
	b := h.addChannel(map[string]any{"url": ub.v1(), "priority": 2})
	code, hdr, _ := h.chat("default", false)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	r := h.recentByID(hdr.Get("X-Catfish-Request-Id"))
	if r.Status != 200 || r.Outcome != "ok" || r.ChannelID != b || r.Scheme != "default" || r.Model != "default" ||
		r.Path != "/chat/completions" || r.Stream || r.Time.IsZero() || r.DurationMS < 0 {
		t.Errorf("request: %+v", r)
	}
	if r.Tokens != (Tokens{Prompt: 3, Completion: 5, Total: 8}) {
		t.Errorf("tokens: %+v", r.Tokens)
	}
	want := []struct {
		id, outcome string
		status      int
	}{{a, "http_500", 500}, {b, "ok", 200}}
	if len(r.Attempts) != len(want) {
		t.Fatalf("attempts: %+v", r.Attempts)
	}
	for i, w := range want {
		got := r.Attempts[i]
		if got.ChannelID != w.id || got.Outcome != w.outcome || got.Status != w.status || got.LatencyMS <= 0 {
			t.Errorf("attempt %d: %+v, want %s %s %d with a latency", i, got, w.id, w.outcome, w.status)
		}
	}
	// The raw JSON names the fields the admin page reads.
	_, _, raw := h.call("GET", "/admin/requests", "")
	for _, key := range []string{`"channel_id"`, `"outcome"`, `"latency_ms"`, `"status"`, `"tokens"`, `"attempts"`, `"id"`} {
		if !strings.Contains(raw, key) {
			t.Errorf("/admin/requests lacks %s: %s", key, raw)
		}
	}
}

func TestAdminRequestsBoundedOldestFirst(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.LogLines = 3 })
	u := newUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { writeChat(w, "ok") })
	h.addChannel(map[string]any{"url": u.v1()})
	var ids []string
	for range 5 {
		_, hdr, _ := h.chat("default", false)
		ids = append(ids, hdr.Get("X-Catfish-Request-Id"))
		h.recentByID(ids[len(ids)-1]) // in order: one at a time
	}
	var list []recentRequest
	h.getJSON("/admin/requests", &list)
	var got []string
	for _, r := range list {
		got = append(got, r.ID)
	}
	if !reflect.DeepEqual(got, ids[2:]) {
		t.Errorf("recent requests: got %v, want the newest three oldest first %v", got, ids[2:])
	}
	if _, _, raw := newHarness(t, nil).call("GET", "/admin/requests", ""); raw != "[]" {
		t.Errorf("no requests yet: %s, want []", raw)
	}
}

func TestAdminLogs(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.LogLines = 5; c.LogFormat = format })
			waitFor(t, 15*time.Second, "the start-up log line", func() bool {
				return strings.Contains(strings.Join(h.e.logs.Lines(), "\n"), "catfish listening")
			})
			for i := range 9 {
				h.e.log.Info("numbered", "n", i)
			}
			code, hdr, raw := h.call("GET", "/admin/logs", "")
			if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Fatalf("GET /admin/logs: %d %s", code, hdr.Get("Content-Type"))
			}
			var lines []string
			if err := json.Unmarshal([]byte(raw), &lines); err != nil {
				t.Fatalf("not an array of strings: %v: %s", err, raw)
			}
			if len(lines) != 5 {
				t.Fatalf("%d lines, want the newest 5: %q", len(lines), lines)
			}
			for i, line := range lines {
				if strings.HasSuffix(line, "\n") {
					t.Errorf("line %d keeps its newline: %q", i, line)
				}
				n := i + 4
				if format == "text" && !strings.Contains(line, fmt.Sprintf("msg=numbered n=%d", n)) {
					t.Errorf("line %d: %q, want n=%d", i, line, n)
				}
				if format == "json" {
					var l struct {
						Msg string `json:"msg"`
						N   int    `json:"n"`
					}
					if err := json.Unmarshal([]byte(line), &l); err != nil || l.Msg != "numbered" || l.N != n {
						t.Errorf("line %d: %q, want a JSON line with n=%d", i, line, n)
					}
				}
			}
		})
	}
}

func TestAdminLogsHaveTheRequestLine(t *testing.T) {
	h := newHarness(t, nil)
	u := newUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { writeChat(w, "ok") })
	h.addChannel(map[string]any{"url": u.v1()})
	_, hdr, _ := h.chat("default", false)
	id := hdr.Get("X-Catfish-Request-Id")
	waitFor(t, 15*time.Second, "the request's log line", func() bool {
		var lines []string
		h.getJSON("/admin/logs", &lines)
		for _, l := range lines {
			if strings.Contains(l, "id="+id) && strings.Contains(l, "status=200") {
				return true
			}
		}
		return false
	})
}

func TestLogRing(t *testing.T) {
	var out strings.Builder
	r := NewLogRing(3, &out)
	if got := r.Lines(); len(got) != 0 {
		t.Errorf("empty ring: %q", got)
	}
	for i := range 7 {
		fmt.Fprintf(r, "line %d\n", i)
		got := r.Lines()
		var want []string
		for j := max(0, i-2); j <= i; j++ {
			want = append(want, fmt.Sprintf("line %d", j))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after %d writes: got %q, want %q", i+1, got, want)
		}
	}
	if !strings.HasPrefix(out.String(), "line 0\nline 1\n") || strings.Count(out.String(), "\n") != 7 {
		t.Errorf("copy to out: %q", out.String())
	}
	// Lines is a copy.
	got := r.Lines()
	got[0] = "changed"
	if r.Lines()[0] == "changed" {
		t.Errorf("Lines shares the ring's memory")
	}
}
