// Package tuning sets the Go runtime up for the server: more scheduler slots than cores, so that
// request goroutines run beside the model engines, and a less eager garbage collector, so that
// collections interrupt requests less often. Settings given in the environment are kept.
package tuning

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// GCPercent is the collector's target when GOGC is not set: the heap may grow to five times what
// is live before a collection (Go's default is twice). A labelling server's live heap is small
// (tens of MB), and with the default the collections of a busy one showed in its slowest
// requests. A server whose engines hold key/value caches has hundreds of MB live, where five
// times would be gigabytes of garbage: AdaptGC lowers the target then.
const GCPercent = 400

// Headroom is the garbage AdaptGC lets the heap gather beyond what is live once GCPercent of
// the live heap would be more: the target becomes Headroom's share of the live heap, at least
// Go's default of 100%.
const Headroom = 256 << 20

// GCPercentFor is the collector's target for a live heap of live bytes: GCPercent, or less so
// that the garbage stays within Headroom, and never under 100.
func GCPercentFor(live uint64) int {
	if live == 0 {
		return GCPercent
	}
	return int(max(100, min(GCPercent, Headroom*100/live)))
}

// AdaptGC sets the collector's target from the live heap every interval until ctx ends
// (GCPercentFor), unless GOGC is set in the environment that getenv reads.
func AdaptGC(ctx context.Context, getenv func(string) string, every time.Duration) {
	if getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := 0 // not set yet
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if p := GCPercentFor(sample[0].Value.Uint64()); p != current {
			debug.SetGCPercent(p)
			current = p
		}
	}
}

// Server applies both settings, each unless its variable (GOMAXPROCS, GOGC) is set in the
// environment that getenv reads, and returns what it set.
func Server(getenv func(string) string) (procs, gcPercent int) {
	procs = runtime.GOMAXPROCS(0)
	if getenv("GOMAXPROCS") == "" {
		procs = max(8, 4*procs)
		runtime.GOMAXPROCS(procs)
	}
	gcPercent = -2 // unchanged
	if getenv("GOGC") == "" {
		gcPercent = GCPercent
		debug.SetGCPercent(gcPercent)
	}
	return procs, gcPercent
}
