package tokenizer

import (
	"container/heap"
	"math"
	"strings"
	"sync"
)

// merge is what a pair of adjacent tokens turns into, and how early it applies.
type merge struct {
	rank int32
	id   int32
}

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// bpe is the byte-level BPE model: words are raw bytes, each byte starts as the
// token of its alphabet rune, and merges apply lowest rank first, leftmost on a tie.
type bpe struct {
	merges       map[uint64]merge
	byteIDs      [256]int32     // token of each byte, -1 when the vocabulary lacks it
	whole        map[string]int // raw bytes of every model token, for ignoreMerges
	ignoreMerges bool           // a word that is itself a token is not split
	unk          int32          // token for bytes the vocabulary lacks, -1 to drop them
	fuseUnk      bool
	cache        *wordCache
}

// shortWord is the length up to which the quadratic merge loop beats the heap.
const shortWord = 24

// encode appends the tokens of one pre-tokenized word to dst.
func (m *bpe) encode(word string, dst []int) []int {
	if m.ignoreMerges {
		if id, ok := m.whole[word]; ok {
			return append(dst, id)
		}
	}
	if ids, ok := m.cache.get(word); ok {
		return append(dst, ids...)
	}
	syms := m.symbols(word)
	if len(syms) <= shortWord {
		syms = m.mergeShort(syms)
	} else {
		syms = m.mergeLong(syms)
	}
	start := len(dst)
	for _, id := range syms {
		dst = append(dst, int(id))
	}
	m.cache.put(word, dst[start:])
	return dst
}

// symbols maps each byte to its token, dropping (or replacing with unk) the bytes
// the vocabulary lacks, as Hugging Face tokenizers do.
func (m *bpe) symbols(word string) []int32 {
	syms := make([]int32, 0, len(word))
	for i := 0; i < len(word); i++ {
		id := m.byteIDs[word[i]]
		if id < 0 {
			if m.unk < 0 || (m.fuseUnk && len(syms) > 0 && syms[len(syms)-1] == m.unk) {
				continue
			}
			id = m.unk
		}
		syms = append(syms, id)
	}
	return syms
}

// mergeShort repeatedly merges the best adjacent pair in place.
func (m *bpe) mergeShort(syms []int32) []int32 {
	for len(syms) > 1 {
		best, bestRank, bestID := -1, int32(math.MaxInt32), int32(0)
		for i := 0; i+1 < len(syms); i++ {
			if mg, ok := m.merges[pairKey(syms[i], syms[i+1])]; ok && mg.rank < bestRank {
				best, bestRank, bestID = i, mg.rank, mg.id
			}
		}
		if best < 0 {
			break
		}
		syms[best] = bestID
		syms = append(syms[:best+1], syms[best+2:]...)
	}
	return syms
}

// candidate is a possible merge of the symbol at left with the one after it.
type candidate struct {
	rank, result    int32
	left, right     int32 // symbol positions
	leftID, rightID int32 // the tokens they held when the candidate was made
}

type candidates []candidate

func (c candidates) Len() int { return len(c) }
func (c candidates) Less(i, j int) bool {
	if c[i].rank != c[j].rank {
		return c[i].rank < c[j].rank
	}
	return c[i].left < c[j].left
}
func (c candidates) Swap(i, j int) { c[i], c[j] = c[j], c[i] }
func (c *candidates) Push(x any)   { *c = append(*c, x.(candidate)) }
func (c *candidates) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// symbolList is a doubly linked list over the initial symbols.
type symbolList struct {
	ids        []int32
	prev, next []int32
	alive      []bool
}

// mergeLong merges with a priority queue, for long words.
func (m *bpe) mergeLong(syms []int32) []int32 {
	n := len(syms)
	list := symbolList{ids: syms, prev: make([]int32, n), next: make([]int32, n), alive: make([]bool, n)}
	for i := range syms {
		list.prev[i], list.next[i], list.alive[i] = int32(i-1), int32(i+1), true
	}
	list.next[n-1] = -1
	queue := &candidates{}
	for i := 0; i+1 < n; i++ {
		m.offer(queue, &list, int32(i), int32(i+1))
	}
	for queue.Len() > 0 {
		c := heap.Pop(queue).(candidate)
		if !list.alive[c.left] || list.next[c.left] != c.right || list.ids[c.left] != c.leftID || list.ids[c.right] != c.rightID {
			continue
		}
		list.ids[c.left] = c.result
		list.alive[c.right] = false
		after := list.next[c.right]
		list.next[c.left] = after
		if after >= 0 {
			list.prev[after] = c.left
			m.offer(queue, &list, c.left, after)
		}
		if before := list.prev[c.left]; before >= 0 {
			m.offer(queue, &list, before, c.left)
		}
	}
	out := syms[:0]
	for i := int32(0); i >= 0; i = list.next[i] {
		out = append(out, list.ids[i])
	}
	return out
}

func (m *bpe) offer(queue *candidates, list *symbolList, left, right int32) {
	l, r := list.ids[left], list.ids[right]
	if mg, ok := m.merges[pairKey(l, r)]; ok {
		heap.Push(queue, candidate{rank: mg.rank, result: mg.id, left: left, right: right, leftID: l, rightID: r})
	}
}

// wordCache remembers the tokens of recent words. It is cleared when full.
type wordCache struct {
	mu    sync.Mutex
	words map[string][]int
	limit int
}

// Words longer than this are not cached.
const maxCachedWord = 256

func newWordCache(limit int) *wordCache {
	return &wordCache{words: make(map[string][]int), limit: limit}
}

func (c *wordCache) get(word string) ([]int, bool) {
	if len(word) > maxCachedWord {
		return nil, false
	}
	c.mu.Lock()
	ids, ok := c.words[word]
	c.mu.Unlock()
	return ids, ok
}

func (c *wordCache) put(word string, ids []int) {
	if len(word) > maxCachedWord {
		return
	}
	stored := append([]int(nil), ids...)
	c.mu.Lock()
	if len(c.words) >= c.limit {
		clear(c.words)
	}
	c.words[strings.Clone(word)] = stored // a clone does not pin the caller's text
	c.mu.Unlock()
}
