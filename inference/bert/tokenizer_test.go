package bert

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func tinyTokenizerJSON(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tinyDir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTokenizerRules(t *testing.T) {
	tok, err := parseTokenizer([]byte(tinyTokenizerJSON(t)), 64)
	if err != nil {
		t.Fatal(err)
	}
	// Ids of the tiny vocabulary: [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, the 5,
	// borrow 6, check 7, ##er 8, ##s 9, rust 10, cafe 26, ! 27, , 28, 中 30, 文 31.
	for _, c := range []struct {
		text string
		want []int
	}{
		{"THE Borrow", []int{2, 5, 6, 3}},
		{"checkers", []int{2, 7, 8, 9, 3}},                             // longest pieces first
		{"cafÉ, rust!", []int{2, 26, 28, 10, 27, 3}},                   // accents stripped, punctuation split
		{"cafe\u0301", []int{2, 26, 3}},                                // combining accent dropped
		{"中文rust", []int{2, 30, 31, 10, 3}},                            // ideographs are words of their own
		{"the\x00 \u200bborrow\ufeff\ue000 \ufffd", []int{2, 5, 6, 3}}, // control, format, private use, U+FFFD dropped
		{"the\u00a0rust\u3000borrow\tthe\nthe", []int{2, 5, 10, 6, 5, 5, 3}},
		{"the[MASK]borrow", []int{2, 5, 4, 6, 3}},         // added tokens matched in the raw text
		{"[mask]", []int{2, 16, 1, 17, 3}},                // added tokens are case-sensitive
		{"checkx", []int{2, 1, 3}},                        // a word that does not split is one [UNK]
		{strings.Repeat("the", 34), []int{2, 1, 3}},       // more than 100 characters
		{strings.Repeat("the", 33) + "x", []int{2, 1, 3}}, // 100 characters, no split
		{"", []int{2, 3}},
		{"bad \xff utf8", []int{2, 1, 1, 3}},
	} {
		if got := tok.Encode(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestTokenizerTruncates(t *testing.T) {
	tok, err := parseTokenizer([]byte(tinyTokenizerJSON(t)), 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("the borrow checker the rust"); !slices.Equal(got, []int{2, 5, 6, 7, 3}) {
		t.Fatalf("Encode = %v, want [CLS] the borrow check [SEP]", got)
	}
	if n := tok.Count("the borrow checker the rust"); n != 6 {
		t.Fatalf("Count = %d, want 6", n)
	}
	if _, err := parseTokenizer([]byte(tinyTokenizerJSON(t)), 1); err == nil {
		t.Fatal("max length 1 accepted")
	}
}

func TestTokenizerRefusesUnsupportedParts(t *testing.T) {
	for _, c := range []struct{ old, new, want string }{
		{`"type": "WordPiece"`, `"type": "Unigram"`, "model.type"},
		{`"type": "BertNormalizer"`, `"type": "NFKC"`, "normalizer.type"},
		{`"type": "BertPreTokenizer"`, `"type": "Whitespace"`, "pre_tokenizer.type"},
		{`"type": "TemplateProcessing"`, `"type": "RobertaProcessing"`, "post_processor.type"},
		{`"unk_token": "[UNK]"`, `"unk_token": "<unk>"`, "model.unk_token"},
		{`"normalized": false`, `"normalized": true`, "added_tokens[0]"},
		{`"lstrip": false`, `"lstrip": true`, "added_tokens[0]"},
		{`"max_input_chars_per_word": 100`, `"max_input_chars_per_word": 0`, "model.max_input_chars_per_word"},
		{`"type_id": 0`, `"type_id": 1`, "post_processor.single[0]"},
		{`"vocab": {`, `"vocab": {"zz": -1, `, "model.vocab"},
	} {
		js := tinyTokenizerJSON(t)
		if !strings.Contains(js, c.old) {
			t.Fatalf("tokenizer.json has no %s", c.old)
		}
		_, err := parseTokenizer([]byte(strings.Replace(js, c.old, c.new, 1)), 16)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: error %v, want one naming %s", c.old, c.new, err, c.want)
		}
	}
	if _, err := parseTokenizer([]byte(`{"model": `), 16); err == nil {
		t.Error("truncated JSON accepted")
	}
}
