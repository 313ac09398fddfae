package bert

import (
	"sync"
	"sync/atomic"
)

// parallel runs fn over [0,n) in pieces of step items, handed out in order
// to up to e.workers goroutines as each becomes free, so that a core slowed
// by other work does fewer pieces. Each goroutine has its own worker
// memory from s. The results must not depend on which goroutine runs a
// piece.
func (e *Encoder) parallel(s *scratch, n, step int, fn func(w *worker, lo, hi int)) {
	pieces := (n + step - 1) / step
	workers := min(e.workers, pieces, len(s.workers))
	if workers <= 1 {
		if n > 0 {
			fn(&s.workers[0], 0, n)
		}
		return
	}
	var next atomic.Int64
	run := func(w *worker) {
		for {
			i := int(next.Add(1)) - 1
			if i >= pieces {
				return
			}
			fn(w, i*step, min((i+1)*step, n))
		}
	}
	var wg sync.WaitGroup
	for i := 1; i < workers; i++ {
		wg.Go(func() { run(&s.workers[i]) })
	}
	run(&s.workers[0])
	wg.Wait()
}
