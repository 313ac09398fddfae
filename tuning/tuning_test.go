package tuning

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestServerKeepsWhatTheEnvironmentSets(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GOMAXPROCS(2)
	procs, gc := Server(func(string) string { return "" })
	if procs != 8 || runtime.GOMAXPROCS(0) != 8 || gc != GCPercent || debug.SetGCPercent(GCPercent) != GCPercent {
		t.Errorf("unset environment: procs %d (runtime %d), gc %d", procs, runtime.GOMAXPROCS(0), gc)
	}
	runtime.GOMAXPROCS(2)
	debug.SetGCPercent(100)
	procs, gc = Server(func(k string) string { return map[string]string{"GOMAXPROCS": "2", "GOGC": "100"}[k] })
	if procs != 2 || runtime.GOMAXPROCS(0) != 2 || gc != -2 || debug.SetGCPercent(100) != 100 {
		t.Errorf("set environment: procs %d (runtime %d), gc %d", procs, runtime.GOMAXPROCS(0), gc)
	}
}
