package channel

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func testResolved(id string) Resolved {
	return Resolved{
		ID: id, URL: "https://a.example/v1", APIKey: "sk-test", Model: "m",
		FirstByte: 90 * time.Second, MaxRetries: 1, Enabled: true,
		Breaker: BreakerConfig{Threshold: 2, Cooldown: 10 * time.Second, MaxCooldown: 30 * time.Second},
	}
}

// core keeps the Health fields these tests pin, so that fields added
// later (counters and the like) do not break the comparisons.
func core(h Health) Health {
	return Health{ID: h.ID, State: h.State, Fails: h.Fails, OpenUntil: h.OpenUntil, Cooldown: h.Cooldown, Version: h.Version}
}

// startActor runs a new actor in the current bubble and stops it (waiting
// for its loop to exit) when the test ends.
func startActor(t *testing.T, r Resolved) *Actor {
	t.Helper()
	a := NewActor(r)
	ctx, cancel := context.WithCancel(context.Background())
	go a.Run(ctx)
	t.Cleanup(func() {
		cancel()
		<-a.Done()
	})
	return a
}

func mustAcquire(t *testing.T, a *Actor) Permit {
	t.Helper()
	p, err := a.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: got error %v, want nil", err)
	}
	return p
}

func mustReport(t *testing.T, a *Actor, r Report) Ack {
	t.Helper()
	ack, err := a.Report(r)
	if err != nil {
		t.Fatalf("Report: got error %v, want nil", err)
	}
	return ack
}

// openActor fails Threshold (2) attempts so the breaker opens now, and
// returns the opening Ack.
func openActor(t *testing.T, a *Actor) Ack {
	t.Helper()
	var ack Ack
	for i := range 2 {
		p := mustAcquire(t, a)
		if !p.OK {
			t.Fatalf("attempt %d: got refused, want a permit", i)
		}
		ack = mustReport(t, a, Report{Admission: p.Admission, Verdict: Failure})
	}
	if !ack.Opened {
		t.Fatalf("second failure: got Opened=false, want true")
	}
	return ack
}

func TestActorAcquireReportRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := testResolved("c1")
		a := startActor(t, r)
		if a.ID() != "c1" {
			t.Fatalf("ID: got %q, want c1", a.ID())
		}

		p := mustAcquire(t, a)
		if !p.OK || p.Probe {
			t.Fatalf("Acquire: got %+v, want OK without probe", p.Admission)
		}
		if !reflect.DeepEqual(p.Settings, r) {
			t.Fatalf("Permit.Settings: got %+v, want %+v", p.Settings, r)
		}

		steps := []struct {
			verdict     Verdict
			wantChanged bool
			wantFails   int
			wantVersion uint64
		}{
			{Success, false, 0, 1}, // nothing moved
			{Failure, true, 1, 2},  // one failure in a row
			{Neutral, false, 1, 2}, // says nothing about the channel
			{Success, true, 0, 3},  // resets the count
		}
		for i, s := range steps {
			if i > 0 {
				p = mustAcquire(t, a)
			}
			ack := mustReport(t, a, Report{Admission: p.Admission, Verdict: s.verdict})
			want := Ack{Changed: s.wantChanged, Health: Health{ID: "c1", State: Closed, Fails: s.wantFails, Cooldown: 10 * time.Second, Version: s.wantVersion}}
			if ack.Opened != want.Opened || ack.Changed != want.Changed || core(ack.Health) != want.Health {
				t.Fatalf("step %d: got %+v, want %+v", i, ack, want)
			}
		}
		h, err := a.Health(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := (Health{ID: "c1", State: Closed, Cooldown: 10 * time.Second, Version: 3}); core(h) != want {
			t.Fatalf("Health: got %+v, want %+v", h, want)
		}
	})
}

func TestActorFailureOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := startActor(t, testResolved("c1"))
		start := time.Now()
		ack := openActor(t, a)
		if !ack.Changed {
			t.Fatalf("opening failure: got Changed=false, want true")
		}
		want := Health{ID: "c1", State: Open, Fails: 2, OpenUntil: start.Add(10 * time.Second), Cooldown: 10 * time.Second, Version: 3}
		if core(ack.Health) != want {
			t.Fatalf("Health: got %+v, want %+v", ack.Health, want)
		}
		if ack.Health.Admits(start) {
			t.Fatalf("Health.Admits(now): got true, want false")
		}
		if !ack.Health.Admits(want.OpenUntil) {
			t.Fatalf("Health.Admits(OpenUntil): got false, want true")
		}

		p := mustAcquire(t, a)
		if p.OK || !p.Until.Equal(want.OpenUntil) {
			t.Fatalf("Acquire while open: got %+v, want refused until %v", p.Admission, want.OpenUntil)
		}
		if !reflect.DeepEqual(p.Settings, Resolved{}) {
			t.Fatalf("refused Permit.Settings: got %+v, want zero (no key handed out)", p.Settings)
		}

		time.Sleep(10 * time.Second)
		if p := mustAcquire(t, a); !p.OK || !p.Probe {
			t.Fatalf("Acquire after cooldown: got %+v, want the probe", p.Admission)
		}
	})
}

func TestActorRetryAfterOpensAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := startActor(t, testResolved("c1"))
		p := mustAcquire(t, a)
		ack := mustReport(t, a, Report{Admission: p.Admission, Verdict: Failure, OpenFor: time.Minute})
		if !ack.Opened || !ack.Changed || ack.Health.State != Open {
			t.Fatalf("got %+v, want Opened, Changed and Open", ack)
		}
		if want := time.Now().Add(time.Minute); !ack.Health.OpenUntil.Equal(want) {
			t.Fatalf("OpenUntil: got %v, want %v", ack.Health.OpenUntil, want)
		}
		// OpenFor is only read with Failure.
		a2 := startActor(t, testResolved("c2"))
		p = mustAcquire(t, a2)
		if ack := mustReport(t, a2, Report{Admission: p.Admission, Verdict: Neutral, OpenFor: time.Minute}); ack.Opened || ack.Health.State != Closed {
			t.Fatalf("neutral report with OpenFor: got %+v, want closed", ack)
		}
	})
}

func TestActorHalfOpenOneProbe(t *testing.T) {
	for _, tc := range []struct {
		name        string
		verdict     Verdict
		wantState   State
		wantOpenFor time.Duration // OpenUntil - now after the report
	}{
		{name: "probe succeeds", verdict: Success, wantState: Closed},
		{name: "probe fails", verdict: Failure, wantState: Open, wantOpenFor: 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := startActor(t, testResolved("c1"))
				opened := openActor(t, a)
				time.Sleep(10 * time.Second)

				const n = 50
				permits := make([]Permit, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { permits[i], errs[i] = a.Acquire(context.Background()) })
				}
				wg.Wait()
				var probe Permit
				probes, oks := 0, 0
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("Acquire %d: got error %v, want nil", i, errs[i])
					}
					if permits[i].OK {
						oks++
					}
					if permits[i].Probe {
						probes++
						probe = permits[i]
					}
				}
				if probes != 1 || oks != 1 {
					t.Fatalf("got %d probes and %d permits, want 1 and 1", probes, oks)
				}

				ack := mustReport(t, a, Report{Admission: probe.Admission, Verdict: tc.verdict})
				if !ack.Changed || ack.Health.State != tc.wantState || ack.Health.Version <= opened.Health.Version {
					t.Fatalf("probe report: got %+v, want Changed, state %s, version above %d", ack, tc.wantState, opened.Health.Version)
				}
				if ack.Opened != (tc.verdict == Failure) {
					t.Fatalf("probe report: got Opened=%v, want %v", ack.Opened, tc.verdict == Failure)
				}
				if tc.wantOpenFor > 0 {
					if got := ack.Health.OpenUntil.Sub(time.Now()); got != tc.wantOpenFor {
						t.Fatalf("re-opened for %v, want %v", got, tc.wantOpenFor)
					}
					return
				}
				if p := mustAcquire(t, a); !p.OK || p.Probe {
					t.Fatalf("Acquire after close: got %+v, want OK without probe", p.Admission)
				}
			})
		})
	}
}

func TestActorNeutralReleasesProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := startActor(t, testResolved("c1"))
		openActor(t, a)
		time.Sleep(10 * time.Second)
		probe := mustAcquire(t, a)
		if !probe.Probe {
			t.Fatalf("got %+v, want the probe", probe.Admission)
		}
		if p := mustAcquire(t, a); p.OK {
			t.Fatalf("second Acquire: got %+v, want refused", p.Admission)
		}
		if ack := mustReport(t, a, Report{Admission: probe.Admission, Verdict: Neutral}); ack.Opened || ack.Changed {
			t.Fatalf("neutral probe report: got %+v, want no change", ack)
		}
		if p := mustAcquire(t, a); !p.Probe {
			t.Fatalf("Acquire after release: got %+v, want a new probe", p.Admission)
		}
	})
}

func TestActorDisabledRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := testResolved("c1")
		r.Enabled = false
		a := startActor(t, r)
		for range 3 {
			p := mustAcquire(t, a)
			if p.OK || p.Probe || !reflect.DeepEqual(p.Settings, Resolved{}) {
				t.Fatalf("disabled: got %+v, want a refused zero permit", p)
			}
		}
		r.Enabled = true
		if _, err := a.Update(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if p := mustAcquire(t, a); !p.OK {
			t.Fatalf("re-enabled: got %+v, want a permit", p.Admission)
		}
	})
}

func TestActorUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := testResolved("c1")
		a := startActor(t, r)
		opened := openActor(t, a)

		// New URL, key and a larger threshold: the breaker stays as it was.
		r2 := r
		r2.URL, r2.APIKey = "https://b.example/v1", "sk-new"
		r2.Breaker.Threshold = 5
		h, err := a.Update(context.Background(), r2)
		if err != nil {
			t.Fatal(err)
		}
		if core(h) != core(opened.Health) {
			t.Fatalf("Update: got %+v, want unchanged %+v", h, opened.Health)
		}
		if p := mustAcquire(t, a); p.OK {
			t.Fatalf("Acquire after Update: got %+v, want still refused", p.Admission)
		}
		time.Sleep(10 * time.Second)
		p := mustAcquire(t, a)
		if !p.Probe || !reflect.DeepEqual(p.Settings, r2) {
			t.Fatalf("probe after Update: got %+v, want a probe with the new settings", p)
		}

		// Disabling keeps the breaker but refuses.
		r3 := r2
		r3.Enabled = false
		if _, err := a.Update(context.Background(), r3); err != nil {
			t.Fatal(err)
		}
		if p := mustAcquire(t, a); p.OK {
			t.Fatalf("disabled: got %+v, want refused", p.Admission)
		}

		// Turning the breaker off closes it and moves the version.
		r4 := r2
		r4.Breaker.Threshold = 0
		h, err = a.Update(context.Background(), r4)
		if err != nil {
			t.Fatal(err)
		}
		if h.State != Closed || h.Version <= opened.Health.Version {
			t.Fatalf("threshold 0: got %+v, want closed with a newer version than %d", h, opened.Health.Version)
		}
		if p := mustAcquire(t, a); !p.OK || p.Probe {
			t.Fatalf("after threshold 0: got %+v, want OK", p.Admission)
		}
	})
}

func TestActorReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := startActor(t, testResolved("c1"))
		before := mustAcquire(t, a) // admitted before the reset
		opened := openActor(t, a)
		h, err := a.Reset(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if h.State != Closed || h.Fails != 0 || !h.OpenUntil.IsZero() || h.Version != opened.Health.Version+1 {
			t.Fatalf("Reset: got %+v, want closed, no fails, version %d", h, opened.Health.Version+1)
		}
		// Reset of a closed breaker moves nothing.
		h2, err := a.Reset(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if core(h2) != core(h) {
			t.Fatalf("second Reset: got %+v, want %+v", h2, h)
		}
		// A report of an admission from before the reset must not open it,
		// even with a Retry-After that would open a fresh one at once.
		if ack := mustReport(t, a, Report{Admission: before.Admission, Verdict: Failure, OpenFor: time.Minute}); ack.Opened || ack.Health.State != Closed {
			t.Fatalf("stale report after Reset: got %+v, want closed", ack)
		}
		if p := mustAcquire(t, a); !p.OK {
			t.Fatalf("after Reset: got %+v, want OK", p.Admission)
		}
	})
}

func TestActorRestore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := startActor(t, testResolved("c1"))
		until := time.Now().Add(5 * time.Second)
		h, err := a.Restore(context.Background(), BreakerState{State: HalfOpen, Fails: 4, OpenUntil: until, Cooldown: 20 * time.Second}, false)
		if err != nil {
			t.Fatal(err)
		}
		want := Health{ID: "c1", State: Open, Fails: 4, OpenUntil: until, Cooldown: 20 * time.Second, Version: 2}
		if core(h) != want {
			t.Fatalf("Restore: got %+v, want %+v", h, want)
		}
		if p := mustAcquire(t, a); p.OK || !p.Until.Equal(until) {
			t.Fatalf("before the deadline: got %+v, want refused until %v", p.Admission, until)
		}
		time.Sleep(5 * time.Second)
		if p := mustAcquire(t, a); !p.Probe {
			t.Fatalf("after the deadline: got %+v, want the probe", p.Admission)
		}
		got, err := a.Health(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got.State != HalfOpen {
			t.Fatalf("Health with a probe out: got %s, want half_open", got.State)
		}
	})
}

func TestActorStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewActor(testResolved("c1"))
		ctx, cancel := context.WithCancel(context.Background())
		go a.Run(ctx)
		p := mustAcquire(t, a)
		cancel()
		<-a.Done()

		bg := context.Background()
		checks := []struct {
			name string
			call func() error
		}{
			{"Acquire", func() error { _, err := a.Acquire(bg); return err }},
			{"Report", func() error { _, err := a.Report(Report{Admission: p.Admission, Verdict: Success}); return err }},
			{"Update", func() error { _, err := a.Update(bg, testResolved("c1")); return err }},
			{"Reset", func() error { _, err := a.Reset(bg); return err }},
			{"Restore", func() error { _, err := a.Restore(bg, BreakerState{}, false); return err }},
			{"Health", func() error { _, err := a.Health(bg); return err }},
		}
		for _, c := range checks {
			// Run each call in its own goroutine: if it blocked, synctest
			// would report the deadlock instead of hanging.
			done := make(chan error, 1)
			go func() { done <- c.call() }()
			if err := <-done; !errors.Is(err, ErrStopped) {
				t.Errorf("%s after stop: got %v, want ErrStopped", c.name, err)
			}
		}
	})
}

func TestActorCallerContextBeforeHandOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := NewActor(testResolved("c1")) // never run: nobody takes requests
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if _, err := a.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire: got %v, want DeadlineExceeded", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("Acquire waited %v, want 1s", got)
		}
		if _, err := a.Health(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Health: got %v, want DeadlineExceeded", err)
		}
		if _, err := a.Update(ctx, testResolved("c1")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Update: got %v, want DeadlineExceeded", err)
		}
	})
}

func TestActorConcurrentReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := testResolved("c1")
		r.Breaker.Threshold = 0 // off: every acquire succeeds
		a := startActor(t, r)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				for j := range 20 {
					p, err := a.Acquire(context.Background())
					if err != nil || !p.OK {
						t.Errorf("goroutine %d: Acquire got %+v, %v, want OK", i, p.Admission, err)
						return
					}
					v := Failure
					if (i+j)%3 == 0 {
						v = Success
					}
					if _, err := a.Report(Report{Admission: p.Admission, Verdict: v}); err != nil {
						t.Errorf("goroutine %d: Report: %v", i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		h, err := a.Health(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if h.State != Closed {
			t.Fatalf("breaker off: got %s, want closed", h.State)
		}
	})
}

func TestActorVersionGrowsOnlyOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := startActor(t, testResolved("c1"))
		last, err := a.Health(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		verdicts := []Verdict{Success, Failure, Failure, Neutral, Success, Failure, Success, Success}
		for i, v := range verdicts {
			time.Sleep(6 * time.Second)
			p := mustAcquire(t, a)
			if !p.OK {
				continue
			}
			ack := mustReport(t, a, Report{Admission: p.Admission, Verdict: v})
			switch {
			case ack.Changed && ack.Health.Version != last.Version+1:
				t.Fatalf("report %d: changed, got version %d, want %d", i, ack.Health.Version, last.Version+1)
			case !ack.Changed && ack.Health.Version != last.Version:
				t.Fatalf("report %d: unchanged, got version %d, want %d", i, ack.Health.Version, last.Version)
			}
			last = ack.Health
		}
	})
}

// TestActorRefusedPrefill: a report that the upstream refused a prefill
// turns prefilling off for later permits, survives a restore, and is
// cleared when the channel is edited.
func TestActorRefusedPrefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := testResolved("c1")
		r.Prefill = true
		a := startActor(t, r)
		if p := mustAcquire(t, a); !p.Settings.Prefill {
			t.Fatal("a prefill channel's permit says no prefill")
		} else {
			ack := mustReport(t, a, Report{Admission: p.Admission, Verdict: Neutral, NoPrefill: true})
			if !ack.Changed || !ack.Health.NoPrefill {
				t.Fatalf("refused prefill: ack %+v, want a change with NoPrefill", ack)
			}
			if ack.Health.State != Closed || ack.Health.Fails != 0 {
				t.Fatalf("a refused prefill moved the breaker: %+v", ack.Health)
			}
		}
		if p := mustAcquire(t, a); p.Settings.Prefill {
			t.Fatal("after a refused prefill the permit still offers prefill")
		} else {
			mustReport(t, a, Report{Admission: p.Admission, Verdict: Success})
		}
		// An update (start-up, or any change of settings) keeps the mark.
		if h, err := a.Update(context.Background(), r); err != nil || !h.NoPrefill {
			t.Fatalf("Update: %+v, %v; want the mark kept", h, err)
		}
		// A restart restores it.
		b := startActor(t, r)
		if h, err := b.Restore(context.Background(), BreakerState{}, true); err != nil || !h.NoPrefill {
			t.Fatalf("Restore: %+v, %v", h, err)
		}
		if p := mustAcquire(t, b); p.Settings.Prefill {
			t.Fatal("restored mark not applied to permits")
		} else {
			mustReport(t, b, Report{Admission: p.Admission, Verdict: Success})
		}
		// An edit clears it.
		h, err := a.PrefillOK(context.Background())
		if err != nil || h.NoPrefill {
			t.Fatalf("PrefillOK: %+v, %v", h, err)
		}
		if p := mustAcquire(t, a); !p.Settings.Prefill {
			t.Fatal("after PrefillOK the permit still says no prefill")
		} else {
			mustReport(t, a, Report{Admission: p.Admission, Verdict: Success})
		}
	})
}
