package rag

import (
	"strings"
	"unicode"
)

// ChunkOptions bounds chunk sizes, in estimated tokens.
type ChunkOptions struct {
	Min     int // a section smaller than this is merged with the next ones while the sum stays ≤ Max
	Max     int // a chunk is at most this big, except a single code block that is bigger (never split)
	Overlap int // tokens of a section repeated at the start of its next chunk
}

// DefaultChunkOptions are the sizes the app ingests with.
var DefaultChunkOptions = ChunkOptions{Min: 300, Max: 800, Overlap: 80}

// Chunk is one searchable piece of a page.
type Chunk struct {
	Seq    int
	Title  string // the section path: "The Book › 4.2 References and Borrowing › Mutable References"
	Anchor string // the first section's heading id
	Text   string // Markdown: section headings, prose, fenced code
	Tokens int
}

// titleSep joins the parts of a section path.
const titleSep = " › "

// piece is a unit the chunker never splits: a heading line, a sentence group or a code block.
type piece struct {
	section int
	text    string
	tokens  int
	heading bool
	code    bool
}

// chunker assembles pieces into chunks.
type chunker struct {
	opt      ChunkOptions
	prefix   string
	page     Page
	cur      []piece
	curToks  int
	chunks   []Chunk
	sections map[int]bool
}

// ChunkPage splits a page into chunks: boundaries at headings (small neighbouring sections are
// merged up to opt.Max), code blocks whole, long prose split at sentences, and opt.Overlap tokens
// of a section repeated when it continues in the next chunk. prefix starts every title ("The Book").
func ChunkPage(page Page, prefix string, opt ChunkOptions) []Chunk {
	c := &chunker{opt: opt, prefix: prefix, page: page}
	for i, s := range page.Sections {
		ps := sectionPieces(i, s, opt.Max)
		size := 0
		for _, p := range ps {
			size += p.tokens
		}
		if len(c.cur) > 0 && (c.curToks >= opt.Min || c.curToks+size > opt.Max) {
			c.emit()
		}
		for _, p := range ps {
			c.add(p)
		}
	}
	c.emit()
	return c.chunks
}

func (c *chunker) add(p piece) {
	if len(c.cur) > 0 && c.curToks+p.tokens > c.opt.Max && !c.onlyHeadings() {
		overlap := c.overlap(p.section)
		c.emit()
		c.push(piece{section: p.section, text: c.headingOf(p.section), tokens: EstimateTokens(c.headingOf(p.section)), heading: true})
		for _, o := range overlap {
			c.push(o)
		}
	}
	c.push(p)
}

func (c *chunker) push(p piece) {
	c.cur = append(c.cur, p)
	c.curToks += p.tokens
}

func (c *chunker) onlyHeadings() bool {
	for _, p := range c.cur {
		if !p.heading {
			return false
		}
	}
	return true
}

// overlap returns the last prose of section in the current chunk, at most opt.Overlap tokens.
func (c *chunker) overlap(section int) []piece {
	if c.opt.Overlap <= 0 || len(c.cur) == 0 {
		return nil
	}
	last := c.cur[len(c.cur)-1]
	if last.section != section || last.heading || last.code {
		return nil
	}
	sentences := splitSentences(last.text)
	var kept []string
	toks := 0
	for i := len(sentences) - 1; i >= 0; i-- {
		t := EstimateTokens(sentences[i])
		if toks+t > c.opt.Overlap {
			break
		}
		kept = append([]string{sentences[i]}, kept...)
		toks += t
	}
	if len(kept) == 0 {
		return nil
	}
	return []piece{{section: section, text: strings.Join(kept, " "), tokens: toks}}
}

func (c *chunker) headingOf(section int) string {
	path := c.page.Sections[section].Path
	if len(path) == 0 {
		return ""
	}
	return "# " + path[len(path)-1]
}

// emit closes the current chunk.
func (c *chunker) emit() {
	for len(c.cur) > 0 && c.cur[len(c.cur)-1].heading {
		c.cur = c.cur[:len(c.cur)-1] // a heading whose text starts the next chunk
	}
	if len(c.cur) == 0 {
		c.cur, c.curToks = nil, 0
		return
	}
	first := c.cur[0].section
	path := c.page.Sections[first].Path
	var texts []string
	for _, p := range c.cur {
		if p.text != "" {
			texts = append(texts, p.text)
		}
		path = commonPrefix(path, c.page.Sections[p.section].Path)
	}
	text := strings.Join(texts, "\n\n")
	c.chunks = append(c.chunks, Chunk{
		Seq: len(c.chunks), Title: joinTitle(c.prefix, path), Anchor: c.page.Sections[first].Anchor,
		Text: text, Tokens: EstimateTokens(text),
	})
	c.cur, c.curToks = nil, 0
}

func joinTitle(prefix string, path []string) string {
	parts := append([]string{prefix}, path...)
	if prefix == "" {
		parts = path
	}
	return strings.Join(parts, titleSep)
}

func commonPrefix(a, b []string) []string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

// sectionPieces is a section as pieces: its heading, then its blocks, prose longer than max
// split into sentence groups.
func sectionPieces(i int, s Section, max int) []piece {
	var out []piece
	if len(s.Path) > 0 {
		h := "# " + s.Path[len(s.Path)-1]
		out = append(out, piece{section: i, text: h, tokens: EstimateTokens(h), heading: true})
	}
	for _, b := range s.Blocks {
		if b.Kind == CodeBlock {
			t := "```" + b.Lang + "\n" + b.Text + "\n```"
			out = append(out, piece{section: i, text: t, tokens: EstimateTokens(t), code: true})
			continue
		}
		for _, g := range groupSentences(b.Text, max) {
			out = append(out, piece{section: i, text: g, tokens: EstimateTokens(g)})
		}
	}
	return out
}

// groupSentences splits prose into groups of whole sentences of at most max tokens (a sentence
// longer than max is split between words).
func groupSentences(text string, max int) []string {
	if EstimateTokens(text) <= max {
		return []string{text}
	}
	var groups []string
	var cur []string
	toks := 0
	for _, s := range splitSentences(text) {
		for _, part := range splitWords(s, max) {
			t := EstimateTokens(part)
			if toks+t > max && len(cur) > 0 {
				groups = append(groups, strings.Join(cur, " "))
				cur, toks = nil, 0
			}
			cur = append(cur, part)
			toks += t
		}
	}
	if len(cur) > 0 {
		groups = append(groups, strings.Join(cur, " "))
	}
	return groups
}

// splitSentences splits prose after ". ", "! " and "? ".
func splitSentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i+1 < len(text); i++ {
		if (text[i] == '.' || text[i] == '!' || text[i] == '?') && text[i+1] == ' ' {
			out = append(out, text[start:i+1])
			start = i + 2
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// splitWords splits a sentence longer than max tokens between words.
func splitWords(s string, max int) []string {
	if EstimateTokens(s) <= max {
		return []string{s}
	}
	var out, cur []string
	toks := 0
	for _, w := range strings.Fields(s) {
		t := EstimateTokens(w)
		if toks+t > max && len(cur) > 0 {
			out = append(out, strings.Join(cur, " "))
			cur, toks = nil, 0
		}
		cur = append(cur, w)
		toks += t
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, " "))
	}
	return out
}

// EstimateTokens estimates the WordPiece tokens of text: one per punctuation character, one per
// word of up to 8 characters and one more per further 4 characters (long words split into pieces).
func EstimateTokens(text string) int {
	n, word := 0, 0
	endWord := func() {
		if word > 0 {
			n += 1 + max(0, word-8+3)/4
		}
		word = 0
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word++
		case unicode.IsSpace(r):
			endWord()
		default:
			endWord()
			n++
		}
	}
	endWord()
	return n
}
