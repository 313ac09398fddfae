package render

import (
	"strings"
	"unicode"

	"github.com/alecthomas/chroma/v2"
)

// newRustLexer returns a compact Rust lexer for highlighting answers. chroma's own Rust lexer tries
// up to 90 regular expressions, in an order where an identifier matches only after about 45 of them,
// which made highlighting most of a long answer's render time. Here one rule matches every word and a
// map lookup classifies it; the other rules are ordered by how often their tokens occur in code. The
// token classes are chroma's, so the stylesheet is unchanged.
func newRustLexer() chroma.Lexer {
	return chroma.MustNewLexer(&chroma.Config{Name: "Rust", Aliases: []string{"rust", "rs"}, EnsureNL: true}, rustRules)
}

// rustWords classifies the words that are not plain names.
var rustWords = wordClasses(map[chroma.TokenType][]string{
	chroma.Keyword: {"as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
		"fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
		"struct", "super", "trait", "type", "union", "unsafe", "use", "where", "while", "yield"},
	chroma.KeywordConstant: {"true", "false", "self", "Self"},
	chroma.KeywordType: {"u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
		"f32", "f64", "bool", "char", "str"},
})

func wordClasses(classes map[chroma.TokenType][]string) map[string]chroma.TokenType {
	out := map[string]chroma.TokenType{}
	for class, words := range classes {
		for _, w := range words {
			out[w] = class
		}
	}
	return out
}

func rustRules() chroma.Rules {
	return chroma.Rules{
		"root": {
			rule(`\s+`, chroma.TextWhitespace),
			rule(`b?r(#*)"(?s:.*?)"\1`, chroma.LiteralString),
			rule(`b?"(?:\\.|[^\\"])*"`, chroma.LiteralString),
			rule(`b?'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^\\'])'`, chroma.LiteralStringChar),
			{Pattern: `[a-zA-Z_]\w*(?:!(?!=))?`, Type: chroma.EmitterFunc(classifyWord)},
			rule(`[{}()\[\],.;:]`, chroma.Punctuation),
			rule(`//[^\n]*`, chroma.CommentSingle),
			{Pattern: `/\*`, Type: chroma.CommentMultiline, Mutator: chroma.Push("comment")},
			rule(`'[a-zA-Z_]\w*`, chroma.NameLabel),
			rule(`#!?\[[^\]\n]*\]`, chroma.CommentPreproc),
			rule(`(?:0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9_]+)?)(?:[iu](?:8|16|32|64|128|size)|f32|f64)?`, chroma.LiteralNumber),
			rule(`[-+*/%&|^!<>=?@~$]+`, chroma.Operator),
			rule(`.`, chroma.Text),
		},
		"comment": {
			{Pattern: `/\*`, Type: chroma.CommentMultiline, Mutator: chroma.Push()},
			{Pattern: `\*/`, Type: chroma.CommentMultiline, Mutator: chroma.Pop(1)},
			rule(`[^*/]+`, chroma.CommentMultiline),
			rule(`[*/]`, chroma.CommentMultiline),
		},
	}
}

func rule(pattern string, t chroma.TokenType) chroma.Rule {
	return chroma.Rule{Pattern: pattern, Type: t}
}

// classifyWord gives a word its class: macro, keyword, type, type-like name, called function or name.
func classifyWord(groups []string, state *chroma.LexerState) chroma.Iterator {
	word := groups[0]
	class, known := rustWords[word]
	switch {
	case strings.HasSuffix(word, "!"):
		class = chroma.NameFunctionMagic
	case known:
	case unicode.IsUpper(rune(word[0])):
		class = chroma.NameClass
	case isCall(state.Text[state.Pos:]):
		class = chroma.NameFunction
	default:
		class = chroma.Name
	}
	return chroma.Literator(chroma.Token{Type: class, Value: word})
}

// isCall reports whether the text after a word opens a call or a definition: "(", or generics written
// right after the word ("<'a>(" or the turbofish "::<T>(") and then "(".
func isCall(rest []rune) bool {
	if len(rest) > 2 && rest[0] == ':' && rest[1] == ':' && rest[2] == '<' {
		rest = rest[2:]
	}
	if len(rest) > 0 && rest[0] == '<' {
		rest = afterGenerics(rest)
	}
	return len(rest) > 0 && rest[0] == '('
}

// afterGenerics returns the text after the balanced "<…>" that rest starts with (nil when it does not
// close on this line).
func afterGenerics(rest []rune) []rune {
	depth := 0
	for i, r := range rest {
		switch r {
		case '<':
			depth++
		case '>':
			depth--
			if depth == 0 {
				return rest[i+1:]
			}
		case '{', '}', ';', '\n':
			return nil
		}
	}
	return nil
}
