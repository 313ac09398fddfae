package rag

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/store"
)

func parseStdPage(t *testing.T, rel string) Page {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "html", "std", rel))
	if err != nil {
		t.Fatal(err)
	}
	page, err := ParseRustdoc(data)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return page
}

// outline is a page's sections as "path | anchor" lines.
func outline(p Page) []string {
	var out []string
	for _, s := range p.Sections {
		out = append(out, strings.Join(s.Path, " › ")+" | "+s.Anchor)
	}
	return out
}

func sectionText(s Section) string {
	var b strings.Builder
	for _, bl := range s.Blocks {
		b.WriteString(bl.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestParseRustdocStruct(t *testing.T) {
	p := parseStdPage(t, "sync/struct.Barrier.html")
	if p.Title != "std::sync::Barrier" {
		t.Errorf("title %q", p.Title)
	}
	sameLines(t, "sections", outline(p), []string{
		"std::sync::Barrier | ",
		"std::sync::Barrier › Examples | examples",
		"std::sync::Barrier › std::sync::Barrier::new | method.new",
		"std::sync::Barrier › std::sync::Barrier::wait | method.wait",
	})
	top := p.Sections[0]
	if top.Blocks[0].Text != "Struct std::sync::Barrier" || top.Blocks[1].Kind != CodeBlock ||
		top.Blocks[1].Text != "pub struct Barrier { /* private fields */ }" ||
		!strings.HasPrefix(top.Blocks[2].Text, "A barrier enables multiple threads to synchronize") {
		t.Errorf("top section: %+v", top.Blocks)
	}
	wait := p.Sections[3]
	if wait.Blocks[0].Kind != CodeBlock || wait.Blocks[0].Text != "pub fn wait(&self) -> BarrierWaitResult" {
		t.Errorf("wait signature: %+v", wait.Blocks[0])
	}
	text := sectionText(wait)
	for _, want := range []string{"Blocks the current thread until all threads have rendezvoused here.", "Examples:", "barrier.wait()"} {
		if !strings.Contains(text, want) {
			t.Errorf("wait section lacks %q:\n%s", want, text)
		}
	}
	all := ""
	for _, s := range p.Sections {
		all += sectionText(s)
	}
	for _, junk := range []string{"Copy item path", "Expand description", "§", "Source", "1.0.0", "impl Debug for Barrier",
		"Blanket Implementations", "Auto Trait", "Run code", "Settings", "Help"} {
		if strings.Contains(all, junk) {
			t.Errorf("page text has %q (decoration, sidebar or trait impls)", junk)
		}
	}
}

func TestParseRustdocVariantsModuleAndTrait(t *testing.T) {
	enum := parseStdPage(t, "net/enum.Shutdown.html")
	sameLines(t, "enum sections", outline(enum), []string{
		"std::net::Shutdown | ",
		"std::net::Shutdown › std::net::Shutdown::Read | variant.Read",
		"std::net::Shutdown › std::net::Shutdown::Write | variant.Write",
		"std::net::Shutdown › std::net::Shutdown::Both | variant.Both",
	})
	if got := sectionText(enum.Sections[1]); got != "Read\nThe reading portion of the TcpStream should be shut down.\nAll currently blocked and future reads will return Ok(0).\n" {
		t.Errorf("variant Read: %q", got)
	}

	mod := parseStdPage(t, "env/index.html")
	sameLines(t, "module sections", outline(mod), []string{
		"std::env | ", "std::env › Modules | modules", "std::env › Structs | structs",
		"std::env › Enums | enums", "std::env › Functions | functions",
	})
	if got := sectionText(mod.Sections[4]); !strings.Contains(got, "\nvar: Fetches the environment variable key from the current process.\n") {
		t.Errorf("functions list lacks var:\n%s", got)
	}

	fn := parseStdPage(t, "env/fn.var.html")
	if fn.Title != "std::env::var" || fn.Sections[0].Blocks[1].Text != "pub fn var<K: AsRef<OsStr>>(key: K) -> Result<String, VarError>" {
		t.Errorf("function page: %q %+v", fn.Title, fn.Sections[0].Blocks)
	}

	trait := parseStdPage(t, "ops/trait.Drop.html")
	got := outline(trait)
	want := []string{
		"std::ops::Drop | ", "std::ops::Drop › Examples | examples",
		"std::ops::Drop › You cannot call Drop::drop yourself | you-cannot-call-dropdrop-yourself",
		"std::ops::Drop › Drop order | drop-order", "std::ops::Drop › Copy and Drop are exclusive | copy-and-drop-are-exclusive",
		"std::ops::Drop › Drop check | drop-check", "std::ops::Drop › std::ops::Drop::drop | tymethod.drop",
	}
	sameLines(t, "trait sections", got, want)
	if last := trait.Sections[len(trait.Sections)-1]; last.Blocks[0].Text != "fn drop(&mut self)" ||
		!strings.Contains(sectionText(last), "Panics:\n") {
		t.Errorf("required method: %+v", last.Blocks)
	}
}

func TestParseRustdocRejectsOtherPages(t *testing.T) {
	book, err := os.ReadFile(filepath.Join("testdata", "html", "book", "ch04-02-references-and-borrowing.html"))
	if err != nil {
		t.Fatal(err)
	}
	redirect, err := os.ReadFile(filepath.Join("testdata", "html", "book", "ch17-00-oop.html"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"no #main-content": book,
		"redirect page":    redirect,
		"not a rustdoc":    []byte("\x00\x01 binary <<<"),
		"no item name":     []byte(`<section id="main-content"><div class="main-heading"><h1></h1></div></section>`),
	}
	for want, data := range cases {
		if _, err := ParseRustdoc(data); err == nil || !strings.Contains(err.Error(), strings.Fields(want)[0]) {
			t.Errorf("%s: error %v", want, err)
		}
	}
	// A truncated page (cut mid-tag) is repaired by the HTML parser, never a panic.
	full, _ := os.ReadFile(filepath.Join("testdata", "html", "std", "sync", "struct.Barrier.html"))
	for _, n := range []int{100, len(full) / 3, len(full) / 2, len(full) - 7} {
		if p, err := ParseRustdoc(full[:n]); err == nil && p.Title != "std::sync::Barrier" {
			t.Errorf("truncated at %d: title %q", n, p.Title)
		}
	}
}

func TestIngestRustdocChunksPerMember(t *testing.T) {
	st := openStore(t)
	rep := ingest(t, st, "std", filepath.Join("testdata", "html", "std"))
	if rep.New != 5 || len(rep.Skipped) != 0 {
		t.Fatalf("ingest: %+v", rep)
	}
	hits, err := st.SearchRAG(context.Background(), store.RAGSearch{Match: MatchQuery("Barrier::wait rendezvoused"), Limit: 3})
	if err != nil || len(hits) == 0 {
		t.Fatalf("search: %v %+v", err, hits)
	}
	if hits[0].URL != "https://doc.rust-lang.org/std/sync/struct.Barrier.html#method.wait" ||
		hits[0].Title != "std API › std::sync::Barrier › std::sync::Barrier::wait" {
		t.Errorf("best hit %q %q", hits[0].Title, hits[0].URL)
	}
	// A method is its own chunk, even when small: Barrier::new is not merged into wait.
	if strings.Contains(hits[0].Text, "Creates a new barrier") {
		t.Errorf("method chunks merged:\n%s", hits[0].Text)
	}
}

func TestShadowedPagesComeFromStd(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"std/vec/struct.Vec.html", "core/vec/struct.Vec.html", "core/ptr/fn.null.html"} {
		path := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	core := mustSource(t, "core")
	got := shadowed(core, filepath.Join(root, "core"), []string{"ptr/fn.null.html", "vec/struct.Vec.html"})
	if strings.Join(got, ",") != "ptr/fn.null.html" {
		t.Errorf("core pages kept: %v, want only the one std lacks", got)
	}
	if std := mustSource(t, "std"); len(shadowed(std, filepath.Join(root, "std"), []string{"vec/struct.Vec.html"})) != 1 {
		t.Errorf("std is shadowed by nothing")
	}
	for rel, want := range map[string]bool{"vec/struct.Vec.html": true, "arch/x86_64/fn.x.html": false,
		"intrinsics/fn.x.html": false, "all.html": false, "vec/sidebar-items.js": false, "index.html": true} {
		if rustdocPage(rel) != want {
			t.Errorf("rustdocPage(%q) = %v", rel, !want)
		}
	}
}

func TestSearchKeepsTheBestChunkOfEachPage(t *testing.T) {
	st := openStore(t)
	ingest(t, st, "book", filepath.Join("testdata", "html", "book"))
	ingest(t, st, "error-codes", filepath.Join("testdata", "html", "error_codes"))
	raw, err := st.SearchRAG(context.Background(), store.RAGSearch{Match: MatchQuery("borrow reference mutable"), Limit: 10})
	if err != nil || len(raw) < 3 {
		t.Fatalf("the fixture should give several chunks of the Book page: %v %d", err, len(raw))
	}
	hits, err := Search(context.Background(), st, nil, "", Query{Text: "borrow reference mutable", K: 10, Mode: ModeBM25})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].ChunkID != raw[0].ChunkID {
		t.Fatalf("hits %d, want the best Book chunk and the E0502 page", len(hits))
	}
	if DocumentURL(hits[0].URL) == DocumentURL(hits[1].URL) {
		t.Errorf("two chunks of one page: %s, %s", hits[0].URL, hits[1].URL)
	}
}
