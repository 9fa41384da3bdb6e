package stats

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"catfish/channel"
)

// MetricsView is a copy of the counters /metrics reports.
type MetricsView struct {
	total     Counts
	canceled  int64
	failovers int64
	channels  map[string]ChannelStats
	schemes   map[string]SchemeStats
	routes    map[string]Counts
	keys      map[string]KeyStats // counts and tokens only
}

func (s *Stats) metricsView() *MetricsView {
	m := &MetricsView{total: s.total, canceled: s.canceled, failovers: s.failovers,
		channels: make(map[string]ChannelStats, len(s.channels)), schemes: make(map[string]SchemeStats, len(s.schemes)),
		routes: s.routesCopy()}
	for id, c := range s.channels {
		m.channels[id] = ChannelStats{Counts: c.Counts, Tokens: c.Tokens, TTFB: c.TTFB}
	}
	for name, sc := range s.schemes {
		m.schemes[name] = *sc
	}
	m.keys = make(map[string]KeyStats, len(s.keys))
	for name, k := range s.keys {
		m.keys[name] = KeyStats{Counts: k.Counts, Tokens: k.Tokens}
	}
	return m
}

// Metrics renders the Prometheus text exposition format (version 0.0.4)
// from the counters m, every configured channel's breaker health, and the
// build's version.
func Metrics(m *MetricsView, health map[string]channel.Health, version string, now time.Time) []byte {
	var b bytes.Buffer
	w := promWriter{&b}

	w.family("catfish_build_info", "gauge", "Build information.")
	w.sample("catfish_build_info", 1, "version", version)

	w.family("catfish_requests_total", "counter", "Client requests answered, by scheme and result (success: a complete 2xx answer; a stream that broke midway is a failure).")
	for _, name := range slices.Sorted(maps.Keys(m.schemes)) {
		sc := m.schemes[name]
		w.sample("catfish_requests_total", float64(sc.Success), "scheme", name, "result", "success")
		w.sample("catfish_requests_total", float64(sc.Fail), "scheme", name, "result", "fail")
	}
	w.family("catfish_dialect_requests_total", "counter", "Client requests answered, by the dialect the client spoke (chat, messages, responses) and result.")
	for _, key := range slices.Sorted(maps.Keys(m.routes)) {
		c := m.routes[key]
		if in, _, attempt := strings.Cut(key, ">"); !attempt && !strings.HasPrefix(key, "continue:") {
			w.sample("catfish_dialect_requests_total", float64(c.Success), "dialect", in, "result", "success")
			w.sample("catfish_dialect_requests_total", float64(c.Fail), "dialect", in, "result", "fail")
		}
	}
	w.family("catfish_route_attempts_total", "counter", "Upstream attempts by the client's dialect and the dialect the channel was spoken to in (they differ when translated), and result.")
	for _, key := range slices.Sorted(maps.Keys(m.routes)) {
		c := m.routes[key]
		if in, out, ok := strings.Cut(key, ">"); ok {
			w.sample("catfish_route_attempts_total", float64(c.Success), "dialect", in, "upstream", out, "result", "success")
			w.sample("catfish_route_attempts_total", float64(c.Fail), "dialect", in, "upstream", out, "result", "fail")
		}
	}
	w.family("catfish_continuations_total", "counter", "Attempts that took over a stream broken after commit, by outcome (continued: the client got the whole answer).")
	for _, key := range slices.Sorted(maps.Keys(m.routes)) {
		if outcome, ok := strings.CutPrefix(key, "continue:"); ok {
			w.sample("catfish_continuations_total", float64(m.routes[key].Success), "outcome", outcome)
		}
	}
	w.family("catfish_key_requests_total", "counter", "Client requests answered, by client key name (admin: ADMIN_KEY) and result.")
	for _, name := range slices.Sorted(maps.Keys(m.keys)) {
		k := m.keys[name]
		w.sample("catfish_key_requests_total", float64(k.Success), "key", name, "result", "success")
		w.sample("catfish_key_requests_total", float64(k.Fail), "key", name, "result", "fail")
	}
	w.family("catfish_key_tokens_total", "counter", "Tokens used, by client key name (admin: ADMIN_KEY) and kind.")
	for _, name := range slices.Sorted(maps.Keys(m.keys)) {
		k := m.keys[name]
		w.sample("catfish_key_tokens_total", float64(k.Tokens.Prompt), "key", name, "kind", "prompt")
		w.sample("catfish_key_tokens_total", float64(k.Tokens.Completion), "key", name, "kind", "completion")
	}
	w.family("catfish_requests_canceled_total", "counter", "Client requests abandoned by the client before the answer ended.")
	w.sample("catfish_requests_canceled_total", float64(m.canceled))
	w.family("catfish_failovers_total", "counter", "Client requests that tried more than one channel.")
	w.sample("catfish_failovers_total", float64(m.failovers))

	ids := slices.Sorted(maps.Keys(health))
	w.family("catfish_attempts_total", "counter", "Upstream attempts, by channel and result.")
	for _, id := range ids {
		c := m.channels[id]
		w.sample("catfish_attempts_total", float64(c.Success), "channel", id, "result", "success")
		w.sample("catfish_attempts_total", float64(c.Fail), "channel", id, "result", "fail")
	}
	w.family("catfish_tokens_total", "counter", "Tokens used, from the upstreams' usage reports, by channel and kind.")
	for _, id := range ids {
		c := m.channels[id]
		w.sample("catfish_tokens_total", float64(c.Tokens.Prompt), "channel", id, "kind", "prompt")
		w.sample("catfish_tokens_total", float64(c.Tokens.Completion), "channel", id, "kind", "completion")
	}
	w.family("catfish_breaker_state", "gauge", "Circuit breaker state by channel: 0 closed, 1 open, 2 half-open.")
	for _, id := range ids {
		w.sample("catfish_breaker_state", float64(health[id].StateAt(now)), "channel", id)
	}
	w.family("catfish_breaker_opens_total", "counter", "Times each channel's breaker opened since start.")
	for _, id := range ids {
		w.sample("catfish_breaker_opens_total", float64(health[id].Opens), "channel", id)
	}
	w.family("catfish_breaker_consecutive_failures", "gauge", "Consecutive failed attempts by channel.")
	for _, id := range ids {
		w.sample("catfish_breaker_consecutive_failures", float64(health[id].Fails), "channel", id)
	}
	w.family("catfish_ttfb_seconds", "histogram", "Time to first byte of successful attempts (streams: first event), by channel.")
	for _, id := range ids {
		c := m.channels[id]
		w.histogram("catfish_ttfb_seconds", &c.TTFB, "channel", id)
	}
	w.family("catfish_request_duration_seconds", "histogram", "Whole client request duration, by scheme.")
	for _, name := range slices.Sorted(maps.Keys(m.schemes)) {
		sc := m.schemes[name]
		w.histogram("catfish_request_duration_seconds", &sc.Duration, "scheme", name)
	}
	return b.Bytes()
}

type promWriter struct{ b *bytes.Buffer }

func (w promWriter) family(name, typ, help string) {
	fmt.Fprintf(w.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (w promWriter) sample(name string, v float64, labels ...string) {
	w.b.WriteString(name)
	w.labels(labels, "")
	w.b.WriteByte(' ')
	w.b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	w.b.WriteByte('\n')
}

func (w promWriter) labels(kv []string, le string) {
	if len(kv) == 0 && le == "" {
		return
	}
	w.b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			w.b.WriteByte(',')
		}
		fmt.Fprintf(w.b, "%s=\"%s\"", kv[i], escapeLabel(kv[i+1]))
	}
	if le != "" {
		if len(kv) > 0 {
			w.b.WriteByte(',')
		}
		fmt.Fprintf(w.b, "le=\"%s\"", le)
	}
	w.b.WriteByte('}')
}

func (w promWriter) histogram(name string, h *histogram, labels ...string) {
	var cum int64
	for i, n := range h.Buckets {
		cum += n
		le := "+Inf"
		if i < len(latencyBounds) {
			le = strconv.FormatFloat(latencyBounds[i]/1000, 'g', -1, 64)
		}
		w.b.WriteString(name + "_bucket")
		w.labels(labels, le)
		fmt.Fprintf(w.b, " %d\n", cum)
	}
	w.b.WriteString(name + "_sum")
	w.labels(labels, "")
	fmt.Fprintf(w.b, " %s\n", strconv.FormatFloat(h.SumMS/1000, 'g', -1, 64))
	w.b.WriteString(name + "_count")
	w.labels(labels, "")
	fmt.Fprintf(w.b, " %d\n", h.Count)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
