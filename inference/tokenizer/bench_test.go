package tokenizer

import (
	"strings"
	"testing"
)

// benchText is about 1 MB of the corpus.
func benchText(b *testing.B) string {
	c := corpus(b)
	return strings.Repeat(c, 1<<20/len(c)+1)
}

// BenchmarkEncode measures SmolLM2 encoding with the word cache warm, as in steady use.
func BenchmarkEncode(b *testing.B) {
	tok := smol(b)
	text := benchText(b)
	tok.Encode(text)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.Encode(text)
	}
}

// BenchmarkEncodeUncached measures encoding with every word merged from scratch.
func BenchmarkEncodeUncached(b *testing.B) {
	tok, err := FromJSON(smolJSON(b))
	if err != nil {
		b.Fatal(err)
	}
	tok.model.(*bpe).cache = newWordCache(0)
	text := benchText(b)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.Encode(text)
	}
}

func BenchmarkDecode(b *testing.B) {
	tok := smol(b)
	text := benchText(b)
	ids := tok.Encode(text)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.Decode(ids)
	}
}

func BenchmarkFromJSON(b *testing.B) {
	data := smolJSON(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := FromJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}
