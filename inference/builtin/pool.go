package builtin

import (
	"sync"
	"sync/atomic"

	"rustexpert/inference/tensor"
)

// Pool keeps one engine per distinct Spec, loaded on first use and shared by
// every request for it. Its engines compute on one shared set of slots, as many
// as the cores (tensor.CPUs) when the pool was made, however many of them answer
// at once.
type Pool struct {
	mu      sync.Mutex
	entries map[Spec]*poolEntry
	closed  bool
	cores   *tensor.Cores
	act     activity // the engines with work (they warm caches only while none has)
}

type poolEntry struct {
	once   sync.Once
	engine *Engine
	err    error
	loaded atomic.Bool // engine is set
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{entries: map[Spec]*poolEntry{}, cores: tensor.NewCores(tensor.CPUs())}
}

// Get returns the engine for spec, loading it the first time. A failed load
// is not kept, so a fixed file can be retried.
func (p *Pool) Get(spec Spec) (*Engine, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errStopped
	}
	e, ok := p.entries[spec]
	if !ok {
		e = &poolEntry{}
		p.entries[spec] = e
	}
	p.mu.Unlock()
	e.once.Do(func() {
		e.engine, e.err = load(spec, p.cores, &p.act)
		e.loaded.Store(e.err == nil)
	})
	if e.err != nil {
		p.mu.Lock()
		if p.entries[spec] == e {
			delete(p.entries, spec)
		}
		p.mu.Unlock()
	}
	return e.engine, e.err
}

// Loaded reports whether spec's engine is in memory, without waiting for a load under way.
func (p *Pool) Loaded(spec Spec) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[spec]
	return ok && e.loaded.Load()
}

// Close stops every loaded engine.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var first error
	for spec, e := range p.entries {
		e.once.Do(func() {})
		if e.engine != nil {
			if err := e.engine.Close(); err != nil && first == nil {
				first = err
			}
		}
		delete(p.entries, spec)
	}
	return first
}
