package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Cores is a fixed number of compute slots that several models share, so that however many
// models answer at once, no more goroutines compute than there are cores. The slots run one
// job at a time: the caller takes chunks itself and N−1 helper goroutines take the rest. The
// helpers stay awake for a while after each job (spinWait) instead of parking at once: waking a
// parked goroutine on another core costs tens of microseconds on a virtual machine, as much as
// one of a generated token's matrix multiplies, and a token runs about 150 jobs. Callers wait on
// a mutex instead of queueing as runnable goroutines, which keeps a server's request goroutines
// from waiting behind model arithmetic for the Go scheduler's time slices.
type Cores struct {
	s *coreState // what the helpers share; they stop when the Cores is unreachable
}

type coreState struct {
	n        int
	mu       sync.Mutex // one job at a time
	start    sync.Once
	cur      atomic.Pointer[coreJob] // the latest job
	sleepers atomic.Int32            // helpers parked on wake
	wake     chan struct{}
	quit     atomic.Bool
}

// coreJob is one Parallel call: chunk c is [n·c/chunks, n·(c+1)/chunks), next counts the
// chunks taken. A Guided call's chunks (minChunk > 0) are cut as they are taken, minChunk
// items at least, and next counts the items taken. done counts the items done.
type coreJob struct {
	fn         func(lo, hi int)
	n, chunks  int
	minChunk   int // Guided's; 0 for Parallel
	next, done atomic.Int64
}

// spinWait is how long a helper stays awake after a job, looking for the next one.
const spinWait = 200 * time.Microsecond

// yieldSpins is how many pauses a waiting goroutine spins between two yields to the scheduler
// (a few tens of microseconds): often enough for other goroutines to run, rarely enough that the
// scheduler's locks are not a cost.
const yieldSpins = 1024

// CPUs is the number of compute slots a model should use: the cores this process may run on,
// fewer if GOMAXPROCS is lower. (A server raises GOMAXPROCS above the cores for its other
// goroutines; more slots than cores would only have helpers spin beside each other.)
func CPUs() int { return min(runtime.GOMAXPROCS(0), runtime.NumCPU()) }

// NewCores returns n compute slots (at least one).
func NewCores(n int) *Cores {
	n = max(1, n)
	c := &Cores{s: &coreState{n: n, wake: make(chan struct{}, n)}}
	runtime.AddCleanup(c, func(s *coreState) { s.stop() }, c.s)
	return c
}

// N is the number of slots.
func (c *Cores) N() int { return c.s.n }

// Parallel splits [0,n) into at most N chunks of at least minChunk items, each run by the caller
// or a helper, and returns when all are done. fn must not call Parallel on the same Cores.
func (c *Cores) Parallel(n, minChunk int, fn func(lo, hi int)) {
	chunks := min(c.s.n, (n+minChunk-1)/max(1, minChunk))
	c.run(&coreJob{fn: fn, n: n, chunks: chunks})
}

// Guided is Parallel for a long job of many like items: the caller and the helpers take
// chunks as they come free, each a share of what is left (1/(2N), minChunk items at least),
// so that a slot that runs slower — a virtual machine's core that the host shares with other
// guests — takes less of the job instead of keeping the others waiting at its end, and the
// last chunks are short.
func (c *Cores) Guided(n, minChunk int, fn func(lo, hi int)) {
	minChunk = max(1, minChunk)
	chunks := min(c.s.n, (n+minChunk-1)/minChunk)
	c.run(&coreJob{fn: fn, n: n, chunks: chunks, minChunk: minChunk})
}

// run runs job j on the slots: on the caller alone where it has one chunk.
func (c *Cores) run(j *coreJob) {
	s, fn, n, chunks := c.s, j.fn, j.n, j.chunks
	if chunks <= 1 {
		s.mu.Lock()
		defer s.mu.Unlock()
		fn(0, n)
		return
	}
	s.start.Do(func() {
		for range s.n - 1 {
			go s.helper()
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.Store(j)
	for range s.sleepers.Load() {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	j.work()
	for spins := 1; j.done.Load() < int64(n); spins++ {
		spinPause()
		if spins%yieldSpins == 0 {
			runtime.Gosched()
		}
	}
	j.fn = nil // the job stays the latest one: it must not keep what fn refers to alive
}

// work takes and runs the job's chunks until none is left.
func (j *coreJob) work() {
	if j.minChunk > 0 {
		j.workGuided()
		return
	}
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.chunks {
			return
		}
		lo, hi := j.n*c/j.chunks, j.n*(c+1)/j.chunks
		j.fn(lo, hi)
		j.done.Add(int64(hi - lo))
	}
}

// workGuided takes and runs a Guided job's chunks until none is left: each a 1/(2·chunks)
// share of the items not yet taken, minChunk at least.
func (j *coreJob) workGuided() {
	for {
		lo := j.next.Load()
		left := int64(j.n) - lo
		if left <= 0 {
			return
		}
		size := min(left, max(int64(j.minChunk), left/int64(2*j.chunks)))
		if !j.next.CompareAndSwap(lo, lo+size) {
			continue
		}
		j.fn(int(lo), int(lo+size))
		j.done.Add(size)
	}
}

// helper runs jobs' chunks until the Cores is gone.
func (s *coreState) helper() {
	var seen *coreJob
	for {
		j := s.await(seen)
		if j == nil {
			return
		}
		seen = j
		j.work()
	}
}

// await returns the first job after seen: it looks for one for spinWait, letting other
// goroutines run now and then, and then parks until a Parallel call wakes it. It returns nil
// once the Cores is gone.
func (s *coreState) await(seen *coreJob) *coreJob {
	for {
		deadline := time.Now().Add(spinWait)
		for spins := 1; ; spins++ {
			if s.quit.Load() {
				return nil
			}
			if j := s.cur.Load(); j != seen {
				return j
			}
			spinPause()
			if spins%yieldSpins == 0 {
				if time.Now().After(deadline) {
					break
				}
				runtime.Gosched()
			}
		}
		s.sleepers.Add(1)
		if j := s.cur.Load(); j != seen || s.quit.Load() {
			s.sleepers.Add(-1)
			continue
		}
		<-s.wake
		s.sleepers.Add(-1)
	}
}

// stop ends the helpers (the Cores is unreachable, so no job is running or will).
func (s *coreState) stop() {
	s.quit.Store(true)
	for range s.n {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}
