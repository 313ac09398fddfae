package rag

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The FTS5 table tokenizes with unicode61 and tokenchars '_:', so a Rust path such as
// Vec::retain or a name such as snake_case is one token there. Terms adds what that
// tokenizer cannot: the parts of each such token (vec, retain, snake, case) and its
// shorter sub-paths (vec::retain of std::vec::Vec::retain), so a query for a whole path
// and a query for any of its parts both match.

// maxPathSegments bounds the sub-paths emitted for one very long path.
const maxPathSegments = 8

// maxQueryTerms bounds the terms a query expands to, so 10 KB of pasted text stays a cheap query.
const maxQueryTerms = 64

// isWordRune reports whether r belongs to a token, as for the FTS5 tokenizer of rag_fts.
func isWordRune(r rune) bool {
	return r == '_' || r == ':' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// words splits text into tokens the way rag_fts's tokenizer does (before lower-casing).
func words(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return !isWordRune(r) })
}

// wholeWord is a token lower-cased with leading and trailing colons dropped ("Note:" → "note").
func wholeWord(w string) string {
	return strings.ToLower(strings.Trim(w, ":"))
}

// parts splits a token into its identifier parts: at "::", "_", and lower→upper case changes.
// "std::vec::Vec::retain" → std vec vec retain; "HashMap" → hash map; "snake_case" → snake case.
func parts(w string) []string {
	var out []string
	for _, seg := range strings.FieldsFunc(w, func(r rune) bool { return r == ':' || r == '_' }) {
		out = append(out, camelParts(seg)...)
	}
	return out
}

// camelParts splits an identifier at case changes: "HashMap" → hash, map; "HTTPServer" → http, server.
func camelParts(s string) []string {
	rs := []rune(s)
	var out []string
	start := 0
	for i := 1; i < len(rs); i++ {
		lowerToUpper := unicode.IsLower(rs[i-1]) && unicode.IsUpper(rs[i])
		acronymEnd := i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsUpper(rs[i]) && unicode.IsLower(rs[i+1])
		if lowerToUpper || acronymEnd {
			out = append(out, strings.ToLower(string(rs[start:i])))
			start = i
		}
	}
	return append(out, strings.ToLower(string(rs[start:])))
}

// subPaths returns the contiguous sub-paths of two or more segments of a path, except the whole:
// "std::vec::Vec" → std::vec, vec::vec.
func subPaths(w string) []string {
	segs := strings.Split(w, "::")
	for _, s := range segs {
		if s == "" {
			return nil // "a::::b" or similar: not a path
		}
	}
	if len(segs) < 3 || len(segs) > maxPathSegments {
		return nil
	}
	var out []string
	for i := range segs {
		for j := i + 2; j <= len(segs); j++ {
			if i == 0 && j == len(segs) {
				continue
			}
			out = append(out, strings.ToLower(strings.Join(segs[i:j], "::")))
		}
	}
	return out
}

// expansions returns the extra index terms of one token: its trimmed form when that differs,
// its sub-paths and its parts when they differ from the token itself.
func expansions(w string) []string {
	whole := wholeWord(w)
	var out []string
	if whole != strings.ToLower(w) && whole != "" {
		out = append(out, whole)
	}
	out = append(out, subPaths(whole)...)
	ps := parts(strings.Trim(w, ":"))
	if len(ps) > 1 || (len(ps) == 1 && ps[0] != whole) {
		out = append(out, ps...)
	}
	return out
}

// Terms returns the extra indexing form of text: for every token of text that is a Rust path,
// a snake_case or CamelCase name, or ends in a colon, the parts a search should also find it by.
// Plain words add nothing (the FTS5 tokenizer already indexes them from the text column).
func Terms(text string) string {
	var b strings.Builder
	for _, w := range words(text) {
		for _, e := range expansions(w) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(e)
		}
	}
	return b.String()
}

// isStopWord reports whether a query term is left out: English function words, and the words
// that more than half the chunks of the Rust docs hold (FTS5's bm25 gives a term in more than half
// the rows an IDF of almost zero, so leaving those out does not change the ranking, only the cost
// of scoring every chunk that has one). Measured on the full index of 14,703 chunks: "the" 82%,
// "a" 74%, "is" 71%, "this" 67%, "fn" 63%, "of" 61%, "to" 59%, "use" (with "used", "uses",
// "using": porter stems them all to "us") 51%.
func isStopWord(t string) bool {
	switch t {
	case "a", "an", "and", "are", "as", "at", "be", "by", "fn", "for", "in", "is", "it", "of", "on", "or",
		"the", "this", "to", "use", "used", "uses", "using", "with":
		return true
	}
	return false
}

// MatchQuery turns any user text into a valid FTS5 query: every token and its parts except stop
// words (all of them when the text has nothing else), each quoted (so AND, NEAR, * and quotes are
// plain words), joined by OR, plus the whole token sequence as one phrase so chunks that have the
// words in order rank first. It returns "" when the text has no searchable token.
func MatchQuery(text string) string {
	phrases := queryPhrases(text)
	quoted := make([]string, len(phrases))
	for i, p := range phrases {
		quoted[i] = quote(p)
	}
	return strings.Join(quoted, " OR ")
}

// queryPhrases returns what MatchQuery ORs together, unquoted: the text's words as one phrase
// (when it has 2 to 8), then every term.
func queryPhrases(text string) []string {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, " ")
	}
	var terms, stopped, phrase []string
	seen := map[string]bool{}
	add := func(t string) {
		if t == "" || seen[t] || len(terms) >= maxQueryTerms {
			return
		}
		seen[t] = true
		if isStopWord(t) {
			stopped = append(stopped, t)
			return
		}
		terms = append(terms, t)
	}
	for _, w := range words(text) {
		whole := wholeWord(w)
		if whole == "" {
			continue
		}
		if len(phrase) < maxQueryTerms {
			phrase = append(phrase, whole)
		}
		add(whole)
		for _, p := range parts(strings.Trim(w, ":")) {
			add(p)
		}
	}
	if len(terms) == 0 {
		terms = stopped
	}
	if len(terms) == 0 {
		return nil
	}
	out := make([]string, 0, len(terms)+1)
	if len(phrase) > 1 && len(phrase) <= 8 {
		out = append(out, strings.Join(phrase, " "))
	}
	return append(out, terms...)
}

// quote makes s one FTS5 string: wrapped in double quotes, inner quotes doubled.
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
