package builtin

import (
	"bytes"
	"slices"
	"testing"

	"rustexpert/inference/gguf"
)

// TestGGUFSentencePieceTokenizer checks that a GGUF file of tokenizer.ggml.model
// "llama" (Llama 2, Mistral 7B, CodeLlama) gets its SentencePiece-style
// tokenizer: scores decide the merges, the space prefix follows
// tokenizer.ggml.add_space_prefix, and characters outside the vocabulary become
// <0xXX> byte tokens.
func TestGGUFSentencePieceTokenizer(t *testing.T) {
	tokens := []string{"<unk>", "<s>", "</s>", "<0x21>", "▁", "h", "i", "▁h", "▁hi", "hi"}
	types := []int32{2, 3, 3, 6, 1, 1, 1, 1, 1, 1}
	scores := []float32{0, 0, 0, 0, -10, -11, -12, -2, -1, -3}
	for _, c := range []struct {
		prefix bool
		want   []int
	}{{true, []int{1, 8, 3}}, {false, []int{1, 9, 3}}} {
		kv := []gguf.KV{{Key: "tokenizer.ggml.model", Value: "llama"}, {Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.token_type", Value: types}, {Key: "tokenizer.ggml.scores", Value: scores},
			{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)}, {Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
			{Key: "tokenizer.ggml.add_bos_token", Value: true}, {Key: "tokenizer.ggml.add_space_prefix", Value: c.prefix}}
		var buf bytes.Buffer
		if err := gguf.Write(&buf, kv, nil); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ggufTokenizer(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Encode("hi!"); !slices.Equal(got, c.want) {
			t.Errorf("add_space_prefix %v: Encode(\"hi!\") = %v, want %v", c.prefix, got, c.want)
		}
	}
}
