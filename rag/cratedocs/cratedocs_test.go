package cratedocs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"rustexpert/rag"
	"rustexpert/store"
)

// registry copies the fake crate of sftdata's testdata into a fresh registry folder.
func registry(t *testing.T) string {
	t.Helper()
	return copyRegistry(t, "registry")
}

// copyRegistry copies a registry folder of sftdata's testdata into a fresh folder.
func copyRegistry(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "sftdata", "testdata", name)
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "rag.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func ingest(t *testing.T, st *store.Store, dir string) rag.Report {
	t.Helper()
	src, ok := rag.SourceByName("crates")
	if !ok {
		t.Fatal("no source crates")
	}
	rep, err := rag.Ingest(context.Background(), st, Attach(src), dir, rag.DefaultChunkOptions)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func search(t *testing.T, st *store.Store, q string) []rag.Hit {
	t.Helper()
	hits, err := rag.Search(context.Background(), st, nil, "", rag.Query{Text: q, Mode: rag.ModeBM25, Source: "crates"})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

const base = "https://docs.rs/fakecrate/0.2.1/fakecrate/"

func TestIngestCrateRegistry(t *testing.T) {
	st := openStore(t)
	dir := registry(t)
	rep := ingest(t, st, dir)
	if rep.New != 9 || rep.Changed != 0 || len(rep.Skipped) != 0 || rep.Removed != 0 {
		t.Fatalf("first ingest: %+v", rep)
	}
	hashes, err := st.RAGDocumentHashes(context.Background(), "crates")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for p := range hashes {
		paths = append(paths, strings.TrimPrefix(p, "fakecrate/0.2.1/fakecrate/"))
	}
	slices.Sort(paths)
	want := []string{"fn.double.html", "index.html", "macro.greet.html", "struct.Counter.html", "struct.Meters.html",
		"sub/enum.Kind.html", "sub/index.html", "sub/trait.Shape.html", "sub/type.Area.html"}
	if !slices.Equal(paths, want) {
		t.Errorf("documents:\n%v\nwant\n%v", paths, want)
	}
	for q, wantURL := range map[string]string{
		"fakecrate::sub::Shape::area": base + "sub/trait.Shape.html#tymethod.area",
		"Shape::double_area":          base + "sub/trait.Shape.html#method.double_area",
		"fakecrate::Counter::bump":    base + "struct.Counter.html#method.bump",
		"Counter::bump":               base + "struct.Counter.html#method.bump",
		"fakecrate::double":           base + "fn.double.html",
		"greet macro":                 base + "macro.greet.html",
		"Shapes measure":              base + "sub/index.html",
	} {
		hits, ok := firstHit(t, st, q, wantURL)
		if !ok {
			continue
		}
		if hits[0].Licence != "MIT OR Apache-2.0" {
			t.Errorf("%q: licence %q", q, hits[0].Licence)
		}
	}
	hits := search(t, st, "fakecrate::double")
	if h := hits[0]; h.Title != "Crate docs › fakecrate::double" || !strings.Contains(h.Text, "```rust\npub fn double(x: u32) -> u32\n```") ||
		!strings.Contains(h.Text, "Examples:") || !strings.Contains(h.Text, "```rust\nassert_eq!(fakecrate::double(3), 6);\n```") {
		t.Errorf("double's chunk: %q\n%s", h.Title, h.Text)
	}
	for _, q := range []string{"secret", "helper", "reset", "inner", "check"} {
		for _, h := range search(t, st, q) {
			if strings.Contains(h.URL, q) {
				t.Errorf("%q: a left-out item was ingested: %s", q, h.URL)
			}
		}
	}
}

func TestReingestCrateRegistry(t *testing.T) {
	st := openStore(t)
	dir := registry(t)
	ingest(t, st, dir)
	if rep := ingest(t, st, dir); rep.New+rep.Changed+rep.Removed != 0 || rep.Unchanged != 9 || rep.Chunks != 0 {
		t.Errorf("unchanged re-ingest: %+v", rep)
	}
	lib := filepath.Join(dir, "fakecrate-0.2.1", "src", "lib.rs")
	data, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(data), "pub fn double(x: u32) -> u32 {", "pub fn double(x: u64) -> u64 {", 1)
	if err := os.WriteFile(lib, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "fakecrate-0.2.1", "src", "sub", "latin1.rs")
	if err := os.WriteFile(bad, []byte("/// caf\xe9\npub fn f() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := ingest(t, st, dir)
	if rep.Changed != 1 || rep.New != 0 || rep.Unchanged != 8 || rep.Removed != 0 {
		t.Errorf("after changing double's signature: %+v", rep)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Path != "fakecrate-0.2.1/src/sub/latin1.rs" ||
		rep.Skipped[0].Reason != "not UTF-8 (first invalid byte at offset 7)" {
		t.Errorf("skipped: %+v", rep.Skipped)
	}
	if err := os.Remove(filepath.Join(dir, "fakecrate-0.2.1", "src", "sub", "mod.rs")); err != nil {
		t.Fatal(err)
	}
	if rep := ingest(t, st, dir); rep.Removed != 4 {
		t.Errorf("after removing sub/mod.rs: %+v", rep)
	}
}

func TestIngestNeedsCrates(t *testing.T) {
	st := openStore(t)
	src, _ := rag.SourceByName("crates")
	if _, err := rag.Ingest(context.Background(), st, src, registry(t), rag.DefaultChunkOptions); err == nil ||
		!strings.Contains(err.Error(), "no crate reader") {
		t.Errorf("without a reader: %v", err)
	}
	empty := t.TempDir()
	if _, err := rag.Ingest(context.Background(), st, Attach(src), empty, rag.DefaultChunkOptions); err == nil ||
		!strings.Contains(err.Error(), "no crate folders") || !strings.Contains(err.Error(), empty) {
		t.Errorf("an empty folder: %v", err)
	}
}

func TestIngestFindsReexportPaths(t *testing.T) {
	st := openStore(t)
	if rep := ingest(t, st, copyRegistry(t, "reexports")); rep.New != 19 || len(rep.Skipped) != 0 {
		t.Fatalf("ingest: %+v", rep)
	}
	const io = "https://docs.rs/fakeio/0.3.0/fakeio/"
	for q, wantURL := range map[string]string{
		"fakeio::spawn":                io + "task/fn.spawn.html",
		"fakeio::unpack":               io + "codec/fn.decode.html",
		"fakeio::Datagram":             io + "codec/struct.Frame.html",
		"fakeio::prelude::Datagram":    io + "codec/struct.Frame.html",
		"fakeio::Datagram::len":        io + "codec/struct.Frame.html#method.len",
		"fakeio::Figure::double_area":  io + "shapes/trait.Shape.html#method.double_area",
		"fakeio::util::twice":          io + "fn.double.html",
		"fakeio::thread_rng":           io + "fn.thread_rng.html",
		"fakeio::Matcher::find":        io + "struct.Matcher.html#method.find",
		"fakeio::bytes::Matcher::find": io + "bytes/struct.Matcher.html#method.find",
		"fakeio::prelude::perimeter":   io + "shapes/fn.perimeter.html",
	} {
		firstHit(t, st, q, wantURL)
	}
	hits := search(t, st, "fakeio::Datagram")
	if len(hits) == 0 || hits[0].Title != "Crate docs › fakeio::codec::Frame (fakeio::Datagram, fakeio::Frame, fakeio::prelude::Datagram)" ||
		!strings.Contains(hits[0].Text, "Re-exported as `fakeio::Datagram`, `fakeio::Frame`, `fakeio::prelude::Datagram`.") {
		t.Errorf("Frame's chunk: %+v", hits)
	}
	for _, q := range []string{"perim", "around", "around_block", "SecretKind", "TestKind", "InnerKind", "StringKind", "raw_encode", "WireFrame"} {
		for _, h := range search(t, st, q) {
			if strings.Contains(h.Title, q) || strings.Contains(h.Text, q) {
				t.Errorf("%q: not a public re-export, found in %s", q, h.URL)
			}
		}
	}
}

// firstHit searches q and reports (as a test error) unless wantURL is the first hit.
func firstHit(t *testing.T, st *store.Store, q, wantURL string) ([]rag.Hit, bool) {
	t.Helper()
	hits := search(t, st, q)
	if len(hits) == 0 || hits[0].URL != wantURL {
		var got []string
		for _, h := range hits {
			got = append(got, h.URL)
		}
		t.Errorf("%q: hits %v, want %s first", q, got, wantURL)
		return hits, false
	}
	return hits, true
}
