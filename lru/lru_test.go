package lru

import (
	"fmt"
	"sync"
	"testing"
)

func TestDropsTheLeastRecentlyUsed(t *testing.T) {
	c := New(3, Count[string, int])
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("c", 3)
	if v, ok := c.Get("a"); !ok || v != 1 { // a is now the most recent
		t.Fatalf("a: %d %v", v, ok)
	}
	c.Put("d", 4) // drops b
	if c.Has("b") || !c.Has("a") || !c.Has("c") || !c.Has("d") || c.Len() != 3 {
		t.Fatalf("after d: b %v a %v c %v d %v, %d entries", c.Has("b"), c.Has("a"), c.Has("c"), c.Has("d"), c.Len())
	}
	c.Has("c") // Has does not mark c used: c is still the least recent
	c.Put("e", 5)
	if c.Has("c") {
		t.Fatal("Has marked c as used")
	}
}

func TestBudgetOfSizes(t *testing.T) {
	c := New(10, func(_ string, v []byte) int { return len(v) })
	c.Put("a", make([]byte, 4))
	c.Put("b", make([]byte, 4))
	c.Put("c", make([]byte, 4)) // 12 > 10: drops a
	if c.Has("a") || !c.Has("b") || !c.Has("c") {
		t.Fatal("the oldest entry stayed past the budget")
	}
	c.Put("b", make([]byte, 6)) // replaces b: 6 + 4 = 10
	if v, _ := c.Get("b"); len(v) != 6 || !c.Has("c") {
		t.Fatalf("b holds %d bytes, c kept %v", len(v), c.Has("c"))
	}
	c.Put("big", make([]byte, 11))
	if c.Has("big") || c.Len() != 2 {
		t.Fatalf("a value over the whole budget was stored (%d entries)", c.Len())
	}
	c.Put("c", make([]byte, 11)) // too large: c's earlier value goes too
	if c.Has("c") {
		t.Fatal("c kept its old value after a too-large Put")
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New(50, Count[int, string])
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				k := (g*1000 + i) % 120
				c.Put(k, fmt.Sprint(k))
				if v, ok := c.Get(k); ok && v != fmt.Sprint(k) {
					t.Errorf("key %d holds %q", k, v)
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Fatalf("%d entries over a budget of 50", c.Len())
	}
}
