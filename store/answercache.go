package store

import "sync"

// maxCachedItems caps the answer-id cache; past it the cache starts over.
const maxCachedItems = 100_000

// answerIDCache keeps the answer ids of comparisons, read on every label submission. A comparison's
// answers change only when an answer is added (SaveResponse) or its prompt is deleted; both drop
// entries after their commit. A read that raced with such a change is not stored: every change bumps
// the generation, and a value read under an older generation is discarded.
type answerIDCache struct {
	mu         sync.Mutex
	generation uint64
	entries    map[Item][]int64
}

func newAnswerIDCache() *answerIDCache {
	return &answerIDCache{entries: map[Item][]int64{}}
}

// get returns the cached ids, or the generation to pass to put after reading them.
func (c *answerIDCache) get(it Item) ([]int64, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, ok := c.entries[it]
	return ids, c.generation, ok
}

func (c *answerIDCache) put(it Item, ids []int64, readAt uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if readAt != c.generation {
		return
	}
	if len(c.entries) >= maxCachedItems {
		clear(c.entries)
	}
	c.entries[it] = ids
}

func (c *answerIDCache) forget(it Item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	delete(c.entries, it)
}

func (c *answerIDCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	clear(c.entries)
}
