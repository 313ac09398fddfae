package tokenizer

import (
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// GGUFVocab is the tokenizer metadata of a GGUF file (the tokenizer.ggml.* keys).
type GGUFVocab struct {
	Model  string   // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece-style BPE)
	Pre    string   // tokenizer.ggml.pre, the pre-tokenizer name
	Tokens []string // tokenizer.ggml.tokens
	Types  []int32  // tokenizer.ggml.token_type (may be empty: all normal)
	Merges []string // tokenizer.ggml.merges, "left right"
	BOS    int      // tokenizer.ggml.bos_token_id, -1 if absent
	EOS    int      // tokenizer.ggml.eos_token_id, -1 if absent
	UNK    int      // tokenizer.ggml.unknown_token_id, -1 if absent (unused: like Hugging Face, bytes missing from the vocabulary are dropped)
	PAD    int      // tokenizer.ggml.padding_token_id, -1 if absent (unused by encoding)
	AddBOS bool     // tokenizer.ggml.add_bos_token (see DefaultAddBOS when the key is absent)
	AddEOS bool     // tokenizer.ggml.add_eos_token
	// Scores is tokenizer.ggml.scores, the merge priorities of "llama" vocabularies.
	Scores []float32
	// NoSpacePrefix is tokenizer.ggml.add_space_prefix false ("llama" vocabularies
	// put a space before each text segment unless it says so).
	NoSpacePrefix bool
}

// GGUF token types.
const (
	TypeNormal      = 1
	TypeUnknown     = 2
	TypeControl     = 3
	TypeUserDefined = 4
	TypeUnused      = 5
	TypeByte        = 6
)

// DefaultAddBOS is llama.cpp's choice of add_bos_token for a pre-tokenizer name when
// the GGUF file does not set tokenizer.ggml.add_bos_token.
func DefaultAddBOS(pre string) bool {
	return preFamily(pre) == "llama3"
}

// preFamily maps llama.cpp pre-tokenizer names onto the splitters implemented here.
func preFamily(pre string) string {
	switch pre {
	case "gpt2", "gpt-2", "phi-2", "roberta-bpe", "jina-es", "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "mpt", "olmo":
		return "gpt2"
	case "smollm", "starcoder", "refact", "codeshell":
		return "smollm"
	case "llama3", "llama-v3", "llama-bpe", "falcon3":
		return "llama3"
	case "qwen2", "deepseek-r1-qwen", "stablelm2", "megrez":
		return "qwen2"
	}
	return ""
}

// FromGGUF builds a tokenizer from GGUF metadata. Control tokens (type 3) and
// user-defined tokens (type 4) are recognized in the text like Hugging Face added
// tokens; control tokens are special. The pre-tokenizer follows tokenizer.ggml.pre:
// smollm (and starcoder) split digits, then apply the GPT-2 regex; gpt2 uses the
// GPT-2 regex; llama-bpe (llama3) the Llama 3 regex, with whole-word vocabulary
// hits taking precedence over merges; qwen2 the Qwen2 regex after NFC
// normalization, as the Hugging Face tokenizers of those models do.
func FromGGUF(v GGUFVocab) (*Tokenizer, error) {
	if v.Model == "llama" {
		return fromGGUFSPM(v)
	}
	if v.Model != "gpt2" {
		return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.model %q is not supported (supported: \"gpt2\", byte-level BPE, and \"llama\", SentencePiece-style BPE)", v.Model)
	}
	if len(v.Types) != 0 && len(v.Types) != len(v.Tokens) {
		return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.token_type has %d entries for %d tokens", len(v.Types), len(v.Tokens))
	}
	pre, ignoreMerges, err := ggufPipeline(v.Pre)
	if err != nil {
		return nil, err
	}
	s := spec{vocab: make(map[string]int, len(v.Tokens)), pre: pre, ignoreMerges: ignoreMerges, unk: -1,
		bos: validID(v.BOS, len(v.Tokens)), eos: validID(v.EOS, len(v.Tokens))}
	if preFamily(v.Pre) == "qwen2" {
		s.normalize = norm.NFC.String // as the Hugging Face Qwen2 tokenizer does
	}
	if err := ggufTokens(v, &s); err != nil {
		return nil, err
	}
	if s.merges, err = ggufMerges(v.Merges); err != nil {
		return nil, err
	}
	s.prefix, s.suffix = v.affixes(s.bos, s.eos)
	t, err := build(s)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: GGUF vocabulary: %w", err)
	}
	return t, nil
}

func ggufPipeline(pre string) (pipeline, bool, error) {
	switch preFamily(pre) {
	case "gpt2":
		return pipeline{scanSplit{gpt2Scanner}}, false, nil
	case "smollm":
		return pipeline{digitSplit{individual: true}, scanSplit{gpt2Scanner}}, false, nil
	case "llama3":
		return pipeline{scanSplit{llama3Scanner}}, true, nil
	case "qwen2":
		return pipeline{scanSplit{qwen2Scanner}}, false, nil
	}
	return nil, false, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.pre %q is not supported (supported: smollm, gpt2, llama-bpe/llama3, qwen2 and their aliases)", pre)
}

// affixes are the ids Encode puts before and after the text: BOS and EOS
// where the file asks for them (bos and eos are -1 when missing).
func (v GGUFVocab) affixes(bos, eos int) (prefix, suffix []int) {
	if v.AddBOS && bos >= 0 {
		prefix = []int{bos}
	}
	if v.AddEOS && eos >= 0 {
		suffix = []int{eos}
	}
	return prefix, suffix
}

func validID(id, n int) int {
	if id < 0 || id >= n {
		return -1
	}
	return id
}

func ggufTokens(v GGUFVocab, s *spec) error {
	for id, tok := range v.Tokens {
		typ := int32(TypeNormal)
		if len(v.Types) > 0 {
			typ = v.Types[id]
		}
		switch typ {
		case TypeControl, TypeUnknown, TypeUserDefined:
			if tok == "" {
				return fmt.Errorf("tokenizer: GGUF tokenizer.ggml.tokens[%d] is an empty special token", id)
			}
			s.added = append(s.added, addedToken{content: tok, id: id, special: typ != TypeUserDefined})
		default:
			s.vocab[tok] = id
		}
	}
	return nil
}

func ggufMerges(lines []string) ([][2]string, error) {
	merges := make([][2]string, len(lines))
	for i, line := range lines {
		left, right, ok := strings.Cut(line, " ")
		if !ok || left == "" || right == "" {
			return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.merges[%d] %q is not \"left right\"", i, line)
		}
		merges[i] = [2]string{left, right}
	}
	return merges, nil
}
