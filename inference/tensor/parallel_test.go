package tensor

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
					notePeak(&peak, running.Add(1))
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

// A job after the helpers have gone to sleep still runs its chunks at once: each of the two
// chunks waits for the other to start, which only a woken helper makes possible.
func TestCoresWakeParkedHelpers(t *testing.T) {
	cores := NewCores(2)
	cores.Parallel(2, 1, func(lo, hi int) {}) // starts the helper
	for round := range 3 {
		time.Sleep(3 * spinWait) // past the helper's wait: it parks
		var started sync.WaitGroup
		started.Add(2)
		both := make(chan struct{})
		go func() { started.Wait(); close(both) }()
		var timedOut atomic.Bool
		cores.Parallel(2, 1, func(lo, hi int) {
			started.Done()
			select {
			case <-both:
			case <-time.After(5 * time.Second):
				timedOut.Store(true)
			}
		})
		if timedOut.Load() {
			t.Fatalf("round %d: the two chunks did not run at once: the parked helper was not woken", round)
		}
	}
}

// Jobs of every size split [0,n) into the chunks Parallel promises, each run once.
func TestCoresChunks(t *testing.T) {
	for _, slots := range []int{1, 2, 3, 8} {
		cores := NewCores(slots)
		for _, c := range []struct{ n, minChunk int }{{0, 1}, {1, 1}, {5, 1}, {100, 7}, {100, 60}, {1000, 1}, {16, 16}, {17, 16}} {
			got, _ := runChunks(cores.Parallel, c.n, c.minChunk)
			chunks := min(slots, (c.n+c.minChunk-1)/c.minChunk)
			if chunks <= 1 {
				if len(got) != 1 || got[0] != [2]int{0, c.n} {
					t.Fatalf("%d slots, n=%d minChunk=%d: chunks %v, want [[0 %d]]", slots, c.n, c.minChunk, got, c.n)
				}
				continue
			}
			if len(got) != chunks {
				t.Fatalf("%d slots, n=%d minChunk=%d: %d chunks %v, want %d", slots, c.n, c.minChunk, len(got), got, chunks)
			}
			for i, g := range got {
				if want := [2]int{c.n * i / chunks, c.n * (i + 1) / chunks}; g != want {
					t.Fatalf("%d slots, n=%d minChunk=%d: chunk %d is %v, want %v", slots, c.n, c.minChunk, i, g, want)
				}
			}
		}
	}
}

// runChunks runs a job of n items through run (a Cores' Parallel or Guided) and returns
// its chunks in order and the most that ran at once.
func runChunks(run func(n, minChunk int, fn func(lo, hi int)), n, minChunk int) ([][2]int, int64) {
	var mu sync.Mutex
	var got [][2]int
	var running, peak atomic.Int64
	run(n, minChunk, func(lo, hi int) {
		notePeak(&peak, running.Add(1))
		mu.Lock()
		got = append(got, [2]int{lo, hi})
		mu.Unlock()
		running.Add(-1)
	})
	slices.SortFunc(got, func(a, b [2]int) int { return a[0] - b[0] })
	return got, peak.Load()
}

// notePeak raises peak to now where now is higher.
func notePeak(peak *atomic.Int64, now int64) {
	for {
		p := peak.Load()
		if now <= p || peak.CompareAndSwap(p, now) {
			return
		}
	}
}

// Guided jobs cover [0,n) once, in chunks of at least minChunk items (the last may be
// shorter), each at most a 1/(2N) share of what was left, on at most N goroutines at once.
func TestCoresGuidedChunks(t *testing.T) {
	for _, slots := range []int{1, 2, 3, 8} {
		cores := NewCores(slots)
		for _, c := range []struct{ n, minChunk int }{{0, 1}, {1, 1}, {5, 1}, {100, 7}, {100, 60}, {1000, 1}, {16, 16}, {17, 16}} {
			got, peak := runChunks(cores.Guided, c.n, c.minChunk)
			what := fmt.Sprintf("%d slots, n=%d minChunk=%d", slots, c.n, c.minChunk)
			if peak > int64(slots) {
				t.Fatalf("%s: %d chunks at once", what, peak)
			}
			chunks := min(slots, (c.n+c.minChunk-1)/c.minChunk)
			next := 0
			for i, g := range got {
				size, left := g[1]-g[0], c.n-g[0]
				switch {
				case g[0] != next:
					t.Fatalf("%s: chunks %v leave a gap or overlap at %d", what, got, next)
				case chunks > 1 && size != left && (size < c.minChunk || size > max(c.minChunk, left/(2*chunks))):
					t.Fatalf("%s: chunk %d is %v: %d items of %d left", what, i, g, size, left)
				}
				next = g[1]
			}
			if next != c.n {
				t.Fatalf("%s: chunks %v end at %d", what, got, next)
			}
		}
	}
}

// A slot stalled in its first chunk of a Guided job leaves the rest to the others: with two
// slots, the other one does at least 70% of the items (Parallel's halves would leave it 50%).
func TestCoresGuidedStall(t *testing.T) {
	cores := NewCores(2)
	const n = 1000
	var first, timedOut atomic.Bool
	var others atomic.Int64
	cores.Guided(n, 1, func(lo, hi int) {
		if !first.CompareAndSwap(false, true) {
			others.Add(int64(hi - lo))
			return
		}
		deadline := time.Now().Add(5 * time.Second)
		for others.Load() < int64(n-(hi-lo)) {
			if time.Now().After(deadline) {
				timedOut.Store(true)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	if timedOut.Load() {
		t.Fatalf("the other slot did %d items while the first chunk stalled", others.Load())
	}
	if o := others.Load(); o < 7*n/10 {
		t.Fatalf("the other slot did %d of %d items while the first chunk stalled", o, n)
	}
}

// The helpers end once their Cores is unreachable.
func TestCoresHelpersEnd(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		cores := NewCores(4)
		cores.Parallel(100, 1, func(lo, hi int) {})
		if n := runtime.NumGoroutine(); n < before+3 {
			t.Fatalf("%d goroutines with the helpers running, %d before", n, before)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 10 s after the Cores went away, %d before", runtime.NumGoroutine(), before)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// A finished job does not keep what its function refers to alive.
func TestCoresReleaseTheLastJob(t *testing.T) {
	cores := NewCores(2)
	freed := make(chan struct{})
	func() {
		big := make([]byte, 1<<20)
		runtime.AddCleanup(&big[0], func(ch chan struct{}) { close(ch) }, freed)
		cores.Parallel(2, 1, func(lo, hi int) { big[lo] = 1 })
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-freed:
			runtime.KeepAlive(cores)
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the last job's function still holds its memory 10 s later")
		}
	}
}
