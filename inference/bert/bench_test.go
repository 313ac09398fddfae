package bert

import (
	"strings"
	"testing"
)

// benchChunk is Rust-documentation-like text of about 300 tokens.
var benchChunk = strings.Repeat("A contiguous growable array type, written as Vec<T>, short for 'vector'. "+
	"Vectors have O(1) indexing, amortized O(1) push (to the end) and O(1) pop (from the end). "+
	"error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable. ", 5)

func benchEmbed(b *testing.B, texts []string) {
	enc, err := Load(embedderDir(b))
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	b.ResetTimer()
	for b.Loop() {
		if _, err := enc.Embed(texts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEmbedChunks8(b *testing.B) {
	texts := make([]string, 8)
	for i := range texts {
		texts[i] = benchChunk
	}
	benchEmbed(b, texts)
}

func BenchmarkEmbedQuery(b *testing.B) {
	benchEmbed(b, []string{"how do I fix error[E0502]: cannot borrow as mutable"})
}
