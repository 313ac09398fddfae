package rag

import (
	"fmt"
	"strings"
	"testing"
)

// sentences returns n distinct sentences of about 11 tokens each.
func sentences(tag string, n int) string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("Sentence %s%d says that the borrow checker keeps references valid.", tag, i))
	}
	return strings.Join(s, " ")
}

func TestChunkPageHeadingsSizesOverlap(t *testing.T) {
	bigCode := strings.Repeat("let value = compute(1, 2, 3);\n", 120) // about 1300 tokens: over Max
	page := Page{Title: "Intro", Sections: []Section{
		{Path: []string{"Intro"}, Anchor: "intro", Blocks: []Block{{Text: "Short intro."}}},
		{Path: []string{"Intro", "Small A"}, Anchor: "a", Blocks: []Block{{Text: "Small section a."}}},
		{Path: []string{"Intro", "Long"}, Anchor: "long", Blocks: []Block{
			{Text: sentences("p", 60)}, {Kind: CodeBlock, Lang: "rust", Text: bigCode}, {Text: sentences("q", 30)},
		}},
		{Path: []string{"Intro", "Tail"}, Anchor: "tail", Blocks: []Block{{Text: "The end."}}},
	}}
	opt := ChunkOptions{Min: 300, Max: 800, Overlap: 80}
	chunks := ChunkPage(page, "The Book", opt)
	for i, c := range chunks {
		t.Logf("chunk %d %q tokens %d: %.60q", i, c.Title, c.Tokens, c.Text)
		if c.Seq != i {
			t.Errorf("chunk %d has seq %d", i, c.Seq)
		}
		if c.Tokens > opt.Max && !strings.Contains(c.Text, "```rust") {
			t.Errorf("chunk %d: %d tokens > %d without an oversized code block", i, c.Tokens, opt.Max)
		}
	}
	// Small sections merge under their common path; the long one starts its own chunk.
	if chunks[0].Title != "The Book › Intro" || !strings.Contains(chunks[0].Text, "Small section a.") || chunks[0].Anchor != "intro" {
		t.Errorf("first chunk: %q %q", chunks[0].Title, chunks[0].Text)
	}
	// The code block is whole in exactly one chunk.
	var withCode int
	for _, c := range chunks {
		if strings.Contains(c.Text, "```rust\n"+bigCode+"\n```") {
			withCode++
		}
		if strings.Count(c.Text, "let value") != 0 && strings.Count(c.Text, "let value") != 120 {
			t.Errorf("code block split: %d of 120 lines in one chunk", strings.Count(c.Text, "let value"))
		}
	}
	if withCode != 1 {
		t.Errorf("code block whole in %d chunks, want 1", withCode)
	}
	// The long section continues in later chunks, each with its heading and the previous chunk's last sentences.
	var long []Chunk
	for _, c := range chunks {
		if c.Title == "The Book › Intro › Long" {
			long = append(long, c)
		}
	}
	if len(long) < 3 {
		t.Fatalf("long section in %d chunks, want ≥ 3", len(long))
	}
	first, second := long[0].Text, long[1].Text
	if !strings.HasPrefix(second, "# Long\n\n") {
		t.Errorf("continued chunk does not start with its heading: %.40q", second)
	}
	lastSentence := first[strings.LastIndex(first, "Sentence "):]
	if !strings.Contains(second, lastSentence) {
		t.Errorf("no overlap: %q not repeated in the next chunk", lastSentence)
	}
	if tail := chunks[len(chunks)-1]; !strings.Contains(tail.Text, "The end.") {
		t.Errorf("last chunk %q lacks the tail section", tail.Text)
	}
	// Nothing is lost: every sentence is in some chunk.
	all := ""
	for _, c := range chunks {
		all += c.Text + "\n"
	}
	for _, want := range []string{"Sentence p0 ", "Sentence p59 ", "Sentence q0 ", "Sentence q29 ", "Short intro."} {
		if !strings.Contains(all, want) {
			t.Errorf("%q lost", want)
		}
	}
}

func TestChunkPageRealPageSizes(t *testing.T) {
	page, err := ParseHTML(readTestdata(t, "html/book/ch04-02-references-and-borrowing.html"), "4.2")
	if err != nil {
		t.Fatal(err)
	}
	chunks := ChunkPage(page, "The Book", DefaultChunkOptions)
	if len(chunks) < 3 {
		t.Fatalf("%d chunks", len(chunks))
	}
	for i, c := range chunks {
		if c.Tokens > DefaultChunkOptions.Max {
			t.Errorf("chunk %d %q: %d tokens", i, c.Title, c.Tokens)
		}
		if !strings.HasPrefix(c.Title, "The Book › 4.2 References and Borrowing") {
			t.Errorf("chunk %d title %q", i, c.Title)
		}
		if strings.Count(c.Text, "```")%2 != 0 {
			t.Errorf("chunk %d has an unbalanced code fence", i)
		}
	}
	if chunks[0].Tokens < DefaultChunkOptions.Min {
		t.Errorf("first chunk has %d tokens, want ≥ %d (small sections merge)", chunks[0].Tokens, DefaultChunkOptions.Min)
	}
}
