package render

import (
	"container/list"
	"sync"
)

// htmlCache maps Markdown to its sanitized HTML, dropping the least recently used entries once the text it
// holds passes maxBytes. Answers are immutable and shown many times (review pages, comparisons, partial
// swaps), while highlighting a long answer costs milliseconds, so a repeat render is served from here.
type htmlCache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	order    *list.List // most recently used at the front; values are *cacheEntry
	entries  map[string]*list.Element
}

type cacheEntry struct {
	markdown string
	html     string
}

func (e *cacheEntry) size() int {
	return len(e.markdown) + len(e.html)
}

func newHTMLCache(maxBytes int) *htmlCache {
	return &htmlCache{
		maxBytes: maxBytes,
		order:    list.New(),
		entries:  make(map[string]*list.Element),
	}
}

// get returns the HTML stored for markdown and marks it as recently used.
func (c *htmlCache) get(markdown string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	element, ok := c.entries[markdown]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(element)
	return element.Value.(*cacheEntry).html, true
}

// has reports whether markdown's HTML is stored, without marking it used.
func (c *htmlCache) has(markdown string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[markdown]
	return ok
}

// put stores html for markdown, evicting least recently used entries to stay within maxBytes. An entry
// larger than the whole budget is not stored.
func (c *htmlCache) put(markdown, html string) {
	entry := &cacheEntry{markdown: markdown, html: html}
	if entry.size() > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if element, ok := c.entries[markdown]; ok {
		c.order.MoveToFront(element)
		return
	}
	c.entries[markdown] = c.order.PushFront(entry)
	c.bytes += entry.size()
	for c.bytes > c.maxBytes {
		oldest := c.order.Back()
		evicted := c.order.Remove(oldest).(*cacheEntry)
		delete(c.entries, evicted.markdown)
		c.bytes -= evicted.size()
	}
}
