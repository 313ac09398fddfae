package chat

import (
	"regexp"
	"strings"
)

// defaultSystem finds the system prompt a ChatML template writes as a literal, as in
// '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n', or "" if none.
func defaultSystem(src string) string {
	const open = "<|im_start|>system"
	for rest := src; ; {
		i := strings.Index(rest, open)
		if i < 0 {
			return ""
		}
		rest = rest[i+len(open):]
		if text, ok := literalTurn(rest); ok {
			return text
		}
	}
}

// literalTurn reads a line break (written as \n or as a real newline) followed by
// string-literal text up to <|im_end|>. It fails when the text is not a plain
// literal, such as "' + messages[0]['content'] + '".
func literalTurn(s string) (string, bool) {
	switch {
	case strings.HasPrefix(s, `\n`):
		s = s[2:]
	case strings.HasPrefix(s, "\n"):
		s = s[1:]
	default:
		return "", false
	}
	end := strings.Index(s, "<|im_end|>")
	if end <= 0 {
		return "", false
	}
	return unquoteLiteral(s[:end])
}

// unquoteLiteral undoes the escapes of a Jinja string literal's body; an unescaped
// quote or a template delimiter means the text was not inside one literal.
func unquoteLiteral(s string) (string, bool) {
	if strings.Contains(s, "{{") || strings.Contains(s, "{%") {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			return "", false
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", false
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '\\', '\'', '"':
			b.WriteByte(s[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String(), true
}

// literalDate finds the fallback date of a Llama 3.1 template:
// {%- set date_string = "26 Jul 2024" %}.
func literalDate(src string) string {
	re := regexp.MustCompile(`set\s+date_string\s*=\s*["']([^"']+)["']`)
	if m := re.FindStringSubmatch(src); m != nil {
		return m[1]
	}
	return defaultDate
}
