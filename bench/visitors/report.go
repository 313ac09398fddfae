package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// pageRoutes are the measured pages in a visitor's order.
var pageRoutes = []string{"GET /chat", "POST /chat", "GET /chat/{id}", "GET /arena", "POST /arena", "GET /arena/{id}",
	"POST /arena/{id}/vote", "GET /arena/leaderboard"}

const allPages = "all pages"

// slopeWindow is the end of the load over which memory must be flat.
const slopeWindow = 30 * time.Second

// phaseMarks are the moments of the load: visitors start, stop starting steps, and have read their
// last stream.
type phaseMarks struct {
	start, end, drained time.Time
}

type reportInput struct {
	load, solo, probe, idle *stats
	samples                 []memSample
	marks                   phaseMarks
	log                     problems
}

// report prints the tables and the verdict.
func report(o options, in reportInput) {
	fmt.Printf("\nload: %d rounds (chat + arena), %d votes, visitors stopped starting steps after %s and were done after %s\n",
		in.load.rounds, in.load.votes, in.marks.end.Sub(in.marks.start).Round(time.Second), in.marks.drained.Sub(in.marks.start).Round(time.Second))
	fmt.Println("\npages under load (client-side latency to the whole body; streams excluded)")
	loadPages := pageTable(in.load, in.probe, in.idle)
	if in.solo != nil {
		fmt.Println("\none visitor alone, same server, before the load")
		pageTable(in.solo, nil, nil)
	}
	health := summarize(in.probe.pages[routeHealth])
	fmt.Printf("\nratios to /healthz under the same load: pages p50 %s, p99 %s\n", ratio(loadPages.p50, health.p50), ratio(loadPages.p99, health.p99))
	if in.solo != nil {
		solo := summarize(pagesOf(in.solo))
		fmt.Printf("ratios to one visitor alone: pages p50 %s, p99 %s\n", ratio(loadPages.p50, solo.p50), ratio(loadPages.p99, solo.p99))
	}
	fmt.Println()
	streamTable(in.load, in.marks)
	fmt.Println()
	memory := memoryTable(in.samples, in.marks)
	fmt.Println()
	failures := listProblems(in.load, in.probe, in.log)
	verdict(o, loadPages, failures, memory)
}

// pagesOf merges the latencies of every page route.
func pagesOf(st *stats) []time.Duration {
	var all []time.Duration
	for _, r := range pageRoutes {
		all = append(all, st.pages[r]...)
	}
	return all
}

// pageTable prints the routes' latencies (and the baselines when given) and returns all pages' summary.
func pageTable(st, probe, idle *stats) quantiles {
	fmt.Printf("%-28s %7s %6s %9s %9s %9s %9s\n", "route", "n", "errors", "p50", "p95", "p99", "max")
	row := func(name string, q quantiles, errs int) {
		fmt.Printf("%-28s %7d %6d %9s %9s %9s %9s\n", name, q.n, errs, ms(q.p50), ms(q.p95), ms(q.p99), ms(q.peak))
	}
	errs := 0
	for _, r := range pageRoutes {
		row(r, summarize(st.pages[r]), st.pageErrors.count[r])
		errs += st.pageErrors.count[r]
	}
	all := summarize(pagesOf(st))
	row(allPages, all, errs)
	row(routeAssets+" (once each)", summarize(st.pages[routeAssets]), st.pageErrors.count[routeAssets])
	if probe != nil {
		row(routeHealth+" under load", summarize(probe.pages[routeHealth]), probe.pageErrors.count[routeHealth])
	}
	if idle != nil {
		row(routeHealth+" idle", summarize(idle.pages[routeHealth]), idle.pageErrors.count[routeHealth])
	}
	return all
}

// streamTable prints the streams' outcomes and times per kind.
func streamTable(st *stats, marks phaseMarks) {
	fmt.Println("event streams (time to first byte = until the headers, sent once a generation slot is taken)")
	fmt.Printf("%-6s %6s", "kind", "n")
	for _, o := range outcomes {
		fmt.Printf(" %12s", o)
	}
	fmt.Printf("   %-19s %-19s %-19s %-19s\n", "ttfb done p50/p99", "first text p50/p99", "whole done p50/p99", "ttfb busy p50/p99")
	for _, kind := range []string{"chat", "arena"} {
		n := 0
		for _, c := range st.streams[kind] {
			n += c
		}
		fmt.Printf("%-6s %6d", kind, n)
		for _, o := range outcomes {
			fmt.Printf(" %12d", st.streams[kind][o])
		}
		fmt.Printf("   %-19s %-19s %-19s %-19s\n", pair(st.ttfb[kind+" "+outDone]), pair(st.firstDelta[kind]),
			pair(st.streamTime[kind]), pair(st.ttfb[kind+" "+outBusy]))
	}
	secs := marks.drained.Sub(marks.start).Seconds()
	fmt.Printf("tokens generated in done answers: %d (%.0f tok/s over the %.0f s of load and drain)\n", st.tokens, float64(st.tokens)/secs, secs)
}

// memoryFigures is one memory measure's summary over the load.
type memoryFigures struct {
	name, short             string
	start, peak, end, after float64
	slope                   float64 // MiB a minute over the last 30 s of the load
	slopeSamples            int
}

// memoryTable prints the server's memory before, during and after the load, with the slope over the
// load's last 30 s.
func memoryTable(samples []memSample, marks phaseMarks) []memoryFigures {
	figures := []memoryFigures{
		memoryOf("RSS (VmRSS, MiB)", "RSS", samples, marks, func(m memSample) float64 { return m.rssMiB }),
		memoryOf("RSS anonymous (MiB)", "RSS anon", samples, marks, func(m memSample) float64 { return m.anonMiB }),
		memoryOf("Go heap live after GC (MB)", "Go heap", samples, marks, func(m memSample) float64 { return m.heapMB }),
	}
	fmt.Printf("server memory, sampled every second (%d samples)\n", len(samples))
	fmt.Printf("%-28s %9s %9s %9s %9s %22s\n", "measure", "start", "peak", "end", "last", "slope, last 30 s")
	for _, f := range figures {
		fmt.Printf("%-28s %9.1f %9.1f %9.1f %9.1f %13.2f /min (%d)\n", f.name, f.start, f.peak, f.end, f.after, f.slope, f.slopeSamples)
	}
	gcs := func(pick func(memSample) bool) (n int, cpu float64) {
		for _, s := range samples {
			if pick(s) {
				n, cpu = s.gcs, s.gcCPU
			}
		}
		return n, cpu
	}
	before, _ := gcs(func(s memSample) bool { return s.at.Before(marks.start) })
	total, cpu := gcs(func(memSample) bool { return true })
	timeline(samples, marks)
	fmt.Printf("Go collections during the load: %d; the server's GC share of its CPU time since its start: %.0f%%\n", total-before, cpu)
	return figures
}

// memoryOf summarizes one measure: start is the last sample before the load, end the last one before
// visitors stopped starting steps, after the last one taken.
func memoryOf(name, short string, samples []memSample, marks phaseMarks, value func(memSample) float64) memoryFigures {
	f := memoryFigures{name: name, short: short}
	var xs, ys []float64
	for _, s := range samples {
		v := value(s)
		switch {
		case s.at.Before(marks.start):
			f.start = v
			continue
		case !s.at.After(marks.end):
			f.end = v
			if s.at.After(marks.end.Add(-slopeWindow)) {
				xs, ys = append(xs, s.at.Sub(marks.start).Minutes()), append(ys, v)
			}
		}
		f.peak = max(f.peak, v)
		f.after = v
	}
	f.slope, f.slopeSamples = slope(xs, ys), len(xs)
	return f
}

// slope is the least-squares slope of ys over xs (0 for fewer than two points).
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// listProblems prints every unintended error (the visitors' and the /healthz probe's) with its first
// messages and the server's warnings; it returns the number of unintended errors.
func listProblems(st, probe *stats, log problems) int {
	n := st.unintended() + probe.unintended()
	fmt.Printf("unintended errors: %d\n", n)
	for _, p := range []problems{st.pageErrors, st.streamErrs, probe.pageErrors} {
		for _, k := range p.kinds() {
			fmt.Printf("  %s: %d\n", k, p.count[k])
			for _, msg := range p.first[k] {
				fmt.Printf("    %s\n", msg)
			}
		}
	}
	fmt.Printf("server log: %d warnings, %d errors\n", log.count["WARN"], log.count["ERROR"])
	for _, k := range log.kinds() {
		for _, msg := range log.first[k] {
			fmt.Printf("    %s\n", msg)
		}
	}
	return n
}

// verdict prints one line against the targets.
func verdict(o options, pages quantiles, failures int, memory []memoryFigures) {
	latencyOK := pages.n > 0 && pages.p99 <= o.p99Target
	flat, memoryText := flatMemory(o, memory)
	result := "FAIL"
	if latencyOK && failures == 0 && flat {
		result = "PASS"
	}
	fmt.Printf("\nverdict: %s — pages p99 %s (target ≤ %s): %s; unintended errors %d: %s; %s\n",
		result, ms(pages.p99), ms(o.p99Target), okWord(latencyOK), failures, okWord(failures == 0), memoryText)
}

// flatMemory judges every memory measure's slope over the load's last 30 s against its limit, a
// percentage of its end value a minute; a load shorter than that is not judged.
func flatMemory(o options, memory []memoryFigures) (bool, string) {
	if o.duration < slopeWindow {
		return true, "memory not judged (the load is shorter than 30 s)"
	}
	flat := true
	var slopes []string
	for _, f := range memory {
		limit := o.flatPercent / 100 * f.end
		if f.slopeSamples < 2 || math.Abs(f.slope) > limit {
			flat = false
		}
		slopes = append(slopes, fmt.Sprintf("%s %+.1f/min of %.0f (limit %.1f)", f.short, f.slope, f.end, limit))
	}
	return flat, fmt.Sprintf("memory slope over the last 30 s, flat below %.0f%% of the end a minute (%s): %s",
		o.flatPercent, strings.Join(slopes, "; "), okWord(flat))
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func pair(d []time.Duration) string {
	if len(d) == 0 {
		return "—"
	}
	q := summarize(d)
	return fmt.Sprintf("%s/%s", secs(q.p50), secs(q.p99))
}

func secs(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f×", float64(a)/float64(b))
}

// timeline prints the memory every 10 s from the load's start.
func timeline(samples []memSample, marks phaseMarks) {
	var parts []string
	next := marks.start
	for _, s := range samples {
		if s.at.Before(next) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%.0fs %.0f/%.0f/%.0f", s.at.Sub(marks.start).Seconds(), s.rssMiB, s.anonMiB, s.heapMB))
		next = next.Add(10 * time.Second)
	}
	fmt.Printf("every 10 s (RSS/anon/heap): %s\n", strings.Join(parts, ", "))
}
