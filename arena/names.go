package arena

import (
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Identity lists what would give a model away in an answer: Names match as whole words
// ("v2" in "I am v2", not in "v20"), Families as the start of a word ("SmolLM" in "SmolLM2").
// Both match without regard to case.
type Identity struct {
	Names    []string
	Families []string
}

// Family is the model family a weights file or folder name starts with: its leading letters
// ("SmolLM2-135M-Instruct.Q4_1.gguf" → "SmolLM"), or "" when fewer than four.
func Family(weights string) string {
	base := filepath.Base(strings.TrimRight(weights, `/\`))
	end := strings.IndexFunc(base, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		end = len(base)
	}
	if utf8.RuneCountInString(base[:end]) < 4 {
		return ""
	}
	return base[:end]
}

// NamedIn returns the first name or family that the answer mentions, or "".
func (id Identity) NamedIn(answer string) string {
	lower := strings.ToLower(answer)
	for _, name := range id.Names {
		if name != "" && findWord(lower, strings.ToLower(name), true) {
			return name
		}
	}
	for _, fam := range id.Families {
		if fam != "" && findWord(lower, strings.ToLower(fam), false) {
			return fam
		}
	}
	return ""
}

// findWord reports whether word occurs in text starting at a word boundary and, when whole is set,
// ending at one. Letters, digits and '_' are word characters.
func findWord(text, word string, whole bool) bool {
	for from := 0; from <= len(text)-len(word); {
		k := strings.Index(text[from:], word)
		if k < 0 {
			return false
		}
		at := from + k
		before, _ := utf8.DecodeLastRuneInString(text[:at])
		after, _ := utf8.DecodeRuneInString(text[at+len(word):])
		if (at == 0 || !isWordRune(before)) && (!whole || at+len(word) == len(text) || !isWordRune(after)) {
			return true
		}
		_, size := utf8.DecodeRuneInString(text[at:])
		from = at + size
	}
	return false
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
