// Command visitors measures the public demo (serve --public) under many anonymous visitors on
// loopback. The app is the real binary in its own process, with a fresh data folder and the bundled
// models (base, v1, v2 registered on start). Each visitor has its own cookie jar (its own anonymous
// identity) and its own client address: X-Forwarded-For from loopback, which public mode trusts as a
// proxy, so the per-IP limits see 200 distinct clients. Each loops, with think time between steps,
// over the chat (the page, a new chat, the chat page, every column's event stream) and the arena (the
// page, a battle, the battle page, both sides' streams, a vote once both finished, the leaderboard)
// until the duration ends; streams already open are read to their end (or a cap).
//
// It reports page latency per route (GETs and the POSTs that answer with a page or a redirect, not
// the streams), the streams' outcomes (done, busy, rate-limited, failed, error, capped) with their
// first-byte times, every unintended error with its first messages, the server's memory each second
// (RSS and anonymous RSS from /proc/PID/status, the Go heap live after each collection from
// GODEBUG=gctrace=1), /healthz under the same load as the baseline, and a verdict against the
// targets: pages p99 ≤ 50 ms, no errors other than the intended busy answers, memory flat.
//
// Run from the repository root: go run -tags sqlite_fts5 ./bench/visitors [-visitors 200 -duration 60s]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"rustexpert/bench/internal/appbin"
)

// options are the benchmark's settings, from the flags.
type options struct {
	visitors    int
	duration    time.Duration
	warmup      time.Duration
	solo        time.Duration
	maxTokens   int
	thinkMin    time.Duration
	thinkMax    time.Duration
	streamCap   time.Duration
	pageTimeout time.Duration
	maxLoops    int
	streams     bool
	settle      time.Duration
	seed        uint64
	bin         string
	models      string
	serveFlags  []string
	serverEnv   []string
	p99Target   time.Duration
	flatPercent float64
}

func main() {
	var o options
	var serveFlags, serverEnv string
	flag.IntVar(&o.visitors, "visitors", 200, "concurrent anonymous visitors")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long visitors start new steps")
	flag.DurationVar(&o.warmup, "warmup", 0, "first run the same visitors this long, unmeasured, so the measured load meets a server in its steady state (engine caches and the database's page cache filled)")
	flag.DurationVar(&o.solo, "solo", 0, "first run one visitor alone for this long, on the same server (0: no solo run)")
	flag.IntVar(&o.maxTokens, "max-tokens", 32, "max tokens of every chat column (the new-chat form's field; the arena has none and answers with up to 512)")
	flag.DurationVar(&o.thinkMin, "think-min", time.Second, "shortest think time between steps")
	flag.DurationVar(&o.thinkMax, "think-max", 3*time.Second, "longest think time between steps")
	flag.DurationVar(&o.streamCap, "stream-cap", 120*time.Second, "longest a visitor reads one event stream")
	flag.DurationVar(&o.pageTimeout, "page-timeout", 30*time.Second, "longest a visitor waits for one page")
	flag.IntVar(&o.maxLoops, "max-loops", 1000, "upper bound on chat+arena rounds per visitor")
	flag.BoolVar(&o.streams, "streams", true, "open the event streams (false: the pages alone, no generation)")
	flag.DurationVar(&o.settle, "settle", 0, "after the load, keep sampling memory this long with no visitors (the runtime collects at least every 2 minutes)")
	flag.Uint64Var(&o.seed, "seed", 2026, "seed of the visitors' think times, questions and votes")
	flag.StringVar(&o.bin, "bin", "", "a built rustexpert to serve (default: build one from the current folder into a temporary folder)")
	flag.StringVar(&o.models, "models", "models", "folder of the bundled models")
	flag.StringVar(&serveFlags, "serve-flags", "", "more flags for serve, space-separated (e.g. \"--gen-concurrency 4\")")
	flag.StringVar(&serverEnv, "server-env", "", "more environment for the server alone, space-separated KEY=VALUE (e.g. \"GOMAXPROCS=8\")")
	flag.DurationVar(&o.p99Target, "p99-target", 50*time.Millisecond, "target p99 of the pages")
	flag.Float64Var(&o.flatPercent, "flat", 5, "memory counts as flat when its slope over the last 30 s of the load is below this percentage of its end value a minute")
	flag.Parse()
	o.serveFlags, o.serverEnv = strings.Fields(serveFlags), strings.Fields(serverEnv)
	if o.visitors < 1 || o.duration <= 0 || o.maxTokens < 1 || o.thinkMax < o.thinkMin || o.thinkMin < 0 || o.streamCap <= 0 {
		log.Fatal("visitors: need -visitors ≥ 1, -duration > 0, -max-tokens ≥ 1, 0 ≤ -think-min ≤ -think-max, -stream-cap > 0")
	}
	for _, kv := range o.serverEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			log.Fatalf("visitors: -server-env: %q is not KEY=VALUE", kv)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		stop()
		log.Fatalf("visitors: %v", err)
	}
}

// run starts the server, measures the idle baseline, the optional solo run and the load, and
// prints the report.
func run(ctx context.Context, o options) error {
	bin, cleanup, err := appbin.Binary(ctx, o.bin)
	if err != nil {
		return err
	}
	defer cleanup()
	srv, err := startServer(ctx, bin, o.models, o.serveFlags, o.serverEnv)
	if err != nil {
		return err
	}
	defer srv.stop()
	command := strings.Join(slices.Concat(o.serverEnv, []string{bin, "serve", "--public"}, o.serveFlags), " ")
	fmt.Printf("server: %s (pid %d), data folder fresh, models %s\n", command, srv.pid(), o.models)
	fmt.Printf("visitors=%d duration=%s think=%s–%s chat max_tokens=%d (arena: the server's 512) stream cap=%s seed=%d\n",
		o.visitors, o.duration, o.thinkMin, o.thinkMax, o.maxTokens, o.streamCap, o.seed)
	mem := startSampler(srv)
	defer mem.stop()
	idle := healthIdle(ctx, srv.base, 50)
	var solo *stats
	if o.solo > 0 {
		solo = newStats()
		runPhase(ctx, srv.base, o, 1, o.solo, solo, nil)
	}
	if o.warmup > 0 {
		fmt.Printf("warming up: %d visitors for %s, not measured\n", o.visitors, o.warmup)
		runPhase(ctx, srv.base, o, o.visitors, o.warmup, newStats(), nil)
	}
	load := newStats()
	probe := newStats()
	marks := phaseMarks{start: time.Now()}
	marks.end = marks.start.Add(o.duration)
	runPhase(ctx, srv.base, o, o.visitors, o.duration, load, probe)
	marks.drained = time.Now()
	if o.settle > 0 {
		fmt.Printf("settling for %s with no visitors\n", o.settle)
		select {
		case <-time.After(o.settle):
		case <-ctx.Done():
		}
	}
	samples := mem.stop()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	report(o, reportInput{load: load, solo: solo, probe: probe, idle: idle, samples: samples, marks: marks, log: srv.logs()})
	return srv.stop()
}
