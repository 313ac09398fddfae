// Package rag ingests documentation (the Rust books from rustup's doc folder, Markdown
// tutorials) into the app's SQLite database as heading-aware chunks and searches them with
// FTS5 BM25, with Rust paths and identifiers split so both a whole path and its parts match.
// Dense vectors are not part of this slice: Chunk.Text is what an embedder would embed.
package rag

// BlockKind tells prose from code.
type BlockKind int

// Block kinds.
const (
	TextBlock BlockKind = iota
	CodeBlock
)

// Block is one paragraph, list item, table or code block of a section.
type Block struct {
	Kind BlockKind
	Text string
	Lang string // code blocks: "rust", "console", … (may be empty)
}

// Section is the text under one heading, up to the next heading.
type Section struct {
	Path   []string // heading titles from the page's title down to this heading
	Anchor string   // the heading's id, for the URL fragment
	Blocks []Block
}

// Page is one parsed document: its title and its sections in order.
type Page struct {
	Title    string
	Sections []Section
}
