package main

// The tables after the gates: dialects (translated against passthrough,
// issues #12 and #13), client keys (#14), and a catfish build against an
// earlier one measured in the same results file (#11).

import (
	"fmt"
	"io"
	"strings"
)

// translations are the translated routes run.sh measures: tr-<name>-*.
var translations = []struct{ name, label string }{
	{"msg-chat", "Messages client, openai (chat) channel"},
	{"chat-msg", "chat client, anthropic channel"},
	{"resp-chat", "Responses client, chat channel"},
	{"resp-msg", "Responses client, anthropic channel"},
}

type reportCtx struct {
	w          io.Writer
	get        func(s, t string) *cell
	skipped    map[[2]string]string
	subj, base string
}

func has(c *cell) bool { return c != nil && len(c.runs) > 0 }

var (
	fCPU   = func(r Result) float64 { return r.CPUUSPerReq }
	fRPS   = func(r Result) float64 { return r.RPS }
	fP50   = func(r Result) float64 { return r.P50US }
	fTTFB  = func(r Result) float64 { return r.TTFBP50US }
	fRSS   = func(r Result) float64 { return r.PeakRSSMiB }
	fCPUEv = func(r Result) float64 { // CPU per content event; per request when not counted
		if r.ContentPerReq > 0 {
			return r.CPUUSPerReq / r.ContentPerReq
		}
		return r.CPUUSPerReq
	}
)

// missing says why cell (s, t) has no runs.
func (rc *reportCtx) missing(s, t string) string {
	if why, ok := rc.skipped[[2]string{s, t}]; ok {
		return "skipped: " + strings.ReplaceAll(why, "|", "\\|")
	}
	return "not measured"
}

// pair prints "a vs b" ratio row for target t: scenario sa against sb,
// metric f, at most (or at least) limit; limit 0: information only.
func (rc *reportCtx) pair(label, t, sa, sb string, f func(Result) float64, unit string, limit float64, atLeast bool) {
	a, b := rc.get(sa, t), rc.get(sb, t)
	if !has(a) || !has(b) {
		why := rc.missing(sb, t)
		if !has(a) {
			why = rc.missing(sa, t)
		}
		budget := "(info)"
		if limit > 0 {
			budget = fmt.Sprintf("≤ %.2f×", limit)
		}
		fmt.Fprintf(rc.w, "| %s | – | – | – | %s | %s |\n", label, budget, why)
		return
	}
	va, vb := a.med(f), b.med(f)
	r := 0.0
	if vb > 0 {
		r = va / vb
	}
	budget, v := "(info)", ""
	if limit > 0 {
		ok := r <= limit
		budget = fmt.Sprintf("≤ %.2f×", limit)
		if atLeast {
			ok = r >= limit
			budget = fmt.Sprintf("≥ %.2f×", limit)
		}
		v = "ok"
		if !ok || vb == 0 {
			v = "**MISS**"
		}
	}
	if a.errors > 0 || a.gone > 0 {
		v += fmt.Sprintf(" (%s had %d errors)", sa, a.errors)
	}
	fmt.Fprintf(rc.w, "| %s | %s | %s | %.2f× | %s | %s |\n", label, show(va, unit), show(vb, unit), r, budget, v)
}

func show(v float64, unit string) string {
	if unit == "us" {
		return fmtUS(v)
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// dialects: translated routes against catfish's own chat passthrough.
func (rc *reportCtx) dialects() {
	found := false
	for _, s := range scenarioOrder {
		if strings.HasPrefix(s, "tr-") || strings.HasPrefix(s, "pt-") {
			if has(rc.get(s, rc.subj)) {
				found = true
			}
			if _, ok := rc.skipped[[2]string{s, rc.subj}]; ok {
				found = true
			}
		}
	}
	if !found {
		return
	}
	t := rc.subj
	fmt.Fprintf(rc.w, "\n### Dialects: translated against passthrough chat, %s alone (#12, #13)\n\n", t)
	fmt.Fprintln(rc.w, "CPU per event is per content event (every stream carries the same 20 text deltas; the")
	fmt.Fprintln(rc.w, "events around them differ by dialect). Memory is peak RSS with 1,000 open streams.")
	fmt.Fprintln(rc.w)
	fmt.Fprintln(rc.w, "| gate | translated | passthrough chat | ratio | budget | verdict |")
	fmt.Fprintln(rc.w, "|---|---:|---:|---:|---:|---|")
	for _, tr := range translations {
		p := "tr-" + tr.name
		rc.pair(tr.label+": CPU µs/req, non-stream c64 ("+p+"-ns-c64 / ns-c64)", t, p+"-ns-c64", "ns-c64", fCPU, "", 1.3, false)
		rc.pair(tr.label+": CPU µs per content event, stream c64 ("+p+"-st-c64 / st-c64)", t, p+"-st-c64", "st-c64", fCPUEv, "", 1.3, false)
		rc.pair(tr.label+": peak RSS MiB, 1,000 streams ("+p+"-st-c1000 / st-c1000)", t, p+"-st-c1000", "st-c1000", fRSS, "", 1.2, false)
	}
	rc.pair("Messages passthrough (anthropic channel): CPU µs/req, non-stream c64 (pt-msg-ns-c64 / ns-c64)", t, "pt-msg-ns-c64", "ns-c64", fCPU, "", 0, false)
	rc.pair("Messages passthrough: CPU µs per content event, stream c64 (pt-msg-st-c64 / st-c64)", t, "pt-msg-st-c64", "st-c64", fCPUEv, "", 0, false)
	rc.pair("Responses passthrough (responses: true channel): CPU µs/req, non-stream c64 (pt-resp-ns-c64 / ns-c64)", t, "pt-resp-ns-c64", "ns-c64", fCPU, "", 0, false)
	rc.pair("Responses passthrough: CPU µs per content event, stream c64 (pt-resp-st-c64 / st-c64)", t, "pt-resp-st-c64", "st-c64", fCPUEv, "", 0, false)
	fmt.Fprintln(rc.w, "\n\"Passthrough unchanged\" is the chat rows of the gates above, and, with --compare, the")
	fmt.Fprintln(rc.w, "table of this build against the earlier one.")
}

// keys: 1,000 client keys against ADMIN_KEY.
func (rc *reportCtx) keys() {
	t := rc.subj
	_, skip1 := rc.skipped[[2]string{"keys-ns-c64", t}]
	_, skip2 := rc.skipped[[2]string{"keys-lim-ns-c64", t}]
	if !has(rc.get("keys-ns-c64", t)) && !has(rc.get("keys-lim-ns-c64", t)) && !skip1 && !skip2 {
		return
	}
	fmt.Fprintf(rc.w, "\n### Client keys: 1,000 keys, one on every request, against ADMIN_KEY, %s alone (#14)\n\n", t)
	fmt.Fprintln(rc.w, "| gate | client keys | ADMIN_KEY | ratio | budget | verdict |")
	fmt.Fprintln(rc.w, "|---|---:|---:|---:|---:|---|")
	rc.pair("CPU µs/req, non-stream c64, keys without limits (keys-ns-c64 / ns-c64)", t, "keys-ns-c64", "ns-c64", fCPU, "", 1.05, false)
	rc.pair("req/s, non-stream c64 (keys-ns-c64 / ns-c64)", t, "keys-ns-c64", "ns-c64", fRPS, "", 0, false)
	rc.pair("CPU µs/req, keys with (unreachable) rpm and tpm limits (keys-lim-ns-c64 / ns-c64)", t, "keys-lim-ns-c64", "ns-c64", fCPU, "", 0, false)
}

// compare: this build against an earlier one (target "catfish@REV"),
// scenario by scenario, and the gates' ratios against the baseline before
// and after.
func (rc *reportCtx) compare(old string, scenarios []string) {
	now := rc.subj
	w := rc.w
	fmt.Fprintf(w, "\n### %s against %s (same run; #11)\n\n", now, old)
	fmt.Fprintln(w, "Ratios are now / before. \"≈\" means within ±5 %, about the run-to-run noise of this VM;")
	fmt.Fprintln(w, "\"worse\" and \"better\" are outside it. Repeat a run before believing a single cell.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| scenario | CPU µs/req now | before | ratio | req/s ratio | p50 / TTFB p50 now | before | peak RSS MiB now | before | ratio | errors now / before |\n")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	judge := func(r float64, higherWorse bool) string {
		d := r - 1
		if !higherWorse {
			d = -d
		}
		switch {
		case d > 0.05:
			return fmt.Sprintf("**%.2f× worse**", r)
		case d < -0.05:
			return fmt.Sprintf("%.2f× better", r)
		}
		return fmt.Sprintf("%.2f× ≈", r)
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	for _, s := range scenarios {
		a, b := rc.get(s, now), rc.get(s, old)
		if !has(a) || !has(b) {
			if has(a) || has(b) {
				fmt.Fprintf(w, "| %s | %s | | | | | | | | | %s |\n", s, rc.notBoth(s, now, old), "")
			}
			continue
		}
		lat := fP50
		if a.runs[0].Mode == "stream" {
			lat = fTTFB
		}
		ca, cb := a.med(fCPU), b.med(fCPU)
		ra, rb := a.med(fRSS), b.med(fRSS)
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %s | %s | %s | %s | %.1f | %.1f | %s | %d / %d |\n",
			s, ca, cb, judge(ratio(ca, cb), true), judge(ratio(a.med(fRPS), b.med(fRPS)), false),
			fmtUS(a.med(lat)), fmtUS(b.med(lat)), ra, rb, judge(ratio(ra, rb), true), a.errors, b.errors)
	}

	if !has(rc.get("ns-c64", rc.base)) {
		return
	}
	fmt.Fprintf(w, "\n#### The gates before and after: each build against %s\n\n", rc.base)
	fmt.Fprintf(w, "| gate | %s / %s | %s / %s | budget |\n", now, rc.base, old, rc.base)
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	cell := func(t, s string, f func(Result) float64, delta bool) string {
		a, b := rc.get(s, t), rc.get(s, rc.base)
		if !has(a) || !has(b) {
			return "–"
		}
		va, vb := a.med(f), b.med(f)
		if delta {
			return fmt.Sprintf("%+.0f µs", va-vb)
		}
		return fmt.Sprintf("%.2f×", ratio(va, vb))
	}
	rows := []struct {
		label, s string
		f        func(Result) float64
		delta    bool
		budget   string
	}{
		{"CPU µs/req, ns-c64", "ns-c64", fCPU, false, "≤ 1.15×"},
		{"CPU µs/req, ns-c256", "ns-c256", fCPU, false, "≤ 1.15×"},
		{"req/s, ns-c64", "ns-c64", fRPS, false, "≥ 0.90×"},
		{"p50, ns-c1", "ns-c1", fP50, true, "≤ +50 µs"},
		{"TTFB p50, st-c64", "st-c64", fTTFB, true, "≤ +150 µs"},
		{"peak RSS, st-c1000", "st-c1000", fRSS, false, "≤ 1.00×"},
		{"CPU µs/req, ns-c1", "ns-c1", fCPU, false, "(info)"},
		{"CPU µs/req, st-c64", "st-c64", fCPU, false, "(info)"},
		{"CPU µs/req, st-c1000", "st-c1000", fCPU, false, "(info)"},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.label, cell(now, r.s, r.f, r.delta), cell(old, r.s, r.f, r.delta), r.budget)
	}
	one := func(t string) string {
		a, b := rc.get("ch1000", t), rc.get("ns-c64", t)
		if !has(a) || !has(b) {
			return "–"
		}
		return fmt.Sprintf("%.2f×", ratio(a.med(fCPU), b.med(fCPU)))
	}
	fmt.Fprintf(w, "| CPU µs/req, ch1000 / own ns-c64 | %s | %s | ≤ 1.10× |\n", one(now), one(old))
}

func (rc *reportCtx) notBoth(s, now, old string) string {
	if !has(rc.get(s, now)) {
		return now + " " + rc.missing(s, now)
	}
	return old + " " + rc.missing(s, old)
}
