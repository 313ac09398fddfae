// Package render turns untrusted Markdown (model answers, prompts, rationales, guidelines) into sanitized HTML,
// with Rust code blocks highlighted through CSS classes.
package render

import (
	"bytes"
	"fmt"
	"github.com/alecthomas/chroma/v2"
	"html"
	"regexp"
	"sync"

	"github.com/a-h/templ"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"rustexpert/lru"
)

// defaultLanguage is the fence language assumed when a code block names none: the answers are Rust.
const defaultLanguage = "rust"

// cacheBytes bounds the Markdown and HTML text a Renderer keeps for repeat renders: about a thousand long
// answers.
const cacheBytes = 32 << 20

// linkRel is set on every link so that following it neither passes ranking nor gives the target window.opener.
const linkRel = "nofollow noopener"

// Renderer turns untrusted Markdown into sanitized HTML. Safe for concurrent use; build one at start-up.
type Renderer struct {
	markdown goldmark.Markdown
	policy   *bluemonday.Policy
	cache    *lru.Cache[string, string] // HTML by Markdown
	rust     chroma.Lexer
}

// New builds a Renderer with GitHub-flavoured Markdown, class-based Rust highlighting and a strict sanitizer.
func New() *Renderer {
	return &Renderer{
		markdown: newMarkdown(),
		policy:   newPolicy(),
		cache:    lru.New(cacheBytes, func(markdown, html string) int { return len(markdown) + len(html) }),
		rust:     newRustLexer(),
	}
}

// HTML renders markdown to a sanitized HTML fragment. Repeat renders of the same text come from a cache.
func (r *Renderer) HTML(markdown string) string {
	if fragment, ok := r.cache.Get(markdown); ok {
		return fragment
	}
	fragment := r.render(markdown)
	r.cache.Put(markdown, fragment)
	return fragment
}

// render converts and sanitizes markdown without consulting the cache. Fenced code is highlighted after
// sanitizing: the sanitizer sees each block as an empty placeholder, and the placeholder is then replaced
// by chroma's output, which escapes every token it writes. Sanitizing the span-heavy highlighted HTML
// instead would cost about a third of the whole render.
func (r *Renderer) render(markdown string) string {
	// The default fence language is appended after the text so that code blocks without an info string can
	// point their info segment at it; the parser only sees the text itself.
	source := make([]byte, 0, len(markdown)+len(defaultLanguage))
	source = append(source, markdown...)
	source = append(source, defaultLanguage...)
	languageSegment := text.NewSegment(len(markdown), len(source))

	doc := r.markdown.Parser().Parse(text.NewReader(source[:len(markdown)]))
	blocks := prepareTree(doc, source, languageSegment, newNonce())

	var out bytes.Buffer
	out.Grow(2 * len(source))
	if err := r.markdown.Renderer().Render(&out, source, doc); err != nil {
		// Rendering into memory fails only on a renderer bug; escaped text keeps the answer readable and inert.
		return "<pre>" + html.EscapeString(markdown) + "</pre>"
	}
	sanitized := string(r.policy.SanitizeBytes(out.Bytes()))
	return r.spliceCode(sanitized, blocks)
}

// Component renders markdown like HTML and wraps the sanitized result for use in templ templates.
func (r *Renderer) Component(markdown string) templ.Component {
	return templ.Raw(r.HTML(markdown))
}

// Cached reports whether markdown's HTML would be served from the cache.
func (r *Renderer) Cached(markdown string) bool { return r.cache.Has(markdown) }

// Components renders several Markdown texts at once, each on its own goroutine, so a page of
// several long answers costs about as much as its slowest answer when there are cores to spare.
func (r *Renderer) Components(markdowns ...string) []templ.Component {
	out := make([]templ.Component, len(markdowns))
	var wg sync.WaitGroup
	for i, markdown := range markdowns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = r.Component(markdown)
		}()
	}
	wg.Wait()
	return out
}

// formatOptions are shared by the code block renderer and ChromaCSS so that the classes match the stylesheet.
func formatOptions() []chromahtml.Option {
	return []chromahtml.Option{chromahtml.WithClasses(true)}
}

// newMarkdown builds the converter: GitHub-flavoured Markdown with class-based highlighting of fenced code.
func newMarkdown() goldmark.Markdown {
	// Raw HTML stays off (no html.WithUnsafe) and hard wraps stay off: both are goldmark's defaults.
	return goldmark.New(
		goldmark.WithExtensions(
			extension.Linkify,
			extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
			extension.Strikethrough,
			extension.TaskList,
		),
		goldmark.WithRendererOptions(
			renderer.WithNodeRenderers(util.Prioritized(imageAltRenderer{}, 100), util.Prioritized(codePlaceholderRenderer{}, 100)),
		),
	)
}

// prepareTree gives fenced code blocks without an info string the default language, numbers them for
// their placeholders and collects their code, and marks every link with linkRel.
func prepareTree(doc ast.Node, source []byte, languageSegment text.Segment, nonce string) []codeBlock {
	var blocks []codeBlock
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch node := n.(type) {
		case *ast.FencedCodeBlock:
			if node.Info == nil {
				node.Info = ast.NewTextSegment(languageSegment)
			}
			b := codeBlock{placeholder: fmt.Sprintf(`<pre class="rx-code-%s-%d"></pre>`, nonce, len(blocks)),
				language: string(node.Language(source)), code: string(node.Lines().Value(source))}
			node.SetAttributeString(placeholderAttr, []byte(b.placeholder))
			blocks = append(blocks, b)
		case *ast.Link, *ast.AutoLink:
			node.SetAttributeString("rel", []byte(linkRel))
		}
		return ast.WalkContinue, nil
	})
	return blocks
}

// imageAltRenderer renders an image as its alt text: a model answer must not make the browser fetch URLs.
type imageAltRenderer struct{}

// RegisterFuncs replaces goldmark's image renderer with one that only lets the alt text children through.
func (imageAltRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindImage, func(util.BufWriter, []byte, ast.Node, bool) (ast.WalkStatus, error) {
		return ast.WalkContinue, nil
	})
}

// newPolicy allows exactly the markup the Markdown renderer produces. It is built from an empty policy rather
// than bluemonday.UGCPolicy because UGCPolicy allows <img> (and b, i, area, ...) and bluemonday cannot revoke
// an allowed element; it still drops anything a raw-HTML payload could smuggle in.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements(
		"p", "br", "hr", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
		"em", "strong", "del", "code", "pre", "span", "div",
		"ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
	)
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^[a-zA-Z0-9 _-]+$`)).OnElements("code", "pre", "span", "div")
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(left|center|right)$`)).OnElements("th", "td")

	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("title").Matching(bluemonday.Paragraph).OnElements("a")
	p.AllowAttrs("rel").Matching(regexp.MustCompile(`^` + regexp.QuoteMeta(linkRel) + `$`)).OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowRelativeURLs(false)
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(true)

	// Task list items: goldmark writes <input checked="" disabled="" type="checkbox">. An <input> left
	// without any of these attributes is dropped by bluemonday.
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^checkbox$`)).OnElements("input")
	p.AllowAttrs("checked", "disabled").Matching(regexp.MustCompile(`^$`)).OnElements("input")
	return p
}
