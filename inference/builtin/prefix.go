package builtin

import (
	"slices"

	"rustexpert/inference/llama"
)

// prefixEntries is how many prompts' caches are kept, and prefixBytes how much
// memory they may take together (the bundled model's float16 cache is 23 KB a
// position: ~5,800 positions).
const (
	prefixEntries = 8
	prefixBytes   = 128 << 20
)

// prefixCache keeps the key/value caches of recent prompts and conversations,
// so a request that starts like an earlier one (the same prompt for another
// sample slot, the same system message, or the next question of a
// conversation) skips the shared part of the prefill. Only the scheduler
// goroutine uses it.
type prefixCache struct {
	entries []prefixEntry // most recently used last
	bytes   int64         // the entries' caches
}

type prefixEntry struct {
	tokens []int
	seq    *llama.Sequence
	bytes  int64     // seq's memory
	logits []float32 // next-token logits after all of tokens; nil for a part of a conversation
}

// lookup returns a copy of the cache covering the longest shared prefix of
// prompt among the entries of adapter (0: none), and the logits when the whole
// prompt is covered.
func (p *prefixCache) lookup(m *llama.Model, adapter int, prompt []int) (*llama.Sequence, []float32) {
	best, bestLen := p.match(adapter, prompt)
	if best < 0 {
		return m.NewSequenceWith(adapter), nil
	}
	e := p.entries[best]
	p.entries = append(slices.Delete(p.entries, best, best+1), e)
	if bestLen == len(prompt) && bestLen == len(e.tokens) && e.logits != nil {
		return e.seq.CloneUpTo(m, bestLen), e.logits
	}
	// Keep at least the last prompt token to run, so it yields logits.
	return e.seq.CloneUpTo(m, min(bestLen, len(prompt)-1)), nil
}

// longest is how many tokens of prompt lookup would find cached for adapter.
func (p *prefixCache) longest(adapter int, prompt []int) int {
	_, n := p.match(adapter, prompt)
	return n
}

// match returns the entry of adapter that shares the longest start with prompt
// (-1 when none shares any) and how many tokens it shares.
func (p *prefixCache) match(adapter int, prompt []int) (best, n int) {
	best = -1
	for i, e := range p.entries {
		if e.seq.Adapter() != adapter {
			continue
		}
		if k := commonPrefix(e.tokens, prompt); k > n {
			best, n = i, k
		}
	}
	return best, n
}

// store remembers the cache of tokens (seq's first len(tokens) positions) and
// the logits after them, dropping the least recently used entries beyond the
// limits.
func (p *prefixCache) store(m *llama.Model, tokens []int, seq *llama.Sequence, logits []float32) {
	e := prefixEntry{tokens: tokens, seq: seq.CloneUpTo(m, len(tokens)), logits: slices.Clone(logits)}
	if e.bytes = e.seq.Bytes(); e.bytes > prefixBytes {
		return
	}
	p.entries = append(p.entries, e)
	p.bytes += e.bytes
	for len(p.entries) > prefixEntries || p.bytes > prefixBytes {
		p.bytes -= p.entries[0].bytes
		p.entries = slices.Delete(p.entries, 0, 1)
	}
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
