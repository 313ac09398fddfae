package tuning

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
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

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, GCPercent}, {10 << 20, GCPercent}, {64 << 20, GCPercent}, {128 << 20, 200},
		{256 << 20, 100}, {2 << 30, 100},
	} {
		if got := GCPercentFor(c.live); got != c.want {
			t.Errorf("live %d MiB: %d%%, want %d%%", c.live>>20, got, c.want)
		}
	}
}

// AdaptGC sets the target from the live heap: a test heap of a few MB gets GCPercent.
func TestAdaptGCSetsTheTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { AdaptGC(ctx, func(string) string { return "" }, time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetGCPercent(100) != GCPercent {
		if time.Now().After(deadline) {
			t.Fatal("AdaptGC did not set the target within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	debug.SetGCPercent(100)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go AdaptGC(ctx, func(k string) string { return map[string]string{"GOGC": "50"}[k] }, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("with GOGC set, the target changed to %d", p)
	}
}
