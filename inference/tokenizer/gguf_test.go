package tokenizer

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ggufPath finds the bundled SmolLM2 GGUF: $RUSTEXPERT_TEST_GGUF, or the repository's
// models/base folder.
func ggufPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RUSTEXPERT_TEST_GGUF"); p != "" {
		return p
	}
	p := filepath.Join("..", "..", "models", "base", "SmolLM2-135M-Instruct.Q4_1.gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skip("no GGUF model: set RUSTEXPERT_TEST_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf or put it in models/base")
	}
	return p
}

func TestFromGGUFSmolLM2Goldens(t *testing.T) {
	meta, err := readGGUFMeta(ggufPath(t))
	if err != nil {
		t.Fatal(err)
	}
	v := GGUFVocab{BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	v.Model, _ = meta["tokenizer.ggml.model"].(string)
	v.Pre, _ = meta["tokenizer.ggml.pre"].(string)
	v.Tokens = strs(meta["tokenizer.ggml.tokens"])
	v.Merges = strs(meta["tokenizer.ggml.merges"])
	for _, x := range meta["tokenizer.ggml.token_type"].([]any) {
		v.Types = append(v.Types, x.(int32))
	}
	v.BOS = int(meta["tokenizer.ggml.bos_token_id"].(uint32))
	v.EOS = int(meta["tokenizer.ggml.eos_token_id"].(uint32))
	v.AddBOS, _ = meta["tokenizer.ggml.add_bos_token"].(bool)
	tok, err := FromGGUF(v)
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS() != 1 || tok.EOS() != 2 || tok.AddsBOS() || tok.VocabSize() != 49152 || !tok.IsSpecial(1) {
		t.Errorf("BOS %d EOS %d adds %v size %d", tok.BOS(), tok.EOS(), tok.AddsBOS(), tok.VocabSize())
	}
	checkGoldens(t, tok, readJSONL[golden](t, "goldens.jsonl"))
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// readGGUFMeta reads the key/value metadata of a GGUF file (a test helper, enough
// for the tokenizer keys).
func readGGUFMeta(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var head struct {
		Magic   [4]byte
		Version uint32
		Tensors uint64
		KVs     uint64
	}
	if err := binary.Read(r, binary.LittleEndian, &head); err != nil {
		return nil, err
	}
	if string(head.Magic[:]) != "GGUF" || head.Version < 2 {
		return nil, fmt.Errorf("%s: not a GGUF v2+ file", path)
	}
	meta := map[string]any{}
	for i := uint64(0); i < head.KVs; i++ {
		key, err := ggufString(r)
		if err != nil {
			return nil, err
		}
		var typ uint32
		if err := binary.Read(r, binary.LittleEndian, &typ); err != nil {
			return nil, err
		}
		if meta[key], err = ggufValue(r, typ); err != nil {
			return nil, fmt.Errorf("%s: key %s: %w", path, key, err)
		}
	}
	return meta, nil
}

func ggufString(r io.Reader) (string, error) {
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return "", err
	}
	if n > 1<<24 {
		return "", fmt.Errorf("string of %d bytes", n)
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(r, buf)
	return string(buf), err
}

func ggufValue(r io.Reader, typ uint32) (any, error) {
	scalars := map[uint32]func() any{
		0: func() any { return new(uint8) }, 1: func() any { return new(int8) },
		2: func() any { return new(uint16) }, 3: func() any { return new(int16) },
		4: func() any { return new(uint32) }, 5: func() any { return new(int32) },
		6: func() any { return new(float32) }, 7: func() any { return new(bool) },
		10: func() any { return new(uint64) }, 11: func() any { return new(int64) },
		12: func() any { return new(float64) },
	}
	switch typ {
	case 8:
		return ggufString(r)
	case 9:
		return ggufArray(r)
	}
	mk, ok := scalars[typ]
	if !ok {
		return nil, fmt.Errorf("unknown value type %d", typ)
	}
	p := mk()
	if err := binary.Read(r, binary.LittleEndian, p); err != nil {
		return nil, err
	}
	return deref(p), nil
}

func ggufArray(r io.Reader) (any, error) {
	var elem uint32
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &elem); err != nil {
		return nil, err
	}
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	if n > 1<<24 {
		return nil, fmt.Errorf("array of %d elements", n)
	}
	out := make([]any, n)
	for i := range out {
		v, err := ggufValue(r, elem)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func deref(p any) any {
	switch v := p.(type) {
	case *uint8:
		return *v
	case *int8:
		return *v
	case *uint16:
		return *v
	case *int16:
		return *v
	case *uint32:
		return *v
	case *int32:
		return *v
	case *float32:
		return *v
	case *bool:
		return *v
	case *uint64:
		return *v
	case *int64:
		return *v
	case *float64:
		return *v
	}
	return nil
}

func TestFromGGUFErrors(t *testing.T) {
	base := GGUFVocab{Model: "gpt2", Pre: "smollm", Tokens: []string{"a", "b", "ab"}, Merges: []string{"a b"}, BOS: -1, EOS: -1}
	cases := []struct {
		name string
		edit func(*GGUFVocab)
		want string
	}{
		{"unknown model", func(v *GGUFVocab) { v.Model = "t5" }, `tokenizer.ggml.model "t5" is not supported`},
		{"spm without scores", func(v *GGUFVocab) { v.Model = "llama" }, "tokenizer.ggml.scores has 0 entries for 3 tokens"},
		{"spm byte token", func(v *GGUFVocab) {
			v.Model, v.Scores, v.Types = "llama", make([]float32, len(v.Tokens)), make([]int32, len(v.Tokens))
			v.Types[0] = TypeByte
		}, "is a byte token but not <0xXX>"},
		{"unknown pre", func(v *GGUFVocab) { v.Pre = "tekken" }, `tokenizer.ggml.pre "tekken"`},
		{"default pre", func(v *GGUFVocab) { v.Pre = "default" }, `tokenizer.ggml.pre "default"`},
		{"type count", func(v *GGUFVocab) { v.Types = []int32{1} }, "token_type has 1 entries"},
		{"merge syntax", func(v *GGUFVocab) { v.Merges = []string{"ab"} }, "merges[0]"},
		{"merge token", func(v *GGUFVocab) { v.Merges = []string{"a c"} }, "merges[0]"},
		{"no tokens", func(v *GGUFVocab) { v.Tokens, v.Merges = nil, nil }, "empty vocabulary"},
		{"empty control", func(v *GGUFVocab) { v.Types = []int32{3, 1, 1}; v.Tokens[0] = "" }, "tokens[0]"},
	}
	for _, c := range cases {
		v := base
		v.Tokens = append([]string(nil), base.Tokens...)
		c.edit(&v)
		_, err := FromGGUF(v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
	tok, err := FromGGUF(base)
	if err != nil {
		t.Fatal(err)
	}
	if ids := tok.Encode("ab ba"); len(ids) != 3 || ids[0] != 2 {
		t.Errorf("Encode = %v (space bytes are missing from this vocabulary and dropped)", ids)
	}
}

func TestFromGGUFLlama3AddsBOS(t *testing.T) {
	if !DefaultAddBOS("llama-bpe") || DefaultAddBOS("smollm") {
		t.Fatal("DefaultAddBOS is wrong")
	}
	v := GGUFVocab{Model: "gpt2", Pre: "llama-bpe", Tokens: []string{"<s>", "a", "b", "ab", "abab"},
		Types: []int32{3, 1, 1, 1, 1}, Merges: []string{"a b"}, BOS: 0, EOS: -1, AddBOS: true}
	tok, err := FromGGUF(v)
	if err != nil {
		t.Fatal(err)
	}
	// ignore_merges: "abab" is a token, so it is not built from merges.
	if ids := tok.Encode("abab<s>ab"); fmt.Sprint(ids) != "[0 4 0 3]" {
		t.Errorf("Encode = %v, want [0 4 0 3]", ids)
	}
}

func TestFromGGUFQwen2NormalizesNFC(t *testing.T) {
	alphabet := byteAlphabet()
	var tokens []string
	for _, r := range alphabet {
		tokens = append(tokens, string(r))
	}
	tokens = append(tokens, "Ã©") // "é"
	v := GGUFVocab{Model: "gpt2", Pre: "qwen2", Tokens: tokens, Merges: []string{"Ã ©"}, BOS: -1, EOS: -1}
	tok, err := FromGGUF(v)
	if err != nil {
		t.Fatal(err)
	}
	if ids := tok.Encode("e\u0301"); len(ids) != 1 || ids[0] != 256 {
		t.Errorf("Encode(e + combining acute) = %v, want the precomposed é token [256]", ids)
	}
}
