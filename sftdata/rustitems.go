package sftdata

import (
	"regexp"
	"strings"
)

// block is one {…} of a Rust file: where it opens and closes, where its header (the text since
// the previous ';', '{' or '}') starts, and the block that encloses it (-1 at top level).
type block struct {
	start, open, close int
	parent             int
}

// braceBlocks finds every brace block of masked Rust text. An unclosed block ends at the end of
// the text; a stray '}' is ignored.
func braceBlocks(masked string) []block {
	var blocks []block
	var stack []int
	last := 0 // index after the previous ';', '{' or '}'
	for i := 0; i < len(masked); i++ {
		switch masked[i] {
		case '{':
			parent := -1
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			blocks = append(blocks, block{start: last, open: i, close: len(masked) - 1, parent: parent})
			stack = append(stack, len(blocks)-1)
			last = i + 1
		case '}':
			if len(stack) > 0 {
				blocks[stack[len(stack)-1]].close = i
				stack = stack[:len(stack)-1]
			}
			last = i + 1
		case ';':
			last = i + 1
		}
	}
	return blocks
}

// rustItem is an item with a body found in a Rust file.
type rustItem struct {
	Kind      string   // fn, impl, trait, mod, struct, enum, union, macro, other
	Name      string   // the fn, mod, trait or type name; for impl, the implementing type
	Context   []string // names of the enclosing mods, impls and traits, outermost first
	Doc       string   // the /// lines, their markers removed
	Attrs     []string // attributes before the item, whitespace collapsed
	Signature string   // the header from the item keyword to its '{', whitespace collapsed
	Code      string   // signature and body as written, dedented
	Lead      string   // the text before the signature since the previous item (comments, attributes)
	FirstLine int      // 1-based line of the item's first line (its lead)
	SigLine   int      // 1-based line of the signature
	LastLine  int      // 1-based line of the closing brace
	Depth     int      // nesting: 0 for top-level items
}

var (
	visibilityRE = regexp.MustCompile(`^(pub(\s*\([^)]*\))?\s+)?`)
	fnRE         = regexp.MustCompile(`^(default\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+("[^"]*"\s+)?)?fn\s+([A-Za-z_][A-Za-z0-9_]*)`)
	implRE       = regexp.MustCompile(`^(unsafe\s+)?impl\b`)
	namedRE      = regexp.MustCompile(`^(unsafe\s+)?(auto\s+)?(mod|trait|struct|enum|union)\s+([A-Za-z_][A-Za-z0-9_]*)`)
	macroRE      = regexp.MustCompile(`^macro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)`)
)

// rustItems lists the items of a Rust source file: top-level ones and those inside mods, impls
// and traits (not those inside function bodies).
func rustItems(src string) []rustItem {
	masked := maskRust(src)
	blocks := braceBlocks(masked)
	lines := newLineIndex(src)
	var items []rustItem
	isContainer := map[int]bool{}
	context := map[int][]string{}
	for bi, b := range blocks {
		if b.parent != -1 && !isContainer[b.parent] {
			continue
		}
		it, ok := classify(src, masked, b, lines)
		if !ok {
			continue
		}
		if b.parent != -1 {
			it.Context = context[b.parent]
			it.Depth = len(it.Context)
		}
		if it.Kind == "impl" || it.Kind == "trait" || it.Kind == "mod" {
			isContainer[bi] = true
			context[bi] = append(append([]string(nil), it.Context...), it.Name)
		}
		items = append(items, it)
	}
	return items
}

// classify reads a block's header: its attributes, doc comment and signature.
func classify(src, masked string, b block, lines lineIndex) (rustItem, bool) {
	sig := skipAttributes(masked, b.start, b.open)
	header := collapse(masked[sig:b.open])
	if header == "" {
		return rustItem{}, false
	}
	it := rustItem{Signature: collapse(src[sig:b.open]), Lead: src[b.start:sig]}
	it.Kind, it.Name = itemKind(header)
	if it.Kind == "" {
		return rustItem{}, false
	}
	it.Doc, it.Attrs = leadDocAttrs(src[b.start:sig], masked[b.start:sig])
	lineStart := strings.LastIndexByte(src[:sig], '\n') + 1
	it.Code = dedent(src[lineStart:min(b.close+1, len(src))])
	it.FirstLine = lines.line(firstNonSpace(src, b.start, sig))
	it.SigLine = lines.line(sig)
	it.LastLine = lines.line(b.close)
	return it, true
}

// itemKind names an item from its header (attributes removed, whitespace collapsed).
func itemKind(header string) (kind, name string) {
	rest := header[len(visibilityRE.FindString(header)):]
	if m := fnRE.FindStringSubmatch(rest); m != nil {
		return "fn", m[7]
	}
	if implRE.MatchString(rest) {
		return "impl", implType(rest)
	}
	if m := namedRE.FindStringSubmatch(rest); m != nil {
		return m[3], m[4]
	}
	if m := macroRE.FindStringSubmatch(header); m != nil {
		return "macro", m[1]
	}
	return "", ""
}

// implType returns the type of "impl<T> Trait<T> for Type<T> where …" or "impl<T> Type<T>".
func implType(header string) string {
	rest := strings.TrimSpace(header[strings.Index(header, "impl")+4:])
	rest = skipGenerics(rest)
	if i := strings.Index(rest, " where "); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, " for "); i >= 0 {
		rest = strings.TrimSpace(rest[i+5:])
	}
	rest = strings.TrimLeft(rest, "&!* ")
	end := 0
	for end < len(rest) && (isIdent(rest[end]) || rest[end] == ':') {
		end++
	}
	name := rest[:end]
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	return name
}

// skipGenerics drops a leading <…> (nested angle brackets counted).
func skipGenerics(s string) string {
	if !strings.HasPrefix(s, "<") {
		return s
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			depth++
		case '>':
			if i > 0 && s[i-1] == '-' {
				continue
			}
			depth--
			if depth == 0 {
				return strings.TrimSpace(s[i+1:])
			}
		}
	}
	return ""
}

// skipAttributes returns the index of the first code after the attributes and white space that
// start masked[from:to].
func skipAttributes(masked string, from, to int) int {
	i := from
	for {
		for i < to && isSpace(masked[i]) {
			i++
		}
		if i+1 < to && masked[i] == '#' && (masked[i+1] == '[' || masked[i+1] == '!') {
			end := matchBracket(masked, strings.IndexByte(masked[i:to], '[')+i, to)
			if end < 0 {
				return i
			}
			i = end + 1
			continue
		}
		return i
	}
}

// matchBracket returns the index of the ']' closing the '[' at open, or -1.
func matchBracket(masked string, open, to int) int {
	if open < 0 || open >= to || masked[open] != '[' {
		return -1
	}
	depth := 0
	for i := open; i < to; i++ {
		switch masked[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// leadDocAttrs reads the /// doc comment and the attributes written before an item.
func leadDocAttrs(lead, maskedLead string) (doc string, attrs []string) {
	var docLines []string
	for _, line := range strings.Split(lead, "\n") {
		t := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(t, "///"); ok && !strings.HasPrefix(rest, "/") {
			docLines = append(docLines, strings.TrimPrefix(rest, " "))
		}
	}
	i := 0
	for i < len(maskedLead) {
		j := strings.Index(maskedLead[i:], "#[")
		if j < 0 {
			break
		}
		end := matchBracket(maskedLead, i+j+1, len(maskedLead))
		if end < 0 {
			break
		}
		attrs = append(attrs, collapse(lead[i+j:end+1]))
		i = end + 1
	}
	return strings.TrimSpace(strings.Join(docLines, "\n")), attrs
}

// moduleDoc returns the //! doc comment at the top of a file.
func moduleDoc(src string) string {
	var docLines []string
	for _, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(t, "//!"); ok {
			docLines = append(docLines, strings.TrimPrefix(rest, " "))
			continue
		}
		if t == "" || strings.HasPrefix(t, "//") || strings.HasPrefix(t, "#![") {
			continue
		}
		break
	}
	return strings.TrimSpace(strings.Join(docLines, "\n"))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// collapse joins the words of s with single spaces.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func firstNonSpace(s string, from, to int) int {
	for i := from; i < to; i++ {
		if !isSpace(s[i]) {
			return i
		}
	}
	return to
}

// dedent removes the indentation shared by all non-blank lines and trailing white space.
func dedent(code string) string {
	lines := strings.Split(strings.TrimRight(code, " \t\r\n"), "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if len(l) >= indent && indent > 0 {
			l = l[indent:]
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// lineIndex maps byte offsets to 1-based line numbers.
type lineIndex []int

func newLineIndex(s string) lineIndex {
	idx := lineIndex{0}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (l lineIndex) line(offset int) int {
	lo, hi := 0, len(l)
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if l[mid] <= offset {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1
}
