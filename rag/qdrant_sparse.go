package rag

import (
	"hash/fnv"
	"slices"
	"strings"

	"rustexpert/store"
)

// The Qdrant backend's lexical ranking is BM25 over a sparse vector per chunk. Its terms are the
// FTS index's: every token of the text as the FTS5 tokenizer splits it (words, lower-cased) and the
// identifier parts and sub-paths Terms adds. A term's index in the vector is the FNV-1a 32-bit hash
// of its text, so the client needs no vocabulary and every process agrees on it; two terms that
// collide (expected about once in a vocabulary of 100,000 terms) share a dimension.
//
// A chunk's value for a term is BM25's term-frequency part, with the FTS index's column weights:
// tf = 5·(count in the title) + 1·(count in the text) + 0.5·(count in the identifier parts), then
// tf·(k1+1) / (tf + k1·(1 − b + b·len/avgLen)), len the weighted count of all the chunk's terms.
// The query's value for each of its terms is 1, and the collection's IDF modifier makes the server
// multiply by the term's inverse document frequency, so the dot product is the chunk's BM25 score.
// avgLen is a constant (a typical chunk), so a chunk's vector does not change as the corpus grows.

// BM25 parameters of the sparse vectors.
const (
	sparseK1     = 1.2
	sparseB      = 0.75
	sparseAvgLen = 300.0
)

// Column weights, as the FTS index's bm25(rag_fts, 5.0, 1.0, 0.5).
const (
	titleWeight = 5.0
	textWeight  = 1.0
	termsWeight = 0.5
)

// SparseVector is a sparse vector: ascending indices and their values.
type SparseVector struct {
	Indices []uint32
	Values  []float32
}

// TermIndex is a term's dimension in the sparse vectors: the FNV-1a 32-bit hash of its text.
func TermIndex(term string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(term))
	return h.Sum32()
}

// lexicalTerms returns the lower-cased tokens of text as the FTS index splits them.
func lexicalTerms(text string) []string {
	var out []string
	for _, w := range words(text) {
		if t := wholeWord(w); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// ChunkSparse is the sparse BM25 vector of a chunk from its title, text and identifier terms
// (store.RAGChunk.Terms, made by Terms).
func ChunkSparse(title, text, terms string) SparseVector {
	tf := map[uint32]float64{}
	length := 0.0
	add := func(field string, weight float64) {
		for _, t := range lexicalTerms(field) {
			tf[TermIndex(t)] += weight
			length += weight
		}
	}
	add(title, titleWeight)
	add(text, textWeight)
	add(terms, termsWeight)
	norm := sparseK1 * (1 - sparseB + sparseB*length/sparseAvgLen)
	return sparseFrom(tf, func(f float64) float64 { return f * (sparseK1 + 1) / (f + norm) })
}

// QuerySparse is the sparse vector of a query: each of its terms (tokens, identifier parts and
// sub-paths) once, with value 1. It is empty when the text has no searchable token.
func QuerySparse(text string) SparseVector {
	tf := map[uint32]float64{}
	for _, t := range lexicalTerms(text + " " + Terms(text)) {
		tf[TermIndex(t)] = 1
	}
	return sparseFrom(tf, func(f float64) float64 { return f })
}

func sparseFrom(tf map[uint32]float64, value func(float64) float64) SparseVector {
	v := SparseVector{Indices: make([]uint32, 0, len(tf)), Values: make([]float32, 0, len(tf))}
	for i := range tf {
		v.Indices = append(v.Indices, i)
	}
	slices.Sort(v.Indices)
	for _, i := range v.Indices {
		v.Values = append(v.Values, float32(value(tf[i])))
	}
	return v
}

// snippetWords is how many words a Qdrant hit's snippet holds, as the FTS5 snippet's 32 tokens.
const snippetWords = 32

// makeSnippet cuts the part of text around the first word that matches a query term, with every
// matching word between SnippetOpen and SnippetClose (the FTS5 snippet's form).
func makeSnippet(text, query string) string {
	want := map[string]bool{}
	for _, t := range lexicalTerms(query + " " + Terms(query)) {
		want[t] = true
	}
	fields := strings.Fields(text)
	first := -1
	for i, f := range fields {
		if snippetMatch(f, want) {
			first = i
			break
		}
	}
	start := max(0, first-snippetWords/4)
	end := min(len(fields), start+snippetWords)
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	for i, f := range fields[start:end] {
		if i > 0 || start > 0 {
			b.WriteByte(' ')
		}
		if snippetMatch(f, want) {
			f = store.SnippetOpen + f + store.SnippetClose
		}
		b.WriteString(f)
	}
	if end < len(fields) {
		b.WriteString(" …")
	}
	return b.String()
}

// snippetMatch reports whether a whitespace-separated field holds a query term as one of its tokens.
func snippetMatch(field string, want map[string]bool) bool {
	for _, t := range lexicalTerms(field) {
		if want[t] {
			return true
		}
	}
	return false
}
