package main

// Report mode: JSON lines (one per run) → Markdown. Cells are medians over
// repetitions; the gates compare -subject (catfish) with -base (the bare
// ReverseProxy) measured in the same results file.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// cell is every run of one (scenario, target).
type cell struct {
	scenario, target string
	runs             []Result // the runs kept for the medians
	total            int      // runs in the file
	errors           int64    // over all runs, kept or not
	kinds            map[string]int64
	gone             int
	noise            []float64
}

func (c *cell) med(f func(Result) float64) float64 {
	if c == nil || len(c.runs) == 0 {
		return 0
	}
	v := make([]float64, len(c.runs))
	for i, r := range c.runs {
		v[i] = f(r)
	}
	return median(v)
}

func (c *cell) span(f func(Result) float64) (lo, hi float64) {
	for i, r := range c.runs {
		v := f(r)
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// scenarioOrder lists the benchmark's scenarios first, in their run order.
var scenarioOrder = func() []string {
	o := []string{"ns-c1", "ns-c64", "ns-c256", "st-c64", "st-c1000", "st-c10000", "ch1000"}
	for _, d := range []string{"msg", "resp"} {
		o = append(o, "pt-"+d+"-ns-c64", "pt-"+d+"-st-c64")
	}
	for _, t := range translations {
		o = append(o, "tr-"+t.name+"-ns-c64", "tr-"+t.name+"-st-c64", "tr-"+t.name+"-st-c1000")
	}
	return append(o, "keys-ns-c64", "keys-lim-ns-c64")
}()

func report(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cells := map[[2]string]*cell{}
	skipped := map[[2]string]string{}
	var skips [][2]string
	var scenarios, targets []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || !strings.HasPrefix(line, "{") {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("%s:%d: %v", path, ln, err)
		}
		k := [2]string{r.Scenario, r.Target}
		if r.Skipped != "" {
			if _, seen := skipped[k]; !seen {
				skips = append(skips, k)
			}
			skipped[k] = r.Skipped
			continue
		}
		c := cells[k]
		if c == nil {
			c = &cell{scenario: r.Scenario, target: r.Target, kinds: map[string]int64{}}
			cells[k] = c
			if !slices.Contains(scenarios, r.Scenario) {
				scenarios = append(scenarios, r.Scenario)
			}
			if !slices.Contains(targets, r.Target) {
				targets = append(targets, r.Target)
			}
		}
		c.runs = append(c.runs, r)
		c.total++
		c.errors += r.Errors
		for k, v := range r.ErrorKinds {
			c.kinds[k] += v
		}
		if r.TargetGone {
			c.gone++
		}
		c.noise = append(c.noise, r.NoisePct)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(cells) == 0 && len(skips) == 0 {
		return fmt.Errorf("%s: no results", path)
	}
	// Leave disturbed runs out when the cell has a cleaner one.
	dropped := 0
	if *flMaxNoise > 0 {
		for _, c := range cells {
			var clean []Result
			for _, r := range c.runs {
				if r.NoisePct <= *flMaxNoise {
					clean = append(clean, r)
				}
			}
			if len(clean) > 0 && len(clean) < len(c.runs) {
				dropped += len(c.runs) - len(clean)
				c.runs = clean
			}
		}
	}
	rank := func(s string) int {
		if i := slices.Index(scenarioOrder, s); i >= 0 {
			return i
		}
		return len(scenarioOrder)
	}
	sort.SliceStable(scenarios, func(i, j int) bool { return rank(scenarios[i]) < rank(scenarios[j]) })
	trank := func(t string) int {
		switch {
		case t == *flSubject:
			return 0
		case strings.HasPrefix(t, *flSubject+"@"):
			return 1
		case t == *flBase:
			return 2
		}
		return 3
	}
	sort.SliceStable(targets, func(i, j int) bool { return trank(targets[i]) < trank(targets[j]) })
	get := func(s, t string) *cell { return cells[[2]string{s, t}] }

	// Table 1: every cell.
	fmt.Fprintln(w, "### Runs (medians over repetitions)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | target | conc | RPS (min–max) | p50 | p99 | TTFB p50 | TTFB p99 | events (content) | CPU µs/req | CPU % of core | peak RSS MiB | errors | runs | noise % (max) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range scenarios {
		for _, t := range targets {
			c := get(s, t)
			if c == nil {
				continue
			}
			lo, hi := c.span(func(r Result) float64 { return r.RPS })
			rps := fmt.Sprintf("%.0f (%.0f–%.0f)", c.med(func(r Result) float64 { return r.RPS }), lo, hi)
			if len(c.runs) == 1 {
				rps = fmt.Sprintf("%.0f", lo)
			}
			tt50, tt99, evs := "", "", ""
			if c.runs[0].Mode == "stream" {
				tt50 = fmtUS(c.med(func(r Result) float64 { return r.TTFBP50US }))
				tt99 = fmtUS(c.med(func(r Result) float64 { return r.TTFBP99US }))
				evs = fmt.Sprintf("%.0f (%.0f)", c.med(func(r Result) float64 { return r.EventsPerReq }),
					c.med(func(r Result) float64 { return r.ContentPerReq }))
			}
			runs := fmt.Sprint(c.total)
			if len(c.runs) != c.total {
				runs = fmt.Sprintf("%d/%d", len(c.runs), c.total)
			}
			errs := fmt.Sprint(c.errors)
			if c.errors > 0 {
				errs = fmt.Sprintf("**%d** (%s)", c.errors, kindList(c.kinds))
			}
			if c.gone > 0 {
				errs += fmt.Sprintf(" **target died in %d run(s)**", c.gone)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %.1f | %s | %s | %.0f (%.0f) |\n",
				s, t, c.runs[0].Concurrency, rps,
				fmtUS(c.med(func(r Result) float64 { return r.P50US })),
				fmtUS(c.med(func(r Result) float64 { return r.P99US })),
				tt50, tt99, evs,
				c.med(func(r Result) float64 { return r.CPUUSPerReq }),
				c.med(func(r Result) float64 { return r.TargetCPUPct }),
				c.med(func(r Result) float64 { return r.PeakRSSMiB }),
				errs, runs, median(c.noise), slices.Max(c.noise))
		}
	}
	if dropped > 0 {
		fmt.Fprintf(w, "\n%d run(s) with more than %.0f %% of a core of foreign CPU left out of the medians (\"runs\" = kept/total).\n", dropped, *flMaxNoise)
	}
	if len(skips) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Not measured: skipped (the build does not serve the scenario: it answered 400, 404, 405 or 501), or failed before the run (see the anomalies):")
		fmt.Fprintln(w)
		for _, k := range skips {
			fmt.Fprintf(w, "- %s, %s: %s\n", k[0], k[1], skipped[k])
		}
	}

	// Table 2: the gates.
	subj, base := *flSubject, *flBase
	fmt.Fprintln(w)
	fmt.Fprintf(w, "### %s against %s (same run)\n\n", subj, base)
	fmt.Fprintf(w, "| gate | %s | %s | ratio / Δ | budget | verdict |\n", subj, base)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
	type metric struct {
		label string
		f     func(Result) float64
		unit  string
	}
	cpu := metric{"CPU µs/req", func(r Result) float64 { return r.CPUUSPerReq }, ""}
	rps := metric{"req/s", func(r Result) float64 { return r.RPS }, ""}
	p50 := metric{"p50", func(r Result) float64 { return r.P50US }, "us"}
	ttfb := metric{"TTFB p50", func(r Result) float64 { return r.TTFBP50US }, "us"}
	rss := metric{"peak RSS MiB", func(r Result) float64 { return r.PeakRSSMiB }, ""}
	show := func(v float64, unit string) string {
		if unit == "us" {
			return fmtUS(v)
		}
		if v >= 100 {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.1f", v)
	}
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "**MISS**"
	}
	// ratio row: subject/base ≤ (or ≥) limit.
	ratio := func(s string, m metric, limit float64, atLeast bool) {
		a, b := get(s, subj), get(s, base)
		name := fmt.Sprintf("%s %s", s, m.label)
		if a == nil || b == nil || len(a.runs) == 0 || len(b.runs) == 0 {
			fmt.Fprintf(w, "| %s | – | – | – | | not measured |\n", name)
			return
		}
		va, vb := a.med(m.f), b.med(m.f)
		r := 0.0
		if vb > 0 {
			r = va / vb
		}
		budget, ok := fmt.Sprintf("≤ %.2f×", limit), r <= limit
		if atLeast {
			budget, ok = fmt.Sprintf("≥ %.2f×", limit), r >= limit
		}
		if limit == 0 {
			budget, ok = "(info)", true
		}
		v := verdict(ok && vb > 0)
		if limit == 0 {
			v = ""
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.2f× | %s | %s |\n", name, show(va, m.unit), show(vb, m.unit), r, budget, v)
	}
	delta := func(s string, m metric, limitUS float64) {
		a, b := get(s, subj), get(s, base)
		name := fmt.Sprintf("%s %s", s, m.label)
		if a == nil || b == nil || len(a.runs) == 0 || len(b.runs) == 0 {
			fmt.Fprintf(w, "| %s | – | – | – | | not measured |\n", name)
			return
		}
		va, vb := a.med(m.f), b.med(m.f)
		fmt.Fprintf(w, "| %s | %s | %s | %+.0f µs | ≤ +%.0f µs | %s |\n", name, show(va, m.unit), show(vb, m.unit), va-vb, limitUS, verdict(va-vb <= limitUS))
	}
	ratio("ns-c64", cpu, 1.15, false)
	ratio("ns-c256", cpu, 1.15, false)
	ratio("ns-c64", rps, 0.9, true)
	delta("ns-c1", p50, 50)
	delta("st-c64", ttfb, 150)
	ratio("st-c1000", rss, 1.0, false)
	ratio("ns-c1", cpu, 0, false)
	ratio("st-c64", cpu, 0, false)
	ratio("st-c1000", cpu, 0, false)
	ratio("ns-c256", rps, 0, false)

	// Catfish alone: many open streams, many channels.
	if c := get("st-c10000", subj); c != nil && len(c.runs) > 0 {
		ok := c.errors == 0 && c.gone == 0 && c.med(func(r Result) float64 { return float64(r.Requests) }) > 0
		fmt.Fprintf(w, "| st-c%d open streams: streams done, TTFB p50, peak RSS | %.0f/s, %s, %.0f MiB | | | works, 0 errors | %s |\n",
			c.runs[0].Concurrency, c.med(func(r Result) float64 { return r.RPS }),
			fmtUS(c.med(func(r Result) float64 { return r.TTFBP50US })),
			c.med(func(r Result) float64 { return r.PeakRSSMiB }), verdict(ok))
	} else {
		fmt.Fprintf(w, "| st-c10000 open streams | – | | | works, 0 errors | not measured |\n")
	}
	if one, many := get("ns-c64", subj), get("ch1000", subj); one != nil && many != nil && len(one.runs) > 0 && len(many.runs) > 0 {
		va, vb := many.med(cpu.f), one.med(cpu.f)
		r := 0.0
		if vb > 0 {
			r = va / vb
		}
		fmt.Fprintf(w, "| CPU µs/req, 1,000 channels (ch1000) vs 1 channel (ns-c64) | %.0f vs %.0f | | %.2f× | ≤ 1.10× | %s |\n", va, vb, r, verdict(vb > 0 && r <= 1.10))
	} else {
		fmt.Fprintf(w, "| CPU µs/req, 1,000 channels vs 1 | – | | | ≤ 1.10× | not measured |\n")
	}
	var errS, errB int64
	var goneS, goneB int
	for _, c := range cells {
		switch c.target {
		case subj:
			errS += c.errors
			goneS += c.gone
		case base:
			errB += c.errors
			goneB += c.gone
		}
	}
	fmt.Fprintf(w, "| errors, all runs | %d | %d | | 0 | %s |\n", errS, errB, verdict(errS == 0 && goneS == 0))
	if goneS+goneB > 0 {
		fmt.Fprintf(w, "\nTarget process gone before the end of a run: %s %d, %s %d.\n", subj, goneS, base, goneB)
	}
	rc := &reportCtx{w: w, get: get, skipped: skipped, subj: subj, base: base}
	rc.dialects()
	rc.keys()
	for _, t := range targets {
		if strings.HasPrefix(t, subj+"@") {
			rc.compare(t, scenarios)
		}
	}
	return nil
}

func kindList(m map[string]int64) string {
	var s []string
	for k, v := range m {
		s = append(s, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
