package tokenizer

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// addedToken is a token matched in the raw text before pre-tokenization
// (Hugging Face "added_tokens", GGUF control and user-defined tokens).
type addedToken struct {
	content    string
	id         int
	special    bool
	lstrip     bool // also swallow the whitespace before it
	rstrip     bool // also swallow the whitespace after it
	singleWord bool // only match when not inside a word
	normalized bool // matched on normalized text, after non-normalized tokens
}

// addedSet finds added tokens in text: leftmost match first, longest on a tie,
// non-overlapping, like the Aho-Corasick matcher of Hugging Face tokenizers.
type addedSet struct {
	tokens []addedToken
	first  [256][]int // candidate indexes by first byte, longest content first
}

func newAddedSet(tokens []addedToken) *addedSet {
	set := &addedSet{tokens: tokens}
	for i, tok := range tokens {
		if tok.content == "" {
			continue
		}
		b := tok.content[0]
		set.first[b] = append(set.first[b], i)
	}
	for b := range set.first {
		cands := set.first[b]
		sort.SliceStable(cands, func(x, y int) bool {
			return len(tokens[cands[x]].content) > len(tokens[cands[y]].content)
		})
	}
	return set
}

func (a *addedSet) empty() bool { return a == nil || len(a.tokens) == 0 }

// longestAt returns the index of the longest token starting at offset i, or -1.
func (a *addedSet) longestAt(s string, i int) int {
	for _, k := range a.first[s[i]] {
		tok := &a.tokens[k]
		if len(s)-i >= len(tok.content) && s[i:i+len(tok.content)] == tok.content {
			return k
		}
	}
	return -1
}

// split walks s, calling text for the stretches between added tokens and token for
// each match. With skipSpecial, special tokens are left in the text.
func (a *addedSet) split(s string, skipSpecial bool, text func(string), token func(int)) {
	if a.empty() {
		if s != "" {
			text(s)
		}
		return
	}
	done := 0 // end of what has been handed out
	for i := 0; i < len(s); {
		k := -1
		if len(a.first[s[i]]) > 0 {
			k = a.longestAt(s, i)
		}
		if k < 0 {
			i++
			continue
		}
		tok := &a.tokens[k]
		start, stop := i, i+len(tok.content)
		i = stop
		if (skipSpecial && tok.special) || (tok.singleWord && !standsAlone(s, start, stop)) {
			continue
		}
		if tok.lstrip {
			start = max(trimSpaceLeft(s, start), done)
		}
		if tok.rstrip {
			stop = trimSpaceRight(s, stop)
		}
		if start > done {
			text(s[done:start])
		}
		token(tok.id)
		done = max(done, stop)
		i = max(i, stop)
	}
	if done < len(s) {
		text(s[done:])
	}
}

// standsAlone reports whether s[start:stop] has no word character on either side.
func standsAlone(s string, start, stop int) bool {
	if start > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:start])
		if isWordRune(r) {
			return false
		}
	}
	if stop < len(s) {
		r, _ := utf8.DecodeRuneInString(s[stop:])
		if isWordRune(r) {
			return false
		}
	}
	return true
}

// isWordRune is the regex \w class in its Unicode sense.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}

// trimSpaceLeft moves i left over whitespace.
func trimSpaceLeft(s string, i int) int {
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// trimSpaceRight moves i right over whitespace.
func trimSpaceRight(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}
