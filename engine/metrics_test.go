package engine

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"catfish/engine/enginetest"
	"catfish/engine/stats"
)

// promSample is one sample line of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// series is the sample's identity: name and labels in order (le last).
func (s promSample) series() string {
	return s.name + "{" + s.labelsExcept("") + "}"
}

func (s promSample) labelsExcept(skip string) string {
	var keys []string
	for k := range s.labels {
		if k != skip {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, s.labels[k])
	}
	return b.String()
}

// promFamily is one metric family: its HELP, TYPE and samples in order.
type promFamily struct {
	help, typ string
	samples   []promSample
}

// parseProm reads the Prometheus text exposition format (0.0.4) strictly:
// HELP and TYPE come once per family, before its samples; a family's
// samples are contiguous and belong to it; no series appears twice; label
// values are properly escaped; histograms are cumulative and end in +Inf
// equal to _count.
func parseProm(text string) (map[string]*promFamily, []string) {
	var problems []string
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	fams := map[string]*promFamily{}
	seen := map[string]bool{}
	var cur string
	if !strings.HasSuffix(text, "\n") {
		errorf("the exposition does not end with a newline")
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(msg string) { errorf("line %d %q: %s", i+1, line, msg) }
		if line == "" {
			fail("empty line")
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			kind, rest, _ := strings.Cut(rest, " ")
			name, text, _ := strings.Cut(rest, " ")
			if !validMetricName(name) {
				fail("bad metric name")
			}
			f := fams[name]
			if f == nil {
				if len(fams) > 0 && cur != name && fams[cur] != nil && len(fams[cur].samples) == 0 && fams[cur].typ == "" {
					fail("family " + cur + " has no TYPE")
				}
				f = &promFamily{}
				fams[name] = f
			} else if len(f.samples) > 0 {
				fail("HELP or TYPE after the family's samples")
			}
			cur = name
			switch kind {
			case "HELP":
				if f.help != "" || text == "" {
					fail("HELP twice or empty")
				}
				f.help = text
			case "TYPE":
				if f.typ != "" {
					fail("TYPE twice")
				}
				if !slices.Contains([]string{"counter", "gauge", "histogram", "summary", "untyped"}, text) {
					fail("unknown TYPE")
				}
				f.typ = text
			default:
				fail("unknown comment")
			}
			continue
		}
		s, err := parsePromSample(line)
		if err != nil {
			fail(err.Error())
			continue
		}
		fam := cur
		f := fams[fam]
		ok := f != nil && (s.name == fam || (f.typ == "histogram" &&
			(s.name == fam+"_bucket" || s.name == fam+"_sum" || s.name == fam+"_count")))
		if !ok {
			fail("sample outside its family (current family " + cur + ")")
			continue
		}
		if f.typ == "counter" && !strings.HasSuffix(fam, "_total") {
			fail("counter without _total")
		}
		if (f.typ == "counter" || strings.HasSuffix(s.name, "_count") || strings.HasSuffix(s.name, "_bucket")) && !(s.value >= 0) {
			fail("negative or NaN count")
		}
		if seen[s.series()] {
			fail("series twice")
		}
		seen[s.series()] = true
		f.samples = append(f.samples, s)
	}
	for name, f := range fams {
		if f.typ == "" || f.help == "" {
			errorf("family %s lacks TYPE or HELP", name)
		}
		if f.typ == "histogram" {
			problems = append(problems, checkHistograms(name, f)...)
		}
	}
	return fams, problems
}

// mustParseProm parses text and reports every problem with it.
func mustParseProm(t *testing.T, text string) map[string]*promFamily {
	t.Helper()
	fams, problems := parseProm(text)
	for _, p := range problems {
		t.Errorf("/metrics: %s", p)
	}
	return fams
}

func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// parsePromSample reads `name{k="v",...} value`.
func parsePromSample(line string) (promSample, error) {
	s := promSample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value")
	}
	s.name = line[:i]
	if !validMetricName(s.name) {
		return s, fmt.Errorf("bad name %q", s.name)
	}
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq <= 0 {
				return s, fmt.Errorf("bad label at %q", rest)
			}
			key := rest[:eq]
			if !validMetricName(key) || strings.Contains(key, ":") {
				return s, fmt.Errorf("bad label name %q", key)
			}
			rest = rest[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				c := rest[j]
				if c == '\\' {
					if j+1 >= len(rest) {
						return s, fmt.Errorf("dangling escape")
					}
					switch rest[j+1] {
					case '\\':
						val.WriteByte('\\')
					case '"':
						val.WriteByte('"')
					case 'n':
						val.WriteByte('\n')
					default:
						return s, fmt.Errorf("bad escape \\%c", rest[j+1])
					}
					j++
					continue
				}
				if c == '"' {
					rest = rest[j+1:]
					closed = true
					break
				}
				if c == '\n' {
					return s, fmt.Errorf("raw newline in a label value")
				}
				val.WriteByte(c)
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value")
			}
			if _, dup := s.labels[key]; dup {
				return s, fmt.Errorf("label %s twice", key)
			}
			s.labels[key] = val.String()
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
			} else if !strings.HasPrefix(rest, "}") {
				return s, fmt.Errorf("expected , or } at %q", rest)
			}
		}
	}
	v, ok := strings.CutPrefix(rest, " ")
	if !ok || strings.Contains(v, " ") {
		return s, fmt.Errorf("expected one space and a value (no timestamp) at %q", rest)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return s, fmt.Errorf("bad value %q", v)
	}
	s.value = f
	return s, nil
}

func checkHistograms(name string, f *promFamily) []string {
	var problems []string
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	type hist struct {
		les          []float64
		counts       []float64
		sum, count   float64
		hasSum, hasN bool
	}
	hs := map[string]*hist{}
	get := func(s promSample) *hist {
		k := s.labelsExcept("le")
		if hs[k] == nil {
			hs[k] = &hist{}
		}
		return hs[k]
	}
	for _, s := range f.samples {
		h := get(s)
		switch s.name {
		case name + "_bucket":
			le, err := strconv.ParseFloat(s.labels["le"], 64)
			if err != nil {
				errorf("%s: bad le %q", name, s.labels["le"])
			}
			h.les = append(h.les, le)
			h.counts = append(h.counts, s.value)
		case name + "_sum":
			h.sum, h.hasSum = s.value, true
		case name + "_count":
			h.count, h.hasN = s.value, true
		}
	}
	for k, h := range hs {
		if len(h.les) == 0 || !math.IsInf(h.les[len(h.les)-1], 1) || !h.hasSum || !h.hasN {
			errorf("%s{%s}: needs buckets ending in +Inf, _sum and _count", name, k)
			continue
		}
		for i := 1; i < len(h.les); i++ {
			if !(h.les[i] > h.les[i-1]) || h.counts[i] < h.counts[i-1] {
				errorf("%s{%s}: bucket %d (le %v, %v) not after le %v, %v", name, k, i, h.les[i], h.counts[i], h.les[i-1], h.counts[i-1])
			}
		}
		if h.counts[len(h.counts)-1] != h.count {
			errorf("%s{%s}: +Inf bucket %v, _count %v", name, k, h.counts[len(h.counts)-1], h.count)
		}
		if h.sum < 0 {
			errorf("%s{%s}: negative sum", name, k)
		}
	}
	return problems
}

// value returns the sample of family name whose labels include want.
func (f *promFamily) value(t *testing.T, name string, want ...string) float64 {
	t.Helper()
	if f == nil {
		t.Fatalf("no family for %s", name)
	}
	var found []float64
next:
	for _, s := range f.samples {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(want); i += 2 {
			if s.labels[want[i]] != want[i+1] {
				continue next
			}
		}
		found = append(found, s.value)
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d samples, want 1", name, want, len(found))
	}
	return found[0]
}

// metrics is GET /metrics with the admin key.
func (h *harness) metrics() string {
	h.t.Helper()
	code, hdr, body := h.call("GET", "/metrics", "")
	if code != 200 {
		h.t.Fatalf("GET /metrics: %d %s", code, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		h.t.Errorf("Content-Type %q", ct)
	}
	return body
}

func TestMetricsNeedTheAdminKey(t *testing.T) {
	get := func(base, auth string) int {
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	h := newHarness(t, nil)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + testKey, testKey} {
		if code := get(h.base, auth); code != 401 {
			t.Errorf("Authorization %q: %d, want 401", auth, code)
		}
	}
	if code := get(h.base, "Bearer "+testKey); code != 200 {
		t.Errorf("with the admin key: %d", code)
	}
	pub := newHarness(t, func(c *Config) { c.MetricsPublic = true })
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + testKey} {
		if code := get(pub.base, auth); code != 200 {
			t.Errorf("METRICS_PUBLIC, Authorization %q: %d, want 200", auth, code)
		}
	}
	// METRICS_PUBLIC opens /metrics only.
	req, _ := http.NewRequest("GET", pub.base+"/admin/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("METRICS_PUBLIC opened /admin/stats: %d", resp.StatusCode)
	}
}

// metricsTraffic sends requests that touch every family: a failover that
// opens A's breaker, a stream with usage, a request refused as the
// client's fault in another scheme, and a scheme name that needs escaping.
func metricsTraffic(t *testing.T, h *harness) (a, b, c string) {
	t.Helper()
	ua := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { enginetest.WriteErr(w, 500, "server_error") })
	ub := usageUpstream(t)
	uc := enginetest.NewUpstream(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		enginetest.WriteErr(w, 400, "content_policy_violation")
	})
	a = h.addChannel(map[string]any{"url": ua.V1(), "priority": 1, "scheme_name": "main",
		"consecutive_failure_threshold": 2, "disable_duration_seconds": 3600})
	b = h.addChannel(map[string]any{"url": ub.V1(), "priority": 2, "scheme_name": "main"})
	c = h.addChannel(map[string]any{"url": uc.V1(), "scheme_name": "we\"ird\\方案"})
	for i, want := range []struct {
		model  string
		stream bool
		code   int
	}{{"main", false, 200}, {"main", true, 200}, {"main", false, 200}, {"we\"ird\\方案", false, 400}} {
		body := fmt.Sprintf(`{"model":%q,"messages":[],"stream":%v}`, want.model, want.stream)
		if code, _, got := h.call("POST", "/v1/chat/completions", body); code != want.code {
			t.Fatalf("request %d: %d %s, want %d", i, code, got, want.code)
		}
	}
	h.statsAfter(4)
	return a, b, c
}

func TestMetricsMatchTheStats(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Version = "v9.8.7-test" })
	a, b, c := metricsTraffic(t, h)
	v := h.stats()
	fams := mustParseProm(t, h.metrics())

	if got := fams["catfish_build_info"].value(t, "catfish_build_info", "version", "v9.8.7-test"); got != 1 {
		t.Errorf("build info: %v", got)
	}
	var total stats.Counts
	for name, sc := range v.Schemes {
		ok := fams["catfish_requests_total"].value(t, "catfish_requests_total", "scheme", name, "result", "success")
		bad := fams["catfish_requests_total"].value(t, "catfish_requests_total", "scheme", name, "result", "fail")
		if ok != float64(sc.Success) || bad != float64(sc.Fail) {
			t.Errorf("requests of %q: success %v fail %v, stats %+v", name, ok, bad, sc.Counts)
		}
		total.Success += int64(ok)
		total.Fail += int64(bad)
		n := fams["catfish_request_duration_seconds"].value(t, "catfish_request_duration_seconds_count", "scheme", name)
		if n != float64(sc.Duration.Count) {
			t.Errorf("duration count of %q: %v, stats %d", name, n, sc.Duration.Count)
		}
	}
	if total != v.Total || total != (stats.Counts{Success: 3, Fail: 1}) {
		t.Errorf("requests: metrics %+v, stats %+v, want 3 successes and 1 failure", total, v.Total)
	}
	if got := fams["catfish_requests_canceled_total"].value(t, "catfish_requests_canceled_total"); got != float64(v.Canceled) {
		t.Errorf("canceled: %v, stats %d", got, v.Canceled)
	}
	if got := fams["catfish_failovers_total"].value(t, "catfish_failovers_total"); got != 1 {
		t.Errorf("failovers: %v, want 1 (only the first request reached A)", got)
	}
	for _, id := range []string{a, b, c} {
		cs := v.ByConfigID[id]
		ok := fams["catfish_attempts_total"].value(t, "catfish_attempts_total", "channel", id, "result", "success")
		bad := fams["catfish_attempts_total"].value(t, "catfish_attempts_total", "channel", id, "result", "fail")
		if ok != float64(cs.Success) || bad != float64(cs.Fail) {
			t.Errorf("attempts of %s: success %v fail %v, stats %+v", id, ok, bad, cs.Counts)
		}
		p := fams["catfish_tokens_total"].value(t, "catfish_tokens_total", "channel", id, "kind", "prompt")
		q := fams["catfish_tokens_total"].value(t, "catfish_tokens_total", "channel", id, "kind", "completion")
		if p != float64(cs.Tokens.Prompt) || q != float64(cs.Tokens.Completion) {
			t.Errorf("tokens of %s: %v/%v, stats %+v", id, p, q, cs.Tokens)
		}
		n := fams["catfish_ttfb_seconds"].value(t, "catfish_ttfb_seconds_count", "channel", id)
		sum := fams["catfish_ttfb_seconds"].value(t, "catfish_ttfb_seconds_sum", "channel", id)
		if n != float64(cs.TTFB.Count) || math.Abs(sum*1000-cs.TTFB.MeanMS*float64(cs.TTFB.Count)) > 0.1*float64(cs.TTFB.Count)+0.01 {
			t.Errorf("TTFB of %s: count %v sum %v s, stats %+v", id, n, sum, cs.TTFB)
		}
		fails := fams["catfish_breaker_consecutive_failures"].value(t, "catfish_breaker_consecutive_failures", "channel", id)
		if fails != float64(cs.ConsecutiveFails) {
			t.Errorf("consecutive failures of %s: %v, stats %d", id, fails, cs.ConsecutiveFails)
		}
	}
	wantAttempts := map[string]stats.Counts{a: {Fail: 2}, b: {Success: 3}, c: {}}
	for id, want := range wantAttempts {
		if v.ByConfigID[id].Counts != want {
			t.Errorf("attempts of %s: %+v, want %+v", id, v.ByConfigID[id].Counts, want)
		}
	}
	if got := v.ByConfigID[b].Tokens; got != (stats.Tokens{Prompt: 13, Completion: 12, Total: 25}) {
		t.Errorf("B's tokens: %+v", got)
	}
	states := map[string]float64{a: 1, b: 0, c: 0}
	for id, want := range states {
		if got := fams["catfish_breaker_state"].value(t, "catfish_breaker_state", "channel", id); got != want {
			t.Errorf("breaker state of %s: %v, want %v", id, got, want)
		}
	}
	if got := fams["catfish_breaker_opens_total"].value(t, "catfish_breaker_opens_total", "channel", a); got != 1 {
		t.Errorf("A's breaker opened %v times, want 1", got)
	}
}

// TestMetricsWithoutTraffic: a fresh server's exposition is well formed.
func TestMetricsWithoutTraffic(t *testing.T) {
	h := newHarness(t, nil)
	fams := mustParseProm(t, h.metrics())
	for _, name := range []string{"catfish_requests_total", "catfish_attempts_total", "catfish_ttfb_seconds", "catfish_breaker_state"} {
		if fams[name] == nil {
			t.Errorf("family %s missing", name)
		}
	}
	h.addChannel(map[string]any{"url": "https://idle.example/v1"})
	mustParseProm(t, h.metrics())
}

// TestPromtoolChecksMetrics runs `promtool check metrics` (Debian package
// prometheus, installed by scripts/deps.sh) on a live /metrics after
// traffic. CI always has promtool; elsewhere the test skips without it.
func TestPromtoolChecksMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed: scripts/deps.sh installs it (Debian package prometheus)")
		}
		t.Skip("promtool not on PATH (Debian package prometheus)")
	}
	h := newHarness(t, nil)
	check := func(what, text string) {
		t.Helper()
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil || out.Len() > 0 {
			t.Errorf("promtool check metrics, %s: %v\n%s\non:\n%s", what, err, out.String(), text)
		}
	}
	check("no traffic", h.metrics())
	metricsTraffic(t, h)
	check("after traffic", h.metrics())
	// promtool must notice a broken exposition, or the check means nothing.
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader("# HELP catfish_x A counter.\n# TYPE catfish_x counter\ncatfish_x 1\n")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("promtool accepted a counter without _total: %s", out)
	}
}

// TestParsePromCatchesMistakes: the checker above finds what it claims to.
func TestParsePromCatchesMistakes(t *testing.T) {
	good := "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\n" +
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"
	if _, problems := parseProm(good); len(problems) > 0 {
		t.Fatalf("good exposition: %v", problems)
	}
	bad := map[string]string{
		"no TYPE":              "# HELP a_total A.\na_total 1\n",
		"sample before TYPE":   "a_total 1\n# HELP a_total A.\n# TYPE a_total counter\n",
		"series twice":         "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n",
		"counter not _total":   "# HELP a A.\n# TYPE a counter\na 1\n",
		"bad escape":           "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"\\q\"} 1\n",
		"unquoted label":       "# HELP a_total A.\n# TYPE a_total counter\na_total{x=1} 1\n",
		"no newline at end":    "# HELP a_total A.\n# TYPE a_total counter\na_total 1",
		"other family":         "# HELP a_total A.\n# TYPE a_total counter\nb_total 1\n",
		"buckets shrink":       "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n",
		"no +Inf":              "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n",
		"+Inf is not _count":   "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 1\n",
		"bad value":            "# HELP a_total A.\n# TYPE a_total counter\na_total one\n",
		"negative counter":     "# HELP a_total A.\n# TYPE a_total counter\na_total -1\n",
		"family split":         "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\n# HELP b B.\n# TYPE b gauge\nb 1\na_total{x=\"2\"} 1\n",
		"TYPE twice":           "# HELP a_total A.\n# TYPE a_total counter\n# TYPE a_total counter\na_total 1\n",
		"timestamp (not ours)": "# HELP a_total A.\n# TYPE a_total counter\na_total 1 1700000000\n",
	}
	for name, text := range bad {
		if _, problems := parseProm(text); len(problems) == 0 {
			t.Errorf("%s: no problem found in %q", name, text)
		}
	}
}
