package llama

import (
	"runtime"
	"sync"
)

// arena holds the interleaved copies of a model's weights outside the Go heap. The server's
// garbage collector lets the heap grow to five times what is live before it collects
// (tuning.GCPercent); with 96 MB of copies per bundled model counted as live, three models let
// the heap, and the server's memory, grow by gigabytes of garbage between collections. Memory
// mapped here is not the collector's: the model frees it on Close, or once it is unreachable.
type arena struct {
	data []byte
	once sync.Once
	free func([]byte)
}

// newArena returns an arena of size bytes, zeroed.
func newArena(size int) (*arena, error) {
	data, free, err := mapAnon(size)
	if err != nil {
		return nil, err
	}
	return &arena{data: data, free: free}, nil
}

// Close frees the memory (once); nothing may use it afterwards.
func (a *arena) Close() error {
	a.once.Do(func() { a.free(a.data) })
	return nil
}

// ownArena makes m free a when it closes or becomes unreachable. The forward pass keeps m
// alive until its last kernel has run (runtime.KeepAlive in forward).
func (m *Model) ownArena(a *arena) {
	m.closers = append(m.closers, a)
	runtime.AddCleanup(m, func(a *arena) { a.Close() }, a)
}
