package rag

import (
	"context"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/go-porterstemmer"
	"golang.org/x/text/unicode/norm"

	"rustexpert/store"
)

// The BM25 ranking of an Index from NewIndex is computed in Go over a copy of the full-text index
// in memory, the same ranking as FTS5's bm25() over rag_fts (k1 1.2, b 0.75, the column weights of
// store.RAGColumnWeights), so that a long question does not make FTS5 score every chunk holding
// one of its common words phrase by phrase (about 2.5 µs a chunk: 33 ms for a 16-word question
// against 18,112 chunks). Words are tokenized as rag_fts's tokenizer does (unicode61 with '_' and
// ':' inside tokens, diacritics removed, then porter's stemmer); a phrase of several words is
// scored by FTS5 itself, whose bm25() sums phrase by phrase, so its score adds to the words'.
// One known difference: symbols that Unicode assigned after the version of FTS5's tables (most
// newer emoji, such as 🦀) are token characters there and separators here; on the Rust docs 4 of
// 59,755 terms differ so, and the rankings of the 180 gold questions are the same.

// FTS5's bm25() constants.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// porterMaxToken is the longest token (in bytes) FTS5's porter tokenizer stems.
const porterMaxToken = 64

// posting is one chunk holding a term: freq is the term's occurrences weighted by column.
type posting struct {
	doc  uint32
	freq float32
}

// lexIndex is the full-text index of every chunk in memory; doc numbers follow ascending chunk ids.
type lexIndex struct {
	generation int64
	chunks     []int64   // chunk id of each doc
	documents  []int64   // the page of each doc
	source     []int32   // index into sources of each doc
	sources    []string  // source names
	norm       []float64 // k1 × (1 − b + b × tokens/average tokens) of each doc
	terms      map[string]int32
	postings   [][]posting
}

// lexBuilder fills a lexIndex chunk by chunk.
type lexBuilder struct {
	ix      *lexIndex
	lengths []float64
	total   float64
	freq    map[int32]float32
	tok     tokenizer
	sources map[string]int32
}

func newLexBuilder(gen int64) *lexBuilder {
	return &lexBuilder{
		ix:      &lexIndex{generation: gen, terms: map[string]int32{}},
		freq:    map[int32]float32{},
		sources: map[string]int32{},
	}
}

// add indexes one chunk; chunks must come by ascending id.
func (b *lexBuilder) add(c store.RAGChunkText) {
	ix := b.ix
	doc := uint32(len(ix.chunks))
	clear(b.freq)
	n := 0
	for col, text := range [3]string{c.Title, c.Text, c.Terms} {
		w := float32(store.RAGColumnWeights[col])
		b.tok.each(text, func(tok []byte) {
			id, ok := ix.terms[string(tok)]
			if !ok {
				id = int32(len(ix.postings))
				ix.terms[string(tok)] = id
				ix.postings = append(ix.postings, nil)
			}
			b.freq[id] += w
			n++
		})
	}
	for id, f := range b.freq {
		ix.postings[id] = append(ix.postings[id], posting{doc: doc, freq: f})
	}
	src, ok := b.sources[c.Source]
	if !ok {
		src = int32(len(ix.sources))
		b.sources[c.Source] = src
		ix.sources = append(ix.sources, c.Source)
	}
	ix.chunks = append(ix.chunks, c.ID)
	ix.documents = append(ix.documents, c.Document)
	ix.source = append(ix.source, src)
	b.lengths = append(b.lengths, float64(n))
	b.total += float64(n)
}

// done computes each doc's length normalization and returns the index.
func (b *lexBuilder) done() *lexIndex {
	ix := b.ix
	avg := b.total / float64(max(len(b.lengths), 1))
	ix.norm = make([]float64, len(b.lengths))
	for i, d := range b.lengths {
		ix.norm[i] = bm25K1 * (1 - bm25B + bm25B*d/avg)
	}
	return ix
}

// buildLexIndex reads every chunk of the store into a lexIndex stamped with generation gen.
func buildLexIndex(ctx context.Context, st *store.Store, gen int64) (*lexIndex, error) {
	b := newLexBuilder(gen)
	err := st.EachRAGChunkText(ctx, func(c store.RAGChunkText) error {
		b.add(c)
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	return b.done(), nil
}

// addTerm adds one term's BM25 score to every doc holding it, as FTS5 scores a phrase: IDF ×
// f·(k1+1) / (f + k1·(1 − b + b·D/avgdl)), with IDF = ln((N − n + 0.5)/(n + 0.5)), at least 1e-6.
func (ix *lexIndex) addTerm(scores []float64, term string) {
	id, ok := ix.terms[term]
	if !ok {
		return
	}
	list := ix.postings[id]
	n, all := float64(len(list)), float64(len(ix.chunks))
	idf := math.Log((all - n + 0.5) / (n + 0.5))
	if idf <= 0 {
		idf = 1e-6
	}
	for _, p := range list {
		f := float64(p.freq)
		scores[p.doc] += idf * (f * (bm25K1 + 1)) / (f + ix.norm[p.doc])
	}
}

// doc returns the doc number of a chunk id.
func (ix *lexIndex) doc(chunk int64) (uint32, bool) {
	i, ok := slices.BinarySearch(ix.chunks, chunk)
	return uint32(i), ok
}

// top returns the best limit chunks of scores (docs with no score are not matched), of source
// only unless it is "".
func (ix *lexIndex) top(scores []float64, source string, limit int) []store.RAGRanked {
	src := int32(-1)
	if source != "" {
		src = -2
		for i, s := range ix.sources {
			if s == source {
				src = int32(i)
			}
		}
	}
	var ids []int64
	var vals []float64
	for d, s := range scores {
		if s > 0 && (src == -1 || ix.source[d] == src) {
			ids = append(ids, ix.chunks[d])
			vals = append(vals, s)
		}
	}
	best := topScores(ids, vals, limit)
	out := make([]store.RAGRanked, len(best))
	for i, b := range best {
		d, _ := ix.doc(b.ChunkID)
		out[i] = store.RAGRanked{ChunkID: b.ChunkID, Document: ix.documents[d], Score: b.Score}
	}
	return out
}

// tokenizer splits text as rag_fts's tokenizer does, reusing its buffers.
type tokenizer struct {
	buf   []byte
	runes []rune
}

// each calls emit with every token of text, folded and stemmed; emit must not keep tok.
func (t *tokenizer) each(text string, emit func(tok []byte)) {
	t.buf = t.buf[:0]
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		i += size
		if r >= utf8.RuneSelf && unicode.Is(unicode.Mn, r) {
			continue // a combining mark: inside the token, and removed with the diacritics
		}
		if isTokenRune(r) {
			t.buf = utf8.AppendRune(t.buf, foldRune(r))
			continue
		}
		if len(t.buf) > 0 {
			emit(t.stem())
			t.buf = t.buf[:0]
		}
	}
	if len(t.buf) > 0 {
		emit(t.stem())
		t.buf = t.buf[:0]
	}
}

// tokens returns the tokens of text.
func (t *tokenizer) tokens(text string) []string {
	var out []string
	t.each(text, func(tok []byte) { out = append(out, string(tok)) })
	return out
}

// stem returns the token in buf through porter's stemmer, as FTS5's porter tokenizer stems it:
// tokens of 3 to 64 bytes, each byte a letter (so a multi-byte character is as many consonants).
func (t *tokenizer) stem() []byte {
	if len(t.buf) < 3 || len(t.buf) > porterMaxToken {
		return t.buf
	}
	t.runes = t.runes[:0]
	for _, c := range t.buf {
		t.runes = append(t.runes, rune(c))
	}
	stemmed := porterstemmer.StemWithoutLowerCasing(t.runes)
	t.buf = t.buf[:0]
	for _, r := range stemmed {
		t.buf = append(t.buf, byte(r))
	}
	return t.buf
}

// isTokenRune reports whether unicode61 (with tokenchars '_:') keeps r inside a token: letters,
// numbers, private-use characters, '_' and ':'.
func isTokenRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || r == ':' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// foldRune case-folds r and removes the diacritics of Latin letters, as unicode61 with
// remove_diacritics 2 does ("É" → "e", "ς" → "σ", "µ" → "μ"; Greek and Cyrillic keep theirs).
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if r != 'ı' { // FTS5 keeps the dotless i
		r = unicode.ToLower(unicode.ToUpper(r))
	}
	if !unicode.Is(unicode.Latin, r) {
		return r
	}
	var enc [utf8.UTFMax]byte
	d := norm.NFD.Append(nil, enc[:utf8.EncodeRune(enc[:], r)]...)
	base, size := utf8.DecodeRune(d)
	for rest := d[size:]; len(rest) > 0; {
		m, n := utf8.DecodeRune(rest)
		if !unicode.Is(unicode.Mn, m) {
			return r
		}
		rest = rest[n:]
	}
	return base
}
