package rag

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ParseRustdoc extracts the sections of a rustdoc page of the std, core or alloc API docs. The
// page's title is the item path ("std::vec::Vec"); its first section holds the item's kind,
// declaration and top documentation, each heading of that documentation starts a section of its
// own, and every method, associated item, variant and field is a section titled with its full
// path ("std::vec::Vec::retain", anchor "method.retain") holding its signature (as code) and its
// documentation (prose and examples). A module page lists its items (name and summary) under
// their kind's heading. Trait implementations, blanket, auto-trait and implementor lists are
// left out, and so are the sidebar, search, settings and toolbar
// (they are outside #main-content or skipped). It returns an error (never panics) for a
// redirect page or a page without rustdoc's main content.
func ParseRustdoc(data []byte) (Page, error) {
	root, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return Page{}, fmt.Errorf("parse html: %w", err)
	}
	if hasRefresh(root) {
		return Page{}, fmt.Errorf("redirect page")
	}
	content := findByID(root, "main-content")
	if content == nil {
		return Page{}, fmt.Errorf("no #main-content element (not a rustdoc page)")
	}
	kind, path := rustdocItem(content)
	if path == "" {
		return Page{}, fmt.Errorf("no item name in the page heading")
	}
	b := &rustdocBuilder{item: path}
	b.start([]string{path}, "")
	if kind != "" {
		b.add(Block{Kind: TextBlock, Text: kind + " " + path})
	}
	b.walk(content)
	page := Page{Title: path, Sections: b.done()}
	if len(page.Sections) == 0 {
		return Page{}, fmt.Errorf("no text in #main-content")
	}
	return page, nil
}

// rustdocSkipClasses are rustdoc decorations inside the content that are not text: anchors, the
// "Source"/version column, tooltips, the "Expand description" toggle and the notable-traits popups.
var rustdocSkipClasses = []string{"anchor", "doc-anchor", "rightside", "tooltip", "hideme", "sub-heading",
	"notable-traits", "rustdoc-breadcrumbs", "src", "since", "test-arrow"}

// rustdocSkippedGroups are the h2 ids whose content is left out: trait implementations (their
// methods are the trait's own documentation, repeated on every type), impls the compiler derives
// for every type, blanket impls, the implementor lists of traits and dyn-compatibility notes.
var rustdocSkippedGroups = map[string]bool{
	"trait-implementations": true, "synthetic-implementations": true, "blanket-implementations": true, "implementors": true,
	"foreign-impls": true, "dyn-compatibility": true, "object-safety": true,
}

// skippedGroup reports whether an h2 group is left out: those above, and the methods reached
// through Deref ("deref-methods-[T]" on Vec), which are the target type's own pages.
func skippedGroup(id string) bool {
	return rustdocSkippedGroups[id] || strings.HasPrefix(id, "deref-methods")
}

func rdSkipped(n *html.Node) bool {
	if n.Type != html.ElementNode {
		return false
	}
	if skipped(n) || n.Data == "rustdoc-toolbar" {
		return true
	}
	for _, c := range rustdocSkipClasses {
		if hasClass(n, c) {
			return true
		}
	}
	return false
}

// rdText is n's text without rustdoc's decorations, white space collapsed.
func rdText(n *html.Node) string {
	var b strings.Builder
	visit(n, func(d *html.Node) bool {
		switch {
		case d.Type == html.TextNode:
			b.WriteString(d.Data)
		case d != n && rdSkipped(d):
			return false
		case d.Type == html.ElementNode && (d.DataAtom == atom.Br || d.DataAtom == atom.Td || d.DataAtom == atom.Th || hasClass(d, "stab") || hasClass(d, "where")):
			b.WriteByte(' ')
		}
		return true
	})
	return cleanText(b.String())
}

func findByID(root *html.Node, id string) *html.Node {
	var found *html.Node
	visit(root, func(n *html.Node) bool {
		if found == nil && n.Type == html.ElementNode && attr(n, "id") == id {
			found = n
		}
		return found == nil
	})
	return found
}

func findByClass(root *html.Node, class string) *html.Node {
	var found *html.Node
	visit(root, func(n *html.Node) bool {
		if found == nil && n.Type == html.ElementNode && hasClass(n, class) {
			found = n
		}
		return found == nil
	})
	return found
}

// rustdocItem reads the page heading: the kind ("Struct", "Module", "Primitive Type") and the
// item path from the breadcrumbs and the name ("std::vec" + "Vec").
func rustdocItem(content *html.Node) (kind, path string) {
	heading := findByClass(content, "main-heading")
	if heading == nil {
		return "", ""
	}
	h1 := findElement(heading, atom.H1)
	if h1 == nil {
		return "", ""
	}
	var name string
	for c := h1.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.TextNode && name == "":
			kind += c.Data
		case c.Type == html.ElementNode && c.DataAtom == atom.Span && name == "":
			name = rdText(c)
		}
	}
	kind, name = cleanText(kind), strings.ReplaceAll(name, " ", "")
	if crumbs := findByClass(heading, "rustdoc-breadcrumbs"); crumbs != nil {
		var b strings.Builder
		visit(crumbs, func(d *html.Node) bool {
			if d.Type == html.TextNode {
				b.WriteString(d.Data)
			}
			return true
		})
		if prefix := strings.Join(strings.Fields(b.String()), ""); prefix != "" && name != "" {
			return kind, prefix + "::" + name
		}
	}
	return kind, name
}

// rustdocBuilder collects the sections of a rustdoc page while walking its content.
type rustdocBuilder struct {
	item     string
	group    string // the id of the h2 section being walked ("implementations", "structs", …)
	cur      *Section
	sections []Section
}

func (b *rustdocBuilder) start(path []string, anchor string) {
	b.finish()
	b.cur = &Section{Path: path, Anchor: anchor}
}

func (b *rustdocBuilder) finish() {
	if b.cur != nil && len(b.cur.Blocks) > 0 {
		b.sections = append(b.sections, *b.cur)
	}
	b.cur = nil
}

func (b *rustdocBuilder) add(block Block) {
	if strings.TrimSpace(block.Text) == "" {
		return
	}
	if b.cur == nil {
		b.cur = &Section{Path: []string{b.item}}
	}
	b.cur.Blocks = append(b.cur.Blocks, block)
}

func (b *rustdocBuilder) done() []Section {
	b.finish()
	return b.sections
}

func (b *rustdocBuilder) walk(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.node(c)
	}
}

func (b *rustdocBuilder) node(n *html.Node) {
	if n.Type != html.ElementNode || rdSkipped(n) || hasClass(n, "main-heading") {
		return
	}
	id := attr(n, "id")
	switch {
	case n.DataAtom == atom.H2 && hasClass(n, "section-header"):
		b.groupHeading(n, id)
	case skippedGroup(b.group):
	case hasClass(n, "item-decl"):
		b.add(Block{Kind: CodeBlock, Text: codeText(n), Lang: "rust"})
	case hasClass(n, "impl") && attr(n, "id") != "": // an inherent impl's header: its methods follow
	case memberAnchor(id) != "":
		b.member(n, id)
	case hasClass(n, "docblock"):
		b.docblock(n, b.group == "")
	case n.DataAtom == atom.Dl && hasClass(n, "item-table"):
		b.itemTable(n)
	case hasClass(n, "item-info"):
		b.add(Block{Kind: TextBlock, Text: rdText(n)})
	default:
		b.walk(n)
	}
}

// groupHeading starts an h2 group: its items follow as siblings.
func (b *rustdocBuilder) groupHeading(n *html.Node, id string) {
	b.finish()
	b.group = id
	if skippedGroup(id) {
		return
	}
	b.start([]string{b.item, rdText(n)}, id)
}

// memberAnchor is the member name of a method, associated item, variant or field id
// ("method.retain" → "retain", "method.from-1" → "from"), or "".
func memberAnchor(id string) string {
	for _, p := range []string{"method.", "tymethod.", "associatedconstant.", "associatedtype.", "variant.", "structfield."} {
		if name, ok := strings.CutPrefix(id, p); ok {
			name, _, _ = strings.Cut(name, "-")
			return name
		}
	}
	return ""
}

// member starts the section of one method, associated item, variant or field, with its
// signature as code; its documentation follows as a sibling docblock.
func (b *rustdocBuilder) member(n *html.Node, id string) {
	b.start([]string{b.item, b.item + "::" + memberAnchor(id)}, id)
	sig := n
	if h := findByClass(n, "code-header"); h != nil {
		sig = h
	}
	if text := rdCode(sig); text != "" {
		b.add(Block{Kind: CodeBlock, Text: text, Lang: "rust"})
	}
}

// rdCode is a signature's text with its line breaks kept and rustdoc's decorations left out.
func rdCode(n *html.Node) string {
	var b strings.Builder
	visit(n, func(d *html.Node) bool {
		switch {
		case d.Type == html.TextNode:
			b.WriteString(d.Data)
		case d != n && rdSkipped(d):
			return false
		case d.Type == html.ElementNode && hasClass(d, "where"):
			b.WriteByte('\n')
		}
		return true
	})
	return strings.TrimSpace(stripControl(b.String()))
}

// docblock adds a documentation block: prose, lists, tables and examples. In the item's top
// documentation (sections true) each heading starts a section; inside a member's documentation
// headings ("Examples", "Panics") stay text so the member is one section.
func (b *rustdocBuilder) docblock(n *html.Node, sections bool) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.TextNode:
			b.add(Block{Kind: TextBlock, Text: cleanText(c.Data)})
		case c.Type != html.ElementNode || rdSkipped(c):
		case headingLevel(c) > 0 && sections:
			b.start([]string{b.item, rdText(c)}, attr(c, "id"))
		case headingLevel(c) > 0:
			b.add(Block{Kind: TextBlock, Text: rdText(c) + ":"})
		case c.DataAtom == atom.Pre:
			b.add(Block{Kind: CodeBlock, Text: codeText(c), Lang: "rust"})
		case containsPre(c) || (c.DataAtom == atom.Div && !isBlock(c)):
			b.docblock(c, sections)
		case c.DataAtom == atom.Ul || c.DataAtom == atom.Ol:
			for li := c.FirstChild; li != nil; li = li.NextSibling {
				if li.Type == html.ElementNode {
					b.add(Block{Kind: TextBlock, Text: "- " + rdText(li)})
				}
			}
		default:
			b.add(Block{Kind: TextBlock, Text: rdText(c)})
		}
	}
}

func containsPre(n *html.Node) bool {
	return findElement(n, atom.Pre) != nil
}

// itemTable adds a module page's item list: one line per item, its name and summary.
func (b *rustdocBuilder) itemTable(n *html.Node) {
	var lines []string
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch c.DataAtom {
		case atom.Dt:
			lines = append(lines, rdText(c))
		case atom.Dd:
			if len(lines) > 0 {
				lines[len(lines)-1] += ": " + rdText(c)
			}
		}
	}
	for _, l := range lines {
		b.add(Block{Kind: TextBlock, Text: l})
	}
}
