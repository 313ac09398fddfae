package bert

import "sync/atomic"

// parallel runs fn over [0,n) in pieces of step items, handed out in order
// to up to e.workers slots of e.cores as each becomes free, so that a core
// slowed by other work does fewer pieces. Each slot has its own worker
// memory from s. The results must not depend on which slot runs a piece.
// The slots' helpers wait for the next step instead of being started for
// each (a query's embedding is a few dozen steps of well under a
// millisecond).
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
	e.cores.Parallel(workers, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			run(&s.workers[i])
		}
	})
}
