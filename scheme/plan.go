package scheme

import (
	"cmp"
	"slices"
	"time"

	"catfish/channel"
)

// Member is what routing knows of one channel.
type Member struct {
	ID       string
	Scheme   string
	Priority int
	Order    uint64 // creation order: ties in priority go oldest first
	Enabled  bool
	Actor    *channel.Actor
	Health   channel.Health
}

// Candidate is one channel offered to a request.
type Candidate struct {
	ID    string
	Actor *channel.Actor
}

// View is the routing picture of one scheme at one moment: the channels
// that may take a request, grouped by priority, plus when the next open
// breaker's cooldown ends. A View is immutable once built; the router
// publishes a new one on every change, so request goroutines may read a
// View they were handed without any synchronisation.
type View struct {
	Name   string
	groups [][]Candidate // ascending priority; each group in creation order
	// wake is the earliest time an excluded (open) channel may admit again;
	// zero if none is waiting. The router rebuilds the view once it passes.
	wake time.Time
	size int
}

// BuildView computes a scheme's view at now from its members (in any order).
// Disabled channels and channels whose breaker is open are left out.
func BuildView(name string, members []*Member, now time.Time) *View {
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b *Member) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Order, b.Order))
	})
	v := &View{Name: name}
	var cur []Candidate
	curPriority := 0
	for _, m := range sorted {
		if !m.Enabled {
			continue
		}
		if !m.Health.Admits(now) {
			if v.wake.IsZero() || m.Health.OpenUntil.Before(v.wake) {
				v.wake = m.Health.OpenUntil
			}
			continue
		}
		if len(cur) > 0 && m.Priority != curPriority {
			v.groups = append(v.groups, cur)
			cur = nil
		}
		curPriority = m.Priority
		cur = append(cur, Candidate{ID: m.ID, Actor: m.Actor})
		v.size++
	}
	if len(cur) > 0 {
		v.groups = append(v.groups, cur)
	}
	return v
}

// Len is the number of channels the view offers.
func (v *View) Len() int { return v.size }

// Wake is when an excluded channel's cooldown ends (zero: none waiting).
func (v *View) Wake() time.Time { return v.wake }

// Plan is one request's attempt order: every group in priority order, and
// inside a group a rotation that starts n places in, so successive requests
// start one channel further along. Each channel appears once. Iterating
// costs O(1) per step whatever the scheme's size.
type Plan struct {
	view *View
	n    uint64
	g, i int // iteration position: group, step within the group
}

// NewPlan returns the plan of the n-th request on v.
func NewPlan(v *View, n uint64) Plan { return Plan{view: v, n: n} }

// Scheme is the name of the planned scheme.
func (p *Plan) Scheme() string {
	if p.view == nil {
		return ""
	}
	return p.view.Name
}

// Wake is when an excluded channel of this scheme may admit again.
func (p *Plan) Wake() time.Time {
	if p.view == nil {
		return time.Time{}
	}
	return p.view.wake
}

// Len is the number of candidates in the plan.
func (p *Plan) Len() int {
	if p.view == nil {
		return 0
	}
	return p.view.size
}

// Next returns the next candidate, or false when the plan is exhausted.
func (p *Plan) Next() (Candidate, bool) {
	if p.view == nil {
		return Candidate{}, false
	}
	for p.g < len(p.view.groups) {
		grp := p.view.groups[p.g]
		if p.i < len(grp) {
			c := grp[(p.n+uint64(p.i))%uint64(len(grp))]
			p.i++
			return c, true
		}
		p.g, p.i = p.g+1, 0
	}
	return Candidate{}, false
}
