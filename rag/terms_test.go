package rag

import (
	"slices"
	"strings"
	"testing"
)

func TestTermsSplitsRustIdentifiers(t *testing.T) {
	cases := []struct {
		text string
		want []string // every one must be among the terms
		none bool     // the text adds no terms
	}{
		{text: "Vec::retain", want: []string{"vec", "retain"}},
		{text: "std::vec::Vec::retain", want: []string{"std::vec", "vec::vec", "vec::retain", "std::vec::vec", "vec::vec::retain", "std", "vec", "retain"}},
		{text: "snake_case", want: []string{"snake", "case"}},
		{text: "HashMap::new", want: []string{"hash", "map", "new"}},
		{text: "HTTPServer", want: []string{"http", "server"}},
		{text: "Note:", want: []string{"note"}},
		{text: "E0502", none: true},
		{text: "borrow", none: true},
		{text: "impl Trait", none: true},
	}
	for _, c := range cases {
		got := strings.Fields(Terms(c.text))
		if c.none && len(got) > 0 {
			t.Errorf("Terms(%q) = %q, want nothing (the FTS tokenizer indexes it already)", c.text, got)
		}
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("Terms(%q) = %q, missing %q", c.text, got, w)
			}
		}
	}
}

func TestMatchQueryQuotesEverything(t *testing.T) {
	cases := map[string]string{
		"Vec::retain":        `"vec::retain" OR "vec" OR "retain"`,
		"impl Trait":         `"impl trait" OR "impl" OR "trait"`,
		`a AND "b" NEAR c*`:  `"a and b near c" OR "b" OR "near" OR "c"`,
		"use of moved value": `"use of moved value" OR "moved" OR "value"`,
		"the":                `"the"`, // only stop words: they are kept
		"FnMut":              `"fnmut" OR "mut"`,
		"E0502":              `"e0502"`,
		`"" * ( ) :: -`:      ``,
		"":                   ``,
	}
	for in, want := range cases {
		if got := MatchQuery(in); got != want {
			t.Errorf("MatchQuery(%q) = %q, want %q", in, got, want)
		}
	}
	long := MatchQuery(strings.Repeat("word"+strings.Repeat("x", 3)+" ", 3000))
	if n := strings.Count(long, " OR ") + 1; n > maxQueryTerms+1 {
		t.Errorf("10 KB query expands to %d terms, want at most %d", n, maxQueryTerms+1)
	}
	if got := MatchQuery("caf\xe9 borrow"); !strings.Contains(got, `"borrow"`) {
		t.Errorf("non-UTF-8 query: %q", got)
	}
}

func TestEstimateTokens(t *testing.T) {
	cases := map[string]int{"": 0, "hello world": 2, "a, b.": 4, "internationalization": 4, "Vec::new()": 6}
	for in, want := range cases {
		if got := EstimateTokens(in); got != want {
			t.Errorf("EstimateTokens(%q) = %d, want %d", in, got, want)
		}
	}
}
