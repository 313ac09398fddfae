package tokenizer

import (
	"container/heap"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// spm is SentencePiece-style BPE as llama.cpp runs GGUF files whose
// tokenizer.ggml.model is "llama" (Llama 2, Mistral 7B v0.1–v0.3, CodeLlama,
// TinyLlama): a text segment gets a leading space (add_space_prefix), its
// spaces become "▁", its characters are symbols, and the adjacent pair whose
// joined text is a vocabulary piece of the highest score merges first (the
// leftmost on a tie) until none is left; a character left that is not a
// piece becomes its bytes' <0xXX> tokens. (llama.cpp also splits a merged
// symbol that is not a piece back along its merges; only pieces merge, so
// none is.)
type spm struct {
	ids         map[string]int32 // every token's text
	scores      []float32        // by id
	bytes       [256]int32       // the <0xXX> tokens (or the byte's own piece), -1 where missing
	unk         int32            // for a byte with neither, -1 to drop it
	spacePrefix bool
}

// spmSpace is SentencePiece's visible space.
const spmSpace = "▁"

func (m *spm) encode(text string, dst []int) []int {
	if m.spacePrefix {
		text = " " + text
	}
	s := spmSession{m: m, text: strings.ReplaceAll(text, " ", spmSpace)}
	return s.tokenize(dst)
}

// spmSymbol is a run of the text, linked to its neighbours (-1 at the ends).
type spmSymbol struct {
	start, n   int
	prev, next int
}

// spmBigram is a candidate merge of symbols left and right into a piece of
// the given score, size bytes long when it was offered.
type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// spmQueue orders bigrams by score, the leftmost first on a tie.
type spmQueue []spmBigram

func (q spmQueue) Len() int { return len(q) }
func (q spmQueue) Less(i, j int) bool {
	return q[i].score > q[j].score || q[i].score == q[j].score && q[i].left < q[j].left
}
func (q spmQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *spmQueue) Push(x any)   { *q = append(*q, x.(spmBigram)) }
func (q *spmQueue) Pop() any {
	old := *q
	b := old[len(old)-1]
	*q = old[:len(old)-1]
	return b
}

// spmSession is one segment's tokenization (llama.cpp's llm_tokenizer_spm_session).
type spmSession struct {
	m       *spm
	text    string
	symbols []spmSymbol
	queue   spmQueue
}

func (s *spmSession) tokenize(dst []int) []int {
	for offs := 0; offs < len(s.text); {
		_, n := utf8.DecodeRuneInString(s.text[offs:])
		i := len(s.symbols)
		next := i + 1
		if offs+n == len(s.text) {
			next = -1
		}
		s.symbols = append(s.symbols, spmSymbol{start: offs, n: n, prev: i - 1, next: next})
		offs += n
	}
	for i := 1; i < len(s.symbols); i++ {
		s.offer(i-1, i)
	}
	for s.queue.Len() > 0 {
		b := heap.Pop(&s.queue).(spmBigram)
		left, right := &s.symbols[b.left], &s.symbols[b.right]
		if left.n == 0 || right.n == 0 || left.n+right.n != b.size {
			continue // one of them merged since
		}
		left.n += right.n
		right.n = 0
		left.next = right.next
		if right.next >= 0 {
			s.symbols[right.next].prev = b.left
		}
		s.offer(left.prev, b.left)
		s.offer(b.left, left.next)
	}
	for i := 0; i >= 0 && i < len(s.symbols); i = s.symbols[i].next {
		dst = s.resegment(i, dst)
	}
	return dst
}

// offer queues the merge of symbols left and right when their text is a piece.
func (s *spmSession) offer(left, right int) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.symbols[left], s.symbols[right]
	text := s.text[l.start : l.start+l.n+r.n]
	id, ok := s.m.ids[text]
	if !ok || int(id) >= len(s.m.scores) {
		return
	}
	heap.Push(&s.queue, spmBigram{left: left, right: right, score: s.m.scores[id], size: len(text)})
}

// resegment writes symbol i's tokens: its piece, else its bytes'.
func (s *spmSession) resegment(i int, dst []int) []int {
	sym := s.symbols[i]
	text := s.text[sym.start : sym.start+sym.n]
	if id, ok := s.m.ids[text]; ok {
		return append(dst, int(id))
	}
	for j := range len(text) {
		if id := s.m.bytes[text[j]]; id >= 0 {
			dst = append(dst, int(id))
		} else if s.m.unk >= 0 {
			dst = append(dst, int(s.m.unk))
		}
	}
	return dst
}

// byteToken is the GGUF spelling of byte b's token.
func byteToken(b byte) string { return fmt.Sprintf("<0x%02X>", b) }

// fromGGUFSPM builds the tokenizer of a GGUF file of tokenizer.ggml.model
// "llama". Control and unknown tokens are special; user-defined ones are
// matched in the text like added tokens; <0xXX> tokens decode to their byte,
// and "▁" in the others to a space.
func fromGGUFSPM(v GGUFVocab) (*Tokenizer, error) {
	if len(v.Scores) != len(v.Tokens) {
		return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.scores has %d entries for %d tokens", len(v.Scores), len(v.Tokens))
	}
	n := len(v.Tokens)
	if n == 0 || n >= maxVocab {
		return nil, fmt.Errorf("tokenizer: GGUF vocabulary of %d tokens", n)
	}
	m := &spm{ids: make(map[string]int32, n), scores: v.Scores, unk: int32(validID(v.UNK, n)), spacePrefix: !v.NoSpacePrefix}
	t := &Tokenizer{tokens: make([]string, n), pieces: make([][]byte, n), special: make([]bool, n),
		ids: make(map[string]int, n), model: m, bos: validID(v.BOS, n), eos: validID(v.EOS, n),
		dropFirstSpace: m.spacePrefix}
	var added []addedToken
	for id, tok := range v.Tokens {
		typ := int32(TypeNormal)
		if len(v.Types) > 0 {
			typ = v.Types[id]
		}
		t.tokens[id], t.ids[tok], m.ids[tok] = tok, id, int32(id)
		t.pieces[id] = []byte(strings.ReplaceAll(tok, spmSpace, " "))
		switch typ {
		case TypeByte:
			b, ok := parseByteToken(tok)
			if !ok {
				return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.tokens[%d] %q is a byte token but not <0xXX>", id, tok)
			}
			t.pieces[id] = []byte{b}
		case TypeControl, TypeUnknown, TypeUserDefined:
			if tok == "" {
				return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.tokens[%d] is an empty special token", id)
			}
			t.pieces[id] = []byte(tok)
			t.special[id] = typ != TypeUserDefined
			added = append(added, addedToken{content: tok, id: id, special: typ != TypeUserDefined})
		}
	}
	for b := range 256 {
		m.bytes[b] = -1
		if id, ok := m.ids[byteToken(byte(b))]; ok {
			m.bytes[b] = id
		} else if id, ok := m.ids[string([]byte{byte(b)})]; ok {
			m.bytes[b] = id
		}
	}
	t.prefix, t.suffix = v.affixes(t.bos, t.eos)
	t.buildAddedSets(added)
	return t, nil
}

// parseByteToken reads "<0xXX>".
func parseByteToken(tok string) (byte, bool) {
	if len(tok) != 6 || !strings.HasPrefix(tok, "<0x") || tok[5] != '>' {
		return 0, false
	}
	b, err := strconv.ParseUint(tok[3:5], 16, 8)
	return byte(b), err == nil
}
