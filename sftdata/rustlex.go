package sftdata

// maskRust returns src with the contents of comments, string literals and character literals
// replaced by spaces (newlines kept), so braces, semicolons and keywords found in the result are
// code. It handles nested block comments, raw strings (r#"…"#, br"…"), byte strings, escapes and
// the difference between a char literal ('{') and a lifetime ('a). An unterminated literal or
// comment masks the rest of the text: broken input gives fewer items, never a panic.
func maskRust(src string) string {
	out := []byte(src)
	blank := func(from, to int) {
		for i := from; i < to && i < len(out); i++ {
			if out[i] != '\n' {
				out[i] = ' '
			}
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			end := lineEnd(src, i)
			blank(i, end)
			i = end
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := blockCommentEnd(src, i)
			blank(i, end)
			i = end
		case c == '"':
			end := stringEnd(src, i+1)
			blank(i+1, end-1)
			i = end
		case (c == 'r' || c == 'b' || c == 'c') && !identBefore(src, i):
			if end, ok := rawOrByteString(src, i); ok {
				blank(i, end)
				i = end
				continue
			}
			i++
		case c == '\'':
			i = charOrLifetime(src, i, blank)
		default:
			i++
		}
	}
	return string(out)
}

func lineEnd(s string, i int) int {
	for i < len(s) && s[i] != '\n' {
		i++
	}
	return i
}

// blockCommentEnd returns the index after the */ that closes the comment at i (comments nest).
func blockCommentEnd(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch {
		case s[i] == '/' && i+1 < len(s) && s[i+1] == '*':
			depth++
			i += 2
		case s[i] == '*' && i+1 < len(s) && s[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(s)
}

// stringEnd returns the index after the closing quote of a string whose contents start at i.
func stringEnd(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func identBefore(s string, i int) bool { return i > 0 && isIdent(s[i-1]) }

// rawOrByteString recognizes r"…", r#"…"#, b"…", br#"…"#, c"…" and b'…' at i and returns the index after it.
func rawOrByteString(s string, i int) (int, bool) {
	j := i
	if s[j] == 'b' || s[j] == 'c' {
		j++
		if j < len(s) && s[j] == '"' {
			return stringEnd(s, j+1), true
		}
		if s[i] == 'b' && j < len(s) && s[j] == '\'' {
			return quotedCharEnd(s, j), true
		}
	}
	if j >= len(s) || s[j] != 'r' {
		return 0, false
	}
	j++
	hashes := 0
	for j < len(s) && s[j] == '#' {
		hashes++
		j++
	}
	if j >= len(s) || s[j] != '"' {
		return 0, false
	}
	closing := "\"" + repeatHash(hashes)
	for k := j + 1; k+len(closing) <= len(s); k++ {
		if s[k:k+len(closing)] == closing {
			return k + len(closing), true
		}
	}
	return len(s), true
}

func repeatHash(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '#'
	}
	return string(b)
}

// quotedCharEnd returns the index after a char literal starting with the quote at i.
func quotedCharEnd(s string, i int) int {
	j := i + 1
	if j < len(s) && s[j] == '\\' {
		j += 2
	}
	for j < len(s) && s[j] != '\'' && s[j] != '\n' {
		j++
	}
	if j < len(s) && s[j] == '\'' {
		return j + 1
	}
	return j
}

// charOrLifetime masks a char literal at i ('x', '\n', '\u{1F600}', '{') and leaves a lifetime
// or label ('a, 'static) alone; it returns where scanning goes on.
func charOrLifetime(s string, i int, blank func(from, to int)) int {
	if i+2 < len(s) && s[i+1] == '\\' {
		end := quotedCharEnd(s, i)
		blank(i+1, end-1)
		return end
	}
	// One character (possibly multi-byte) then a quote is a char literal.
	j := i + 1
	if j < len(s) {
		j++
		for j < len(s) && s[j]&0xC0 == 0x80 {
			j++
		}
		if j < len(s) && s[j] == '\'' {
			blank(i+1, j)
			return j + 1
		}
	}
	return i + 1
}
