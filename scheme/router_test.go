package scheme

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"catfish/channel"
)

// startRouter runs a router in the current bubble and stops it (waiting
// for the loop to exit) when the test ends.
func startRouter(t *testing.T, defaultScheme string) *Router {
	t.Helper()
	r := NewRouter(defaultScheme)
	ctx, cancel := context.WithCancel(context.Background())
	go r.Run(ctx)
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// member returns an enabled, closed member with its own (not running) actor.
func member(id, scheme string, priority int, order uint64) Member {
	return Member{
		ID: id, Scheme: scheme, Priority: priority, Order: order, Enabled: true,
		Actor:  channel.NewActor(channel.Resolved{ID: id, Enabled: true}),
		Health: channel.Health{ID: id, State: channel.Closed, Version: 1},
	}
}

func mustPut(t *testing.T, r *Router, ms ...Member) {
	t.Helper()
	for _, m := range ms {
		if err := r.Put(context.Background(), m); err != nil {
			t.Fatalf("Put(%s): %v", m.ID, err)
		}
	}
}

// plan returns the planned scheme and its candidate ids.
func plan(t *testing.T, r *Router, model string) (string, []string) {
	t.Helper()
	p, err := r.Plan(context.Background(), model, nil)
	if err != nil {
		t.Fatalf("Plan(%q): %v", model, err)
	}
	var ids []string
	for c, ok := p.Next(); ok; c, ok = p.Next() {
		ids = append(ids, c.ID)
	}
	return p.Scheme(), ids
}

func schemeNames(t *testing.T, r *Router) []string {
	t.Helper()
	names, err := r.Names(context.Background())
	if err != nil {
		t.Fatalf("Names: %v", err)
	}
	return names
}

func TestRouterPlanPicksScheme(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "")
		b1 := member("b1", "beta", 1, 2)
		mustPut(t, r, member("a1", "alpha", 1, 1), b1, member("b2", "beta", 1, 3), member("b0", "beta", 0, 4), member("g1", "gamma", 1, 5))
		name, ids := plan(t, r, "beta")
		if name != "beta" || !slices.Equal(ids, []string{"b0", "b1", "b2"}) {
			t.Fatalf("Plan(beta): got %s %v, want beta [b0 b1 b2]", name, ids)
		}
		if got := schemeNames(t, r); !slices.Equal(got, []string{"alpha", "beta", "gamma"}) {
			t.Fatalf("Schemes: got %v, want [alpha beta gamma]", got)
		}
		// Candidates carry the member's actor.
		p, err := r.Plan(context.Background(), "beta", nil)
		if err != nil {
			t.Fatal(err)
		}
		for c, ok := p.Next(); ok; c, ok = p.Next() {
			if c.ID == "b1" && c.Actor != b1.Actor {
				t.Fatalf("Candidate b1: got actor %p, want %p", c.Actor, b1.Actor)
			}
		}
	})
}

func TestRouterFallback(t *testing.T) {
	tests := []struct {
		name          string
		defaultScheme string
		model         string
		want          string
	}{
		{"exact match", "beta", "gamma", "gamma"},
		{"exact match wins over the default", "beta", "alpha", "alpha"},
		{"unknown model goes to the default scheme", "beta", "gpt-4o", "beta"},
		{"empty model goes to the default scheme", "beta", "", "beta"},
		{"missing default scheme: first by name", "nope", "gpt-4o", "alpha"},
		{"no default scheme: first by name", "", "gpt-4o", "alpha"},
		{"model matching case-insensitively is no match", "", "GAMMA", "alpha"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := startRouter(t, tt.defaultScheme)
				// Put out of name order: "first by name" must not mean "first added".
				mustPut(t, r, member("g1", "gamma", 1, 1), member("b1", "beta", 1, 2), member("a1", "alpha", 1, 3))
				if got, _ := plan(t, r, tt.model); got != tt.want {
					t.Fatalf("Plan(%q) with default %q: got %s, want %s", tt.model, tt.defaultScheme, got, tt.want)
				}
			})
		})
	}
}

func TestRouterNoScheme(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "default")
		if _, err := r.Plan(context.Background(), "x", nil); !errors.Is(err, ErrNoScheme) {
			t.Fatalf("empty router: got %v, want ErrNoScheme", err)
		}
		mustPut(t, r, member("a", "default", 1, 1))
		if err := r.Remove(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Plan(context.Background(), "default", nil); !errors.Is(err, ErrNoScheme) {
			t.Fatalf("after removing the last member: got %v, want ErrNoScheme", err)
		}
		if got := schemeNames(t, r); len(got) != 0 {
			t.Fatalf("Schemes: got %v, want none", got)
		}
	})
}

func TestRouterPutRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "")
		ctx := context.Background()
		mustPut(t, r, member("a1", "alpha", 1, 1), member("a2", "alpha", 1, 2), member("b1", "beta", 1, 3))

		// Removing one of two keeps the scheme.
		if err := r.Remove(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if _, ids := plan(t, r, "alpha"); !slices.Equal(ids, []string{"a2"}) {
			t.Fatalf("alpha after removing a1: got %v, want [a2]", ids)
		}
		// Removing an unknown id is a no-op.
		if err := r.Remove(ctx, "nope"); err != nil {
			t.Fatalf("Remove(unknown): got %v, want nil", err)
		}
		// Moving the last member out makes the scheme disappear.
		mustPut(t, r, member("a2", "beta", 0, 2))
		if got := schemeNames(t, r); !slices.Equal(got, []string{"beta"}) {
			t.Fatalf("Schemes after the move: got %v, want [beta]", got)
		}
		if name, ids := plan(t, r, "beta"); name != "beta" || !slices.Equal(ids, []string{"a2", "b1"}) {
			t.Fatalf("beta after the move: got %s %v, want beta [a2 b1]", name, ids)
		}
		// alpha now falls back to the first scheme.
		if name, _ := plan(t, r, "alpha"); name != "beta" {
			t.Fatalf("Plan(alpha) after it emptied: got %s, want beta", name)
		}
		// Updating a member in place: a new priority reorders it.
		mustPut(t, r, member("a2", "beta", 9, 2))
		if _, ids := plan(t, r, "beta"); !slices.Equal(ids, []string{"b1", "a2"}) {
			t.Fatalf("beta after re-prioritising a2: got %v, want [b1 a2]", ids)
		}
		// Disabling leaves it out; the scheme exists while it has channels.
		m := member("b1", "beta", 1, 3)
		m.Enabled = false
		mustPut(t, r, m)
		if _, ids := plan(t, r, "beta"); !slices.Equal(ids, []string{"a2"}) {
			t.Fatalf("beta with b1 disabled: got %v, want [a2]", ids)
		}
	})
}

func TestRouterRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "")
		mustPut(t, r, member("x", "s", 1, 1), member("y", "s", 1, 2))
		if _, ids := plan(t, r, "s"); len(ids) != 2 {
			t.Fatalf("before relay: got %v, want both", ids)
		}

		until := time.Now().Add(10 * time.Second)
		r.Relay(channel.Health{ID: "x", State: channel.Open, OpenUntil: until, Version: 2})
		for i := range 3 { // whatever the rotation
			p, err := r.Plan(context.Background(), "s", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Wake().Equal(until) {
				t.Fatalf("plan %d: got Wake %v, want %v", i, p.Wake(), until)
			}
			if c, _ := p.Next(); c.ID != "y" || p.Len() != 1 {
				t.Fatalf("plan %d: got first %s of %d, want y alone", i, c.ID, p.Len())
			}
		}

		// Older and equal versions are ignored.
		r.Relay(channel.Health{ID: "x", State: channel.Closed, Version: 1})
		r.Relay(channel.Health{ID: "x", State: channel.Closed, Version: 2})
		if _, ids := plan(t, r, "s"); !slices.Equal(ids, []string{"y"}) {
			t.Fatalf("after stale relays: got %v, want [y]", ids)
		}
		// Unknown channels are ignored: no scheme, no change to routing
		// (an earlier wake would show in the plan).
		r.Relay(channel.Health{ID: "ghost", State: channel.Open, OpenUntil: until.Add(-5 * time.Second), Version: 99})
		if p, err := r.Plan(context.Background(), "s", nil); err != nil {
			t.Fatal(err)
		} else if p.Len() != 1 || !p.Wake().Equal(until) {
			t.Fatalf("after an unknown relay: got %d planned, waking at %v; want y alone, waking at %v", p.Len(), p.Wake(), until)
		}
		if names := schemeNames(t, r); !slices.Equal(names, []string{"s"}) {
			t.Fatalf("after an unknown relay: schemes %v, want [s]", names)
		}

		// The deadline passes: x is planned again without any relay.
		time.Sleep(10 * time.Second)
		p, err := r.Plan(context.Background(), "s", nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Len() != 2 || !p.Wake().IsZero() {
			t.Fatalf("after the deadline: got len %d wake %v, want 2 and zero", p.Len(), p.Wake())
		}

		// A newer open excludes it again; a newer close brings it back.
		r.Relay(channel.Health{ID: "x", State: channel.Open, OpenUntil: time.Now().Add(time.Minute), Version: 3})
		if _, ids := plan(t, r, "s"); !slices.Equal(ids, []string{"y"}) {
			t.Fatalf("after re-open: got %v, want [y]", ids)
		}
		r.Relay(channel.Health{ID: "x", State: channel.Closed, Version: 4})
		if _, ids := plan(t, r, "s"); len(ids) != 2 {
			t.Fatalf("after close: got %v, want x and y", ids)
		}
	})
}

func TestRouterPutKeepsNewerHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "")
		mustPut(t, r, member("x", "s", 1, 1), member("y", "s", 1, 2))
		r.Relay(channel.Health{ID: "x", State: channel.Open, OpenUntil: time.Now().Add(time.Hour), Version: 5})

		// An admin update carrying an older health keeps the relayed one.
		mustPut(t, r, member("x", "s", 1, 1))
		if _, ids := plan(t, r, "s"); !slices.Equal(ids, []string{"y"}) {
			t.Fatalf("Put with older health: got %v, want [y]", ids)
		}
		// A newer one replaces it.
		m := member("x", "s", 1, 1)
		m.Health.Version = 6
		mustPut(t, r, m)
		if _, ids := plan(t, r, "s"); len(ids) != 2 {
			t.Fatalf("Put with newer health: got %v, want x and y", ids)
		}
	})
}

func TestRouterRoundRobin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "")
		mustPut(t, r, member("c", "s", 1, 3), member("a", "s", 1, 1), member("b", "s", 1, 2), member("z", "s", 2, 4))
		mustPut(t, r, member("o1", "other", 1, 5), member("o2", "other", 1, 6))
		wantFull := [][]string{{"a", "b", "c", "z"}, {"b", "c", "a", "z"}, {"c", "a", "b", "z"}}
		for i := range 9 {
			_, ids := plan(t, r, "s")
			if want := wantFull[i%3]; !slices.Equal(ids, want) {
				t.Fatalf("plan %d: got %v, want %v", i, ids, want)
			}
			// Another scheme's plans do not move this scheme's rotation.
			plan(t, r, "other")
		}
		// Each of the two "other" channels led 9 plans between them; the
		// next one starts with o2 (9 is odd).
		if _, ids := plan(t, r, "other"); ids[0] != "o2" {
			t.Fatalf("other after 9 plans: got %v, want o2 first", ids)
		}
	})
}

// TestRouterRelayKeepsTheNewest: routing follows the newest relayed
// health of each channel; stale and unknown relays change nothing.
func TestRouterRelayKeepsTheNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "")
		mustPut(t, r, member("x", "s", 1, 1), member("y", "s", 1, 2))
		r.Relay(channel.Health{ID: "y", State: channel.Open, OpenUntil: time.Now().Add(time.Minute), Fails: 3, Version: 2})
		r.Relay(channel.Health{ID: "y", State: channel.Closed, Version: 1})   // stale
		r.Relay(channel.Health{ID: "ghost", State: channel.Open, Version: 7}) // unknown
		if _, ids := plan(t, r, "s"); !slices.Equal(ids, []string{"x"}) {
			t.Fatalf("after relays: got %v, want [x]", ids)
		}
		if names := schemeNames(t, r); !slices.Equal(names, []string{"s"}) {
			t.Fatalf("an unknown relay made a scheme: %v", names)
		}
		r.Relay(channel.Health{ID: "y", State: channel.Closed, Version: 3})
		if _, ids := plan(t, r, "s"); len(ids) != 2 {
			t.Fatalf("after y closed: got %v, want both", ids)
		}
	})
}

func TestRouterRepliesAreCopies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "")
		mustPut(t, r, member("x", "b", 1, 1), member("y", "a", 1, 2))
		names := schemeNames(t, r)
		names[0] = "mutated"
		if names2 := schemeNames(t, r); !slices.Equal(names2, []string{"a", "b"}) {
			t.Fatalf("Names after mutating a reply: got %v, want [a b]", names2)
		}
	})
}

func TestRouterStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRouter("")
		ctx, cancel := context.WithCancel(context.Background())
		go r.Run(ctx)
		mustPut(t, r, member("x", "s", 1, 1))
		cancel()
		<-r.done

		bg := context.Background()
		checks := []struct {
			name string
			call func() error
		}{
			{"Plan", func() error { _, err := r.Plan(bg, "s", nil); return err }},
			{"Put", func() error { return r.Put(bg, member("y", "s", 1, 2)) }},
			{"Remove", func() error { return r.Remove(bg, "x") }},
			{"Names", func() error { _, err := r.Names(bg); return err }},
			{"Relay", func() error { r.Relay(channel.Health{ID: "x", Version: 9}); return ErrStopped }},
		}
		for _, c := range checks {
			// In a goroutine: a call that blocked would show up as a
			// synctest deadlock rather than a hang.
			done := make(chan error, 1)
			go func() { done <- c.call() }()
			if err := <-done; !errors.Is(err, ErrStopped) {
				t.Errorf("%s after stop: got %v, want ErrStopped", c.name, err)
			}
		}
	})
}

func TestRouterCallerContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRouter("") // never run
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := r.Plan(ctx, "s", nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Plan: got %v, want DeadlineExceeded", err)
		}
		if err := r.Put(ctx, member("x", "s", 1, 1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Put: got %v, want DeadlineExceeded", err)
		}
	})
}

func TestRouterConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRouter(t, "s")
		for i := range 5 {
			mustPut(t, r, member(fmt.Sprintf("c%d", i), "s", i%2, uint64(i)))
		}
		var wg sync.WaitGroup
		for g := range 20 {
			wg.Go(func() {
				for j := range 50 {
					p, err := r.Plan(context.Background(), "whatever", nil)
					if err != nil {
						t.Errorf("Plan: %v", err)
						return
					}
					seen := map[string]bool{}
					for c, ok := p.Next(); ok; c, ok = p.Next() {
						if seen[c.ID] {
							t.Errorf("got %s twice in one plan", c.ID)
						}
						seen[c.ID] = true
					}
					id := fmt.Sprintf("c%d", (g+j)%5)
					st := channel.Closed
					if j%4 == 0 {
						st = channel.Open
					}
					r.Relay(channel.Health{ID: id, State: st, OpenUntil: time.Now().Add(time.Second), Version: uint64(j + 2)})
				}
			})
		}
		wg.Wait()
		// Each channel's newest relay (version 51, j = 49) closed it,
		// whatever order the relays arrived in.
		if _, ids := plan(t, r, "s"); len(ids) != 5 {
			t.Fatalf("after the relays: got %v, want all five channels", ids)
		}
	})
}
