package tensor

import "sync"

// Parallel splits [0,n) into at most workers chunks of at least minChunk
// items and runs fn on each, on its own goroutine; it returns when all are
// done. A single chunk runs on the caller's goroutine. (Running one of
// several chunks there too made no measurable difference to decoding.)
func Parallel(workers, n, minChunk int, fn func(lo, hi int)) {
	chunks := min(workers, (n+minChunk-1)/minChunk)
	if chunks <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for c := range chunks {
		lo, hi := n*c/chunks, n*(c+1)/chunks
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// Cores is a fixed number of compute slots that several models share, so that however many
// models answer at once, no more goroutines compute than there are cores. The rest wait on a
// channel instead of queueing as runnable goroutines, which keeps a server's request goroutines
// from waiting behind model arithmetic for the Go scheduler's time slices.
type Cores struct {
	slots chan struct{}
}

// NewCores returns n compute slots (at least one).
func NewCores(n int) *Cores { return &Cores{slots: make(chan struct{}, max(1, n))} }

// N is the number of slots.
func (c *Cores) N() int { return cap(c.slots) }

// Parallel is Parallel over the slots: [0,n) in at most N chunks of at least minChunk, each chunk
// run while it holds a slot. fn must not call Parallel on the same Cores.
func (c *Cores) Parallel(n, minChunk int, fn func(lo, hi int)) {
	Parallel(c.N(), n, minChunk, func(lo, hi int) {
		c.slots <- struct{}{}
		defer func() { <-c.slots }()
		fn(lo, hi)
	})
}
