package stats

import (
	"maps"
	"time"

	"catfish/channel"
)

// View is the /admin/stats document. total, today and by_config_id
// keep the original's keys and meaning: total and today count client
// requests, by_config_id counts attempts.
type View struct {
	Total       Counts                       `json:"total"`
	Today       TodayView                    `json:"today"`
	ByConfigID  map[string]*ChannelStatsView `json:"by_config_id"`
	Schemes     map[string]SchemeStatsView   `json:"schemes"`
	ByKey       map[string]KeyStatsView      `json:"by_key"` // by client key name; "admin" is ADMIN_KEY
	Hourly      []HourView                   `json:"hourly"`
	Canceled    int64                        `json:"canceled"`
	TimeZone    string                       `json:"time_zone"`
	GeneratedAt time.Time                    `json:"generated_at"`
}

// TodayView is today's request counts.
type TodayView struct {
	Date string `json:"date"`
	Counts
	ByConfigID map[string]Counts `json:"by_config_id"`
}

// ChannelStatsView is one channel's statistics and breaker.
type ChannelStatsView struct {
	Counts
	ConsecutiveFails int         `json:"consecutive_fails"`
	DisabledUntil    *time.Time  `json:"disabled_until,omitempty"`
	State            string      `json:"state"`
	TTFB             LatencyView `json:"ttfb"`
	Tokens           Tokens      `json:"tokens"`
	Hourly           []HourView  `json:"hourly"`
}

// LatencyView summarises a latency histogram in milliseconds.
type LatencyView struct {
	Count  int64   `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
}

// SchemeStatsView is one scheme's request statistics.
type SchemeStatsView struct {
	Counts
	Tokens   Tokens      `json:"tokens"`
	Duration LatencyView `json:"duration"`
}

// KeyStatsView is one client key's request statistics. Hourly lists the
// hours of the last 7 days that had requests, oldest first.
type KeyStatsView struct {
	Counts
	Tokens Tokens     `json:"tokens"`
	Hourly []HourView `json:"hourly"`
}

// HourView is one hour's counts; Hour is the hour's start.
type HourView struct {
	Hour time.Time `json:"hour"`
	Counts
}

func latencyView(h *histogram) LatencyView {
	return LatencyView{Count: h.Count, MeanMS: round1(h.mean()), P50MS: round1(h.quantile(0.5)), P95MS: round1(h.quantile(0.95))}
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// view renders the statistics at now. Its maps and slices are new.
func (s *Stats) view(now time.Time) *View {
	v := &View{
		Total:       s.total,
		Canceled:    s.canceled,
		ByConfigID:  make(map[string]*ChannelStatsView, len(s.channels)),
		Schemes:     make(map[string]SchemeStatsView, len(s.schemes)),
		ByKey:       make(map[string]KeyStatsView, len(s.keys)),
		TimeZone:    s.loc.String(),
		GeneratedAt: now,
	}
	v.Today = TodayView{Date: now.In(s.loc).Format(time.DateOnly), ByConfigID: map[string]Counts{}}
	if s.today.Date == v.Today.Date {
		v.Today.Counts = s.today.Counts
		for id, c := range s.today.ByChannel {
			v.Today.ByConfigID[id] = *c
		}
	}
	for id, c := range s.channels {
		cv := &ChannelStatsView{Counts: c.Counts, Tokens: c.Tokens, TTFB: latencyView(&c.TTFB), Hourly: []HourView{}}
		for _, h := range c.Hours {
			if h.H > hourOf(now)-KeepHours {
				cv.Hourly = append(cv.Hourly, HourView{Hour: time.Unix(h.H*3600, 0).UTC(), Counts: h.Counts})
			}
		}
		v.ByConfigID[id] = cv
	}
	for name, sc := range s.schemes {
		v.Schemes[name] = SchemeStatsView{Counts: sc.Counts, Tokens: sc.Tokens, Duration: latencyView(&sc.Duration)}
	}
	for name, k := range s.keys {
		kv := KeyStatsView{Counts: k.Counts, Tokens: k.Tokens, Hourly: []HourView{}}
		for _, h := range k.Hours {
			if h.H > hourOf(now)-KeepHours {
				kv.Hourly = append(kv.Hourly, HourView{Hour: time.Unix(h.H*3600, 0).UTC(), Counts: h.Counts})
			}
		}
		v.ByKey[name] = kv
	}
	cur := hourOf(now)
	v.Hourly = make([]HourView, 0, KeepHours)
	for h := cur - KeepHours + 1; h <= cur; h++ {
		v.Hourly = append(v.Hourly, HourView{Hour: time.Unix(h*3600, 0).UTC(), Counts: s.hours.get(h).Counts})
	}
	return v
}

// AttachBreakers completes the view with each channel's breaker, from
// health (every configured channel, keyed by id, as their actors report
// it): every configured channel is listed, counted or not, and a deleted
// one is not.
func (v *View) AttachBreakers(health map[string]channel.Health) {
	for id := range maps.Keys(v.ByConfigID) {
		if _, ok := health[id]; !ok {
			delete(v.ByConfigID, id)
		}
	}
	for id, h := range health {
		cv := v.ByConfigID[id]
		if cv == nil {
			cv = &ChannelStatsView{Hourly: []HourView{}}
			v.ByConfigID[id] = cv
		}
		cv.ConsecutiveFails = h.Fails
		cv.State = h.StateAt(v.GeneratedAt).String()
		if h.State != channel.Closed {
			until := h.OpenUntil
			cv.DisabledUntil = &until
		}
	}
}
