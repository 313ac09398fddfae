package tensor

import "sync"

// Parallel splits [0,n) into at most workers chunks of at least minChunk
// items and runs fn on each, on its own goroutine; it returns when all are
// done. One chunk runs on the caller's goroutine.
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
