package render

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestCacheReturnsStoredHTML(t *testing.T) {
	c := newHTMLCache(1 << 10)
	if _, ok := c.get("a"); ok {
		t.Fatal("empty cache returned an entry")
	}
	c.put("a", "<p>a</p>")
	if got, ok := c.get("a"); !ok || got != "<p>a</p>" {
		t.Fatalf("get = %q, %v", got, ok)
	}
}

func TestCacheEvictsLeastRecentlyUsedWithinBudget(t *testing.T) {
	// Each entry is 10 bytes: three fit in 30.
	c := newHTMLCache(30)
	c.put("aaaaa", "AAAAA")
	c.put("bbbbb", "BBBBB")
	c.put("ccccc", "CCCCC")
	c.get("aaaaa") // now b is the least recently used
	c.put("ddddd", "DDDDD")
	if _, ok := c.get("bbbbb"); ok {
		t.Error("least recently used entry survived")
	}
	for _, key := range []string{"aaaaa", "ccccc", "ddddd"} {
		if _, ok := c.get(key); !ok {
			t.Errorf("entry %q evicted", key)
		}
	}
	if c.bytes != 30 || c.order.Len() != 3 || len(c.entries) != 3 {
		t.Errorf("bookkeeping off: %d bytes, %d in order, %d in map", c.bytes, c.order.Len(), len(c.entries))
	}
}

func TestCacheSkipsEntryLargerThanBudget(t *testing.T) {
	c := newHTMLCache(30)
	c.put("small", "SMALL")
	c.put(strings.Repeat("x", 20), strings.Repeat("X", 20))
	if _, ok := c.get(strings.Repeat("x", 20)); ok {
		t.Error("oversized entry stored")
	}
	if _, ok := c.get("small"); !ok {
		t.Error("oversized entry evicted the rest")
	}
}

func TestCacheStoringTwiceCountsOnce(t *testing.T) {
	c := newHTMLCache(100)
	c.put("same", "SAME")
	c.put("same", "SAME")
	if c.bytes != 8 || c.order.Len() != 1 {
		t.Fatalf("duplicate put counted twice: %d bytes, %d entries", c.bytes, c.order.Len())
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	c := newHTMLCache(200)
	var wg sync.WaitGroup
	for worker := range 4 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprintf("k%d", (i*7+worker)%40)
				c.put(key, "v"+key)
				if got, ok := c.get(key); ok && got != "v"+key {
					t.Errorf("get(%q) = %q", key, got)
				}
			}
		})
	}
	wg.Wait()
	if c.bytes > 200 {
		t.Fatalf("cache holds %d bytes, budget 200", c.bytes)
	}
}

func TestHTMLServesRepeatFromCache(t *testing.T) {
	r := New()
	markdown := "```\nfn main() {}\n```\n"
	first := r.HTML(markdown)
	if cached, ok := r.cache.get(markdown); !ok || cached != first {
		t.Fatalf("render not cached")
	}
	if second := r.HTML(markdown); second != first {
		t.Fatalf("repeat render differs")
	}
}
