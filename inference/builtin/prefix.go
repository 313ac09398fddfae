package builtin

import (
	"slices"

	"rustexpert/inference/llama"
)

// prefixEntries is how many prompts' caches are kept.
const prefixEntries = 8

// prefixCache keeps the key/value caches of recent prompts, so a request that
// starts like an earlier one (the same prompt for another sample slot, or the
// same system message) skips the shared part of the prefill. Only the
// scheduler goroutine uses it.
type prefixCache struct {
	entries []prefixEntry // most recently used last
}

type prefixEntry struct {
	tokens []int
	seq    *llama.Sequence
	logits []float32 // next-token logits after all of tokens
}

// lookup returns a copy of the cache covering the longest shared prefix of
// prompt, and the logits when the whole prompt is covered.
func (p *prefixCache) lookup(m *llama.Model, prompt []int) (*llama.Sequence, []float32) {
	best, bestLen := -1, 0
	for i, e := range p.entries {
		n := commonPrefix(e.tokens, prompt)
		if n > bestLen {
			best, bestLen = i, n
		}
	}
	if best < 0 {
		return m.NewSequence(), nil
	}
	e := p.entries[best]
	p.entries = append(slices.Delete(p.entries, best, best+1), e)
	if bestLen == len(prompt) && bestLen == len(e.tokens) {
		return e.seq.CloneUpTo(m, bestLen), e.logits
	}
	// Keep at least the last prompt token to run, so it yields logits.
	return e.seq.CloneUpTo(m, min(bestLen, len(prompt)-1)), nil
}

// store remembers the cache of a whole prompt.
func (p *prefixCache) store(m *llama.Model, prompt []int, seq *llama.Sequence, logits []float32) {
	p.entries = append(p.entries, prefixEntry{tokens: prompt, seq: seq.CloneUpTo(m, len(prompt)), logits: slices.Clone(logits)})
	if len(p.entries) > prefixEntries {
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
