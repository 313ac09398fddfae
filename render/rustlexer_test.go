package render

import (
	"strings"
	"testing"

	"github.com/alecthomas/chroma/v2"
)

const rustSample = `#[derive(Debug)]
/* outer /* nested */ still comment */
pub fn longest<'a>(x: &'a str, y: &'a str) -> &'a str {
    let mut v: Vec<u32> = Vec::new(); // trailing
    v.push(0x1F_u32 + 1_000 + 2.5e3 as u32);
    let c = 'x'; let b = b'\n'; let s = r#"raw "quoted" text"#;
    println!("{} {}", c, s.len());
    if x.len() > y.len() { x } else { y }
}
`

func lex(t *testing.T, code string) []chroma.Token {
	t.Helper()
	it, err := newRustLexer().Tokenise(nil, code)
	if err != nil {
		t.Fatal(err)
	}
	return it.Tokens()
}

func TestRustLexerLosesNoText(t *testing.T) {
	var b strings.Builder
	for _, tok := range lex(t, rustSample) {
		b.WriteString(tok.Value)
	}
	if b.String() != rustSample {
		t.Fatalf("tokens do not add up to the source:\n%q", b.String())
	}
}

func TestRustLexerClasses(t *testing.T) {
	types := map[string]chroma.TokenType{}
	for _, tok := range lex(t, rustSample) {
		if _, seen := types[tok.Value]; !seen {
			types[tok.Value] = tok.Type
		}
	}
	want := map[string]chroma.TokenType{
		"pub": chroma.Keyword, "fn": chroma.Keyword, "let": chroma.Keyword, "mut": chroma.Keyword, "as": chroma.Keyword,
		"str": chroma.KeywordType, "u32": chroma.KeywordType, "Vec": chroma.NameClass, "longest": chroma.NameFunction,
		"push": chroma.NameFunction, "println!": chroma.NameFunctionMagic, "'a": chroma.NameLabel, "'x'": chroma.LiteralStringChar,
		`b'\n'`: chroma.LiteralStringChar, `r#"raw "quoted" text"#`: chroma.LiteralString, `"{} {}"`: chroma.LiteralString,
		"0x1F_u32": chroma.LiteralNumber, "2.5e3": chroma.LiteralNumber, "// trailing": chroma.CommentSingle,
		"#[derive(Debug)]": chroma.CommentPreproc, "*/": chroma.CommentMultiline,
	}
	for value, typ := range want {
		if got, ok := types[value]; !ok || got != typ {
			t.Errorf("%q: got %v (found %v), want %v", value, got, ok, typ)
		}
	}
}

func TestRustLexerEndsUnclosedConstructs(t *testing.T) {
	for _, code := range []string{"/* never closed", `let s = "never closed`, "let c = '", "r#\"open"} {
		var b strings.Builder
		for _, tok := range lex(t, code) {
			b.WriteString(tok.Value)
		}
		if strings.TrimSuffix(b.String(), "\n") != code {
			t.Errorf("%q came back as %q", code, b.String())
		}
	}
}

func TestRustLexerCallsAndMacros(t *testing.T) {
	got := map[string]chroma.TokenType{}
	for _, tok := range lex(t, "let w = v.iter().collect::<Vec<_>>(); if a != b && a < c { vec![1] }") {
		got[tok.Value] = tok.Type
	}
	for value, want := range map[string]chroma.TokenType{"iter": chroma.NameFunction, "collect": chroma.NameFunction,
		"a": chroma.Name, "vec!": chroma.NameFunctionMagic, "!=": chroma.Operator} {
		if got[value] != want {
			t.Errorf("%q: got %v, want %v", value, got[value], want)
		}
	}
}
