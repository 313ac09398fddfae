package render

import (
	"crypto/rand"
	"encoding/hex"
	"html"
	"strings"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// placeholderAttr is the AST attribute that carries a fenced code block's placeholder to the renderer.
const placeholderAttr = "rx-placeholder"

// codeBlock is a fenced code block, kept aside while the rest of the answer is sanitized.
type codeBlock struct {
	placeholder string
	language    string
	code        string
}

// newNonce makes a render's placeholders unguessable, so no text can stand in for one.
func newNonce() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// codePlaceholderRenderer writes a fenced code block as its placeholder.
type codePlaceholderRenderer struct{}

// RegisterFuncs replaces goldmark's fenced code renderer.
func (codePlaceholderRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, func(w util.BufWriter, _ []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			if v, ok := n.AttributeString(placeholderAttr); ok {
				w.Write(v.([]byte))
			}
		}
		return ast.WalkSkipChildren, nil
	})
}

// spliceCode replaces each placeholder in the sanitized HTML with its highlighted code.
func (r *Renderer) spliceCode(sanitized string, blocks []codeBlock) string {
	if len(blocks) == 0 {
		return sanitized
	}
	pairs := make([]string, 0, 2*len(blocks))
	for _, b := range blocks {
		pairs = append(pairs, b.placeholder, r.highlight(b.language, b.code))
	}
	return strings.NewReplacer(pairs...).Replace(sanitized)
}

// highlight renders code as chroma's class-based HTML; chroma escapes every token it writes. Rust goes
// through the compact lexer; a language chroma does not know becomes a plain escaped block.
func (r *Renderer) highlight(language, code string) string {
	lexer := lexers.Get(language)
	if language == "rust" || language == "rs" {
		lexer = r.rust
	}
	if lexer == nil {
		return `<pre><code class="language-` + html.EscapeString(safeClass(language)) + `">` + html.EscapeString(code) + `</code></pre>`
	}
	tokens, err := chroma.Coalesce(lexer).Tokenise(nil, code)
	if err == nil {
		var b strings.Builder
		if err = chromahtml.New(formatOptions()...).Format(&b, styles.Get(lightStyle), unstyled(tokens)); err == nil {
			return b.String()
		}
	}
	return `<pre><code>` + html.EscapeString(code) + `</code></pre>`
}

// safeClass keeps only the characters the sanitizer allows in a class name.
func safeClass(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return -1
	}, s)
}

// plainTypes are the token types neither theme colours (names), or whose colour cannot show
// (whitespace): written as plain text, they spare a span each, about half of a highlighted answer's HTML.
var plainTypes = map[chroma.TokenType]bool{chroma.Whitespace: true, chroma.Name: true}

// unstyled turns the tokens of plainTypes into plain text and joins neighbouring plain text.
func unstyled(tokens chroma.Iterator) chroma.Iterator {
	var out []chroma.Token
	for t := tokens(); t != chroma.EOF; t = tokens() {
		if plainTypes[t.Type] {
			t.Type = chroma.Text
		}
		if n := len(out); n > 0 && t.Type == chroma.Text && out[n-1].Type == chroma.Text {
			out[n-1].Value += t.Value
			continue
		}
		out = append(out, t)
	}
	return chroma.Literator(out...)
}
