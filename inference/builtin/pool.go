package builtin

import (
	"sync"
	"sync/atomic"

	"rustexpert/inference/tensor"
)

// Pool keeps one core per distinct Spec apart from its Adapter (a base model
// with its template, context and activations), loaded on first use, and the
// adapters asked for added to it: the engines of one base model share its
// weights and its scheduler, so their answers decode in one batch (the chat
// page's v1, v2 and base columns read the weights once a step, not three
// times). Its cores compute on one shared set of slots, as many as the cores
// (tensor.CPUs) when the pool was made, however many of them answer at once.
type Pool struct {
	mu      sync.Mutex
	entries map[Spec]*poolEntry
	closed  bool
	cores   *tensor.Cores
	act     activity // the cores with work (they warm caches only while none has)
}

type poolEntry struct {
	once   sync.Once
	core   *core
	err    error
	loaded atomic.Bool // core is set

	mu       sync.Mutex     // adapters, and adding one to the core
	adapters map[string]int // adapter folder → id
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{entries: map[Spec]*poolEntry{}, cores: tensor.NewCores(tensor.CPUs())}
}

// Get returns the engine for spec, loading its base model the first time and
// adding its adapter to it the first time. A failed load is not kept, so a
// fixed file can be retried.
func (p *Pool) Get(spec Spec) (*Engine, error) {
	e, err := p.core(spec)
	if err != nil {
		return nil, err
	}
	id, err := e.adapterID(spec.Adapter)
	if err != nil {
		return nil, err
	}
	return &Engine{core: e.core, adapter: id, adapterDir: spec.Adapter}, nil
}

// core returns the entry of spec's base model, loaded.
func (p *Pool) core(spec Spec) (*poolEntry, error) {
	key := spec
	key.Adapter = ""
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errStopped
	}
	e, ok := p.entries[key]
	if !ok {
		e = &poolEntry{adapters: map[string]int{}}
		p.entries[key] = e
	}
	p.mu.Unlock()
	e.once.Do(func() {
		e.core, e.err = loadCore(key, p.cores, &p.act)
		e.loaded.Store(e.err == nil)
	})
	if e.err != nil {
		p.mu.Lock()
		if p.entries[key] == e {
			delete(p.entries, key)
		}
		p.mu.Unlock()
		return nil, e.err
	}
	return e, nil
}

// adapterID returns the id of the adapter in dir ("": 0, none), adding it to
// the core the first time.
func (e *poolEntry) adapterID(dir string) (int, error) {
	if dir == "" {
		return 0, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if id, ok := e.adapters[dir]; ok {
		return id, nil
	}
	id, err := e.core.model.AddAdapter(dir)
	if err != nil {
		return 0, err
	}
	e.adapters[dir] = id
	return id, nil
}

// Loaded reports whether spec's engine is in memory (its base model and its
// adapter), without waiting for a load under way.
func (p *Pool) Loaded(spec Spec) bool {
	key := spec
	key.Adapter = ""
	p.mu.Lock()
	e, ok := p.entries[key]
	p.mu.Unlock()
	if !ok || !e.loaded.Load() {
		return false
	}
	if spec.Adapter == "" {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok = e.adapters[spec.Adapter]
	return ok
}

// Close stops every loaded core.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var first error
	for key, e := range p.entries {
		e.once.Do(func() {})
		if e.core != nil {
			if err := e.core.close(); err != nil && first == nil {
				first = err
			}
		}
		delete(p.entries, key)
	}
	return first
}
