// Package rag ingests documentation (the Rust books and the std/core/alloc API docs from rustup's
// doc folder, the Cargo book, the edition guide, Markdown tutorials) into the app's SQLite database
// as heading-aware chunks and searches them with FTS5 BM25 (Rust paths and identifiers split so
// both a whole path and its parts match), by embedding similarity (the vectors in a sqlite-vec
// table of the same database), or both fused (a weighted sum or reciprocal-rank fusion); a result
// list holds the best chunk of each page. Evaluate scores a retriever against a gold set of questions
// (recall@1/5/10, MRR, nDCG@10, at document and section level).
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
