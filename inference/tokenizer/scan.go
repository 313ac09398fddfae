package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The pre-tokenizer regexes of GPT-2, Llama 3 and Qwen2 use a lookahead (\s+(?!\S))
// that Go's regexp lacks, so they are implemented here as scanners. Each scanner
// returns the end of the regex match that starts at byte offset i. Every rune is
// covered by one of the alternatives, so the matches tile the input and repeated
// calls from the previous end reproduce the regex's find-all exactly.

// Regex source strings of the splitters implemented by hand, as they appear in
// tokenizer.json files.
const (
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// class is the part of the regexes' character classes a rune falls in.
type class uint8

const (
	classOther  class = iota // [^\s\p{L}\p{N}]
	classLetter              // \p{L}
	classNumber              // \p{N}
	classSpace               // \s (Unicode White_Space)
)

func classify(r rune) class {
	if r < utf8.RuneSelf {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			return classLetter
		case r >= '0' && r <= '9':
			return classNumber
		case r == ' ', r >= '\t' && r <= '\r':
			return classSpace
		}
		return classOther
	}
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}

// at decodes the rune at offset i; invalid bytes decode as width-1 RuneError (class other).
func at(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// classAt returns the class of the rune at i, and classOther with width 0 at the end.
func classAt(s string, i int) (class, rune, int) {
	if i >= len(s) {
		return classOther, 0, 0
	}
	r, n := at(s, i)
	return classify(r), r, n
}

// run extends from i over runes of class c.
func run(s string, i int, c class) int {
	for i < len(s) {
		r, n := at(s, i)
		if classify(r) != c {
			break
		}
		i += n
	}
	return i
}

// newlines extends from i over \r and \n.
func newlines(s string, i int) int {
	for i < len(s) && (s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d after the apostrophe at i-1, returning
// the end or 0. With fold it is case-insensitive the way Unicode case folding is
// (which also lets U+017F LONG S stand for s).
func contraction(s string, i int, fold bool) int {
	for _, suffix := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
		if end := matchSuffix(s, i, suffix, fold); end > 0 {
			return end
		}
	}
	return 0
}

func matchSuffix(s string, i int, suffix string, fold bool) int {
	for k := 0; k < len(suffix); k++ {
		if i >= len(s) {
			return 0
		}
		r, n := at(s, i)
		if !sameLetter(r, rune(suffix[k]), fold) {
			return 0
		}
		i += n
	}
	return i
}

func sameLetter(r, lower rune, fold bool) bool {
	if r == lower {
		return true
	}
	if !fold {
		return false
	}
	return r == lower-'a'+'A' || (lower == 's' && r == 'ſ')
}

// spaces matches \s+(?!\S)|\s+ at i (which holds whitespace): the whole run when it
// ends the text, else the run minus its last rune (left to prefix the next word),
// else a single whitespace rune.
func spaces(s string, i int) int {
	end, last := i, i
	for end < len(s) {
		r, n := at(s, end)
		if classify(r) != classSpace {
			break
		}
		last = end
		end += n
	}
	if end == len(s) || last == i {
		return end
	}
	return last
}

// gpt2Next is one match of the GPT-2 pattern starting at i.
func gpt2Next(s string, i int) int {
	c, r, n := classAt(s, i)
	if r == '\'' {
		if end := contraction(s, i+n, false); end > 0 {
			return end
		}
	}
	if r == ' ' {
		if c2, _, n2 := classAt(s, i+n); c2 != classSpace && n2 > 0 {
			return run(s, i+n+n2, c2)
		}
	}
	if c == classSpace {
		return spaces(s, i)
	}
	return run(s, i+n, c)
}

// llama3Next is one match of the Llama 3 pattern (maxDigits 3) or the Qwen2 pattern
// (maxDigits 1) starting at i.
func llama3Next(s string, i int, maxDigits int) int {
	c, r, n := classAt(s, i)
	if r == '\'' {
		if end := contraction(s, i+n, true); end > 0 {
			return end
		}
	}
	if c == classLetter {
		return run(s, i+n, classLetter)
	}
	if c != classNumber && r != '\r' && r != '\n' {
		if c2, _, n2 := classAt(s, i+n); c2 == classLetter {
			return run(s, i+n+n2, classLetter)
		}
	}
	switch c {
	case classNumber:
		return digits(s, i+n, maxDigits-1)
	case classOther:
		return newlines(s, run(s, i+n, classOther))
	}
	if r == ' ' {
		if c2, _, n2 := classAt(s, i+n); c2 == classOther && n2 > 0 {
			return newlines(s, run(s, i+n+n2, classOther))
		}
	}
	return llama3Spaces(s, i)
}

// digits extends from i over at most max more \p{N} runes.
func digits(s string, i int, max int) int {
	for ; max > 0 && i < len(s); max-- {
		r, n := at(s, i)
		if classify(r) != classNumber {
			break
		}
		i += n
	}
	return i
}

// llama3Spaces matches \s*[\r\n]+|\s+(?!\S)|\s+ at i (which holds whitespace): up to
// and including the run's last line break if it has one, else as spaces does.
func llama3Spaces(s string, i int) int {
	end, lastBreak := i, -1
	for end < len(s) {
		r, n := at(s, end)
		if classify(r) != classSpace {
			break
		}
		if r == '\r' || r == '\n' {
			lastBreak = end
		}
		end += n
	}
	if lastBreak >= 0 {
		return lastBreak + 1
	}
	return spaces(s, i)
}
