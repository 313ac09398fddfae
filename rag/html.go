package rag

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ParseHTML extracts the sections of an mdBook page (the book, the Rustonomicon, the Reference,
// Rust by Example, the error index): headings, prose and code blocks inside <main>. number is the
// page's chapter number from the book's table of contents ("4.2"), prefixed to the page's first
// heading when not empty. It returns an error (never panics) when the page has no <main> element or
// no text: malformed markup is repaired the way browsers do.
func ParseHTML(data []byte, number string) (Page, error) {
	root, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return Page{}, fmt.Errorf("parse html: %w", err)
	}
	if lang := htmlLang(root); lang != "" && !strings.HasPrefix(lang, "en") {
		return Page{}, fmt.Errorf("page language %q is not English", lang)
	}
	if hasRefresh(root) {
		return Page{}, fmt.Errorf("redirect page")
	}
	main := findElement(root, atom.Main)
	if main == nil {
		return Page{}, fmt.Errorf("no <main> element")
	}
	p := &pageBuilder{number: number}
	p.walk(main)
	p.flush()
	page := p.page()
	if len(page.Sections) == 0 {
		return Page{}, fmt.Errorf("no text in <main>")
	}
	return page, nil
}

// skipClasses are mdBook and Reference decorations that are not content.
var skipClasses = []string{"rule", "grammar-railroad", "boring", "hide-boring", "mdbook-help-container", "footnote-reference"}

func htmlLang(root *html.Node) string {
	if el := findElement(root, atom.Html); el != nil {
		return strings.ToLower(attr(el, "lang"))
	}
	return ""
}

func hasRefresh(root *html.Node) bool {
	var found bool
	visit(root, func(n *html.Node) bool {
		if n.Type == html.ElementNode && n.DataAtom == atom.Meta && strings.EqualFold(attr(n, "http-equiv"), "refresh") {
			found = true
		}
		return !found
	})
	return found
}

// visit calls fn on n and its descendants in document order while fn returns true for a node's subtree.
func visit(n *html.Node, fn func(*html.Node) bool) {
	if !fn(n) {
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		visit(c, fn)
	}
}

func findElement(root *html.Node, a atom.Atom) *html.Node {
	var found *html.Node
	visit(root, func(n *html.Node) bool {
		if found == nil && n.Type == html.ElementNode && n.DataAtom == a {
			found = n
		}
		return found == nil
	})
	return found
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

func skipped(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Svg, atom.Button, atom.Nav, atom.Noscript, atom.Template:
		return true
	}
	for _, c := range skipClasses {
		if hasClass(n, c) {
			return true
		}
	}
	return false
}

// headingLevel returns 1–6 for h1–h6 and 0 otherwise.
func headingLevel(n *html.Node) int {
	switch n.DataAtom {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		return int(n.Data[1] - '0')
	}
	return 0
}

// isBlock reports whether n's text is one block of its own.
func isBlock(n *html.Node) bool {
	switch n.DataAtom {
	case atom.P, atom.Li, atom.Dt, atom.Dd, atom.Tr, atom.Blockquote, atom.Figcaption, atom.Caption:
		return true
	}
	return false
}

// pageBuilder collects sections while walking <main>.
type pageBuilder struct {
	number   string
	numbered bool
	levels   []int
	path     []string
	anchor   string
	blocks   []Block
	sections []Section
	text     strings.Builder // prose collected outside any block element
}

func (p *pageBuilder) walk(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		p.node(c)
	}
}

func (p *pageBuilder) node(n *html.Node) {
	switch {
	case n.Type == html.TextNode:
		p.text.WriteString(n.Data)
	case n.Type != html.ElementNode || skipped(n):
	case headingLevel(n) > 0:
		p.heading(headingLevel(n), attr(n, "id"), cleanText(innerText(n)))
	case n.DataAtom == atom.Pre:
		p.flushText()
		p.addBlock(Block{Kind: CodeBlock, Text: codeText(n), Lang: codeLang(n)})
	case isBlock(n) && !containsBlock(n):
		p.flushText()
		p.addBlock(Block{Kind: TextBlock, Text: cleanText(innerText(n))})
	default:
		if isBlock(n) || n.DataAtom == atom.Div || n.DataAtom == atom.Table || n.DataAtom == atom.Ul || n.DataAtom == atom.Ol {
			p.flushText()
		}
		p.walk(n)
		if n.DataAtom == atom.Br {
			p.text.WriteByte(' ')
		}
	}
}

// containsBlock reports whether n has a block element, heading or <pre> inside.
func containsBlock(n *html.Node) bool {
	var found bool
	for c := n.FirstChild; c != nil && !found; c = c.NextSibling {
		visit(c, func(d *html.Node) bool {
			if d.Type == html.ElementNode && (isBlock(d) || d.DataAtom == atom.Pre || headingLevel(d) > 0 ||
				d.DataAtom == atom.Ul || d.DataAtom == atom.Ol || d.DataAtom == atom.Table) {
				found = true
			}
			return !found
		})
	}
	return found
}

func (p *pageBuilder) heading(level int, id, title string) {
	p.flush()
	if title == "" {
		return
	}
	if !p.numbered && p.number != "" {
		title = p.number + " " + title
		p.numbered = true
	}
	for len(p.levels) > 0 && p.levels[len(p.levels)-1] >= level {
		p.levels, p.path = p.levels[:len(p.levels)-1], p.path[:len(p.path)-1]
	}
	p.levels = append(p.levels, level)
	p.path = append(p.path, title)
	p.anchor = id
}

func (p *pageBuilder) addBlock(b Block) {
	if strings.TrimSpace(b.Text) != "" {
		p.blocks = append(p.blocks, b)
	}
}

func (p *pageBuilder) flushText() {
	if t := cleanText(p.text.String()); t != "" {
		p.blocks = append(p.blocks, Block{Kind: TextBlock, Text: t})
	}
	p.text.Reset()
}

// flush ends the current section.
func (p *pageBuilder) flush() {
	p.flushText()
	if len(p.blocks) > 0 {
		p.sections = append(p.sections, Section{Path: append([]string(nil), p.path...), Anchor: p.anchor, Blocks: p.blocks})
	}
	p.blocks = nil
}

func (p *pageBuilder) page() Page {
	var title string
	for _, s := range p.sections {
		if len(s.Path) > 0 {
			title = s.Path[0]
			break
		}
	}
	return Page{Title: title, Sections: p.sections}
}

// innerText is the text of n's subtree without skipped elements; <br> is a space.
func innerText(n *html.Node) string {
	var b strings.Builder
	visit(n, func(d *html.Node) bool {
		switch {
		case d.Type == html.TextNode:
			b.WriteString(d.Data)
		case d.Type == html.ElementNode && d != n && skipped(d):
			return false
		case d.Type == html.ElementNode && d.DataAtom == atom.Br:
			b.WriteByte(' ')
		case d.Type == html.ElementNode && (d.DataAtom == atom.Td || d.DataAtom == atom.Th):
			b.WriteString(" | ")
		}
		return true
	})
	return b.String()
}

// codeText is a <pre>'s code with mdBook's hidden "boring" lines left out.
func codeText(n *html.Node) string {
	t := strings.Trim(stripControl(innerText(n)), "\n")
	return strings.TrimRight(t, " \t\n")
}

func codeLang(n *html.Node) string {
	code := findElement(n, atom.Code)
	if code == nil {
		return ""
	}
	for _, c := range strings.Fields(attr(code, "class")) {
		if lang, ok := strings.CutPrefix(c, "language-"); ok {
			return lang
		}
	}
	return ""
}

// cleanText collapses white space and drops control characters.
func cleanText(s string) string {
	return strings.Join(strings.Fields(stripControl(s)), " ")
}

// stripControl drops control characters other than newline and tab (and so the snippet markers).
func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r == '\uFFFD' {
			return -1
		}
		return r
	}, s)
}
