package bert

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Tokenizer is a BERT WordPiece tokenizer read from a Hugging Face
// tokenizer.json: BertNormalizer, BertPreTokenizer, a WordPiece model and a
// post-processor that wraps the tokens in [CLS] … [SEP].
type Tokenizer struct {
	norm     normalizer
	vocab    map[string]int // word-initial pieces
	cont     map[string]int // continuing pieces, without their prefix
	unk      int
	maxChars int
	added    []addedToken // longest content first
	prefix   []int        // ids before the text ([CLS])
	suffix   []int        // ids after the text ([SEP])
	maxLen   int          // most ids Encode returns, specials included
}

type addedToken struct {
	content string
	id      int
}

// hfTokenizer is the part of tokenizer.json a BERT WordPiece tokenizer uses.
// Its truncation and padding settings are left out: sentence-transformers
// replaces them by the model's max_seq_length and pads batches itself.
type hfTokenizer struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         hfWordPiece     `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
}

type hfWordPiece struct {
	Type                    string         `json:"type"`
	UnkToken                string         `json:"unk_token"`
	ContinuingSubwordPrefix string         `json:"continuing_subword_prefix"`
	MaxInputCharsPerWord    int            `json:"max_input_chars_per_word"`
	Vocab                   map[string]int `json:"vocab"`
}

type hfNormalizer struct {
	Type               string `json:"type"`
	CleanText          bool   `json:"clean_text"`
	HandleChineseChars bool   `json:"handle_chinese_chars"`
	StripAccents       *bool  `json:"strip_accents"`
	Lowercase          bool   `json:"lowercase"`
}

// hfTemplate is a TemplateProcessing or BertProcessing post-processor.
type hfTemplate struct {
	Type          string           `json:"type"`
	Single        []hfTemplateItem `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
	Sep []json.RawMessage `json:"sep"` // BertProcessing: ["[SEP]", 102]
	Cls []json.RawMessage `json:"cls"`
}

type hfTemplateItem struct {
	SpecialToken *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"Sequence"`
}

// LoadTokenizer reads a BERT tokenizer.json. Encode truncates to maxLen ids
// (special tokens included); maxLen must leave room for them.
func LoadTokenizer(path string, maxLen int) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	t, err := parseTokenizer(data, maxLen)
	if err != nil {
		return nil, fmt.Errorf("bert: %s: %w", path, err)
	}
	return t, nil
}

// parseTokenizer builds a tokenizer from tokenizer.json's bytes.
func parseTokenizer(data []byte, maxLen int) (*Tokenizer, error) {
	var hf hfTokenizer
	if err := json.Unmarshal(data, &hf); err != nil {
		return nil, err
	}
	t := &Tokenizer{maxLen: maxLen}
	steps := []func(*hfTokenizer) error{t.setModel, t.setNormalizer, t.checkPreTokenizer, t.setAdded, t.setPostProcessor}
	for _, step := range steps {
		if err := step(&hf); err != nil {
			return nil, err
		}
	}
	if maxLen < len(t.prefix)+len(t.suffix) {
		return nil, fmt.Errorf("max length %d leaves no room for %d special tokens", maxLen, len(t.prefix)+len(t.suffix))
	}
	return t, nil
}

// setModel reads the WordPiece vocabulary.
func (t *Tokenizer) setModel(hf *hfTokenizer) error {
	m := hf.Model
	if m.Type != "WordPiece" {
		return fmt.Errorf("model.type %q is not supported (want WordPiece)", m.Type)
	}
	if len(m.Vocab) == 0 {
		return fmt.Errorf("model.vocab is empty")
	}
	unk, ok := m.Vocab[m.UnkToken]
	if !ok {
		return fmt.Errorf("model.unk_token %q is not in model.vocab", m.UnkToken)
	}
	if m.MaxInputCharsPerWord <= 0 {
		return fmt.Errorf("model.max_input_chars_per_word is %d, want > 0", m.MaxInputCharsPerWord)
	}
	t.unk, t.maxChars = unk, m.MaxInputCharsPerWord
	t.vocab, t.cont = map[string]int{}, map[string]int{}
	for piece, id := range m.Vocab {
		if id < 0 {
			return fmt.Errorf("model.vocab: %q has id %d", piece, id)
		}
		if rest, ok := strings.CutPrefix(piece, m.ContinuingSubwordPrefix); ok && m.ContinuingSubwordPrefix != "" {
			t.cont[rest] = id
		} else {
			t.vocab[piece] = id
		}
	}
	return nil
}

// setNormalizer reads a BertNormalizer (or none).
func (t *Tokenizer) setNormalizer(hf *hfTokenizer) error {
	if isNull(hf.Normalizer) {
		return nil
	}
	var n hfNormalizer
	if err := json.Unmarshal(hf.Normalizer, &n); err != nil {
		return fmt.Errorf("normalizer: %w", err)
	}
	if n.Type != "BertNormalizer" {
		return fmt.Errorf("normalizer.type %q is not supported (want BertNormalizer)", n.Type)
	}
	t.norm = normalizer{clean: n.CleanText, chinese: n.HandleChineseChars, lower: n.Lowercase, strip: n.Lowercase}
	if n.StripAccents != nil {
		t.norm.strip = *n.StripAccents
	}
	return nil
}

// checkPreTokenizer accepts only BertPreTokenizer.
func (t *Tokenizer) checkPreTokenizer(hf *hfTokenizer) error {
	var p struct {
		Type string `json:"type"`
	}
	if isNull(hf.PreTokenizer) {
		return fmt.Errorf("pre_tokenizer is null (want BertPreTokenizer)")
	}
	if err := json.Unmarshal(hf.PreTokenizer, &p); err != nil {
		return fmt.Errorf("pre_tokenizer: %w", err)
	}
	if p.Type != "BertPreTokenizer" {
		return fmt.Errorf("pre_tokenizer.type %q is not supported (want BertPreTokenizer)", p.Type)
	}
	return nil
}

// setAdded reads the added tokens, which are matched in the raw text before
// normalization.
func (t *Tokenizer) setAdded(hf *hfTokenizer) error {
	for i, a := range hf.AddedTokens {
		switch {
		case a.Content == "":
			return fmt.Errorf("added_tokens[%d]: empty content", i)
		case a.Normalized:
			return fmt.Errorf("added_tokens[%d] (%q): normalized true is not supported", i, a.Content)
		case a.SingleWord || a.LStrip || a.RStrip:
			return fmt.Errorf("added_tokens[%d] (%q): single_word, lstrip and rstrip are not supported", i, a.Content)
		case a.ID < 0:
			return fmt.Errorf("added_tokens[%d] (%q): id %d", i, a.Content, a.ID)
		}
		t.added = append(t.added, addedToken{content: a.Content, id: a.ID})
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	return nil
}

// setPostProcessor reads the ids around a single sequence.
func (t *Tokenizer) setPostProcessor(hf *hfTokenizer) error {
	if isNull(hf.PostProcessor) {
		return nil
	}
	var p hfTemplate
	if err := json.Unmarshal(hf.PostProcessor, &p); err != nil {
		return fmt.Errorf("post_processor: %w", err)
	}
	switch p.Type {
	case "TemplateProcessing":
		return t.setTemplate(p)
	case "BertProcessing":
		return t.setBertProcessing(p)
	}
	return fmt.Errorf("post_processor.type %q is not supported (want TemplateProcessing or BertProcessing)", p.Type)
}

func (t *Tokenizer) setTemplate(p hfTemplate) error {
	seen := false
	for i, item := range p.Single {
		switch {
		case item.Sequence != nil && !seen && item.Sequence.ID == "A" && item.Sequence.TypeID == 0:
			seen = true
		case item.SpecialToken != nil && item.SpecialToken.TypeID == 0:
			st, ok := p.SpecialTokens[item.SpecialToken.ID]
			if !ok {
				return fmt.Errorf("post_processor.single[%d]: %q is not in post_processor.special_tokens", i, item.SpecialToken.ID)
			}
			if seen {
				t.suffix = append(t.suffix, st.IDs...)
			} else {
				t.prefix = append(t.prefix, st.IDs...)
			}
		default:
			return fmt.Errorf("post_processor.single[%d] is not supported (want special tokens and one sequence A, all type_id 0)", i)
		}
	}
	if !seen {
		return fmt.Errorf("post_processor.single has no sequence A")
	}
	return nil
}

func (t *Tokenizer) setBertProcessing(p hfTemplate) error {
	cls, err := tokenID(p.Cls)
	if err != nil {
		return fmt.Errorf("post_processor.cls: %w", err)
	}
	sep, err := tokenID(p.Sep)
	if err != nil {
		return fmt.Errorf("post_processor.sep: %w", err)
	}
	t.prefix, t.suffix = []int{cls}, []int{sep}
	return nil
}

// tokenID reads the id of a ["token", id] pair.
func tokenID(pair []json.RawMessage) (int, error) {
	var id int
	if len(pair) != 2 {
		return 0, fmt.Errorf("want [token, id]")
	}
	if err := json.Unmarshal(pair[1], &id); err != nil {
		return 0, err
	}
	return id, nil
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// MaxLen is the most ids Encode returns, special tokens included.
func (t *Tokenizer) MaxLen() int { return t.maxLen }

// MaxID is the largest id Encode can return.
func (t *Tokenizer) MaxID() int {
	m := t.unk
	for _, ids := range []map[string]int{t.vocab, t.cont} {
		for _, id := range ids {
			m = max(m, id)
		}
	}
	for _, a := range t.added {
		m = max(m, a.id)
	}
	for _, id := range append(append([]int(nil), t.prefix...), t.suffix...) {
		m = max(m, id)
	}
	return m
}

// Encode returns the token ids of text as the model takes them: [CLS], the
// text's pieces cut to MaxLen-2, [SEP].
func (t *Tokenizer) Encode(text string) []int {
	ids := append([]int(nil), t.prefix...)
	limit := t.maxLen - len(t.suffix)
	t.eachPiece(text, func(id int) bool {
		if len(ids) >= limit {
			return false
		}
		ids = append(ids, id)
		return true
	})
	return append(ids, t.suffix...)
}

// Count returns how many pieces text has, before truncation and without
// special tokens.
func (t *Tokenizer) Count(text string) int {
	n := 0
	t.eachPiece(text, func(int) bool { n++; return true })
	return n
}

// eachPiece calls emit with the ids of text's pieces in order until it
// returns false.
func (t *Tokenizer) eachPiece(text string, emit func(int) bool) {
	for text != "" {
		at, tok := t.nextAdded(text)
		if !t.eachWordPiece(text[:at], emit) {
			return
		}
		if tok == nil {
			return
		}
		if !emit(tok.id) {
			return
		}
		text = text[at+len(tok.content):]
	}
}

// nextAdded finds the leftmost added token in text (the longest one at that
// place); it returns len(text) and nil when there is none.
func (t *Tokenizer) nextAdded(text string) (int, *addedToken) {
	best, at := -1, len(text)
	for i, a := range t.added {
		if j := strings.Index(text[:min(len(text), at+len(a.content))], a.content); j >= 0 && j < at {
			best, at = i, j
		}
	}
	if best < 0 {
		return len(text), nil
	}
	return at, &t.added[best]
}

// eachWordPiece normalizes and splits text into words and the words into
// pieces.
func (t *Tokenizer) eachWordPiece(text string, emit func(int) bool) bool {
	if text == "" {
		return true
	}
	for _, word := range preTokenize(t.norm.apply(text)) {
		if !t.wordPiece(word, emit) {
			return false
		}
	}
	return true
}

// wordPiece splits a word greedily into the longest vocabulary pieces; a
// word that does not split completely, or is too long, is one [UNK].
func (t *Tokenizer) wordPiece(word string, emit func(int) bool) bool {
	if runeCount(word) > t.maxChars {
		return emit(t.unk)
	}
	var ids []int
	for start := 0; start < len(word); {
		id, end := t.longestPiece(word, start)
		if end < 0 {
			return emit(t.unk)
		}
		ids = append(ids, id)
		start = end
	}
	for _, id := range ids {
		if !emit(id) {
			return false
		}
	}
	return true
}

// longestPiece finds the longest vocabulary piece of word starting at byte
// start (a continuing piece unless start is 0); end is -1 when none is.
func (t *Tokenizer) longestPiece(word string, start int) (id, end int) {
	vocab := t.vocab
	if start > 0 {
		vocab = t.cont
	}
	for end = len(word); end > start; end = prevRune(word, end) {
		if id, ok := vocab[word[start:end]]; ok {
			return id, end
		}
	}
	return 0, -1
}
