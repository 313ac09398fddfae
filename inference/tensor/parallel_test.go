package tensor

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Two models sharing two slots never compute on more than two goroutines at once, and every item
// is done once.
func TestCoresBoundSharedCompute(t *testing.T) {
	cores := NewCores(2)
	var running, peak atomic.Int64
	var done [2][1000]atomic.Int32
	var wg sync.WaitGroup
	for m := range 2 {
		wg.Go(func() {
			for range 20 {
				cores.Parallel(1000, 10, func(lo, hi int) {
					now := running.Add(1)
					for {
						p := peak.Load()
						if now <= p || peak.CompareAndSwap(p, now) {
							break
						}
					}
					for i := lo; i < hi; i++ {
						done[m][i].Add(1)
					}
					running.Add(-1)
				})
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Errorf("%d chunks computed at once on 2 slots", p)
	}
	for m := range 2 {
		for i := range done[m] {
			if n := done[m][i].Load(); n != 20 {
				t.Fatalf("model %d item %d done %d times, want 20", m, i, n)
			}
		}
	}
}
