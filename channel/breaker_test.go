package channel

import (
	"testing"
	"time"
)

// t0 is the literal start of every breaker scenario.
var t0 = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus d, so steps read as offsets.
func at(d time.Duration) time.Time { return t0.Add(d) }

var defaultCfg = BreakerConfig{Threshold: 3, Cooldown: 10 * time.Second, MaxCooldown: 30 * time.Second}

type op uint8

const (
	opAdmit   op = iota // Admit at `at` into slot; check want ("ok", "probe", "refused")
	opSuccess           // Success(slot); want "closed" if it must report a close, else ""
	opFailure           // Failure(at, slot, openFor); want "opened" if it must open, else ""
	opRelease           // Release(slot)
	opResetB            // Reset()
	opState             // Save() has state want and, unless closed, OpenUntil at until
)

// step is one action on a breaker and what it must answer. After every
// step but opState the test also checks Save().State against state when
// state is not empty.
type step struct {
	at      time.Duration
	op      op
	slot    int
	openFor time.Duration
	want    string
	// until, for a refused admission: the wanted Admission.Until as an
	// offset from t0 (checked when non-zero); for opState: the wanted
	// OpenUntil of an open or half-open breaker.
	until time.Duration
	state string
}

func runSteps(t *testing.T, cfg BreakerConfig, steps []step) {
	t.Helper()
	b := NewBreaker(cfg)
	slots := map[int]Admission{}
	for i, s := range steps {
		now := at(s.at)
		switch s.op {
		case opAdmit:
			a := b.Admit(now)
			slots[s.slot] = a
			got := "refused"
			switch {
			case a.OK && a.Probe:
				got = "probe"
			case a.OK:
				got = "ok"
			}
			if got != s.want {
				t.Fatalf("step %d: Admit at +%v: got %s, want %s", i, s.at, got, s.want)
			}
			if !a.OK && s.until != 0 && !a.Until.Equal(at(s.until)) {
				t.Fatalf("step %d: Admit at +%v: got Until +%v, want +%v", i, s.at, a.Until.Sub(t0), s.until)
			}
		case opSuccess:
			got := ""
			if b.Success(mustSlot(t, i, slots, s.slot)) {
				got = "closed"
			}
			if got != s.want {
				t.Fatalf("step %d: Success(slot %d): got %q, want %q", i, s.slot, got, s.want)
			}
		case opFailure:
			got := ""
			if b.Failure(now, mustSlot(t, i, slots, s.slot), s.openFor) {
				got = "opened"
			}
			if got != s.want {
				t.Fatalf("step %d: Failure(slot %d) at +%v: got %q, want %q", i, s.slot, s.at, got, s.want)
			}
		case opRelease:
			b.Release(mustSlot(t, i, slots, s.slot))
		case opResetB:
			b.Reset()
		case opState:
			saved := b.Save()
			if got := saved.State.String(); got != s.want {
				t.Fatalf("step %d: Save().State: got %s, want %s", i, got, s.want)
			}
			if saved.State != Closed && !saved.OpenUntil.Equal(at(s.until)) {
				t.Fatalf("step %d: Save().OpenUntil: got +%v, want +%v", i, saved.OpenUntil.Sub(t0), s.until)
			}
		}
		if s.op != opState && s.state != "" {
			if got := b.Save().State.String(); got != s.state {
				t.Fatalf("step %d: after op, Save().State: got %s, want %s", i, got, s.state)
			}
		}
	}
}

func mustSlot(t *testing.T, step int, slots map[int]Admission, slot int) Admission {
	t.Helper()
	a, ok := slots[slot]
	if !ok {
		t.Fatalf("step %d: slot %d was never admitted (bad test table)", step, slot)
	}
	return a
}

// openSteps admits and fails threshold (3) requests at +0, opening the
// breaker until +10s. Slots 100.. are used.
func openSteps() []step {
	return []step{
		{op: opAdmit, slot: 100, want: "ok"},
		{op: opAdmit, slot: 101, want: "ok"},
		{op: opAdmit, slot: 102, want: "ok"},
		{op: opFailure, slot: 100},
		{op: opFailure, slot: 101},
		{op: opFailure, slot: 102, want: "opened", state: "open"},
	}
}

func concat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestBreaker(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		cfg   BreakerConfig
		steps []step
	}{
		{
			name: "opens after threshold consecutive failures",
			cfg:  defaultCfg,
			steps: []step{
				{op: opState, want: "closed"},
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opAdmit, slot: 1, want: "ok"},
				{op: opAdmit, slot: 2, want: "ok"},
				{at: 1 * s, op: opFailure, slot: 0, state: "closed"},
				{at: 1 * s, op: opFailure, slot: 1, state: "closed"},
				{at: 1 * s, op: opFailure, slot: 2, want: "opened", state: "open"},
				{at: 5 * s, op: opAdmit, slot: 3, want: "refused", until: 11 * s},
				{at: 11*s - time.Nanosecond, op: opAdmit, slot: 3, want: "refused", until: 11 * s},
			},
		},
		{
			name: "success resets the failure count",
			cfg:  defaultCfg,
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opFailure, slot: 0},
				{op: opAdmit, slot: 1, want: "ok"},
				{op: opFailure, slot: 1},
				{op: opAdmit, slot: 2, want: "ok"},
				{op: opSuccess, slot: 2, state: "closed"},
				{op: opAdmit, slot: 3, want: "ok"},
				{op: opFailure, slot: 3},
				{op: opAdmit, slot: 4, want: "ok"},
				{op: opFailure, slot: 4, state: "closed"},
				{op: opAdmit, slot: 5, want: "ok"},
				{op: opFailure, slot: 5, want: "opened", state: "open"},
			},
		},
		{
			name: "threshold 1 opens on the first failure",
			cfg:  BreakerConfig{Threshold: 1, Cooldown: 10 * s, MaxCooldown: 30 * s},
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opFailure, slot: 0, want: "opened", state: "open"},
			},
		},
		{
			name: "threshold 0 is off: never opens, not even for a long Retry-After",
			cfg:  BreakerConfig{Threshold: 0, Cooldown: 10 * s, MaxCooldown: 30 * s},
			steps: func() []step {
				var st []step
				for i := range 20 {
					st = append(st,
						step{at: time.Duration(i) * s, op: opAdmit, slot: i, want: "ok"},
						step{at: time.Duration(i) * s, op: opFailure, slot: i, state: "closed"})
				}
				return append(st,
					step{at: 30 * s, op: opAdmit, slot: 50, want: "ok"},
					step{at: 30 * s, op: opFailure, slot: 50, openFor: time.Hour, state: "closed"},
					step{at: 31 * s, op: opAdmit, slot: 51, want: "ok"},
				)
			}(),
		},
		{
			name: "open turns half-open after the cooldown",
			cfg:  defaultCfg,
			steps: concat(openSteps(), []step{
				{at: 10*s - time.Nanosecond, op: opState, want: "open", until: 10 * s},
				{at: 10*s - time.Nanosecond, op: opAdmit, slot: 0, want: "refused", until: 10 * s},
				{at: 10 * s, op: opAdmit, slot: 1, want: "probe", state: "half_open"},
				{at: 10 * s, op: opState, want: "half_open", until: 10 * s},
			}),
		},
		{
			name: "half-open lets exactly one probe through until it reports",
			cfg:  defaultCfg,
			steps: concat(openSteps(), []step{
				{at: 12 * s, op: opAdmit, slot: 0, want: "probe"},
				{at: 12 * s, op: opAdmit, slot: 1, want: "refused", until: 12 * s},
				{at: 13 * s, op: opAdmit, slot: 2, want: "refused", until: 13 * s},
				{at: time.Hour, op: opAdmit, slot: 3, want: "refused"},
				{at: time.Hour, op: opSuccess, slot: 0, want: "closed", state: "closed"},
				{at: time.Hour, op: opAdmit, slot: 4, want: "ok"},
				{at: time.Hour, op: opAdmit, slot: 5, want: "ok"},
			}),
		},
		{
			name: "a closed breaker after a probe counts from zero again",
			cfg:  defaultCfg,
			steps: concat(openSteps(), []step{
				{at: 10 * s, op: opAdmit, slot: 0, want: "probe"},
				{at: 10 * s, op: opSuccess, slot: 0, want: "closed"},
				{at: 11 * s, op: opAdmit, slot: 1, want: "ok"},
				{at: 11 * s, op: opFailure, slot: 1},
				{at: 11 * s, op: opAdmit, slot: 2, want: "ok"},
				{at: 11 * s, op: opFailure, slot: 2, state: "closed"},
				{at: 11 * s, op: opAdmit, slot: 3, want: "ok"},
				{at: 11 * s, op: opFailure, slot: 3, want: "opened", state: "open"},
				// The cooldown is back to the base after a close.
				{at: 21*s - time.Nanosecond, op: opAdmit, slot: 4, want: "refused", until: 21 * s},
				{at: 21 * s, op: opAdmit, slot: 5, want: "probe"},
			}),
		},
		{
			name: "probe failure re-opens with the cooldown doubled up to MaxCooldown",
			cfg:  defaultCfg, // 10s base, 30s cap
			steps: concat(openSteps(), []step{
				{at: 10 * s, op: opAdmit, slot: 0, want: "probe"},
				{at: 10 * s, op: opFailure, slot: 0, want: "opened", state: "open"},
				// 10s doubled: 20s.
				{at: 30*s - time.Nanosecond, op: opAdmit, slot: 1, want: "refused", until: 30 * s},
				{at: 30 * s, op: opAdmit, slot: 2, want: "probe"},
				{at: 30 * s, op: opFailure, slot: 2, want: "opened"},
				// 20s doubled is 40s, capped at 30s.
				{at: 60*s - time.Nanosecond, op: opAdmit, slot: 3, want: "refused", until: 60 * s},
				{at: 60 * s, op: opAdmit, slot: 4, want: "probe"},
				{at: 60 * s, op: opFailure, slot: 4, want: "opened"},
				{at: 90*s - time.Nanosecond, op: opAdmit, slot: 5, want: "refused", until: 90 * s},
				{at: 90 * s, op: opAdmit, slot: 6, want: "probe"},
				{at: 90 * s, op: opSuccess, slot: 6, want: "closed", state: "closed"},
			}),
		},
		{
			name: "MaxCooldown below Cooldown is raised to Cooldown",
			cfg:  BreakerConfig{Threshold: 1, Cooldown: 10 * s, MaxCooldown: 5 * s},
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opFailure, slot: 0, want: "opened"},
				{at: 10 * s, op: opAdmit, slot: 1, want: "probe"},
				{at: 10 * s, op: opFailure, slot: 1, want: "opened"},
				// Neither 5s (the given cap) nor 20s (doubled): 10s.
				{at: 20*s - time.Nanosecond, op: opAdmit, slot: 2, want: "refused", until: 20 * s},
				{at: 20 * s, op: opAdmit, slot: 3, want: "probe"},
			},
		},
		{
			name: "MaxCooldown zero with a cooldown keeps the base cooldown",
			cfg:  BreakerConfig{Threshold: 1, Cooldown: 10 * s},
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opFailure, slot: 0, want: "opened"},
				{at: 10 * s, op: opAdmit, slot: 1, want: "probe"},
				{at: 10 * s, op: opFailure, slot: 1, want: "opened"},
				{at: 20*s - time.Nanosecond, op: opAdmit, slot: 2, want: "refused", until: 20 * s},
				{at: 20 * s, op: opAdmit, slot: 3, want: "probe"},
			},
		},
		{
			name: "cooldown 0: the next request after opening is the probe",
			cfg:  BreakerConfig{Threshold: 1},
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opFailure, slot: 0, want: "opened"},
				{op: opState, want: "open", until: 0},
				{op: opAdmit, slot: 1, want: "probe", state: "half_open"},
				{op: opAdmit, slot: 2, want: "refused"},
			},
		},
		{
			name: "429 Retry-After opens at once below the threshold and stays open that long",
			cfg:  defaultCfg,
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{at: 1 * s, op: opFailure, slot: 0, openFor: 60 * s, want: "opened", state: "open"},
				{at: 11 * s, op: opAdmit, slot: 1, want: "refused", until: 61 * s},
				{at: 61*s - time.Nanosecond, op: opAdmit, slot: 2, want: "refused", until: 61 * s},
				{at: 61 * s, op: opAdmit, slot: 3, want: "probe"},
			},
		},
		{
			name: "429 Retry-After shorter than the cooldown opens until exactly the Retry-After moment",
			cfg:  defaultCfg,
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opFailure, slot: 0, openFor: 2 * s, want: "opened"},
				{at: 2*s - time.Nanosecond, op: opAdmit, slot: 1, want: "refused", until: 2 * s},
				{at: 2 * s, op: opAdmit, slot: 2, want: "probe"},
			},
		},
		{
			// The probe's example: a 12 s Retry-After under a 30 s cooldown
			// kept the channel out for 30 s.
			name: "429 Retry-After of 12s with a 30s cooldown keeps the channel out 12s, not 30s",
			cfg:  BreakerConfig{Threshold: 3, Cooldown: 30 * s, MaxCooldown: 30 * s},
			steps: []step{
				{at: 5 * s, op: opAdmit, slot: 0, want: "ok"},
				{at: 5 * s, op: opFailure, slot: 0, openFor: 12 * s, want: "opened", state: "open"},
				{at: 17*s - time.Nanosecond, op: opAdmit, slot: 1, want: "refused", until: 17 * s},
				{at: 17 * s, op: opAdmit, slot: 2, want: "probe"},
				// A failed probe without Retry-After: the cooldown (30 s, capped)
				// applies again.
				{at: 17 * s, op: opFailure, slot: 2, want: "opened"},
				{at: 47*s - time.Nanosecond, op: opAdmit, slot: 3, want: "refused", until: 47 * s},
				{at: 47 * s, op: opAdmit, slot: 4, want: "probe"},
			},
		},
		{
			name: "429 Retry-After on the probe shorter than the doubled cooldown re-opens until then; the doubling still counts",
			cfg:  defaultCfg, // 10s base, 30s cap
			steps: concat(openSteps(), []step{
				{at: 10 * s, op: opAdmit, slot: 0, want: "probe"},
				{at: 10 * s, op: opFailure, slot: 0, openFor: 5 * s, want: "opened"},
				{at: 15*s - time.Nanosecond, op: opAdmit, slot: 1, want: "refused", until: 15 * s},
				{at: 15 * s, op: opAdmit, slot: 2, want: "probe"},
				// Cooldown 20s after the first failed probe, 40s capped at 30s now.
				{at: 15 * s, op: opFailure, slot: 2, want: "opened"},
				{at: 45*s - time.Nanosecond, op: opAdmit, slot: 3, want: "refused", until: 45 * s},
				{at: 45 * s, op: opAdmit, slot: 4, want: "probe"},
			}),
		},
		{
			name: "429 Retry-After on the probe longer than the cooldown re-opens until exactly then",
			cfg:  defaultCfg,
			steps: concat(openSteps(), []step{
				{at: 10 * s, op: opAdmit, slot: 0, want: "probe"},
				{at: 10 * s, op: opFailure, slot: 0, openFor: 2 * time.Minute, want: "opened"},
				{at: 2*time.Minute + 10*s - time.Nanosecond, op: opAdmit, slot: 1, want: "refused", until: 2*time.Minute + 10*s},
				{at: 2*time.Minute + 10*s, op: opAdmit, slot: 2, want: "probe"},
			}),
		},
		{
			name: "stale reports while open move nothing",
			cfg:  defaultCfg,
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opAdmit, slot: 1, want: "ok"},
				{op: opAdmit, slot: 2, want: "ok"},
				{op: opAdmit, slot: 3, want: "ok"}, // admitted while closed, reports late
				{op: opAdmit, slot: 4, want: "ok"},
				{op: opFailure, slot: 0},
				{op: opFailure, slot: 1},
				{op: opFailure, slot: 2, want: "opened"},
				// A stale success must not close, a stale failure must not re-open
				// with a later deadline.
				{at: 5 * s, op: opSuccess, slot: 3, state: "open"},
				{at: 5 * s, op: opFailure, slot: 4, openFor: time.Hour, state: "open"},
				{at: 9 * s, op: opAdmit, slot: 5, want: "refused", until: 10 * s},
				{at: 10 * s, op: opAdmit, slot: 6, want: "probe"},
			},
		},
		{
			name: "a slow failure from before the open does not re-open what a probe closed",
			cfg:  BreakerConfig{Threshold: 1, Cooldown: 10 * s, MaxCooldown: 30 * s},
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opAdmit, slot: 1, want: "ok"}, // slow
				{op: opFailure, slot: 0, want: "opened"},
				{at: 10 * s, op: opAdmit, slot: 2, want: "probe"},
				{at: 10 * s, op: opSuccess, slot: 2, want: "closed"},
				{at: 11 * s, op: opFailure, slot: 1, want: "", state: "closed"},
				{at: 11 * s, op: opAdmit, slot: 3, want: "ok"},
			},
		},
		{
			name: "a stale probe report after a reset moves nothing",
			cfg:  defaultCfg,
			steps: concat(openSteps(), []step{
				{at: 10 * s, op: opAdmit, slot: 0, want: "probe"},
				{at: 10 * s, op: opResetB, state: "closed"},
				{at: 11 * s, op: opFailure, slot: 0, want: "", state: "closed"},
				{at: 11 * s, op: opAdmit, slot: 1, want: "ok"},
			}),
		},
		{
			name: "Release frees the probe slot",
			cfg:  defaultCfg,
			steps: concat(openSteps(), []step{
				{at: 10 * s, op: opAdmit, slot: 0, want: "probe"},
				{at: 10 * s, op: opAdmit, slot: 1, want: "refused"},
				{at: 11 * s, op: opRelease, slot: 0, state: "half_open"},
				{at: 11 * s, op: opAdmit, slot: 2, want: "probe"},
				{at: 11 * s, op: opAdmit, slot: 3, want: "refused"},
				{at: 12 * s, op: opSuccess, slot: 2, want: "closed"},
			}),
		},
		{
			name: "Release of a stale probe does not free the current probe's slot",
			cfg:  defaultCfg,
			steps: concat(openSteps(), []step{
				{at: 10 * s, op: opAdmit, slot: 0, want: "probe"},
				{at: 10 * s, op: opFailure, slot: 0, want: "opened"},
				{at: 30 * s, op: opAdmit, slot: 1, want: "probe"},
				{at: 30 * s, op: opRelease, slot: 0},
				{at: 30 * s, op: opAdmit, slot: 2, want: "refused"},
			}),
		},
		{
			name: "Release of an ordinary admission changes nothing",
			cfg:  defaultCfg,
			steps: []step{
				{op: opAdmit, slot: 0, want: "ok"},
				{op: opFailure, slot: 0},
				{op: opAdmit, slot: 1, want: "ok"},
				{op: opFailure, slot: 1},
				{op: opAdmit, slot: 2, want: "ok"},
				{op: opRelease, slot: 2, state: "closed"},
				{op: opAdmit, slot: 3, want: "ok"},
				{op: opFailure, slot: 3, want: "opened"},
			},
		},
		{
			name: "Reset closes an open breaker and clears the count",
			cfg:  defaultCfg,
			steps: concat(openSteps(), []step{
				{at: 1 * s, op: opResetB, state: "closed"},
				{at: 1 * s, op: opAdmit, slot: 0, want: "ok"},
				{at: 1 * s, op: opFailure, slot: 0},
				{at: 1 * s, op: opAdmit, slot: 1, want: "ok"},
				{at: 1 * s, op: opFailure, slot: 1, state: "closed"},
			}),
		},
		{
			name: "Reset after failed probes brings the cooldown back to the base",
			cfg:  defaultCfg,
			steps: concat(openSteps(), []step{
				{at: 10 * s, op: opAdmit, slot: 0, want: "probe"},
				{at: 10 * s, op: opFailure, slot: 0, want: "opened"}, // cooldown 20s
				{at: 11 * s, op: opResetB},
				{at: 11 * s, op: opAdmit, slot: 1, want: "ok"},
				{at: 11 * s, op: opFailure, slot: 1},
				{at: 11 * s, op: opAdmit, slot: 2, want: "ok"},
				{at: 11 * s, op: opFailure, slot: 2},
				{at: 11 * s, op: opAdmit, slot: 3, want: "ok"},
				{at: 11 * s, op: opFailure, slot: 3, want: "opened"},
				{at: 21*s - time.Nanosecond, op: opAdmit, slot: 4, want: "refused", until: 21 * s},
				{at: 21 * s, op: opAdmit, slot: 5, want: "probe"},
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.cfg, tt.steps) })
	}
}

// openBreaker returns a breaker with defaultCfg opened at t0 (until +10s).
func openBreaker(t *testing.T) *Breaker {
	t.Helper()
	b := NewBreaker(defaultCfg)
	for i := range 3 {
		a := b.Admit(t0)
		if opened := b.Failure(t0, a, 0); opened != (i == 2) {
			t.Fatalf("failure %d: got opened=%v, want %v", i, opened, i == 2)
		}
	}
	return b
}

func TestBreakerSaveRestore(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		cfg     BreakerConfig
		prepare func(t *testing.T) *Breaker // the breaker to save
		// want is what Save of the restored breaker must return.
		want BreakerState
		// then: an Admit on the restored breaker at +admitAt must give wantAdmit.
		admitAt   time.Duration
		wantAdmit string
	}{
		{
			name: "closed with a failure count",
			cfg:  defaultCfg,
			prepare: func(t *testing.T) *Breaker {
				b := NewBreaker(defaultCfg)
				b.Failure(t0, b.Admit(t0), 0)
				b.Failure(t0, b.Admit(t0), 0)
				return b
			},
			want:      BreakerState{State: Closed, Fails: 2, Cooldown: 10 * s},
			wantAdmit: "ok",
		},
		{
			name:      "open keeps its deadline",
			cfg:       defaultCfg,
			prepare:   openBreaker,
			want:      BreakerState{State: Open, Fails: 3, OpenUntil: at(10 * s), Cooldown: 10 * s},
			admitAt:   9 * s,
			wantAdmit: "refused",
		},
		{
			name: "half-open with a probe out comes back open with its old deadline",
			cfg:  defaultCfg,
			prepare: func(t *testing.T) *Breaker {
				b := openBreaker(t)
				if a := b.Admit(at(12 * s)); !a.Probe {
					t.Fatalf("got %+v, want a probe", a)
				}
				return b
			},
			want:      BreakerState{State: Open, Fails: 3, OpenUntil: at(10 * s), Cooldown: 10 * s},
			admitAt:   12 * s,
			wantAdmit: "probe", // the old probe is forgotten
		},
		{
			name: "doubled cooldown survives",
			cfg:  defaultCfg,
			prepare: func(t *testing.T) *Breaker {
				b := openBreaker(t)
				b.Failure(at(10*s), b.Admit(at(10*s)), 0)
				return b
			},
			want:      BreakerState{State: Open, Fails: 4, OpenUntil: at(30 * s), Cooldown: 20 * s},
			admitAt:   30 * s,
			wantAdmit: "probe",
		},
		{
			name: "saved cooldown above the restored MaxCooldown is capped",
			cfg:  BreakerConfig{Threshold: 3, Cooldown: 10 * s, MaxCooldown: 15 * s},
			prepare: func(t *testing.T) *Breaker {
				b := openBreaker(t)
				b.Failure(at(10*s), b.Admit(at(10*s)), 0) // cooldown 20s under defaultCfg
				return b
			},
			want:      BreakerState{State: Open, Fails: 4, OpenUntil: at(30 * s), Cooldown: 15 * s},
			admitAt:   29 * s,
			wantAdmit: "refused",
		},
		{
			name:      "saved cooldown below the restored base is raised",
			cfg:       BreakerConfig{Threshold: 3, Cooldown: 20 * s, MaxCooldown: 30 * s},
			prepare:   openBreaker,
			want:      BreakerState{State: Open, Fails: 3, OpenUntil: at(10 * s), Cooldown: 20 * s},
			admitAt:   10 * s,
			wantAdmit: "probe",
		},
		{
			name:      "open restored with the breaker off comes back closed",
			cfg:       BreakerConfig{Threshold: 0, Cooldown: 10 * s, MaxCooldown: 30 * s},
			prepare:   openBreaker,
			want:      BreakerState{State: Closed, Fails: 3, Cooldown: 10 * s},
			admitAt:   1 * s,
			wantAdmit: "ok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saved := tt.prepare(t).Save()
			b := NewBreaker(tt.cfg)
			b.Restore(saved)
			if got := b.Save(); got != tt.want {
				t.Fatalf("Save after Restore: got %+v, want %+v", got, tt.want)
			}
			a := b.Admit(at(tt.admitAt))
			got := "refused"
			switch {
			case a.Probe:
				got = "probe"
			case a.OK:
				got = "ok"
			}
			if got != tt.wantAdmit {
				t.Fatalf("Admit at +%v after Restore: got %s, want %s", tt.admitAt, got, tt.wantAdmit)
			}
		})
	}
}

func TestBreakerSaveHalfOpen(t *testing.T) {
	b := openBreaker(t)
	b.Admit(at(12 * time.Second))
	got := b.Save()
	want := BreakerState{State: HalfOpen, Fails: 3, OpenUntil: at(10 * time.Second), Cooldown: 10 * time.Second}
	if got != want {
		t.Fatalf("Save: got %+v, want %+v", got, want)
	}
}

func TestBreakerRestoreRoundTripRepeated(t *testing.T) {
	// Save → Restore → Save is a fixed point for every state.
	b := openBreaker(t)
	for _, now := range []time.Time{at(1 * time.Second), at(10 * time.Second)} {
		b.Admit(now)
		s1 := b.Save()
		r := NewBreaker(defaultCfg)
		r.Restore(s1)
		s2 := r.Save()
		r2 := NewBreaker(defaultCfg)
		r2.Restore(s2)
		if got := r2.Save(); got != s2 {
			t.Fatalf("second round trip: got %+v, want %+v", got, s2)
		}
	}
}

func TestBreakerRestoreNegativeFails(t *testing.T) {
	b := NewBreaker(defaultCfg)
	b.Restore(BreakerState{State: Closed, Fails: -5})
	if got := b.Save().Fails; got != 0 {
		t.Fatalf("got Fails %d, want 0", got)
	}
}

func TestBreakerRestoreMakesOldAdmissionsStale(t *testing.T) {
	b := NewBreaker(defaultCfg)
	old := b.Admit(t0)
	b.Restore(BreakerState{State: Open, Fails: 3, OpenUntil: at(time.Minute), Cooldown: 10 * time.Second})
	if closed := b.Success(old); closed {
		t.Fatalf("Success of a pre-restore admission: got closed=true, want false")
	}
	if got := b.Save(); got.State != Open || !got.OpenUntil.Equal(at(time.Minute)) {
		t.Fatalf("got %+v, want open until +1m", got)
	}
}

func TestBreakerConfigure(t *testing.T) {
	s := time.Second
	t.Run("threshold 0 closes an open breaker", func(t *testing.T) {
		b := openBreaker(t)
		b.Configure(BreakerConfig{Threshold: 0, Cooldown: 10 * s, MaxCooldown: 30 * s})
		if got := b.Save().State; got != Closed {
			t.Fatalf("got %s, want closed", got)
		}
		if a := b.Admit(at(1 * s)); !a.OK || a.Probe {
			t.Fatalf("Admit: got %+v, want OK without probe", a)
		}
		if got := b.Save(); got.State != Closed || !got.OpenUntil.IsZero() {
			t.Fatalf("Save: got %+v, want closed with no deadline", got)
		}
	})
	t.Run("threshold 0 closes a half-open breaker and frees the probe", func(t *testing.T) {
		b := openBreaker(t)
		probe := b.Admit(at(10 * s))
		b.Configure(BreakerConfig{Threshold: 0, Cooldown: 10 * s})
		if b.Failure(at(11*s), probe, 0) {
			t.Fatalf("stale probe failure: got opened, want nothing")
		}
		if got := b.Save().State; got != Closed {
			t.Fatalf("got %s, want closed", got)
		}
	})
	t.Run("other changes keep an open breaker open with its deadline", func(t *testing.T) {
		b := openBreaker(t)
		b.Configure(BreakerConfig{Threshold: 5, Cooldown: time.Minute, MaxCooldown: time.Hour})
		if got := b.Save(); got.State != Open || !got.OpenUntil.Equal(at(10*s)) {
			t.Fatalf("got %+v, want open until +10s", got)
		}
		if a := b.Admit(at(10 * s)); !a.Probe {
			t.Fatalf("Admit at the old deadline: got %+v, want the probe", a)
		}
	})
	t.Run("new cooldown applies to the next open", func(t *testing.T) {
		b := NewBreaker(defaultCfg)
		b.Configure(BreakerConfig{Threshold: 1, Cooldown: time.Minute, MaxCooldown: time.Hour})
		b.Failure(t0, b.Admit(t0), 0)
		if got, want := b.Save().OpenUntil, at(time.Minute); !got.Equal(want) {
			t.Fatalf("got OpenUntil %v, want %v", got, want)
		}
	})
	t.Run("current cooldown above the new cap falls back to the base", func(t *testing.T) {
		b := openBreaker(t)
		b.Failure(at(10*s), b.Admit(at(10*s)), 0) // cooldown 20s
		b.Configure(BreakerConfig{Threshold: 3, Cooldown: 10 * s, MaxCooldown: 15 * s})
		if got := b.Save().Cooldown; got != 10*s {
			t.Fatalf("got cooldown %v, want 10s", got)
		}
	})
	t.Run("MaxCooldown below Cooldown is raised", func(t *testing.T) {
		b := NewBreaker(BreakerConfig{Threshold: 1, Cooldown: 10 * s})
		b.Configure(BreakerConfig{Threshold: 1, Cooldown: 20 * s, MaxCooldown: s})
		b.Failure(t0, b.Admit(t0), 0)
		b.Failure(at(20*s), b.Admit(at(20*s)), 0) // failed probe
		if got := b.Save(); got.Cooldown != 20*s || !got.OpenUntil.Equal(at(40*s)) {
			t.Fatalf("got %+v, want cooldown 20s until +40s", got)
		}
	})
}

// TestBreakerStaleFailuresPrimeCount pins a mismatch between Breaker's doc
// ("a report from an older generation ... no longer moves the breaker: a
// slow failure that started while the channel was healthy must not re-open
// a breaker that a probe has just closed") and Failure, which adds stale
// failures to the consecutive count while closed. Slow failures admitted
// before an open therefore fill the count after a probe closes the breaker,
// and a single fresh failure then re-opens it.
func TestBreakerStaleFailuresPrimeCount(t *testing.T) {
	s := time.Second
	b := NewBreaker(defaultCfg) // threshold 3
	var slow []Admission
	for range 5 {
		slow = append(slow, b.Admit(t0))
	}
	for _, a := range slow[:3] {
		b.Failure(t0, a, 0)
	}
	probe := b.Admit(at(10 * s))
	if !b.Success(probe) {
		t.Fatalf("probe success: got not closed, want closed")
	}
	// The two slow requests admitted before the open fail late.
	b.Failure(at(11*s), slow[3], 0)
	b.Failure(at(11*s), slow[4], 0)
	// One fresh failure is one failure in a row, below the threshold of 3.
	if opened := b.Failure(at(12*s), b.Admit(at(12*s)), 0); opened {
		t.Fatalf("one fresh failure after a probe closed: got opened, want still closed")
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{Closed, "closed"},
		{Open, "open"},
		{HalfOpen, "half_open"},
		{State(9), "State(9)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("String(%d): got %q, want %q", uint8(tt.s), got, tt.want)
		}
		if tt.s > HalfOpen {
			continue
		}
		back, err := ParseState(tt.want)
		if err != nil || back != tt.s {
			t.Errorf("ParseState(%q): got %v, %v, want %v, nil", tt.want, back, err, tt.s)
		}
	}
	if got, err := ParseState(""); err != nil || got != Closed {
		t.Errorf("ParseState(\"\"): got %v, %v, want closed, nil", got, err)
	}
	if _, err := ParseState("ajar"); err == nil {
		t.Errorf("ParseState(\"ajar\"): got nil error, want an error")
	}
}
