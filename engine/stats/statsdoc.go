package stats

import (
	"maps"
	"slices"
	"time"
)

// Doc is statistics as they are journaled and snapshotted. Every
// field holds absolute values, never increments: replaying a record twice,
// or a record the snapshot already covers, changes nothing. A journal
// record carries only what changed since the previous one.
type Doc struct {
	Total    *Counts                  `json:"total,omitempty"`
	Canceled *int64                   `json:"canceled,omitempty"`
	Today    *Today                   `json:"today,omitempty"`
	Channels map[string]*ChannelStats `json:"channels,omitempty"`
	Schemes  map[string]*SchemeStats  `json:"schemes,omitempty"`
	Routes   map[string]Counts        `json:"routes,omitempty"`
	Keys     map[string]*KeyStats     `json:"keys,omitempty"` // by client key name
	Hours    hours                    `json:"hours,omitempty"`
}

// Merge overwrites s with what d holds.
func (s *Stats) Merge(d *Doc) {
	if d.Total != nil {
		s.total = *d.Total
	}
	if d.Canceled != nil {
		s.canceled = *d.Canceled
	}
	if t := d.Today; t != nil {
		s.dayStart, s.dayEnd = time.Time{}, time.Time{} // recomputed by the next record
		switch {
		case t.Date > s.today.Date:
			s.today = Today{Date: t.Date, Counts: t.Counts, ByChannel: map[string]*Counts{}}
			fallthrough
		case t.Date == s.today.Date:
			s.today.Counts = t.Counts
			for id, c := range t.ByChannel {
				v := *c
				s.today.ByChannel[id] = &v
			}
		}
	}
	for id, c := range d.Channels {
		cur := s.channel(id)
		cur.Counts, cur.Tokens, cur.TTFB = c.Counts, c.Tokens, c.TTFB
		for _, h := range c.Hours {
			cur.Hours.set(h)
		}
	}
	for key, c := range d.Routes {
		v := c
		s.routes[key] = &v
	}
	for name, sc := range d.Schemes {
		v := *sc
		s.schemes[name] = &v
	}
	for name, k := range d.Keys {
		cur := s.keys[name]
		if cur == nil {
			cur = &KeyStats{}
			s.keys[name] = cur
		}
		cur.Counts, cur.Tokens = k.Counts, k.Tokens
		for _, h := range k.Hours {
			cur.Hours.set(h)
		}
	}
	for _, h := range d.Hours {
		s.hours.set(h)
	}
}

// Doc returns everything, for a snapshot.
func (s *Stats) Doc() *Doc {
	total, canceled := s.total, s.canceled
	d := &Doc{Total: &total, Canceled: &canceled, Today: s.copyToday(nil),
		Channels: make(map[string]*ChannelStats, len(s.channels)),
		Schemes:  make(map[string]*SchemeStats, len(s.schemes)),
		Routes:   s.routesCopy(),
		Keys:     make(map[string]*KeyStats, len(s.keys)),
		Hours:    slices.Clone(s.hours)}
	for id, c := range s.channels {
		v := *c
		v.Hours = slices.Clone(c.Hours)
		d.Channels[id] = &v
	}
	for name, sc := range s.schemes {
		v := *sc
		d.Schemes[name] = &v
	}
	for name, k := range s.keys {
		d.Keys[name] = &KeyStats{Counts: k.Counts, Tokens: k.Tokens, Hours: slices.Clone(k.Hours)}
	}
	return d
}

// takeDelta returns what changed since the last call (nil if nothing did)
// and forgets the changes.
func (s *Stats) takeDelta() *Doc {
	if !s.dirtyTotals && len(s.dirtyChannels) == 0 && len(s.dirtySchemes) == 0 && len(s.dirtyKeys) == 0 && len(s.dirtyHours) == 0 {
		return nil
	}
	d := &Doc{}
	if s.dirtyTotals || len(s.dirtyChannels) > 0 {
		total, canceled := s.total, s.canceled
		d.Total, d.Canceled, d.Routes = &total, &canceled, s.routesCopy()
		only := make(map[string]bool, len(s.dirtyChannels))
		for _, id := range s.dirtyChannels {
			only[id] = true
		}
		d.Today = s.copyToday(only)
	}
	if len(s.dirtyChannels) > 0 {
		d.Channels = make(map[string]*ChannelStats, len(s.dirtyChannels))
		for _, id := range s.dirtyChannels {
			c, ok := s.channels[id]
			if !ok || !c.dirty {
				continue // forgotten since
			}
			v := ChannelStats{Counts: c.Counts, Tokens: c.Tokens, TTFB: c.TTFB}
			slices.Sort(c.dirtyHours)
			for _, h := range c.dirtyHours {
				v.Hours = append(v.Hours, c.Hours.get(h))
			}
			d.Channels[id] = &v
			c.dirty, c.dirtyHours = false, c.dirtyHours[:0]
		}
	}
	if len(s.dirtySchemes) > 0 {
		d.Schemes = make(map[string]*SchemeStats, len(s.dirtySchemes))
		for _, name := range s.dirtySchemes {
			sc := s.schemes[name]
			sc.dirty = false
			v := *sc
			d.Schemes[name] = &v
		}
	}
	if len(s.dirtyKeys) > 0 {
		d.Keys = make(map[string]*KeyStats, len(s.dirtyKeys))
		for _, name := range s.dirtyKeys {
			k := s.keys[name]
			v := KeyStats{Counts: k.Counts, Tokens: k.Tokens}
			slices.Sort(k.dirtyHours)
			for _, h := range k.dirtyHours {
				v.Hours = append(v.Hours, k.Hours.get(h))
			}
			d.Keys[name] = &v
			k.dirty, k.dirtyHours = false, k.dirtyHours[:0]
		}
	}
	for _, h := range slices.Sorted(maps.Keys(s.dirtyHours)) {
		d.Hours = append(d.Hours, s.hours.get(h))
	}
	s.dirtyTotals = false
	s.dirtyChannels = s.dirtyChannels[:0]
	s.dirtySchemes = s.dirtySchemes[:0]
	s.dirtyKeys = s.dirtyKeys[:0]
	clear(s.dirtyHours)
	s.lastHour = -1
	return d
}

// copyToday copies today; with only set, just those channels' entries.
func (s *Stats) copyToday(only map[string]bool) *Today {
	t := Today{Date: s.today.Date, Counts: s.today.Counts, ByChannel: map[string]*Counts{}}
	for id, c := range s.today.ByChannel {
		if only != nil {
			if _, ok := only[id]; !ok {
				continue
			}
		}
		v := *c
		t.ByChannel[id] = &v
	}
	return &t
}

func (s *Stats) routesCopy() map[string]Counts {
	out := make(map[string]Counts, len(s.routes))
	for k, c := range s.routes {
		out[k] = *c
	}
	return out
}
