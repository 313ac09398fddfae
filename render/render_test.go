package render

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// allowedElements is every element the sanitized output may contain.
var allowedElements = map[string]bool{
	"p": true, "pre": true, "code": true, "span": true, "div": true, "a": true,
	"em": true, "strong": true, "del": true, "ul": true, "ol": true, "li": true, "blockquote": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true,
	"hr": true, "br": true, "input": true,
}

// allowedAttributes is every attribute the sanitized output may contain, on any element.
var allowedAttributes = map[string]bool{
	"class": true, "href": true, "title": true, "rel": true, "start": true, "align": true,
	"type": true, "checked": true, "disabled": true,
}

// forbiddenAttributes are named separately so that a failure says exactly which dangerous attribute survived.
var forbiddenAttributes = map[string]bool{
	"style": true, "src": true, "formaction": true, "srcdoc": true,
}

func parseFragment(t *testing.T, fragment string) []*html.Node {
	t.Helper()
	parent := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(fragment), parent)
	if err != nil {
		t.Fatalf("parse rendered html: %v\n%s", err, fragment)
	}
	return nodes
}

// walkElements calls visit for every element node under nodes, in document order.
func walkElements(nodes []*html.Node, visit func(*html.Node)) {
	for _, n := range nodes {
		if n.Type == html.ElementNode {
			visit(n)
		}
		var children []*html.Node
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			children = append(children, c)
		}
		walkElements(children, visit)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// textOf returns the concatenated text content of n.
func textOf(n *html.Node) string {
	var text strings.Builder
	var collect func(*html.Node)
	collect = func(n *html.Node) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			collect(c)
		}
	}
	collect(n)
	return text.String()
}

// unsafeParts lists every way fragment breaks the output rules. Inputs must be checkboxes; requireDisabled
// also demands that they are disabled, which only the Markdown renderer guarantees (the sanitizer alone
// cannot require an attribute).
func unsafeParts(t *testing.T, fragment string, requireDisabled bool) []string {
	t.Helper()
	var problems []string
	walkElements(parseFragment(t, fragment), func(n *html.Node) {
		if !allowedElements[n.Data] {
			problems = append(problems, "element <"+n.Data+">")
		}
		if n.Data == "input" {
			if typ, _ := attr(n, "type"); typ != "checkbox" {
				problems = append(problems, "input that is not a checkbox")
			}
			if _, disabled := attr(n, "disabled"); requireDisabled && !disabled {
				problems = append(problems, "input that is not disabled")
			}
		}
		for _, a := range n.Attr {
			key := strings.ToLower(a.Key)
			switch {
			case strings.HasPrefix(key, "on"):
				problems = append(problems, "event handler attribute "+key)
			case strings.HasPrefix(key, "hx-"):
				problems = append(problems, "htmx attribute "+key)
			case forbiddenAttributes[key]:
				problems = append(problems, "attribute "+key)
			case !allowedAttributes[key]:
				problems = append(problems, "unexpected attribute "+key)
			}
			if key == "href" && !safeHref(a.Val) {
				problems = append(problems, "href "+a.Val)
			}
		}
	})
	return problems
}

// safeHref reports whether href uses http, https or mailto, the way a browser would see it: surrounding
// whitespace and control characters ignored, scheme case-insensitive.
func safeHref(href string) bool {
	trimmed := strings.ToLower(strings.TrimFunc(href, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}))
	for _, prefix := range []string{"http://", "https://", "mailto:"} {
		if strings.HasPrefix(trimmed, prefix) {
			return true
		}
	}
	return false
}

func loadXSSCorpus(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/xss.txt")
	if err != nil {
		t.Fatalf("read corpus: %v", err)
	}
	var payloads []string
	for _, payload := range strings.Split(string(data), "\n----\n") {
		if payload = strings.TrimSpace(payload); payload != "" {
			payloads = append(payloads, payload)
		}
	}
	if len(payloads) < 40 {
		t.Fatalf("corpus has %d payloads, want at least 40", len(payloads))
	}
	return payloads
}

func TestHTMLNeutralisesXSSCorpus(t *testing.T) {
	r := New()
	for i, payload := range loadXSSCorpus(t) {
		out := r.HTML(payload)
		if problems := unsafeParts(t, out, true); len(problems) > 0 {
			t.Errorf("payload %d %q:\nrendered as %q\nproblems: %v", i, payload, out, problems)
		}
	}
}

// TestPolicyNeutralisesRawXSSCorpus feeds the payloads to the sanitizer directly, as if the Markdown renderer
// had passed raw HTML through: the policy must hold on its own.
func TestPolicyNeutralisesRawXSSCorpus(t *testing.T) {
	policy := newPolicy()
	for i, payload := range loadXSSCorpus(t) {
		out := policy.Sanitize(payload)
		if problems := unsafeParts(t, out, false); len(problems) > 0 {
			t.Errorf("payload %d %q:\nsanitized as %q\nproblems: %v", i, payload, out, problems)
		}
	}
}

func TestUnsafePartsCatchesDangerousMarkup(t *testing.T) {
	cases := []string{
		`<script>alert(1)</script>`,
		`<img src="https://example.com/a.png">`,
		`<p onclick="alert(1)">x</p>`,
		`<div hx-get="/x">x</div>`,
		`<a href=" JavaScript:alert(1)">x</a>`,
		`<span style="color:red">x</span>`,
		`<input type="checkbox">`,
		`<input type="text" disabled>`,
	}
	for _, fragment := range cases {
		if problems := unsafeParts(t, fragment, true); len(problems) == 0 {
			t.Errorf("checker accepted %q", fragment)
		}
	}
}

// findElements returns the elements named name in fragment.
func findElements(t *testing.T, fragment, name string) []*html.Node {
	t.Helper()
	var found []*html.Node
	walkElements(parseFragment(t, fragment), func(n *html.Node) {
		if n.Data == name {
			found = append(found, n)
		}
	})
	return found
}

// hasKeywordSpan reports whether fragment has a highlighted keyword span (chroma class "k…") reading word.
func hasKeywordSpan(t *testing.T, fragment, word string) bool {
	t.Helper()
	for _, span := range findElements(t, fragment, "span") {
		class, _ := attr(span, "class")
		if strings.HasPrefix(class, "k") && textOf(span) == word {
			return true
		}
	}
	return false
}

func TestRustFenceIsHighlighted(t *testing.T) {
	out := New().HTML("```rust\nfn main() {\n    let answer = 42;\n}\n```\n")
	if !hasKeywordSpan(t, out, "fn") {
		t.Fatalf("no keyword span for fn in %s", out)
	}
	if !hasKeywordSpan(t, out, "let") {
		t.Fatalf("no keyword span for let in %s", out)
	}
	if !strings.Contains(out, `<pre class="chroma">`) {
		t.Fatalf("highlighted block lacks the chroma class: %s", out)
	}
}

func TestFenceWithoutLanguageIsHighlightedAsRust(t *testing.T) {
	out := New().HTML("Text before.\n\n```\nfn main() {}\n```\n\nText after.\n")
	if !hasKeywordSpan(t, out, "fn") {
		t.Fatalf("no keyword span for fn in %s", out)
	}
	if strings.Contains(out, "rust") {
		t.Fatalf("the default language leaked into the output: %s", out)
	}
}

func TestFenceWithUnknownLanguageIsPlain(t *testing.T) {
	out := New().HTML("```nosuchlanguage\nfn main() {}\n```\n")
	if len(findElements(t, out, "span")) != 0 {
		t.Fatalf("unknown language was highlighted: %s", out)
	}
	codes := findElements(t, out, "code")
	if len(codes) != 1 || textOf(codes[0]) != "fn main() {}\n" {
		t.Fatalf("want one plain code block with the source, got %s", out)
	}
}

func TestNoHighlightingOutsideCode(t *testing.T) {
	out := New().HTML("Call `fn` from prose, then `let` it be.")
	if len(findElements(t, out, "span")) != 0 {
		t.Fatalf("inline code was highlighted: %s", out)
	}
}

func TestTableRenders(t *testing.T) {
	out := New().HTML("| Type | Thread-safe |\n|:-----|-----------:|\n| `Rc` | no |\n| `Arc` | yes |\n")
	headers := findElements(t, out, "th")
	cells := findElements(t, out, "td")
	if len(findElements(t, out, "table")) != 1 || len(headers) != 2 || len(cells) != 4 {
		t.Fatalf("want a 2-column table with 2 rows, got %s", out)
	}
	if textOf(headers[0]) != "Type" || textOf(cells[3]) != "yes" {
		t.Fatalf("table cells out of place: %s", out)
	}
	if align, _ := attr(cells[1], "align"); align != "right" {
		t.Fatalf("column alignment lost: %s", out)
	}
}

func TestRawHTMLInTextIsInert(t *testing.T) {
	out := New().HTML("Use <b>bold</b> and <i onclick=\"x()\">italic</i> here.")
	for _, name := range []string{"b", "i"} {
		if len(findElements(t, out, name)) != 0 {
			t.Fatalf("raw <%s> became an element: %s", name, out)
		}
	}
	paragraphs := findElements(t, out, "p")
	if len(paragraphs) != 1 || !strings.Contains(textOf(paragraphs[0]), "bold") {
		t.Fatalf("surrounding text lost: %s", out)
	}
}

func TestComparisonOperatorsAreEscaped(t *testing.T) {
	out := New().HTML("if a < b && c > d { }")
	paragraphs := findElements(t, out, "p")
	if len(paragraphs) != 1 || textOf(paragraphs[0]) != "if a < b && c > d { }" {
		t.Fatalf("text not shown as written: %s", out)
	}
}

func TestLinksAreNofollowNoopenerWithoutTarget(t *testing.T) {
	out := New().HTML("[docs](https://doc.rust-lang.org/std/) and https://crates.io and <mailto:a@example.com>")
	links := findElements(t, out, "a")
	if len(links) != 3 {
		t.Fatalf("want 3 links, got %s", out)
	}
	for _, link := range links {
		if rel, _ := attr(link, "rel"); rel != "nofollow noopener" {
			t.Errorf("link rel = %q in %s", rel, out)
		}
		if _, ok := attr(link, "target"); ok {
			t.Errorf("link has a target in %s", out)
		}
	}
}

func TestImagesBecomeAltText(t *testing.T) {
	out := New().HTML("See ![the *borrow* graph](https://example.com/graph.png) below.")
	if len(findElements(t, out, "img")) != 0 || strings.Contains(out, "graph.png") {
		t.Fatalf("image URL survived: %s", out)
	}
	if !strings.Contains(out, "the <em>borrow</em> graph") {
		t.Fatalf("alt text lost: %s", out)
	}
}

func TestTaskListCheckboxes(t *testing.T) {
	out := New().HTML("- [x] compiles\n- [ ] passes clippy\n")
	inputs := findElements(t, out, "input")
	if len(inputs) != 2 {
		t.Fatalf("want 2 checkboxes, got %s", out)
	}
	if _, checked := attr(inputs[0], "checked"); !checked {
		t.Errorf("first box not checked: %s", out)
	}
	if _, checked := attr(inputs[1], "checked"); checked {
		t.Errorf("second box checked: %s", out)
	}
	if problems := unsafeParts(t, out, true); len(problems) > 0 {
		t.Errorf("task list output breaks rules: %v", problems)
	}
}

func TestStrikethroughAndNoHardWraps(t *testing.T) {
	out := New().HTML("~~old~~ new\nsame paragraph")
	if len(findElements(t, out, "del")) != 1 {
		t.Fatalf("strikethrough missing: %s", out)
	}
	if len(findElements(t, out, "br")) != 0 {
		t.Fatalf("soft line break became <br>: %s", out)
	}
}

func TestComponentWritesSanitizedHTML(t *testing.T) {
	r := New()
	markdown := "**hi** <script>alert(1)</script>\n\n```\nfn main() {}\n```\n"
	var out bytes.Buffer
	if err := r.Component(markdown).Render(context.Background(), &out); err != nil {
		t.Fatalf("render component: %v", err)
	}
	if out.String() != r.HTML(markdown) {
		t.Fatalf("component output %q differs from HTML %q", out.String(), r.HTML(markdown))
	}
}

// TestConcurrentRendersAgree renders in parallel past the cache, so goldmark, chroma and bluemonday are
// shared between goroutines, then again through it.
func TestConcurrentRendersAgree(t *testing.T) {
	r := New()
	markdown := readLongAnswer(t)
	want := r.render(markdown)
	results := make([]string, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			if i%2 == 0 {
				results[i] = r.render(markdown)
			} else {
				results[i] = r.HTML(markdown)
			}
		})
	}
	wg.Wait()
	for i, got := range results {
		if got != want {
			t.Fatalf("goroutine %d rendered different output", i)
		}
	}
}

func readLongAnswer(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("testdata/long_answer.md")
	if err != nil {
		t.Fatalf("read long answer: %v", err)
	}
	return string(data)
}

// TestLongAnswerRendersFully checks that the benchmark input is what it claims: about 1,500 tokens (at
// roughly 4 bytes a token) with several highlighted code blocks, a table and a link.
func TestLongAnswerRendersFully(t *testing.T) {
	markdown := readLongAnswer(t)
	if len(markdown) < 5600 {
		t.Fatalf("long answer is %d bytes, want about 1,500 tokens", len(markdown))
	}
	out := New().HTML(markdown)
	if got := len(findElements(t, out, "pre")); got != 4 {
		t.Fatalf("want 4 code blocks, got %d", got)
	}
	if !hasKeywordSpan(t, out, "fn") || len(findElements(t, out, "table")) != 1 {
		t.Fatalf("long answer lost highlighting or its table")
	}
	if problems := unsafeParts(t, out, true); len(problems) > 0 {
		t.Fatalf("long answer output breaks rules: %v", problems)
	}
}

// BenchmarkRenderLongAnswer measures a first render: parse, highlight and sanitize, no cache.
func BenchmarkRenderLongAnswer(b *testing.B) {
	r := New()
	markdown := readLongAnswer(b)
	b.SetBytes(int64(len(markdown)))
	for b.Loop() {
		r.render(markdown)
	}
}

// BenchmarkHTMLLongAnswerRepeat measures a repeat render, served from the cache.
func BenchmarkHTMLLongAnswerRepeat(b *testing.B) {
	r := New()
	markdown := readLongAnswer(b)
	r.HTML(markdown)
	b.SetBytes(int64(len(markdown)))
	for b.Loop() {
		r.HTML(markdown)
	}
}

// TestNestedCodeBlocksAreHighlighted checks that fenced code inside lists and quotes keeps its
// highlighted block after sanitizing, and that no placeholder is left behind.
func TestNestedCodeBlocksAreHighlighted(t *testing.T) {
	r := New()
	md := "- item\n\n  ```rust\n  fn a() {}\n  ```\n\n> ```rust\n> let b = 1;\n> ```\n\n```\nfn c() {}\n```\n"
	out := r.HTML(md)
	if n := strings.Count(out, `<pre class="chroma">`); n != 3 {
		t.Fatalf("%d highlighted blocks, want 3:\n%s", n, out)
	}
	if strings.Contains(out, "rx-code-") {
		t.Fatalf("a placeholder is left in the output:\n%s", out)
	}
}

// Names and whitespace, which no theme colours visibly, are written as plain (escaped) text, not a span
// each; everything else keeps its class.
func TestHighlightWritesNamesAndSpacesPlain(t *testing.T) {
	out := New().HTML("```rust\nlet a_b = c < d; // <b>\nlet s = \"<script>\";\n```\n")
	for _, bad := range []string{`class="w"`, `class="n"`, "<script>", "<b>"} {
		if strings.Contains(out, bad) {
			t.Errorf("highlighted code holds %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{`<span class="k">let</span> a_b `, `&lt;`, `class="c1"`, `&lt;script&gt;`} {
		if !strings.Contains(out, want) {
			t.Errorf("highlighted code lacks %q:\n%s", want, out)
		}
	}
}
