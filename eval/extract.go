// Package eval judges model answers with the Rust compiler: it pulls the Rust code out of a Markdown answer,
// joins it into one compilable unit, and checks it with rustc (and, when asked, clippy).
package eval

import (
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// rustLooking matches text that opens a line with a Rust item or binding keyword, or defines a macro. Untagged
// fences are common in answers, and these keywords rarely open lines of the shell or TOML snippets that
// share answers with Rust.
var rustLooking = regexp.MustCompile(`(?m)^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?(?:fn|let|struct|impl|use|mod|trait|enum)\b|macro_rules!`)

// Extract returns the Rust code blocks of a Markdown answer in order: fences tagged rust or rs (with or
// without rustdoc attributes such as "rust,ignore"), and untagged fences whose text looks like Rust.
func Extract(markdown string) []string {
	source := []byte(markdown)
	document := goldmark.DefaultParser().Parse(text.NewReader(source))
	var blocks []string
	ast.Walk(document, func(node ast.Node, entering bool) (ast.WalkStatus, error) {
		fenced, ok := node.(*ast.FencedCodeBlock)
		if !ok || !entering {
			return ast.WalkContinue, nil
		}
		code := fenceCode(fenced, source)
		if isRustFence(fenceLanguage(fenced, source), code) {
			blocks = append(blocks, code)
		}
		return ast.WalkSkipChildren, nil
	})
	return blocks
}

// fenceLanguage returns the first word of a fence's info string, lower-cased and cut at the first comma, so
// "Rust", "rust,no_run" and "rust title=x" all read as "rust".
func fenceLanguage(fenced *ast.FencedCodeBlock, source []byte) string {
	if fenced.Info == nil {
		return ""
	}
	info := strings.TrimSpace(string(fenced.Info.Segment.Value(source)))
	language, _, _ := strings.Cut(info, " ")
	language, _, _ = strings.Cut(language, ",")
	return strings.ToLower(language)
}

func isRustFence(language, code string) bool {
	switch language {
	case "rust", "rs":
		return strings.TrimSpace(code) != ""
	case "":
		return rustLooking.MatchString(code)
	default:
		return false
	}
}

// fenceCode is the text of a fenced block (goldmark keeps it as line segments of the source).
func fenceCode(fenced *ast.FencedCodeBlock, source []byte) string {
	return string(fenced.Lines().Value(source))
}
