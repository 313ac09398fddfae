package eval

import (
	"slices"

	"rustexpert/lru"
)

// resultCache maps a CodeHash to its Result, dropping the least recently used entries beyond maxEntries.
// Answers are checked again whenever they are shown or scored, and a check costs a rustc run.
type resultCache struct {
	results *lru.Cache[string, Result]
}

func newResultCache(maxEntries int) *resultCache {
	return &resultCache{results: lru.New(maxEntries, lru.Count[string, Result])}
}

// get returns a copy of the Result stored for hash and marks it as recently used.
func (c *resultCache) get(hash string) (Result, bool) {
	result, ok := c.results.Get(hash)
	if !ok {
		return Result{}, false
	}
	return copyResult(result), true
}

// put stores a copy of result for hash, evicting the least recently used entry when full.
func (c *resultCache) put(hash string, result Result) { c.results.Put(hash, copyResult(result)) }

func (c *resultCache) len() int { return c.results.Len() }

// copyResult gives each caller its own diagnostics, so one caller's changes cannot reach the cache.
func copyResult(result Result) Result {
	result.Diagnostics = slices.Clone(result.Diagnostics)
	if result.First != nil {
		first := *result.First
		result.First = &first
	}
	return result
}
