// Package tokenizer implements byte-level BPE tokenization (the GPT-2 scheme used by
// SmolLM, Llama 3, Qwen2 and many others) as Hugging Face tokenizers does it, built
// from a tokenizer.json file (FromJSON) or from the vocabulary a GGUF file carries
// (FromGGUF), and the SentencePiece-style BPE of GGUF files whose tokenizer model is
// "llama" (Llama 2, Mistral 7B, CodeLlama) as llama.cpp does it (spm.go).
package tokenizer

import (
	"fmt"
	"slices"
)

// Tokenizer turns text into token ids and back. It is safe for concurrent use.
type Tokenizer struct {
	tokens    []string // vocabulary spelling of each id ("" for unused ids)
	pieces    [][]byte // bytes each id decodes to
	special   []bool
	ids       map[string]int
	model     wordModel
	pre       pipeline
	normalize func(string) string // nil when the text is used as is
	raw       *addedSet           // added tokens matched in the raw text
	normed    *addedSet           // added tokens matched after normalization
	prefix    []int               // ids put before every Encode result (BOS)
	suffix    []int               // ids put after it
	bos, eos  int
	// dropFirstSpace: a Stream leaves out its text's first space (SentencePiece's
	// space prefix).
	dropFirstSpace bool
}

// wordModel turns a pre-tokenized word (a whole text segment for
// SentencePiece-style vocabularies) into token ids appended to dst.
type wordModel interface {
	encode(word string, dst []int) []int
}

// maxVocab bounds token ids so corrupt input cannot ask for huge tables.
const maxVocab = 1 << 23

// cacheWords is how many distinct words the BPE cache holds before it is cleared.
const cacheWords = 1 << 14

// spec is what FromJSON and FromGGUF read, in a common form.
type spec struct {
	vocab          map[string]int // model tokens by byte-level spelling
	merges         [][2]string    // by rank
	added          []addedToken
	pre            pipeline
	normalize      func(string) string
	ignoreMerges   bool
	unk            int // -1: drop bytes missing from the vocabulary
	fuseUnk        bool
	prefix, suffix []int
	bos, eos       int
}

func build(s spec) (*Tokenizer, error) {
	size, err := vocabSize(s)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{
		tokens: make([]string, size), pieces: make([][]byte, size), special: make([]bool, size),
		ids: make(map[string]int, size), pre: s.pre, normalize: s.normalize,
		prefix: s.prefix, suffix: s.suffix, bos: s.bos, eos: s.eos,
	}
	for _, id := range append(slices.Clip(s.prefix), s.suffix...) {
		if id < 0 || id >= size {
			return nil, fmt.Errorf("template token id %d is outside the vocabulary (%d ids)", id, size)
		}
	}
	t.fillVocab(s.vocab)
	t.fillAdded(s.added)
	if err := t.buildModel(s); err != nil {
		return nil, err
	}
	t.buildAddedSets(s.added)
	return t, nil
}

func vocabSize(s spec) (int, error) {
	size := 0
	for tok, id := range s.vocab {
		if id < 0 || id >= maxVocab {
			return 0, fmt.Errorf("token %q has id %d, outside [0, %d)", tok, id, maxVocab)
		}
		size = max(size, id+1)
	}
	for _, a := range s.added {
		if a.id < 0 || a.id >= maxVocab {
			return 0, fmt.Errorf("added token %q has id %d, outside [0, %d)", a.content, a.id, maxVocab)
		}
		size = max(size, a.id+1)
	}
	if size == 0 {
		return 0, fmt.Errorf("empty vocabulary")
	}
	return size, nil
}

func (t *Tokenizer) fillVocab(vocab map[string]int) {
	dec := newByteLevelDecoder()
	for tok, id := range vocab {
		t.tokens[id] = tok
		t.ids[tok] = id
		if raw, ok := dec.decode(tok); ok {
			t.pieces[id] = raw
		} else {
			t.pieces[id] = []byte(tok)
		}
	}
}

func (t *Tokenizer) fillAdded(added []addedToken) {
	for _, a := range added {
		t.tokens[a.id] = a.content
		t.ids[a.content] = a.id
		t.pieces[a.id] = []byte(a.content)
		t.special[a.id] = a.special
	}
}

func (t *Tokenizer) buildModel(s spec) error {
	alphabet := byteAlphabet()
	m := bpe{merges: make(map[uint64]merge, len(s.merges)), ignoreMerges: s.ignoreMerges,
		unk: int32(s.unk), fuseUnk: s.fuseUnk, cache: newWordCache(cacheWords)}
	for b := range alphabet {
		m.byteIDs[b] = -1
		if id, ok := s.vocab[string(alphabet[b])]; ok {
			m.byteIDs[b] = int32(id)
		}
	}
	for rank, pair := range s.merges {
		left, okL := s.vocab[pair[0]]
		right, okR := s.vocab[pair[1]]
		result, okM := s.vocab[pair[0]+pair[1]]
		if !okL || !okR || !okM {
			return fmt.Errorf("merges[%d] %q %q: a token of the merge is not in the vocabulary", rank, pair[0], pair[1])
		}
		m.merges[pairKey(int32(left), int32(right))] = merge{rank: int32(rank), id: int32(result)}
	}
	if s.ignoreMerges {
		m.whole = make(map[string]int, len(s.vocab))
		dec := newByteLevelDecoder()
		for tok, id := range s.vocab {
			if raw, ok := dec.decode(tok); ok {
				m.whole[string(raw)] = id
			}
		}
	}
	t.model = &m
	return nil
}

func (t *Tokenizer) buildAddedSets(added []addedToken) {
	var raw, normed []addedToken
	for _, a := range added {
		switch {
		case !a.normalized:
			raw = append(raw, a)
		case t.normalize != nil:
			a.content = t.normalize(a.content)
			fallthrough
		default:
			normed = append(normed, a)
		}
	}
	t.raw = newAddedSet(raw)
	t.normed = newAddedSet(normed)
}

// Encode returns the tokens of text. Added and special tokens written in the text
// (such as "<|im_start|>") become their ids, as Hugging Face tokenizers does; the
// BOS token is put first only when the tokenizer is configured to add it.
func (t *Tokenizer) Encode(text string) []int {
	ids := make([]int, 0, len(text)/3+len(t.prefix)+len(t.suffix)+1)
	ids = append(ids, t.prefix...)
	ids = t.encode(text, false, ids)
	return append(ids, t.suffix...)
}

// EncodeChat returns the tokens of a prompt rendered by a chat template: special
// tokens written in it become their ids, and no BOS or EOS is added, since the
// template writes those itself. This is how transformers' apply_chat_template
// tokenizes, and it avoids a doubled BOS for Llama 3 style models.
func (t *Tokenizer) EncodeChat(prompt string) []int {
	return t.encode(prompt, false, make([]int, 0, len(prompt)/3+1))
}

// EncodePlain returns the tokens of text without BOS/EOS and without recognizing
// special tokens in it: "<|im_start|>" in the text is tokenized as ordinary
// characters. Use it for untrusted content placed into a prompt.
func (t *Tokenizer) EncodePlain(text string) []int {
	return t.encode(text, true, make([]int, 0, len(text)/3+1))
}

func (t *Tokenizer) encode(text string, plain bool, ids []int) []int {
	addID := func(id int) { ids = append(ids, id) }
	addWord := func(word string) { ids = t.model.encode(word, ids) }
	addText := func(s string) { t.pre.run(s, addWord) }
	t.raw.split(text, plain, func(s string) {
		if t.normalize != nil {
			s = t.normalize(s)
		}
		t.normed.split(s, plain, addText, addID)
	}, addID)
	return ids
}

// Decode returns the text of ids. Nothing is skipped: special tokens render as their
// text. Ids outside the vocabulary are ignored. The result holds exactly the bytes
// the tokens stand for, so a sequence cut inside a multi-byte character is not valid
// UTF-8 (NewStream avoids that when decoding token by token).
func (t *Tokenizer) Decode(ids []int) string {
	n := 0
	for _, id := range ids {
		n += len(t.piece(id))
	}
	out := make([]byte, 0, n)
	for _, id := range ids {
		out = append(out, t.piece(id)...)
	}
	return string(out)
}

func (t *Tokenizer) piece(id int) []byte {
	if id < 0 || id >= len(t.pieces) {
		return nil
	}
	return t.pieces[id]
}

// TokenID returns the id of a token given its vocabulary spelling (byte-level, so a
// leading space is written 'Ġ'), or of an added token given its text.
func (t *Tokenizer) TokenID(s string) (int, bool) {
	id, ok := t.ids[s]
	return id, ok
}

// Token returns the vocabulary spelling of id, or "" when there is none.
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// VocabSize is one more than the largest token id.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence token id, or -1 when unknown.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS returns the end-of-sequence token id, or -1 when unknown.
func (t *Tokenizer) EOS() int { return t.eos }

// AddsBOS reports whether Encode puts the BOS token first.
func (t *Tokenizer) AddsBOS() bool { return len(t.prefix) > 0 }

// IsSpecial reports whether id is a control token (GGUF token type 3) or a special
// added token (tokenizer.json added_tokens with "special": true).
func (t *Tokenizer) IsSpecial(id int) bool {
	return id >= 0 && id < len(t.special) && t.special[id]
}
