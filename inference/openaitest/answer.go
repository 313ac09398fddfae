package openaitest

import (
	"fmt"
	"strings"
	"unicode"
)

// rustSnippet is a small, valid Rust function together with a sentence that
// explains it.
type rustSnippet struct {
	code        string
	explanation string
}

var rustSnippets = [...]rustSnippet{
	{
		code: `pub fn sum_even(values: &[i64]) -> i64 {
    values.iter().copied().filter(|v| v % 2 == 0).sum()
}`,
		explanation: "Iterator adapters keep this allocation-free and let the compiler fuse the loop.",
	},
	{
		code: `pub fn reverse_words(text: &str) -> String {
    text.split_whitespace().rev().collect::<Vec<_>>().join(" ")
}`,
		explanation: "Borrowing the input as `&str` means callers can pass both `String` and literals.",
	},
	{
		code: `pub fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    let mut best = *items.first()?;
    for &item in items {
        if item > best {
            best = item;
        }
    }
    Some(best)
}`,
		explanation: "Returning `Option<T>` makes the empty-slice case explicit instead of panicking.",
	},
	{
		code: `use std::collections::HashMap;

pub fn word_counts(text: &str) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_insert(0) += 1;
    }
    counts
}`,
		explanation: "The entry API does the lookup and the insert with a single hash of each key.",
	},
	{
		code: `pub fn parse_port(input: &str) -> Result<u16, std::num::ParseIntError> {
    input.trim().parse::<u16>()
}`,
		explanation: "Propagating `ParseIntError` lets the caller decide how to report bad input.",
	},
}

var openings = [...]string{
	"Here is a compact way to approach it.",
	"The idiomatic answer leans on the standard library.",
	"A safe, allocation-conscious version looks like this.",
}

const questionWords = 6

// Answer returns the complete answer the test server gives to question for
// the given seed and choice index, before max_tokens or stop cut it. It depends
// only on seed+index, so asking for n answers at once gives the same texts as
// asking n times for one answer with the seed raised by the index each time.
func Answer(question string, seed int64, index int) string {
	variant := seed + int64(index)
	snippet := rustSnippets[positiveMod(variant, len(rustSnippets))]
	opening := openings[positiveMod(variant/int64(len(rustSnippets)), len(openings))]
	var b strings.Builder
	fmt.Fprintf(&b, "**Take #%d** on \"%s\"\n\n", variant, questionStart(question))
	fmt.Fprintf(&b, "%s\n\n", opening)
	fmt.Fprintf(&b, "```rust\n%s\n```\n\n", snippet.code)
	b.WriteString(snippet.explanation)
	b.WriteString("\n")
	return b.String()
}

// questionStart returns the first few words of question, marking a cut with
// an ellipsis.
func questionStart(question string) string {
	words := strings.Fields(question)
	if len(words) == 0 {
		return "your question"
	}
	if len(words) <= questionWords {
		return strings.Join(words, " ")
	}
	return strings.Join(words[:questionWords], " ") + " …"
}

func positiveMod(v int64, n int) int {
	m := v % int64(n)
	if m < 0 {
		m += int64(n)
	}
	return int(m)
}

// splitTokens cuts text into whitespace tokens, each carrying the whitespace
// before it, so that the tokens concatenate back to text exactly. Whitespace
// after the last word belongs to the last token; text without words has no
// tokens.
func splitTokens(text string) []string {
	var tokens []string
	start := 0
	inWord := false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if space && inWord {
			tokens = append(tokens, text[start:i])
			start = i
		}
		inWord = !space
	}
	rest := text[start:]
	switch {
	case inWord:
		tokens = append(tokens, rest)
	case len(tokens) > 0:
		tokens[len(tokens)-1] += rest
	}
	return tokens
}

// countTokens counts the whitespace-separated tokens of text.
func countTokens(text string) int {
	return len(strings.Fields(text))
}
