package sftdata

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"rustexpert/rag"
)

// maxPageBytes is the largest docs page read.
const maxPageBytes = rag.MaxFileBytes

// docPage is a parsed docs page with the doc-test classes of its code blocks.
type docPage struct {
	rel     string
	url     string
	page    rag.Page
	classes map[string][]string // collapsed code text → classes of its <code> (compile_fail, ignore, …)
}

// block is a page block with the section it belongs to and its code classes.
type pageBlock struct {
	rag.Block
	section int
	classes []string
}

// readPages parses every page of a docs folder that match accepts, reporting the files it left out.
func readPages(dir, baseURL string, match func(rel string) bool) ([]docPage, []Skip, error) {
	var pages []docPage
	var skips []Skip
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() || !match(rel) {
			return nil
		}
		p, err := readPage(path, rel)
		if err != nil {
			skips = append(skips, Skip{Path: rel, Reason: err.Error()})
			return nil
		}
		p.url = baseURL + rel
		pages = append(pages, p)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read docs %s: %w", dir, err)
	}
	return pages, skips, nil
}

func readPage(path, rel string) (docPage, error) {
	info, err := os.Stat(path)
	if err != nil {
		return docPage{}, err
	}
	if info.Size() > maxPageBytes {
		return docPage{}, fmt.Errorf("larger than %d bytes", maxPageBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return docPage{}, err
	}
	page, err := rag.ParseHTML(data, "")
	if err != nil {
		return docPage{}, err
	}
	return docPage{rel: rel, page: page, classes: codeClasses(data)}, nil
}

// codeClasses maps the text of each <pre><code> block (hidden "boring" lines left out, white
// space collapsed) to the classes of its <code> element.
func codeClasses(data []byte) map[string][]string {
	root, err := html.Parse(bytes.NewReader(data))
	out := map[string][]string{}
	if err != nil {
		return out
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.Code && n.Parent != nil && n.Parent.DataAtom == atom.Pre {
			out[collapse(visibleText(n))] = strings.Fields(attrOf(n, "class"))
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}

// visibleText is the text of n without elements of class "boring" (mdBook's hidden lines).
func visibleText(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			return
		}
		if n.Type == html.ElementNode && slices.Contains(strings.Fields(attrOf(n, "class")), "boring") {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// blocks flattens the page's sections into blocks with their code classes.
func (p docPage) blocks() []pageBlock {
	var out []pageBlock
	for si, s := range p.page.Sections {
		for _, b := range s.Blocks {
			pb := pageBlock{Block: b, section: si}
			if b.Kind == rag.CodeBlock {
				pb.classes = p.classes[collapse(b.Text)]
			}
			out = append(out, pb)
		}
	}
	return out
}

func (b pageBlock) has(classes ...string) bool {
	for _, c := range classes {
		if slices.Contains(b.classes, c) {
			return true
		}
	}
	return false
}

func (b pageBlock) isRust() bool {
	return b.Kind == rag.CodeBlock && (b.Lang == "rust" || b.Lang == "")
}

// failing reports a code block that is shown not to compile or not to work.
func (b pageBlock) failing() bool {
	return b.has("compile_fail", "does_not_compile", "should_panic", "panics", "not_desired_behavior")
}

var errorCodeRE = regexp.MustCompile(`^(E\d{4})\.html$`)

// MineErrorCodes makes a pair of each error code page under dir (the error_codes folder) that
// has an erroneous example and a fixed one: the erroneous code → the explanation and the fix.
func MineErrorCodes(dir string) ([]Pair, []Skip, error) {
	src, _ := rag.SourceByName("error-codes")
	pages, skips, err := readPages(dir, src.BaseURL, func(rel string) bool { return errorCodeRE.MatchString(rel) })
	if err != nil {
		return nil, nil, err
	}
	var pairs []Pair
	for _, p := range pages {
		pair, reason := errorCodePair(p)
		if reason != "" {
			skips = append(skips, Skip{Path: p.rel, Reason: reason})
			continue
		}
		pairs = append(pairs, pair)
	}
	return pairs, skips, nil
}

var erroneousLeadRE = regexp.MustCompile(`(?i)^(erroneous code examples?|examples? of erroneous code|erroneous example)s?:?$`)

func errorCodePair(p docPage) (Pair, string) {
	code := errorCodeRE.FindStringSubmatch(p.rel)[1]
	blocks := p.blocks()
	for _, b := range blocks {
		if strings.Contains(b.Text, "no longer emitted") || b.has("(no longer emitted)", "(removed") {
			return Pair{}, "no longer emitted"
		}
	}
	bad := slices.IndexFunc(blocks, func(b pageBlock) bool { return b.isRust() && b.has("compile_fail") })
	if bad < 0 {
		return Pair{}, "no erroneous (compile_fail) example"
	}
	fixed := -1
	for i := bad + 1; i < len(blocks); i++ {
		if blocks[i].isRust() && !blocks[i].failing() && !blocks[i].has("ignore") {
			fixed = i
			break
		}
	}
	if fixed < 0 {
		return Pair{}, "no fixed example"
	}
	var description, fix []string
	for i, b := range blocks[:fixed] {
		if b.Kind != rag.TextBlock || erroneousLeadRE.MatchString(strings.TrimSpace(b.Text)) {
			continue
		}
		if i < bad {
			description = append(description, b.Text)
		} else {
			fix = append(fix, b.Text)
		}
	}
	q := fmt.Sprintf("Explain error %s and show how to fix this code:\n\n%s", code, fence("rust", blocks[bad].Text))
	a := joinParas(strings.Join(description, "\n\n"), strings.Join(fix, "\n\n"), fence("rust", blocks[fixed].Text))
	return Pair{Question: q, Answer: a, Meta: Meta{Source: SourceErrorCodes, Kind: KindErrorFix, Path: p.rel, URL: p.url,
		Item: code, Licence: rustDocsLicence}}, ""
}

// BookOptions says how examples of an mdBook become pairs.
type BookOptions struct {
	Source  string // book or rust-by-example (the rag source name)
	Label   string // how questions name the book: "The Rust Programming Language"
	Seed    int64  // picks, for each example, whether it is asked about or asked for
	MinLine int    // the fewest code lines an example needs (default 3)
}

// MineBook makes pairs of the Rust examples of an mdBook folder (the Book, Rust by Example):
// an example with the prose around it becomes either "what does this code do?" → the prose, or
// "write code that …" → the example (picked by seed per example); an example shown not to
// compile, followed by the compiler's error, becomes "why doesn't this compile?".
func MineBook(dir string, opt BookOptions) ([]Pair, []Skip, error) {
	src, ok := rag.SourceByName(opt.Source)
	if !ok {
		return nil, nil, fmt.Errorf("unknown docs source %q", opt.Source)
	}
	if opt.MinLine <= 0 {
		opt.MinLine = 3
	}
	pages, skips, err := readPages(dir, src.BaseURL, src.Match)
	if err != nil {
		return nil, nil, err
	}
	var pairs []Pair
	for _, p := range pages {
		pairs = append(pairs, bookPairs(p, opt)...)
	}
	return pairs, skips, nil
}

func bookPairs(p docPage, opt BookOptions) []Pair {
	blocks := p.blocks()
	var pairs []Pair
	for i, b := range blocks {
		if !b.isRust() || statementLines(b.Text) < opt.MinLine {
			continue
		}
		sec := p.page.Sections[b.section]
		meta := Meta{Source: opt.Source, Path: p.rel, URL: p.url + anchor(sec.Anchor), Item: strings.Join(sec.Path, " › "),
			Licence: rustDocsLicence}
		var pair Pair
		var ok bool
		if b.failing() {
			pair, ok = whyNoBuild(blocks, i)
			meta.Kind = KindWhyNoBuild
		} else {
			pair, ok = examplePair(blocks, i, opt, p.rel)
			meta.Kind = pair.Meta.Kind
		}
		if ok {
			pair.Meta = meta
			pairs = append(pairs, pair)
		}
	}
	return pairs
}

func anchor(id string) string {
	if id == "" {
		return ""
	}
	return "#" + id
}

var (
	filenameRE = regexp.MustCompile(`^Filename: \S+$`)
	listingRE  = regexp.MustCompile(`^Listing \d+-\d+: `)
)

// around collects the prose next to the code block at i: the text block just before it (its
// lead-in), its listing caption, and up to two text blocks after it.
func around(blocks []pageBlock, i int) (before, caption, after string) {
	var pre []string
	for j := i - 1; j >= 0 && len(pre) < 1; j-- {
		b := blocks[j]
		if b.Kind != rag.TextBlock || b.section != blocks[i].section {
			break
		}
		if !filenameRE.MatchString(b.Text) {
			pre = append([]string{b.Text}, pre...)
		}
	}
	var post []string
	for j := i + 1; j < len(blocks) && len(post) < 2; j++ {
		b := blocks[j]
		if b.Kind != rag.TextBlock || b.section != blocks[i].section {
			break
		}
		if j == i+1 && listingRE.MatchString(b.Text) {
			caption = listingRE.ReplaceAllString(b.Text, "")
			continue
		}
		if filenameRE.MatchString(b.Text) || leadsIn(blocks, j) {
			break // the next example's
		}
		post = append(post, b.Text)
	}
	return strings.Join(pre, "\n\n"), caption, strings.Join(post, "\n\n")
}

// examplePair asks about the example or asks for it, as the seed picks.
func examplePair(blocks []pageBlock, i int, opt BookOptions, rel string) (Pair, bool) {
	before, caption, after := around(blocks, i)
	if len(before)+len(caption)+len(after) < 80 {
		return Pair{}, false
	}
	code := fence("rust", blocks[i].Text)
	if pick(opt.Seed, rel, i)%2 == 0 && after != "" {
		q := "What does this Rust code do?\n\n" + code
		a := joinParas(sentence(caption), colonToPeriod(before), after)
		return Pair{Question: q, Answer: a, Meta: Meta{Kind: KindExplainCode}}, true
	}
	task := joinParas(colonToPeriod(before), sentence(caption))
	if len(task) < 40 {
		return Pair{}, false
	}
	q := "Write Rust code for this: " + task
	return Pair{Question: q, Answer: joinParas(code, after), Meta: Meta{Kind: KindWriteCode}}, true
}

// whyNoBuild pairs an example that does not compile with the error and prose that follow it.
func whyNoBuild(blocks []pageBlock, i int) (Pair, bool) {
	var parts []string
	sawError := false
	for j := i + 1; j < len(blocks) && len(parts) < 4 && blocks[j].section == blocks[i].section; j++ {
		b := blocks[j]
		if b.isRust() {
			break
		}
		switch {
		case b.Kind == rag.CodeBlock && strings.Contains(b.Text, "error"):
			parts = append(parts, fence("text", b.Text))
			sawError = true
		case b.Kind == rag.TextBlock && !listingRE.MatchString(b.Text):
			parts = append(parts, b.Text)
		}
	}
	if !sawError {
		return Pair{}, false
	}
	q := "Why doesn't this Rust code compile?\n\n" + fence("rust", blocks[i].Text)
	return Pair{Question: q, Answer: joinParas(parts...)}, true
}

// leadsIn reports a text block ending in a colon right before code: the next example's lead-in.
func leadsIn(blocks []pageBlock, j int) bool {
	if !strings.HasSuffix(strings.TrimSpace(blocks[j].Text), ":") {
		return false
	}
	for k := j + 1; k < len(blocks); k++ {
		if blocks[k].Kind == rag.CodeBlock {
			return true
		}
		if !filenameRE.MatchString(blocks[k].Text) {
			return false
		}
	}
	return false
}

func colonToPeriod(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ":") {
		return s[:len(s)-1] + "."
	}
	return s
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// pick is a stable pseudo-random number for an item under a seed.
func pick(seed int64, parts ...any) uint64 {
	h := fnv.New64a()
	fmt.Fprint(h, seed)
	for _, p := range parts {
		fmt.Fprint(h, "\x00", p)
	}
	return h.Sum64()
}
