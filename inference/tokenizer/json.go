package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// hfTokenizer is the part of a Hugging Face tokenizer.json that byte-level BPE uses.
type hfTokenizer struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         hfModel         `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfModel struct {
	Type                    string          `json:"type"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	UnkToken                *string         `json:"unk_token"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	Dropout                 *float64        `json:"dropout"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
}

// typed is the "type" tag every tokenizer.json component carries.
type typed struct {
	Type string `json:"type"`
}

// FromJSON builds a tokenizer from a Hugging Face tokenizer.json holding a byte-level
// BPE model: model.type "BPE" with a ByteLevel pre-tokenizer, merges written either
// as "a b" strings or as [a, b] pairs, added_tokens, a pre_tokenizer made of
// Sequence, Split (regex or string, any behavior), Digits and ByteLevel, and a
// normalizer that is null or NFC. Anything else is an error naming the field.
//
// BOS is the special token the post_processor template puts first, if any (Encode
// adds it); otherwise, and for EOS, well-known token names are looked up. FromHF
// reads both from tokenizer_config.json instead.
func FromJSON(data []byte) (*Tokenizer, error) {
	var hf hfTokenizer
	if err := json.Unmarshal(data, &hf); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	s, err := hf.spec()
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	t, err := build(s)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	if t.bos < 0 {
		t.bos = t.firstKnown("<|begin_of_text|>", "<s>", "<|startoftext|>", "<bos>")
	}
	t.eos = t.firstKnown("<|eot_id|>", "<|im_end|>", "</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>")
	return t, nil
}

// FromHF builds a tokenizer from a tokenizer.json and the tokenizer_config.json next
// to it, which names the BOS and EOS tokens (bos_token, eos_token).
func FromHF(tokenizerJSON, configJSON []byte) (*Tokenizer, error) {
	t, err := FromJSON(tokenizerJSON)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		BOS json.RawMessage `json:"bos_token"`
		EOS json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(configJSON, &cfg); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer_config.json: %w", err)
	}
	if t.bos, err = t.configToken(cfg.BOS, "bos_token", t.bos); err != nil {
		return nil, err
	}
	if t.eos, err = t.configToken(cfg.EOS, "eos_token", t.eos); err != nil {
		return nil, err
	}
	return t, nil
}

// configToken resolves a tokenizer_config.json token entry: a string, an object with
// "content", or null (keep fallback).
func (t *Tokenizer) configToken(raw json.RawMessage, field string, fallback int) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return fallback, nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		var obj struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return 0, fmt.Errorf("tokenizer: tokenizer_config.json %s: want a string or {\"content\": ...}", field)
		}
		name = obj.Content
	}
	id, ok := t.ids[name]
	if !ok {
		return 0, fmt.Errorf("tokenizer: tokenizer_config.json %s %q is not in the vocabulary", field, name)
	}
	return id, nil
}

func (t *Tokenizer) firstKnown(names ...string) int {
	for _, name := range names {
		if id, ok := t.ids[name]; ok {
			return id
		}
	}
	return -1
}

func (hf *hfTokenizer) spec() (spec, error) {
	s := spec{vocab: hf.Model.Vocab, unk: -1, bos: -1, eos: -1}
	if err := hf.Model.check(); err != nil {
		return s, err
	}
	var err error
	if s.merges, err = parseMerges(hf.Model.Merges); err != nil {
		return s, err
	}
	s.ignoreMerges = hf.Model.IgnoreMerges
	s.fuseUnk = hf.Model.FuseUnk
	if u := hf.Model.UnkToken; u != nil {
		id, ok := hf.Model.Vocab[*u]
		if !ok {
			return s, fmt.Errorf("model.unk_token %q is not in model.vocab", *u)
		}
		s.unk = id
	}
	if s.normalize, err = parseNormalizer(hf.Normalizer, "normalizer"); err != nil {
		return s, err
	}
	if s.pre, err = parsePreTokenizer(hf.PreTokenizer); err != nil {
		return s, err
	}
	if err := checkDecoder(hf.Decoder, "decoder"); err != nil {
		return s, err
	}
	s.added = hf.addedTokens()
	if s.prefix, s.suffix, err = hf.template(); err != nil {
		return s, err
	}
	if len(s.prefix) > 0 {
		s.bos = s.prefix[0]
	}
	return s, nil
}

func (m *hfModel) check() error {
	switch {
	case m.Type != "" && m.Type != "BPE":
		return fmt.Errorf("model.type %q is not supported (only BPE)", m.Type)
	case len(m.Vocab) == 0:
		return fmt.Errorf("model.vocab is missing or empty")
	case m.ByteFallback:
		return fmt.Errorf("model.byte_fallback is true: SentencePiece-style BPE is not supported, only byte-level")
	case m.Dropout != nil && *m.Dropout != 0:
		return fmt.Errorf("model.dropout %v is not supported", *m.Dropout)
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return fmt.Errorf("model.continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return fmt.Errorf("model.end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	}
	return nil
}

// parseMerges reads model.merges as ["a b", ...] or [["a", "b"], ...].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		return pairs, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, fmt.Errorf("model.merges: want a list of \"a b\" strings or of [a, b] pairs")
	}
	pairs = make([][2]string, len(lines))
	for i, line := range lines {
		left, right, ok := strings.Cut(line, " ")
		if !ok || left == "" || right == "" {
			return nil, fmt.Errorf("model.merges[%d] %q is not \"left right\"", i, line)
		}
		pairs[i] = [2]string{left, right}
	}
	return pairs, nil
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// parseNormalizer accepts null, NFC, and Sequences of those.
func parseNormalizer(raw json.RawMessage, path string) (func(string) string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var n struct {
		Type        string            `json:"type"`
		Normalizers []json.RawMessage `json:"normalizers"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch n.Type {
	case "NFC":
		return norm.NFC.String, nil
	case "Sequence":
		var out func(string) string
		for i, sub := range n.Normalizers {
			f, err := parseNormalizer(sub, fmt.Sprintf("%s.normalizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if f != nil {
				out = f
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s.type %q is not supported (only null or NFC)", path, n.Type)
}

// checkDecoder accepts a ByteLevel decoder (or none, decoded the same way).
func checkDecoder(raw json.RawMessage, path string) error {
	if isNull(raw) {
		return nil
	}
	var d struct {
		Type     string            `json:"type"`
		Decoders []json.RawMessage `json:"decoders"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch d.Type {
	case "ByteLevel":
		return nil
	case "Sequence":
		for i, sub := range d.Decoders {
			if err := checkDecoder(sub, fmt.Sprintf("%s.decoders[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%s.type %q is not supported (only ByteLevel)", path, d.Type)
}

func (hf *hfTokenizer) addedTokens() []addedToken {
	out := make([]addedToken, 0, len(hf.AddedTokens))
	for _, a := range hf.AddedTokens {
		out = append(out, addedToken{content: a.Content, id: a.ID, special: a.Special, lstrip: a.LStrip,
			rstrip: a.RStrip, singleWord: a.SingleWord, normalized: a.Normalized})
	}
	return out
}
