package sftdata

import (
	"fmt"
	"unicode/utf8"

	"rustexpert/inference/chat"
	"rustexpert/inference/gguf"
	"rustexpert/inference/tokenizer"
)

// TokenCounter counts the tokens of a pair as the model will see it in training.
type TokenCounter interface {
	Count(question, answer string) (int, error)
	Name() string
}

// Estimate counts tokens as characters / 4.
type Estimate struct{}

// Count estimates the tokens of the two texts.
func (Estimate) Count(q, a string) (int, error) {
	return (utf8.RuneCountInString(q) + utf8.RuneCountInString(a) + 3) / 4, nil
}

// Name says how tokens are counted.
func (Estimate) Name() string { return "estimated (characters / 4)" }

// ModelTokens counts tokens exactly: the conversation rendered with the model's chat template,
// then encoded by its tokenizer.
type ModelTokens struct {
	path     string
	tok      *tokenizer.Tokenizer
	template *chat.Template
}

// LoadModelTokens reads the tokenizer and chat template of a GGUF model (no weights are loaded).
func LoadModelTokens(path string) (*ModelTokens, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tok, err := ggufTokenizer(f)
	if err != nil {
		return nil, fmt.Errorf("%s: tokenizer: %w", path, err)
	}
	src, err := f.String("tokenizer.chat_template")
	if err != nil {
		return nil, fmt.Errorf("%s: chat template: %w", path, err)
	}
	tmpl, err := chat.Detect(src)
	if err != nil {
		return nil, fmt.Errorf("%s: chat template: %w", path, err)
	}
	return &ModelTokens{path: path, tok: tok, template: tmpl}, nil
}

// Count renders the pair as a user and an assistant turn and counts its tokens.
func (m *ModelTokens) Count(q, a string) (int, error) {
	text, err := m.template.Render([]chat.Message{{Role: "user", Content: q}, {Role: "assistant", Content: a}}, false)
	if err != nil {
		return 0, err
	}
	return len(m.tok.Encode(text)), nil
}

// Name says how tokens are counted.
func (m *ModelTokens) Name() string {
	return fmt.Sprintf("exact (%s chat template and tokenizer of %s)", m.template.Family, m.path)
}

// ggufTokenizer builds the tokenizer from a GGUF file's tokenizer.ggml.* keys.
func ggufTokenizer(f *gguf.File) (*tokenizer.Tokenizer, error) {
	v := tokenizer.GGUFVocab{BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	var err error
	if v.Model, err = f.String("tokenizer.ggml.model"); err != nil {
		return nil, err
	}
	if f.Has("tokenizer.ggml.pre") {
		if v.Pre, err = f.String("tokenizer.ggml.pre"); err != nil {
			return nil, err
		}
	}
	if v.Tokens, err = f.Strings("tokenizer.ggml.tokens"); err != nil {
		return nil, err
	}
	if f.Has("tokenizer.ggml.token_type") {
		if v.Types, err = f.Int32s("tokenizer.ggml.token_type"); err != nil {
			return nil, err
		}
	}
	if f.Has("tokenizer.ggml.merges") {
		if v.Merges, err = f.Strings("tokenizer.ggml.merges"); err != nil {
			return nil, err
		}
	}
	for key, dst := range map[string]*int{"bos": &v.BOS, "eos": &v.EOS, "unknown": &v.UNK, "padding": &v.PAD} {
		k := "tokenizer.ggml." + key + "_token_id"
		if f.Has(k) {
			id, err := f.Uint(k)
			if err != nil {
				return nil, err
			}
			*dst = int(id)
		}
	}
	if f.Has("tokenizer.ggml.add_bos_token") {
		if v.AddBOS, err = f.Bool("tokenizer.ggml.add_bos_token"); err != nil {
			return nil, err
		}
	}
	return tokenizer.FromGGUF(v)
}
