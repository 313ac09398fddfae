// Package tuning sets the Go runtime up for the server: more scheduler slots than cores, so that
// request goroutines run beside the model engines, and a less eager garbage collector, so that
// collections interrupt requests less often. Settings given in the environment are kept.
package tuning

import (
	"runtime"
	"runtime/debug"
)

// GCPercent is the collector's target when GOGC is not set: the heap may grow to five times what
// is live before a collection (Go's default is twice). The server's live heap is small (tens of
// MB), and with the default the collections of a busy labelling server showed in its slowest
// requests.
const GCPercent = 400

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
