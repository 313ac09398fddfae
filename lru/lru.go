// Package lru is a map that keeps the most recently used entries within a budget, safe for concurrent use.
// The budget counts each entry by a size function: 1 for a bound on the number of entries, the bytes of the
// value for a bound on memory.
package lru

import (
	"container/list"
	"sync"
)

// Cache maps keys to values, dropping the least recently used entries once their sizes add up to more
// than its budget.
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	budget  int
	used    int
	size    func(K, V) int
	order   *list.List // most recently used at the front; values are *entry[K, V]
	entries map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key   K
	value V
	size  int
}

// New returns an empty cache whose entries' sizes (size(key, value)) may add up to budget.
func New[K comparable, V any](budget int, size func(K, V) int) *Cache[K, V] {
	return &Cache[K, V]{budget: budget, size: size, order: list.New(), entries: make(map[K]*list.Element)}
}

// Count is the size function of a cache bounded by its number of entries.
func Count[K comparable, V any](K, V) int { return 1 }

// Get returns key's value and marks it as recently used.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	element, ok := c.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(element)
	return element.Value.(*entry[K, V]).value, true
}

// Has reports whether key is in the cache, without marking it used.
func (c *Cache[K, V]) Has(key K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[key]
	return ok
}

// Put stores value for key in place of any earlier one, then drops the least recently used entries
// past the budget. A value larger than the whole budget is not stored (and key's earlier value goes).
func (c *Cache[K, V]) Put(key K, value V) {
	size := c.size(key, value)
	c.mu.Lock()
	defer c.mu.Unlock()
	if element, ok := c.entries[key]; ok {
		c.remove(element)
	}
	if size > c.budget {
		return
	}
	c.entries[key] = c.order.PushFront(&entry[K, V]{key: key, value: value, size: size})
	c.used += size
	for c.used > c.budget {
		c.remove(c.order.Back())
	}
}

// Len is the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// remove drops one entry; c.mu is held.
func (c *Cache[K, V]) remove(element *list.Element) {
	e := c.order.Remove(element).(*entry[K, V])
	delete(c.entries, e.key)
	c.used -= e.size
}
