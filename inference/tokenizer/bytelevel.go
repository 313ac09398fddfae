package tokenizer

import "unicode/utf8"

// byteAlphabet is GPT-2's reversible mapping of the 256 byte values onto printable
// runes: printable Latin-1 bytes map to themselves, the rest to U+0100 upwards
// (so the space byte becomes 'Ġ' and the newline 'Ċ').
func byteAlphabet() [256]rune {
	var table [256]rune
	next := rune(256)
	for b := 0; b < 256; b++ {
		if printableByte(b) {
			table[b] = rune(b)
			continue
		}
		table[b] = next
		next++
	}
	return table
}

func printableByte(b int) bool {
	return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
}

// byteLevelDecoder maps alphabet runes back to the bytes they stand for.
type byteLevelDecoder map[rune]byte

func newByteLevelDecoder() byteLevelDecoder {
	table := byteAlphabet()
	d := make(byteLevelDecoder, 256)
	for b, r := range table {
		d[r] = byte(b)
	}
	return d
}

// decode returns the raw bytes a byte-level token stands for, or ok=false when the
// token holds a rune outside the alphabet (such tokens are rendered verbatim).
func (d byteLevelDecoder) decode(token string) ([]byte, bool) {
	out := make([]byte, 0, len(token))
	for _, r := range token {
		b, ok := d[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// encodeBytes maps raw bytes to their byte-level token spelling.
func encodeBytes(table *[256]rune, raw string) string {
	buf := make([]byte, 0, 2*len(raw))
	for i := 0; i < len(raw); i++ {
		buf = utf8.AppendRune(buf, table[raw[i]])
	}
	return string(buf)
}
