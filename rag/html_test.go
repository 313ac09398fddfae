package rag

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// sectionByHeading finds the section whose path ends in heading.
func sectionByHeading(t *testing.T, p Page, heading string) Section {
	t.Helper()
	for _, s := range p.Sections {
		if len(s.Path) > 0 && s.Path[len(s.Path)-1] == heading {
			return s
		}
	}
	t.Fatalf("no section %q among %d", heading, len(p.Sections))
	return Section{}
}

func pageText(p Page) string {
	var b strings.Builder
	for _, s := range p.Sections {
		for _, bl := range s.Blocks {
			b.WriteString(bl.Text + "\n")
		}
	}
	return b.String()
}

func TestParseHTMLBookPage(t *testing.T) {
	page, err := ParseHTML(readTestdata(t, "html/book/ch04-02-references-and-borrowing.html"), "4.2")
	if err != nil {
		t.Fatal(err)
	}
	if page.Title != "4.2 References and Borrowing" {
		t.Errorf("title %q", page.Title)
	}
	mut := sectionByHeading(t, page, "Mutable References")
	if !slices.Equal(mut.Path, []string{"4.2 References and Borrowing", "Mutable References"}) || mut.Anchor != "mutable-references" {
		t.Errorf("section path %q anchor %q", mut.Path, mut.Anchor)
	}
	var rust, console int
	for _, b := range mut.Blocks {
		if b.Kind != CodeBlock {
			continue
		}
		switch b.Lang {
		case "rust":
			rust++
		case "console":
			console++
		}
	}
	first := mut.Blocks[slices.IndexFunc(mut.Blocks, func(b Block) bool { return b.Kind == CodeBlock })]
	want := "fn main() {\n    let mut s = String::from(\"hello\");\n\n    change(&mut s);\n}\n\nfn change(some_string: &mut String) {\n    some_string.push_str(\", world\");\n}"
	if first.Text != want {
		t.Errorf("first code block of Mutable References:\n%s\nwant\n%s", first.Text, want)
	}
	if rust < 3 || console < 1 {
		t.Errorf("Mutable References: %d rust and %d console blocks, want ≥3 and ≥1", rust, console)
	}
	text := pageText(page)
	for _, want := range []string{"let r1 = &mut s;", "error[E0499]: cannot borrow `s` as mutable more than once at a time",
		"At any given time, you can have either one mutable reference or any number of immutable references."} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	for _, bad := range []string{"Keyboard shortcuts", "Previous chapter", "<span", "&amp;"} {
		if strings.Contains(text, bad) {
			t.Errorf("page text has %q (navigation or markup)", bad)
		}
	}
}

func TestParseHTMLErrorCodeHidesBoringLines(t *testing.T) {
	page, err := ParseHTML(readTestdata(t, "html/error_codes/E0502.html"), "")
	if err != nil {
		t.Fatal(err)
	}
	if page.Title != "Error code E0502" || len(page.Sections) != 1 {
		t.Fatalf("title %q, %d sections", page.Title, len(page.Sections))
	}
	var code []string
	for _, b := range page.Sections[0].Blocks {
		if b.Kind == CodeBlock {
			code = append(code, b.Text)
		}
	}
	if len(code) != 2 || !strings.HasPrefix(code[0], "fn bar(x: &mut i32) {}") || strings.Contains(code[0], "#![allow(unused)]") {
		t.Errorf("code blocks: %q", code)
	}
}

func TestParseHTMLReferenceDropsRuleMarkers(t *testing.T) {
	page, err := ParseHTML(readTestdata(t, "html/reference/types/impl-trait.html"), "")
	if err != nil {
		t.Fatal(err)
	}
	text := pageText(page)
	if strings.Contains(text, "[type.impl-trait") || strings.Contains(text, "Show Railroad") {
		t.Errorf("rule markers or railroad buttons in the text")
	}
	if !strings.Contains(text, "impl Trait provides ways to specify unnamed but concrete types") {
		t.Errorf("intro paragraph missing")
	}
}

func TestParseHTMLRejectsNonPages(t *testing.T) {
	cases := map[string]string{
		"redirect": string(readTestdata(t, "html/book/ch17-00-oop.html")),
		"no main":  "<html><body><p>hello</p></body></html>",
		"empty":    "<html><main>   </main></html>",
		"japanese": `<html lang="ja"><main><h1>x</h1><p>y</p></main></html>`,
		"garbage":  "\x01\x02<<<>>>&&&",
	}
	for name, in := range cases {
		if _, err := ParseHTML([]byte(in), ""); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Broken markup still gives the text, repaired the way browsers do.
	page, err := ParseHTML([]byte("<main><h1>T</h1><p>one <b>two<pre><code>let x = 1;</main><div></span>"), "")
	if err != nil {
		t.Fatal(err)
	}
	if text := pageText(page); !strings.Contains(text, "one two") || !strings.Contains(text, "let x = 1;") {
		t.Errorf("broken markup: %q", text)
	}
}

func TestParseMarkdown(t *testing.T) {
	page := ParseMarkdown(string(readTestdata(t, "tokio/spawning.md")))
	if page.Title != "Spawning" {
		t.Errorf("title %q", page.Title)
	}
	s := sectionByHeading(t, page, "Accepting sockets")
	if !slices.Equal(s.Path, []string{"Spawning", "Accepting sockets"}) || s.Anchor != "accepting-sockets" {
		t.Errorf("path %q anchor %q", s.Path, s.Anchor)
	}
	var rust int
	for _, b := range s.Blocks {
		if b.Kind == CodeBlock && b.Lang == "rust" {
			rust++
			if !strings.Contains(b.Text, "\n") {
				t.Errorf("code block lost its lines: %q", b.Text)
			}
		}
	}
	if rust == 0 {
		t.Error("no rust code block in Accepting sockets")
	}
	unclosed := ParseMarkdown("# A\ntext\n```rust\nfn main() {}\n\n# not a heading\n")
	last := unclosed.Sections[len(unclosed.Sections)-1]
	if len(unclosed.Sections) != 1 || last.Blocks[len(last.Blocks)-1].Text != "fn main() {}\n\n# not a heading\n" {
		t.Errorf("unclosed fence: %+v", unclosed.Sections)
	}
}
