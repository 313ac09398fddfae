package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
)

// step is one pre-tokenizer stage: it cuts a piece of text into smaller pieces.
type step interface {
	split(s string, emit func(string))
}

// pipeline runs steps in order, each on every piece the previous one produced.
type pipeline []step

func (p pipeline) run(s string, emit func(string)) {
	if s == "" {
		return
	}
	if len(p) == 0 {
		emit(s)
		return
	}
	rest := p[1:]
	p[0].split(s, func(piece string) { rest.run(piece, emit) })
}

// scanner is a hand-written regex: it returns the end of the match starting at i.
type scanner func(s string, i int) int

func gpt2Scanner(s string, i int) int   { return gpt2Next(s, i) }
func llama3Scanner(s string, i int) int { return llama3Next(s, i, 3) }
func qwen2Scanner(s string, i int) int  { return llama3Next(s, i, 1) }

// scanSplit cuts text into the scanner's matches (Split with behavior Isolated).
type scanSplit struct{ next scanner }

func (t scanSplit) split(s string, emit func(string)) {
	for i := 0; i < len(s); {
		end := t.next(s, i)
		emit(s[i:end])
		i = end
	}
}

// span is one piece of text and whether the pattern matched it.
type span struct {
	start, end int
	match      bool
}

// matcher finds the non-overlapping matches of a pattern.
type matcher interface {
	find(s string) [][2]int
}

type scanMatcher struct{ next scanner }

func (m scanMatcher) find(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		end := m.next(s, i)
		out = append(out, [2]int{i, end})
		i = end
	}
	return out
}

type regexpMatcher struct{ re *regexp.Regexp }

func (m regexpMatcher) find(s string) [][2]int {
	var out [][2]int
	for _, loc := range m.re.FindAllStringIndex(s, -1) {
		out = append(out, [2]int{loc[0], loc[1]})
	}
	return out
}

// Split behaviors of the Hugging Face Split pre-tokenizer.
const (
	behaviorRemoved = iota
	behaviorIsolated
	behaviorMergedWithPrevious
	behaviorMergedWithNext
	behaviorContiguous
)

func parseBehavior(name string) (int, error) {
	switch name {
	case "Removed":
		return behaviorRemoved, nil
	case "Isolated":
		return behaviorIsolated, nil
	case "MergedWithPrevious":
		return behaviorMergedWithPrevious, nil
	case "MergedWithNext":
		return behaviorMergedWithNext, nil
	case "Contiguous":
		return behaviorContiguous, nil
	}
	return 0, fmt.Errorf("unknown behavior %q (want Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)", name)
}

// matchSplit is the general Split pre-tokenizer: pattern, behavior and invert.
type matchSplit struct {
	pattern  matcher
	behavior int
	invert   bool
}

func (t matchSplit) split(s string, emit func(string)) {
	for _, sp := range t.apply(t.spans(s)) {
		if sp.end > sp.start {
			emit(s[sp.start:sp.end])
		}
	}
}

// spans tiles s into matched and unmatched spans.
func (t matchSplit) spans(s string) []span {
	var out []span
	prev := 0
	for _, m := range t.pattern.find(s) {
		if m[0] > prev {
			out = append(out, span{prev, m[0], t.invert})
		}
		out = append(out, span{m[0], m[1], !t.invert})
		prev = m[1]
	}
	if prev < len(s) {
		out = append(out, span{prev, len(s), t.invert})
	}
	return out
}

func (t matchSplit) apply(spans []span) []span {
	switch t.behavior {
	case behaviorRemoved:
		return removeMatches(spans)
	case behaviorMergedWithPrevious:
		return mergeWithPrevious(spans)
	case behaviorMergedWithNext:
		return mergeWithNext(spans)
	case behaviorContiguous:
		return mergeContiguous(spans)
	}
	return spans
}

func removeMatches(spans []span) []span {
	var out []span
	for _, sp := range spans {
		if !sp.match {
			out = append(out, sp)
		}
	}
	return out
}

// mergeWithPrevious appends each match to the piece before it, unless that piece was
// itself a match.
func mergeWithPrevious(spans []span) []span {
	var out []span
	prevMatch := false
	for _, sp := range spans {
		if sp.match && !prevMatch && len(out) > 0 {
			out[len(out)-1].end = sp.end
		} else {
			out = append(out, sp)
		}
		prevMatch = sp.match
	}
	return out
}

// mergeWithNext prepends each match to the piece after it, unless that piece is
// itself a match.
func mergeWithNext(spans []span) []span {
	var rev []span
	prevMatch := false
	for i := len(spans) - 1; i >= 0; i-- {
		sp := spans[i]
		if sp.match && !prevMatch && len(rev) > 0 {
			rev[len(rev)-1].start = sp.start
		} else {
			rev = append(rev, sp)
		}
		prevMatch = sp.match
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// mergeContiguous joins runs of adjacent spans of the same kind.
func mergeContiguous(spans []span) []span {
	var out []span
	prevMatch := false
	for _, sp := range spans {
		if sp.match == prevMatch && len(out) > 0 {
			out[len(out)-1].end = sp.end
		} else {
			out = append(out, sp)
		}
		prevMatch = sp.match
	}
	return out
}

// digitSplit is the Digits pre-tokenizer: every \p{N} rune on its own, or runs of them.
type digitSplit struct{ individual bool }

func (t digitSplit) split(s string, emit func(string)) {
	start := 0
	for i := 0; i < len(s); {
		r, n := at(s, i)
		if classify(r) != classNumber {
			i += n
			continue
		}
		end := i + n
		if !t.individual {
			end = run(s, end, classNumber)
		}
		if i > start {
			emit(s[start:i])
		}
		emit(s[i:end])
		start, i = end, end
	}
	if start < len(s) {
		emit(s[start:])
	}
}

// prefixSpace is ByteLevel's add_prefix_space: a space before pieces that lack one.
type prefixSpace struct{}

func (prefixSpace) split(s string, emit func(string)) {
	if !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	emit(s)
}

// knownScanner returns the hand-written scanner for a regex source, if there is one.
func knownScanner(pattern string) (scanner, bool) {
	switch pattern {
	case gpt2Pattern:
		return gpt2Scanner, true
	case llama3Pattern:
		return llama3Scanner, true
	case qwen2Pattern:
		return qwen2Scanner, true
	}
	return nil, false
}

// compilePattern turns a Split regex into a matcher: a hand-written scanner for the
// known byte-level patterns, else Go's regexp after translating the Unicode-aware
// escapes of Oniguruma (\s, \d, \w) that RE2 reads as ASCII-only.
func compilePattern(pattern string) (matcher, error) {
	if next, ok := knownScanner(pattern); ok {
		return scanMatcher{next}, nil
	}
	translated, err := translateRegex(pattern)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(translated)
	if err != nil {
		return nil, fmt.Errorf("regex %q is not supported (only the GPT-2, Llama 3 and Qwen2 patterns may use lookaround): %v", pattern, err)
	}
	return regexpMatcher{re}, nil
}

// Unicode versions of the Perl classes, for use inside a bracket expression.
const (
	spaceClass = `\t\n\x0B\f\r\x{85}\p{Z}`
	digitClass = `\p{Nd}`
	wordClass  = `\p{L}\p{Nl}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}`
)

// translateRegex rewrites \s, \d and \w (and \S, \D, \W outside brackets) to their
// Unicode meaning.
func translateRegex(pattern string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '\\' || i+1 == len(pattern) {
			inClass = trackClass(pattern, i, inClass)
			b.WriteByte(c)
			continue
		}
		i++
		repl, err := translateEscape(pattern[i], inClass)
		if err != nil {
			return "", fmt.Errorf("regex %q: %v", pattern, err)
		}
		b.WriteString(repl)
	}
	return b.String(), nil
}

// trackClass follows whether offset i (not an escape) opens or closes a bracket expression.
func trackClass(pattern string, i int, inClass bool) bool {
	switch pattern[i] {
	case '[':
		return true
	case ']':
		// A ']' right after '[' or '[^' is a literal member.
		if inClass && !strings.HasSuffix(pattern[:i], "[") && !strings.HasSuffix(pattern[:i], "[^") {
			return false
		}
	}
	return inClass
}

func translateEscape(c byte, inClass bool) (string, error) {
	class := map[byte]string{'s': spaceClass, 'd': digitClass, 'w': wordClass}
	if members, ok := class[c]; ok {
		if inClass {
			return members, nil
		}
		return "[" + members + "]", nil
	}
	negated := map[byte]string{'S': spaceClass, 'D': digitClass, 'W': wordClass}
	if members, ok := negated[c]; ok {
		if inClass {
			return "", fmt.Errorf(`\%c inside a bracket expression is not supported`, c)
		}
		return "[^" + members + "]", nil
	}
	return `\` + string(c), nil
}
