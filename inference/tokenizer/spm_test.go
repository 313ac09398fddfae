package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// spmVocab is testdata/spm_vocab.json (make_spm_goldens.py).
type spmVocab struct {
	Tokens        []string  `json:"tokens"`
	Types         []int32   `json:"types"`
	Scores        []float32 `json:"scores"`
	BOS, EOS, UNK int
}

// loadSPM returns the tokenizer of spm_vocab.json and its token types.
func loadSPM(t *testing.T) (*Tokenizer, []int32) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "spm_vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v spmVocab
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	tok, err := FromGGUF(GGUFVocab{Model: "llama", Tokens: v.Tokens, Types: v.Types, Scores: v.Scores,
		BOS: v.BOS, EOS: v.EOS, UNK: v.UNK, PAD: -1, AddBOS: true})
	if err != nil {
		t.Fatal(err)
	}
	return tok, v.Types
}

// TestSPMGoldens checks SentencePiece-style tokenization (GGUF
// tokenizer.ggml.model "llama") against llama.cpp's own, on a vocabulary
// trained on corpus.txt: every line of it and edge cases (spaces, newlines,
// characters outside the vocabulary as <0xXX> bytes, control and
// user-defined tokens in the text, with and without special tokens parsed),
// and that decoding gives a text without such tokens back after the space
// put before it.
func TestSPMGoldens(t *testing.T) {
	tok, types := loadSPM(t)
	added := func(id int) bool {
		return types[id] == TypeControl || types[id] == TypeUserDefined || types[id] == TypeUnknown
	}
	f, err := os.Open(filepath.Join("testdata", "goldens_spm.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n, bad := 0, 0
	for sc.Scan() {
		var g struct {
			Text           string
			Special, Plain []int
		}
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		n++
		if got := tok.EncodeChat(g.Text); !slices.Equal(got, g.Special) {
			if bad++; bad <= 5 {
				t.Errorf("%q with special tokens:\n got  %v\n want %v", g.Text, got, g.Special)
			}
		}
		if got := tok.EncodePlain(g.Text); !slices.Equal(got, g.Plain) {
			if bad++; bad <= 5 {
				t.Errorf("%q without special tokens:\n got  %v\n want %v", g.Text, got, g.Plain)
			}
		}
		if got := tok.Encode(g.Text); !slices.Equal(got, append([]int{tok.BOS()}, g.Special...)) {
			t.Errorf("%q: Encode does not put BOS before the tokens: %v", g.Text, got)
		}
		if g.Text != "" && !slices.ContainsFunc(g.Plain, added) {
			if got := tok.Decode(g.Plain); got != " "+g.Text {
				t.Errorf("Decode(%v) = %q, want %q", g.Plain, got, " "+g.Text)
			}
		}
	}
	s := tok.NewStream()
	var text string
	for _, id := range tok.EncodePlain("Sure, a crate is\u00a0a package 🦀") {
		text += s.Add(id)
	}
	if text += s.Flush(); text != "Sure, a crate is\u00a0a package 🦀" {
		t.Errorf("a stream decodes %q, want the text without the space put before it", text)
	}
	if n < 250 {
		t.Fatalf("%d goldens, want the corpus's lines and the edge cases", n)
	}
	if bad > 0 {
		t.Errorf("%d of %d tokenizations differ from llama.cpp's", bad, 2*n)
	}
}
