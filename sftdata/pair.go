// Package sftdata mines supervised instruction pairs from local sources: the Rust docs (error
// code explanations with erroneous and fixed code, examples of the Book and Rust by Example with
// their explanations), crate sources (a doc comment and signature → the item's code; module docs
// → how to use the module) and clippy's before/after test pairs. Pairs are deduplicated, filtered
// by length and kept away from the evaluation sets (exercism exercises and held-out prompts), then
// written as TRL conversational SFT rows, each with its provenance.
package sftdata

import (
	"fmt"
	"strings"
)

// Pair kinds.
const (
	KindErrorFix    = "error-fix"    // erroneous code → explanation and fixed code
	KindExplainCode = "explain-code" // a docs example → what it does
	KindWriteCode   = "write-code"   // a docs explanation → the example
	KindWhyNoBuild  = "why-no-build" // a docs example that does not compile → why
	KindWriteFn     = "write-fn"     // a doc comment and signature → the function
	KindModuleDoc   = "module-doc"   // how to use a module → its documentation
	KindClippyFix   = "clippy-fix"   // code a lint fires on → the fixed code
)

// Sources pairs come from.
const (
	SourceErrorCodes = "error-codes"
	SourceBook       = "book"
	SourceRBE        = "rust-by-example"
	SourceCrates     = "crates"
	SourceClippy     = "clippy"
)

// rustDocsLicence is the licence of the Rust documentation and of clippy.
const rustDocsLicence = "MIT OR Apache-2.0"

// Meta is where a pair comes from.
type Meta struct {
	Source  string `json:"source"`
	Kind    string `json:"kind"`
	Path    string `json:"path"` // relative to the source's folder
	URL     string `json:"url"`  // the published page, where there is one
	Item    string `json:"item"` // E0502, regex::Regex::is_match, a lint name, a section title
	Licence string `json:"licence"`
}

// Pair is one question and its answer.
type Pair struct {
	Question string
	Answer   string
	Meta     Meta
}

// Skip is a file or item left out and why.
type Skip struct {
	Path   string
	Reason string
}

func (s Skip) String() string { return fmt.Sprintf("%s: %s", s.Path, s.Reason) }

// fence wraps code in a Markdown code block.
func fence(lang, code string) string {
	return "```" + lang + "\n" + strings.Trim(code, "\n") + "\n```"
}

// joinParas joins the non-empty paragraphs with blank lines.
func joinParas(paras ...string) string {
	var kept []string
	for _, p := range paras {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "\n\n")
}

// codeLines counts the non-blank lines of code.
func codeLines(code string) int {
	n := 0
	for _, l := range strings.Split(code, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

// statementLines counts the lines of code that are neither blank nor only a comment.
func statementLines(code string) int {
	n := 0
	for _, l := range strings.Split(code, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "//") {
			n++
		}
	}
	return n
}
