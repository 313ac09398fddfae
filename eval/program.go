package eval

import (
	"regexp"
	"strings"
)

// Program kinds, passed to rustc as --crate-type.
const (
	KindBin = "bin"
	KindLib = "lib"
)

// Program is an answer's Rust code joined into one compilable unit. Kind is KindBin when Source has a main
// function and KindLib otherwise.
type Program struct {
	Source string
	Kind   string
}

// mainFunction matches a top-level item that is the crate's main function.
var mainFunction = regexp.MustCompile(`^(?:pub(?:\([^)]*\))?\s+)?(?:(?:async|unsafe|const)\s+)*fn\s+main\s*\(`)

// itemMacro matches an invocation with braces, such as thread_local! { … }, which at the top level of an
// answer declares items rather than running a statement.
var itemMacro = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*\s*!\s*\{`)

// NewProgram joins an answer's blocks into one compilable unit. Blocks with a main function make a binary and
// are joined as written; without one, top-level statements (a usage snippet such as `let x = f(1);`) move into
// a generated main, after the blocks' items, and without statements the code is a library. Inner attributes
// (#![…]) move to the top of the file and a `use` repeated by a later block is dropped, since answers often
// repeat them per block and rustc rejects both. The result is false when the blocks hold no Rust code.
func NewProgram(blocks []string) (Program, bool) {
	perBlock := make([][]chunk, 0, len(blocks))
	hasCode, hasMain := false, false
	for _, block := range blocks {
		chunks := splitTopLevel(block)
		for _, c := range chunks {
			switch c.kind {
			case itemChunk:
				hasCode = true
				hasMain = hasMain || mainFunction.MatchString(leadingCode(c.text))
			case statementChunk:
				hasCode = true
			}
		}
		perBlock = append(perBlock, chunks)
	}
	if !hasCode {
		return Program{}, false
	}

	var attributes, items, statements []string
	seenAttributes, seenUses := make(map[string]bool), make(map[string]bool)
	for _, chunks := range perBlock {
		var blockItems, blockStatements strings.Builder
		for _, c := range chunks {
			switch {
			case c.kind == innerAttributeChunk:
				if !seenAttributes[c.text] {
					seenAttributes[c.text] = true
					attributes = append(attributes, strings.TrimSpace(c.text))
				}
			case c.kind == statementChunk && !hasMain:
				blockStatements.WriteString(c.text)
			default:
				if key, isUse := useKey(c.text); isUse {
					if seenUses[key] {
						continue
					}
					seenUses[key] = true
				}
				blockItems.WriteString(c.text)
			}
		}
		items = appendNonBlank(items, blockItems.String())
		statements = appendNonBlank(statements, blockStatements.String())
	}

	var source strings.Builder
	if len(attributes) > 0 {
		source.WriteString(strings.Join(attributes, "\n") + "\n\n")
	}
	source.WriteString(strings.Join(items, "\n\n"))
	kind := KindLib
	if hasMain {
		kind = KindBin
	}
	if len(statements) > 0 {
		if len(items) > 0 {
			source.WriteString("\n\n")
		}
		source.WriteString(mainWrapping(strings.Join(statements, "\n\n")))
		kind = KindBin
	}
	return Program{Source: strings.TrimRight(source.String(), " \t\r\n") + "\n", Kind: kind}, true
}

// mainWrapping puts statements into a main function. A trailing expression gets its semicolon, so a snippet
// ending in `v.len()` compiles, and statements using `?` get a main that returns a Result for it to propagate to.
func mainWrapping(statements string) string {
	if last := lastCodeIndex(statements); last >= 0 && statements[last] != ';' && statements[last] != '}' {
		statements = statements[:last+1] + ";" + statements[last+1:]
	}
	var b strings.Builder
	if usesQuestionMark(statements) {
		b.WriteString("fn main() -> Result<(), Box<dyn std::error::Error>> {\n")
		b.WriteString(indent(statements))
		b.WriteString("\n    Ok(())\n}\n")
	} else {
		b.WriteString("fn main() {\n")
		b.WriteString(indent(statements))
		b.WriteString("\n}\n")
	}
	return b.String()
}

func indent(code string) string {
	lines := strings.Split(code, "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) != "" {
			lines[i] = "    " + line
		}
	}
	return strings.Join(lines, "\n")
}

// useKey returns a whitespace-normalised form of a plain `use` declaration, and false for any other chunk.
func useKey(text string) (string, bool) {
	code := leadingCode(text)
	if word, _ := leadingWord(code); word != "use" {
		return "", false
	}
	return strings.Join(strings.Fields(code), " "), true
}

// appendNonBlank appends code without its blank leading lines and trailing whitespace, unless nothing is left.
func appendNonBlank(list []string, code string) []string {
	code = strings.TrimRight(code, " \t\r\n")
	for {
		line, rest, found := strings.Cut(code, "\n")
		if !found || strings.TrimSpace(line) != "" {
			break
		}
		code = rest
	}
	if code == "" {
		return list
	}
	return append(list, code)
}

type chunkKind int

const (
	commentChunk chunkKind = iota // only whitespace and comments
	itemChunk
	statementChunk
	innerAttributeChunk
)

// chunk is one top-level piece of a block, with the whitespace and comments that precede it.
type chunk struct {
	text string
	kind chunkKind
}

// splitTopLevel cuts Rust code into its top-level items and statements: a piece ends at a semicolon outside
// brackets, or at a closing brace back at the top level unless the code goes on (`} else {`, `}.len()`,
// `};`). Strings, characters and comments are skipped so their brackets do not count.
func splitTopLevel(src string) []chunk {
	var chunks []chunk
	depth, start, hasCode := 0, 0, false
	for i := 0; i < len(src); {
		if next := skipLiteral(src, i); next != i {
			hasCode = hasCode || !isComment(src, i)
			i = next
			continue
		}
		c := src[i]
		switch {
		case depth == 0 && !hasCode && strings.HasPrefix(src[i:], "#!["):
			chunks = appendChunk(chunks, src[start:i])
			end := matchingClose(src, i+2)
			chunks = append(chunks, chunk{text: src[i:end], kind: innerAttributeChunk})
			start, i = end, end
			continue
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth = max(depth-1, 0)
			if c == '}' && depth == 0 && !continuesAfterBrace(src, i+1) {
				chunks = appendChunk(chunks, src[start:i+1])
				start, i, hasCode = i+1, i+1, false
				continue
			}
		case c == ';' && depth == 0:
			chunks = appendChunk(chunks, src[start:i+1])
			start, i, hasCode = i+1, i+1, false
			continue
		}
		hasCode = hasCode || !isSpace(c)
		i++
	}
	return appendChunk(chunks, src[start:])
}

// appendChunk classifies text and appends it; a comment-only piece takes the kind of the piece before it,
// so a trailing comment stays with the code it follows.
func appendChunk(chunks []chunk, text string) []chunk {
	if strings.TrimSpace(text) == "" {
		return chunks
	}
	kind := classify(text)
	if kind == commentChunk && len(chunks) > 0 && chunks[len(chunks)-1].kind != innerAttributeChunk {
		kind = chunks[len(chunks)-1].kind
	}
	return append(chunks, chunk{text: text, kind: kind})
}

// continuesAfterBrace reports whether the code after a top-level closing brace carries on the same
// expression or item rather than starting a new one.
func continuesAfterBrace(src string, i int) bool {
	j := skipSpaceAndComments(src, i)
	if j >= len(src) {
		return false
	}
	if strings.IndexByte(".?;,)]+/%|^=>", src[j]) >= 0 {
		return true
	}
	word, _ := leadingWord(src[j:])
	return word == "else" || word == "as"
}

// classify tells an item from a statement by the first word of its code.
func classify(text string) chunkKind {
	code := leadingCode(text)
	if code == "" {
		return commentChunk
	}
	word, rest := leadingWord(code)
	switch word {
	case "fn", "struct", "enum", "impl", "trait", "mod", "use", "static", "type", "extern", "macro_rules", "pub", "const":
		return itemChunk
	case "unsafe", "async":
		next, _ := leadingWord(strings.TrimLeft(rest, " \t\r\n"))
		switch next {
		case "fn", "impl", "trait", "extern", "unsafe":
			return itemChunk
		}
		return statementChunk
	case "union":
		if next, _ := leadingWord(strings.TrimLeft(rest, " \t\r\n")); next != "" && isSpace(rest[0]) {
			return itemChunk
		}
	}
	if itemMacro.MatchString(code) {
		return itemChunk
	}
	return statementChunk
}

// leadingCode returns text from its first code token on, past whitespace, comments and outer attributes.
func leadingCode(text string) string {
	i := 0
	for {
		i = skipSpaceAndComments(text, i)
		if !strings.HasPrefix(text[i:], "#[") {
			return text[i:]
		}
		i = matchingClose(text, i+1)
	}
}

func leadingWord(code string) (word, rest string) {
	end := 0
	for end < len(code) && isIdentifierByte(code[end]) {
		end++
	}
	return code[:end], code[end:]
}

func skipSpaceAndComments(src string, i int) int {
	for i < len(src) {
		switch {
		case isSpace(src[i]):
			i++
		case isComment(src, i):
			i = skipLiteral(src, i)
		default:
			return i
		}
	}
	return i
}

// matchingClose returns the index just past the bracket that closes the one at open, or len(src) when the
// code ends first.
func matchingClose(src string, open int) int {
	depth := 0
	for i := open; i < len(src); {
		if next := skipLiteral(src, i); next != i {
			i = next
			continue
		}
		switch src[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(src)
}

// lastCodeIndex returns the index of the last byte of code that is not whitespace or a comment, or -1.
func lastCodeIndex(src string) int {
	last := -1
	for i := 0; i < len(src); {
		if next := skipLiteral(src, i); next != i {
			if !isComment(src, i) {
				last = next - 1
			}
			i = next
			continue
		}
		if !isSpace(src[i]) {
			last = i
		}
		i++
	}
	return last
}

// usesQuestionMark reports whether code applies the ? operator outside strings and comments.
func usesQuestionMark(src string) bool {
	for i := 0; i < len(src); {
		if next := skipLiteral(src, i); next != i {
			i = next
			continue
		}
		if src[i] == '?' {
			return true
		}
		i++
	}
	return false
}

// skipLiteral returns the index just past the comment, string or character literal that starts at i, or i
// when none starts there. A lifetime such as 'a is not a literal.
func skipLiteral(src string, i int) int {
	switch {
	case strings.HasPrefix(src[i:], "//"):
		if end := strings.IndexByte(src[i:], '\n'); end >= 0 {
			return i + end
		}
		return len(src)
	case strings.HasPrefix(src[i:], "/*"):
		return skipBlockComment(src, i)
	case src[i] == '"':
		return skipQuoted(src, i)
	case src[i] == '\'':
		return skipCharacter(src, i)
	case (src[i] == 'r' || src[i] == 'b' || src[i] == 'c') && (i == 0 || !isIdentifierByte(src[i-1])):
		return skipRawString(src, i)
	}
	return i
}

func isComment(src string, i int) bool {
	return strings.HasPrefix(src[i:], "//") || strings.HasPrefix(src[i:], "/*")
}

// skipBlockComment skips a block comment, which in Rust nests.
func skipBlockComment(src string, i int) int {
	depth := 0
	for i < len(src) {
		switch {
		case strings.HasPrefix(src[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(src[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(src)
}

func skipQuoted(src string, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(src)
}

// skipCharacter skips a character literal ('x', '\n', '\u{1F600}', 'é'); a lifetime returns i unchanged.
func skipCharacter(src string, i int) int {
	if i+1 < len(src) && src[i+1] == '\\' {
		// The longest escape, '\u{10FFFF}', closes within ten bytes of the backslash.
		if end := strings.IndexByte(src[min(i+3, len(src)):min(i+12, len(src))], '\''); end >= 0 {
			return i + 3 + end + 1
		}
		return i
	}
	for size := 1; size <= 4 && i+1+size < len(src); size++ {
		if src[i+1+size] == '\'' {
			if size == 1 || src[i+1] >= 0x80 {
				return i + 2 + size
			}
			return i
		}
	}
	return i
}

// skipRawString skips r"…", r#"…"#, br"…" and cr"…" literals; anything else returns i unchanged.
func skipRawString(src string, i int) int {
	j := i
	if src[j] == 'b' || src[j] == 'c' {
		j++
	}
	if j >= len(src) || src[j] != 'r' {
		return i
	}
	j++
	hashes := 0
	for j < len(src) && src[j] == '#' {
		hashes++
		j++
	}
	if j >= len(src) || src[j] != '"' {
		return i
	}
	closing := "\"" + strings.Repeat("#", hashes)
	if end := strings.Index(src[j+1:], closing); end >= 0 {
		return j + 1 + end + len(closing)
	}
	return len(src)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func isIdentifierByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
