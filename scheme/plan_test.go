package scheme

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"catfish/channel"
)

var t0 = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// mem is an enabled, closed member of scheme "s".
func mem(id string, priority int, order uint64) *Member {
	return &Member{ID: id, Scheme: "s", Priority: priority, Order: order, Enabled: true,
		Health: channel.Health{ID: id, State: channel.Closed, Version: 1}}
}

func disabled(m *Member) *Member { m.Enabled = false; return m }

func withHealth(m *Member, s channel.State, until time.Duration) *Member {
	m.Health.State, m.Health.OpenUntil = s, at(until)
	return m
}

func TestBuildViewOrder(t *testing.T) {
	s := time.Second
	tests := []struct {
		name     string
		members  []*Member
		now      time.Duration
		n        uint64
		want     []string
		wantWake time.Duration // offset from t0; -1 means zero time
	}{
		{
			name:     "empty",
			want:     nil,
			wantWake: -1,
		},
		{
			name:     "strict priority: every priority 1 before priority 2",
			members:  []*Member{mem("a", 2, 1), mem("b", 1, 2), mem("c", 3, 3), mem("d", 1, 4), mem("e", 2, 5)},
			want:     []string{"b", "d", "a", "e", "c"},
			wantWake: -1,
		},
		{
			name:     "n rotates inside every group",
			members:  []*Member{mem("a", 2, 1), mem("b", 1, 2), mem("c", 3, 3), mem("d", 1, 4), mem("e", 2, 5)},
			n:        1,
			want:     []string{"d", "b", "e", "a", "c"},
			wantWake: -1,
		},
		{
			name:     "groups of different sizes rotate by n modulo their size",
			members:  []*Member{mem("a", 1, 1), mem("b", 1, 2), mem("c", 1, 3), mem("x", 2, 4), mem("y", 2, 5)},
			n:        4,
			want:     []string{"b", "c", "a", "x", "y"},
			wantWake: -1,
		},
		{
			name:     "creation order breaks priority ties, whatever the input order",
			members:  []*Member{mem("late", 1, 30), mem("early", 1, 10), mem("mid", 1, 20)},
			want:     []string{"early", "mid", "late"},
			wantWake: -1,
		},
		{
			name:     "negative priorities come first",
			members:  []*Member{mem("a", 0, 1), mem("b", -5, 2)},
			want:     []string{"b", "a"},
			wantWake: -1,
		},
		{
			name:     "disabled channels are left out",
			members:  []*Member{mem("a", 1, 1), disabled(mem("b", 1, 2)), mem("c", 1, 3)},
			want:     []string{"a", "c"},
			wantWake: -1,
		},
		{
			name: "open channels are left out and Wake is the earliest deadline",
			members: []*Member{
				mem("a", 1, 1),
				withHealth(mem("b", 1, 2), channel.Open, 30*s),
				withHealth(mem("c", 2, 3), channel.Open, 20*s),
				mem("d", 2, 4),
				withHealth(mem("e", 3, 5), channel.Open, 25*s),
			},
			now:      10 * s,
			want:     []string{"a", "d"},
			wantWake: 20 * s,
		},
		{
			name: "an open channel past its deadline is offered (its probe)",
			members: []*Member{
				withHealth(mem("a", 1, 1), channel.Open, 5*s),
				withHealth(mem("b", 1, 2), channel.Open, 10*s), // deadline exactly now
				withHealth(mem("c", 1, 3), channel.Open, 11*s),
			},
			now:      10 * s,
			want:     []string{"a", "b"},
			wantWake: 11 * s,
		},
		{
			name:     "a half-open channel is offered",
			members:  []*Member{withHealth(mem("a", 1, 1), channel.HalfOpen, 5*s)},
			now:      10 * s,
			want:     []string{"a"},
			wantWake: -1,
		},
		{
			name: "a disabled open channel does not set Wake",
			members: []*Member{
				disabled(withHealth(mem("a", 1, 1), channel.Open, 15*s)),
				withHealth(mem("b", 1, 2), channel.Open, 40*s),
			},
			now:      10 * s,
			want:     nil,
			wantWake: 40 * s,
		},
		{
			name:     "every channel open: nothing offered, Wake set",
			members:  []*Member{withHealth(mem("a", 1, 1), channel.Open, 12*s), withHealth(mem("b", 2, 2), channel.Open, 11*s)},
			now:      10 * s,
			want:     nil,
			wantWake: 11 * s,
		},
		{
			name:     "an exclusion between equal priorities does not split the group",
			members:  []*Member{mem("a", 1, 1), withHealth(mem("b", 1, 2), channel.Open, time.Hour), mem("c", 1, 3)},
			n:        1,
			want:     []string{"c", "a"},
			wantWake: time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := slices.Clone(tt.members)
			v := BuildView("s", tt.members, at(tt.now))
			if !slices.Equal(input, tt.members) {
				t.Fatalf("BuildView reordered its input")
			}
			if got := Order(v, tt.n); !slices.Equal(got, tt.want) {
				t.Fatalf("Order(n=%d): got %v, want %v", tt.n, got, tt.want)
			}
			if got := v.Len(); got != len(tt.want) {
				t.Fatalf("Len: got %d, want %d", got, len(tt.want))
			}
			wantWake := time.Time{}
			if tt.wantWake >= 0 {
				wantWake = at(tt.wantWake)
			}
			if got := v.Wake(); !got.Equal(wantWake) {
				t.Fatalf("Wake: got %v, want %v", got, wantWake)
			}
			p := NewPlan(v, tt.n)
			if p.Scheme() != "s" || p.Len() != len(tt.want) || !p.Wake().Equal(wantWake) {
				t.Fatalf("Plan: got scheme %q len %d wake %v, want s %d %v", p.Scheme(), p.Len(), p.Wake(), len(tt.want), wantWake)
			}
		})
	}
}

func TestPlanCandidatesCarryActors(t *testing.T) {
	a := mem("a", 1, 1)
	a.Actor = channel.NewActor(channel.Resolved{ID: "a", Enabled: true})
	p := NewPlan(BuildView("s", []*Member{a}, t0), 0)
	c, ok := p.Next()
	if !ok || c.ID != "a" || c.Actor != a.Actor {
		t.Fatalf("Next: got %+v, %v, want a with its actor", c, ok)
	}
	for range 3 {
		if c, ok := p.Next(); ok {
			t.Fatalf("Next after the end: got %+v, want false", c)
		}
	}
}

func TestZeroPlan(t *testing.T) {
	var p Plan
	if c, ok := p.Next(); ok {
		t.Fatalf("Next: got %+v, want false", c)
	}
	if p.Len() != 0 || p.Scheme() != "" || !p.Wake().IsZero() {
		t.Fatalf("zero Plan: got len %d scheme %q wake %v, want 0, \"\", zero", p.Len(), p.Scheme(), p.Wake())
	}
}

// TestRoundRobinFairness: over k*m requests each of k equal channels is
// tried first exactly m times, and to within one for other counts; the
// same holds inside a lower priority group.
func TestRoundRobinFairness(t *testing.T) {
	for k := 1; k <= 7; k++ {
		for _, requests := range []int{k, 3 * k, 5*k + 1, 7*k + k - 1, 100} {
			t.Run(fmt.Sprintf("k=%d/requests=%d", k, requests), func(t *testing.T) {
				var members []*Member
				for i := range k {
					members = append(members, mem(fmt.Sprintf("p1-%d", i), 1, uint64(i)))
				}
				// A second group of another size must rotate on its own.
				for i := range 3 {
					members = append(members, mem(fmt.Sprintf("p2-%d", i), 2, uint64(100+i)))
				}
				v := BuildView("s", members, t0)
				first := map[string]int{}
				firstP2 := map[string]int{}
				for n := range requests {
					ids := Order(v, uint64(n))
					if len(ids) != k+3 {
						t.Fatalf("n=%d: got %d candidates, want %d", n, len(ids), k+3)
					}
					seen := map[string]bool{}
					for _, id := range ids {
						if seen[id] {
							t.Fatalf("n=%d: got %s twice in %v, want each once", n, id, ids)
						}
						seen[id] = true
					}
					first[ids[0]]++
					firstP2[ids[k]]++
				}
				checkSpread(t, "priority 1", first, k, requests)
				checkSpread(t, "priority 2", firstP2, 3, requests)
			})
		}
	}
}

func checkSpread(t *testing.T, group string, counts map[string]int, k, requests int) {
	t.Helper()
	lo, hi := requests/k, (requests+k-1)/k
	total := 0
	for id, c := range counts {
		if c < lo || c > hi {
			t.Fatalf("%s: %s first %d times of %d, want between %d and %d", group, id, c, requests, lo, hi)
		}
		total += c
	}
	if len(counts) != min(k, requests) || total != requests {
		t.Fatalf("%s: got %d channels first (%d total), want %d (%d)", group, len(counts), total, min(k, requests), requests)
	}
}

// fuzzMembers builds up to 64 members from data, 3 bytes each: priority,
// enabled, health. The slice is rotated by the last byte so the input
// order differs from the creation order.
func fuzzMembers(data []byte) []*Member {
	var ms []*Member
	for i := 0; i+3 <= len(data) && len(ms) < 64; i += 3 {
		b0, b1, b2 := data[i], data[i+1], data[i+2]
		m := mem(fmt.Sprintf("m%d", len(ms)), int(b0%5)-2, uint64(len(ms)))
		m.Enabled = b1&3 != 0
		d := time.Duration(b2>>2) * time.Second
		switch b2 % 4 {
		case 1: // open, deadline ahead
			withHealth(m, channel.Open, d+time.Second)
		case 2: // open, deadline passed (or exactly now)
			withHealth(m, channel.Open, -d)
		case 3: // half-open
			withHealth(m, channel.HalfOpen, -d)
		}
		ms = append(ms, m)
	}
	if len(ms) > 0 && len(data) > 0 {
		r := int(data[len(data)-1]) % len(ms)
		ms = append(ms[r:], ms[:r]...)
	}
	return ms
}

func FuzzPlanInvariants(f *testing.F) {
	f.Add([]byte{}, uint32(0))
	f.Add([]byte{0, 1, 0, 0, 1, 0, 0, 1, 0}, uint32(1))
	f.Add([]byte{1, 1, 0, 0, 0, 0, 2, 1, 5, 1, 1, 6, 0, 3, 7, 4, 2, 9}, uint32(7))
	f.Add([]byte{3, 3, 1, 3, 3, 2, 3, 3, 3, 3, 3, 0, 3, 0, 1}, uint32(1<<31))
	f.Fuzz(func(t *testing.T, data []byte, n32 uint32) {
		members := fuzzMembers(data)
		byID := map[string]*Member{}
		for _, m := range members {
			byID[m.ID] = m
		}
		v := BuildView("s", members, t0)
		for _, n := range []uint64{uint64(n32), uint64(n32) + 1} {
			ids := Order(v, n)
			if len(ids) != v.Len() {
				t.Fatalf("n=%d: got %d ids, Len %d", n, len(ids), v.Len())
			}
			seen := map[string]bool{}
			prev := 0
			for i, id := range ids {
				m, ok := byID[id]
				if !ok {
					t.Fatalf("n=%d: got unknown id %q", n, id)
				}
				if seen[id] {
					t.Fatalf("n=%d: got %s twice in %v", n, id, ids)
				}
				seen[id] = true
				if !m.Enabled || !m.Health.Admits(t0) {
					t.Fatalf("n=%d: got %s (enabled %v, health %+v), want only enabled admitting members", n, id, m.Enabled, m.Health)
				}
				if i > 0 && m.Priority < prev {
					t.Fatalf("n=%d: priority %d after %d in %v, want non-decreasing", n, m.Priority, prev, ids)
				}
				prev = m.Priority
			}
			var wake time.Time
			groups := map[int][]*Member{}
			for _, m := range members {
				if !m.Enabled {
					continue
				}
				if !m.Health.Admits(t0) {
					if wake.IsZero() || m.Health.OpenUntil.Before(wake) {
						wake = m.Health.OpenUntil
					}
					continue
				}
				if !seen[m.ID] {
					t.Fatalf("n=%d: %s is enabled and admits but is missing from %v", n, m.ID, ids)
				}
				groups[m.Priority] = append(groups[m.Priority], m)
			}
			if !v.Wake().Equal(wake) {
				t.Fatalf("Wake: got %v, want %v", v.Wake(), wake)
			}
			// Inside each priority group: creation order rotated by n.
			pos := 0
			for _, pr := range slices.Sorted(maps.Keys(groups)) {
				g := groups[pr]
				slices.SortFunc(g, func(a, b *Member) int { return int(a.Order) - int(b.Order) })
				for i := range g {
					want := g[(n+uint64(i))%uint64(len(g))].ID
					if ids[pos] != want {
						t.Fatalf("n=%d priority %d step %d: got %s, want %s (plan %v)", n, pr, i, ids[pos], want, ids)
					}
					pos++
				}
			}
		}
	})
}

// Order lists the ids of a whole plan.
func Order(v *View, n uint64) []string {
	p := NewPlan(v, n)
	var ids []string
	for c, ok := p.Next(); ok; c, ok = p.Next() {
		ids = append(ids, c.ID)
	}
	return ids
}
