package stats

import (
	"cmp"
	"iter"
	"maps"
	"slices"
	"time"

	"catfish/channel"
	"catfish/engine/dialect"
)

// Counts is a success/fail pair, as the original's stats.json spells it.
type Counts struct {
	Success int64 `json:"success"`
	Fail    int64 `json:"fail"`
}

func (c *Counts) add(ok bool) {
	if ok {
		c.Success++
	} else {
		c.Fail++
	}
}

// Tokens is token usage.
type Tokens struct {
	Prompt     int64 `json:"prompt"`
	Completion int64 `json:"completion"`
	Total      int64 `json:"total"`
}

func (t *Tokens) add(u dialect.Usage) {
	t.Prompt += u.Prompt
	t.Completion += u.Completion
	t.Total += u.Total
}

// latencyBounds are the upper bounds, in milliseconds, of the latency
// histogram buckets; a last, unbounded bucket follows. Fixed buckets keep
// memory flat whatever the traffic, and double as Prometheus buckets.
var latencyBounds = [...]float64{1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700,
	1000, 1500, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000, 60000, 120000, 300000}

const latencyBuckets = len(latencyBounds) + 1

// histogram is a fixed-bucket latency histogram.
type histogram struct {
	SumMS   float64               `json:"sum_ms"`
	Count   int64                 `json:"count"`
	Buckets [latencyBuckets]int64 `json:"buckets"`
}

func (h *histogram) observe(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	i, _ := slices.BinarySearch(latencyBounds[:], ms)
	h.Buckets[i]++
	h.SumMS += ms
	h.Count++
}

// quantile estimates the q-quantile in ms by linear interpolation inside
// the bucket that holds it.
func (h *histogram) quantile(q float64) float64 {
	if h.Count == 0 {
		return 0
	}
	rank := q * float64(h.Count)
	var seen float64
	for i, n := range h.Buckets {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			lo := 0.0
			if i > 0 {
				lo = latencyBounds[i-1]
			}
			hi := lo * 2
			if i < len(latencyBounds) {
				hi = latencyBounds[i]
			}
			return lo + (hi-lo)*(rank-seen)/float64(n)
		}
		seen += float64(n)
	}
	return latencyBounds[len(latencyBounds)-1]
}

func (h *histogram) mean() float64 {
	if h.Count == 0 {
		return 0
	}
	return h.SumMS / float64(h.Count)
}

// hourCount is one hour's counts. H is the hour as Unix seconds / 3600.
type hourCount struct {
	H int64 `json:"h"`
	Counts
}

// KeepHours is how far back hourly buckets go: 7 days.
const KeepHours = 7 * 24

// hours is a sparse series of hourly counts, oldest first, at most
// KeepHours long.
type hours []hourCount

func (hs *hours) add(h int64, ok bool) {
	s := *hs
	if n := len(s); n > 0 && s[n-1].H == h {
		s[n-1].add(ok)
		return
	}
	i, found := slices.BinarySearchFunc(s, h, func(c hourCount, h int64) int { return cmp.Compare(c.H, h) })
	if !found {
		s = slices.Insert(s, i, hourCount{H: h})
	}
	s[i].add(ok)
	// Trim by the newest hour, not h: a late record may be older than it,
	// even older than the window, and must not be kept.
	*hs = s.trim(s[len(s)-1].H)
}

// set overwrites one hour (journal replay).
func (hs *hours) set(c hourCount) {
	s := *hs
	i, found := slices.BinarySearchFunc(s, c.H, func(x hourCount, h int64) int { return cmp.Compare(x.H, h) })
	if found {
		s[i] = c
	} else {
		s = slices.Insert(s, i, c)
	}
	*hs = s.trim(s[len(s)-1].H)
}

func (s hours) trim(now int64) hours {
	cut := 0
	for cut < len(s) && s[cut].H <= now-KeepHours {
		cut++
	}
	if cut == 0 {
		return s
	}
	return slices.Delete(s, 0, cut)
}

func (s hours) get(h int64) hourCount {
	i, found := slices.BinarySearchFunc(s, h, func(x hourCount, h int64) int { return cmp.Compare(x.H, h) })
	if !found {
		return hourCount{H: h}
	}
	return s[i]
}

// ChannelStats is one channel's attempt statistics.
type ChannelStats struct {
	Counts
	Tokens Tokens    `json:"tokens"`
	TTFB   histogram `json:"ttfb"`
	Hours  hours     `json:"hours"`

	// Changed since the last take: flags on the value itself, so counting
	// an attempt costs no extra map operation.
	dirty      bool
	dirtyHours []int64
}

// SchemeStats is one scheme's request statistics.
type SchemeStats struct {
	Counts
	Tokens   Tokens    `json:"tokens"`
	Duration histogram `json:"duration"`
	dirty    bool
}

// KeyStats is one client key's request statistics, by the key's name
// (ADMIN_KEY's requests count as "admin").
type KeyStats struct {
	Counts
	Tokens Tokens `json:"tokens"`
	Hours  hours  `json:"hours"`

	dirty      bool
	dirtyHours []int64
}

// Today is the current day's counts, by the configured time zone.
type Today struct {
	Date string `json:"date"`
	Counts
	ByChannel map[string]*Counts `json:"by_config_id"`
}

// Stats holds every statistic. It is a plain single-threaded value: the
// recorder actor owns it, and start-up recovery builds it. It remembers
// what changed since the last take, so the journal gets only that.
type Stats struct {
	loc       *time.Location
	total     Counts
	canceled  int64
	failovers int64 // requests that tried more than one channel (not persisted)
	today     Today
	channels  map[string]*ChannelStats
	schemes   map[string]*SchemeStats
	// routes counts attempts by client dialect and the dialect the
	// channel was spoken to in ("messages>chat"), client requests by
	// dialect alone ("messages"), and continuation attempts by outcome
	// ("continue:continued": Success counts them).
	routes map[string]*Counts
	keys   map[string]*KeyStats // by key name
	hours  hours                // client requests per hour

	// Changed since the last take.
	dirtyTotals   bool
	dirtyChannels []string // ids whose ChannelStats.dirty is set
	dirtySchemes  []string // names whose SchemeStats.dirty is set
	dirtyKeys     []string // names whose KeyStats.dirty is set
	dirtyHours    map[int64]bool
	lastHour      int64 // the hour last put in dirtyHours (-1: none)

	// dayStart and dayEnd bound today in loc, so most records need no
	// date formatting.
	dayStart, dayEnd time.Time
}

// New returns empty statistics whose days end at midnight in loc.
func New(loc *time.Location) *Stats {
	if loc == nil {
		loc = time.Local
	}
	return &Stats{
		loc:        loc,
		today:      Today{ByChannel: map[string]*Counts{}},
		channels:   map[string]*ChannelStats{},
		schemes:    map[string]*SchemeStats{},
		routes:     map[string]*Counts{},
		keys:       map[string]*KeyStats{},
		dirtyHours: map[int64]bool{},
		lastHour:   -1,
	}
}

func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

// record counts one request and its attempts.
func (s *Stats) record(r *Record) {
	isToday := !r.End.Before(s.dayStart) && r.End.Before(s.dayEnd) && s.today.Date != ""
	if !isToday {
		date := r.End.In(s.loc).Format(time.DateOnly)
		if date > s.today.Date {
			// Midnight passed: today starts afresh. Records are counted in
			// arrival order by one goroutine, so nothing is lost at the turn.
			s.today = Today{Date: date, ByChannel: map[string]*Counts{}}
			s.dirtyTotals = true
		}
		isToday = date == s.today.Date
		if isToday {
			s.setDay(r.End)
		}
	}
	if len(r.Attempts) > 1 && r.Attempts[0].ChannelID != r.Attempts[len(r.Attempts)-1].ChannelID {
		s.failovers++
	}
	for _, a := range r.Attempts {
		if a.Verdict == channel.Neutral {
			continue
		}
		ok := a.Verdict == channel.Success
		if a.Upstream != "" {
			s.route(r.Dialect + ">" + a.Upstream).add(ok)
		}
		if a.Continuation {
			s.route("continue:" + a.Outcome).add(true)
		}
		c := s.channel(a.ChannelID)
		c.add(ok)
		h := hourOf(a.At)
		c.Hours.add(h, ok)
		if ok && a.TTFB > 0 {
			c.TTFB.observe(a.TTFB)
		}
		if isToday {
			tc := s.today.ByChannel[a.ChannelID]
			if tc == nil {
				tc = &Counts{}
				s.today.ByChannel[a.ChannelID] = tc
			}
			tc.add(ok)
		}
		s.touch(a.ChannelID, c, h)
	}
	// Tokens go to the channels that produced them: the answering one,
	// and with a continuation, the one whose stream broke too.
	for _, a := range r.Attempts {
		if a.Usage.Total > 0 {
			c := s.channel(a.ChannelID)
			c.Tokens.add(a.Usage)
			s.touch(a.ChannelID, c, -1)
		}
	}
	if r.Canceled {
		s.canceled++
		s.dirtyTotals = true
		return
	}
	ok := r.Status >= 200 && r.Status < 300 && !r.Broken
	s.total.add(ok)
	if r.Dialect != "" {
		s.route(r.Dialect).add(ok)
	}
	if isToday {
		s.today.add(ok)
	}
	h := hourOf(r.End)
	s.hours.add(h, ok)
	if h != s.lastHour {
		s.dirtyHours[h] = true
		s.lastHour = h
	}
	s.dirtyTotals = true
	if r.Scheme != "" {
		sc := s.schemes[r.Scheme]
		if sc == nil {
			sc = &SchemeStats{}
			s.schemes[r.Scheme] = sc
		}
		sc.add(ok)
		sc.Tokens.add(r.Usage)
		sc.Duration.observe(r.End.Sub(r.Start))
		if !sc.dirty {
			sc.dirty = true
			s.dirtySchemes = append(s.dirtySchemes, r.Scheme)
		}
	}
	if r.Key != "" {
		ks := s.keys[r.Key]
		if ks == nil {
			ks = &KeyStats{}
			s.keys[r.Key] = ks
		}
		ks.add(ok)
		ks.Tokens.add(r.Usage)
		ks.Hours.add(h, ok)
		if !ks.dirty {
			ks.dirty = true
			s.dirtyKeys = append(s.dirtyKeys, r.Key)
		}
		if !slices.Contains(ks.dirtyHours, h) {
			ks.dirtyHours = append(ks.dirtyHours, h)
		}
	}
}

// route returns the counts of one route key, marking them for the journal.
func (s *Stats) route(key string) *Counts {
	c := s.routes[key]
	if c == nil {
		c = &Counts{}
		s.routes[key] = c
	}
	s.dirtyTotals = true
	return c
}

func (s *Stats) channel(id string) *ChannelStats {
	c := s.channels[id]
	if c == nil {
		c = &ChannelStats{}
		s.channels[id] = c
	}
	return c
}

// touch marks channel c (and one of its hours, if h ≥ 0) changed.
func (s *Stats) touch(id string, c *ChannelStats, h int64) {
	if !c.dirty {
		c.dirty = true
		s.dirtyChannels = append(s.dirtyChannels, id)
	}
	if h >= 0 && !slices.Contains(c.dirtyHours, h) {
		c.dirtyHours = append(c.dirtyHours, h)
	}
}

// setDay sets today's bounds to the local day holding t.
func (s *Stats) setDay(t time.Time) {
	y, m, d := t.In(s.loc).Date()
	s.dayStart = time.Date(y, m, d, 0, 0, 0, 0, s.loc)
	s.dayEnd = time.Date(y, m, d+1, 0, 0, 0, 0, s.loc)
}

// Forget drops a deleted channel's statistics.
func (s *Stats) Forget(id string) {
	delete(s.channels, id)
	delete(s.today.ByChannel, id)
	s.dirtyTotals = true // a dirty id without stats is skipped by takeDelta
}

// Channels yields the ids of the channels that have statistics.
func (s *Stats) Channels() iter.Seq[string] { return maps.Keys(s.channels) }
