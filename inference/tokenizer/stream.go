package tokenizer

import "unicode/utf8"

// Stream decodes tokens one at a time, as they are generated, without ever
// splitting a UTF-8 character: bytes of a character that is not complete yet are
// held back until the tokens that finish it arrive. A Stream is not safe for
// concurrent use.
type Stream struct {
	t       *Tokenizer
	pending []byte
	leading bool // the text's first byte was seen (and a SentencePiece space prefix dropped)
}

// NewStream starts an incremental decoder.
func (t *Tokenizer) NewStream() *Stream { return &Stream{t: t} }

// Add decodes one more token and returns the text it completes (possibly "").
// Joining everything Add returned, then Flush, gives Decode of all the ids —
// less, for SentencePiece-style vocabularies that put a space before the text,
// the first space, which SentencePiece's decoder drops too.
func (s *Stream) Add(id int) string {
	s.pending = append(s.pending, s.t.piece(id)...)
	if !s.leading && len(s.pending) > 0 {
		s.leading = true
		if s.t.dropFirstSpace && s.pending[0] == ' ' {
			s.pending = s.pending[1:]
		}
	}
	n := completeLen(s.pending)
	if n == 0 {
		return ""
	}
	out := string(s.pending[:n])
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return out
}

// Flush returns the bytes still held back (an unfinished character at the end of
// the output) and empties the stream.
func (s *Stream) Flush() string {
	out := string(s.pending)
	s.pending = s.pending[:0]
	return out
}

// completeLen is the length of b without a trailing, incomplete but so far valid,
// UTF-8 sequence. Invalid bytes count as complete (they will never become valid).
func completeLen(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		c := b[i]
		if c < utf8.RuneSelf {
			return len(b)
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
