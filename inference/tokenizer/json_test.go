package tokenizer

import (
	"strings"
	"testing"
)

const tinyModel = `"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}`
const tinyPre = `"pre_tokenizer": {"type": "ByteLevel"}`

func TestFromJSONErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name, json, want string
	}{
		{"not json", `{"model": `, "tokenizer.json"},
		{"wordpiece", `{"model": {"type": "WordPiece", "vocab": {"a": 0}}, ` + tinyPre + `}`, `model.type "WordPiece"`},
		{"no vocab", `{"model": {"type": "BPE"}, ` + tinyPre + `}`, "model.vocab"},
		{"byte fallback", `{"model": {"type": "BPE", "vocab": {"a": 0}, "byte_fallback": true}, ` + tinyPre + `}`, "model.byte_fallback"},
		{"dropout", `{"model": {"type": "BPE", "vocab": {"a": 0}, "dropout": 0.1}, ` + tinyPre + `}`, "model.dropout"},
		{"subword prefix", `{"model": {"type": "BPE", "vocab": {"a": 0}, "continuing_subword_prefix": "##"}, ` + tinyPre + `}`, "model.continuing_subword_prefix"},
		{"bad merges", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [1, 2]}, ` + tinyPre + `}`, "model.merges"},
		{"merge syntax", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}, ` + tinyPre + `}`, "model.merges[0]"},
		{"merge token", `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}, ` + tinyPre + `}`, "merges[0]"},
		{"negative id", `{"model": {"type": "BPE", "vocab": {"a": -4}}, ` + tinyPre + `}`, `token "a" has id -4`},
		{"huge id", `{"model": {"type": "BPE", "vocab": {"a": 900000000}}, ` + tinyPre + `}`, "outside"},
		{"unk", `{"model": {"type": "BPE", "vocab": {"a": 0}, "unk_token": "<unk>"}, ` + tinyPre + `}`, "model.unk_token"},
		{"normalizer", `{` + tinyModel + `, ` + tinyPre + `, "normalizer": {"type": "Lowercase"}}`, `normalizer.type "Lowercase"`},
		{"normalizer seq", `{` + tinyModel + `, ` + tinyPre + `, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "NFKD"}]}}`, `normalizer.normalizers[1].type "NFKD"`},
		{"no pre", `{` + tinyModel + `}`, "pre_tokenizer is null"},
		{"metaspace", `{` + tinyModel + `, "pre_tokenizer": {"type": "Metaspace"}}`, `pre_tokenizer.type "Metaspace"`},
		{"no byte level", `{` + tinyModel + `, "pre_tokenizer": {"type": "Digits"}}`, "no ByteLevel"},
		{"after byte level", `{` + tinyModel + `, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]}}`, "pre_tokenizer.pretokenizers[1]: a Digits step after ByteLevel"},
		{"split behavior", `{` + tinyModel + `, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"String": "-"}, "behavior": "Sideways"}, {"type": "ByteLevel"}]}}`, "pre_tokenizer.pretokenizers[0].behavior"},
		{"split lookahead", `{` + tinyModel + `, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "a(?=b)"}, "behavior": "Isolated"}, {"type": "ByteLevel"}]}}`, "pre_tokenizer.pretokenizers[0].pattern.Regex"},
		{"split pattern", `{` + tinyModel + `, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {}, "behavior": "Isolated"}, {"type": "ByteLevel"}]}}`, "pre_tokenizer.pretokenizers[0].pattern"},
		{"decoder", `{` + tinyModel + `, ` + tinyPre + `, "decoder": {"type": "Metaspace"}}`, `decoder.type "Metaspace"`},
		{"post processor", `{` + tinyModel + `, ` + tinyPre + `, "post_processor": {"type": "BertProcessing"}}`, `post_processor.type "BertProcessing"`},
		{"template token", `{` + tinyModel + `, ` + tinyPre + `, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "special_tokens": {}}}`, `post_processor.single[0]: special token "<s>"`},
		{"added id", `{` + tinyModel + `, ` + tinyPre + `, "added_tokens": [{"id": -1, "content": "<s>", "special": true}]}`, `added token "<s>"`},
	}
	for _, c := range cases {
		_, err := FromJSON([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestFromJSONMinimal(t *testing.T) {
	tok, err := FromJSON([]byte(`{` + tinyModel + `, ` + tinyPre + `}`))
	if err != nil {
		t.Fatal(err)
	}
	if ids := tok.Encode("abba"); len(ids) != 3 || ids[0] != 2 || ids[1] != 1 || ids[2] != 0 {
		t.Errorf("Encode(abba) = %v, want [2 1 0]", ids)
	}
	if tok.BOS() != -1 || tok.EOS() != -1 || tok.AddsBOS() {
		t.Errorf("BOS %d EOS %d", tok.BOS(), tok.EOS())
	}
}

func TestFromJSONTemplateIDOutOfRange(t *testing.T) {
	_, err := FromJSON([]byte(`{` + tinyModel + `, ` + tinyPre + `, "post_processor": {"type": "TemplateProcessing",
		"single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "special_tokens": {"<s>": {"ids": [77]}}}}`))
	if err == nil || !strings.Contains(err.Error(), "template token id 77") {
		t.Errorf("err = %v", err)
	}
}

// FuzzFromJSON feeds corrupt tokenizer.json files: they must give errors, never panics.
func FuzzFromJSON(f *testing.F) {
	f.Add(`{` + tinyModel + `, ` + tinyPre + `}`)
	f.Add(`{"model": {"type": "BPE", "vocab": {"a": 0, "Ġ": 1}, "merges": [["a", "a"]]}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "MergedWithNext", "invert": true}, {"type": "Digits"}, {"type": "ByteLevel", "add_prefix_space": true}]}, "added_tokens": [{"id": 5, "content": "<x>", "special": true, "lstrip": true, "rstrip": true}], "normalizer": {"type": "NFC"}}`)
	f.Fuzz(func(t *testing.T, data string) {
		tok, err := FromJSON([]byte(data))
		if err != nil {
			return
		}
		ids := tok.Encode("a <x> 12  aa\n")
		tok.Decode(append(ids, -1, 1<<40))
	})
}
