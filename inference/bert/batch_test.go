package bert

import (
	"fmt"
	"math"
	"testing"
)

// TestLargeBatchMatchesAlone embeds enough texts for the layers to split the
// batch by tokens (alone, a text's layers split the weight rows instead),
// on one and on two workers: every embedding must be the same bits as the
// text's embedding alone.
func TestLargeBatchMatchesAlone(t *testing.T) {
	enc, err := Load(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	words := []string{"the", "borrow", "checker", "Vec<T>", "is", "mutable", "error[E0502]:", "cannot", "rust", "fn"}
	var texts []string
	tokens := 0
	for i := 0; tokens < 300; i++ {
		text := ""
		for j := range 1 + i%7 {
			text += words[(i*3+j)%len(words)] + " "
		}
		texts = append(texts, text)
		tokens += len(enc.Tokenizer().Encode(text))
	}
	alone := make([][]float32, len(texts))
	for i, text := range texts {
		out, err := enc.Embed([]string{text})
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = out[0]
	}
	for _, workers := range []int{1, 2} {
		enc.workers = workers
		all, err := enc.Embed(texts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range texts {
			for j := range all[i] {
				if math.Float32bits(all[i][j]) != math.Float32bits(alone[i][j]) {
					t.Fatalf("%d workers, text %d %q of %d (%d tokens): component %d is %g in the batch, %g alone",
						workers, i, texts[i], len(texts), tokens, j, all[i][j], alone[i][j])
				}
			}
		}
	}
	if fmt.Sprint(alone[0]) == fmt.Sprint(alone[1]) {
		t.Fatalf("texts %q and %q have the same embedding", texts[0], texts[1])
	}
}
