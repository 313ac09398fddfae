package eval

import (
	"container/list"
	"slices"
	"sync"
)

// resultCache maps a CodeHash to its Result, dropping the least recently used entries beyond maxEntries.
// Answers are checked again whenever they are shown or scored, and a check costs a rustc run.
type resultCache struct {
	mu         sync.Mutex
	maxEntries int
	order      *list.List // most recently used at the front; values are *cachedResult
	entries    map[string]*list.Element
}

type cachedResult struct {
	hash   string
	result Result
}

func newResultCache(maxEntries int) *resultCache {
	return &resultCache{
		maxEntries: maxEntries,
		order:      list.New(),
		entries:    make(map[string]*list.Element),
	}
}

// get returns a copy of the Result stored for hash and marks it as recently used.
func (c *resultCache) get(hash string) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	element, ok := c.entries[hash]
	if !ok {
		return Result{}, false
	}
	c.order.MoveToFront(element)
	return copyResult(element.Value.(*cachedResult).result), true
}

// put stores result for hash, evicting the least recently used entry when full.
func (c *resultCache) put(hash string, result Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if element, ok := c.entries[hash]; ok {
		c.order.MoveToFront(element)
		return
	}
	c.entries[hash] = c.order.PushFront(&cachedResult{hash: hash, result: copyResult(result)})
	for c.order.Len() > c.maxEntries {
		oldest := c.order.Back()
		delete(c.entries, c.order.Remove(oldest).(*cachedResult).hash)
	}
}

func (c *resultCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// copyResult gives each caller its own diagnostics, so one caller's changes cannot reach the cache.
func copyResult(result Result) Result {
	result.Diagnostics = slices.Clone(result.Diagnostics)
	if result.First != nil {
		first := *result.First
		result.First = &first
	}
	return result
}
