package sftdata

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// checkGolden compares pairs with testdata/golden/name.json.
func checkGolden(t *testing.T, name string, pairs []Pair) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".json")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(pairs); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
		t.Errorf("%s: pairs differ from the golden file (run with -update after checking):\n%s", name, got)
	}
}

func TestMineErrorCodes(t *testing.T) {
	pairs, skips, err := MineErrorCodes("testdata/docs/error_codes")
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 1 || len(skips) != 0 {
		t.Fatalf("got %d pairs, skips %v; want 1 pair", len(pairs), skips)
	}
	p := pairs[0]
	wantQ := "Explain error E0502 and show how to fix this code:\n\n```rust\nfn bar(x: &mut i32) {}\nfn foo(a: &mut i32) {\n" +
		"    let y = &a; // a is borrowed as immutable.\n    bar(a); // error: cannot borrow `*a` as mutable because `a` is also borrowed\n" +
		"            //        as immutable\n    println!(\"{}\", y);\n}\n```"
	if p.Question != wantQ {
		t.Errorf("question:\n%s\nwant:\n%s", p.Question, wantQ)
	}
	wantA := "A variable already borrowed with a certain mutability (either mutable or immutable) was borrowed again with a different mutability.\n\n" +
		"To fix this error, ensure that you don’t have any other references to the variable before trying to access it with a different mutability:\n\n" +
		"```rust\nfn bar(x: &mut i32) {}\nfn foo(a: &mut i32) {\n    bar(a);\n    let y = &a; // ok!\n    println!(\"{}\", y);\n}\n```"
	if p.Answer != wantA {
		t.Errorf("answer:\n%s\nwant:\n%s", p.Answer, wantA)
	}
	wantMeta := Meta{Source: SourceErrorCodes, Kind: KindErrorFix, Path: "E0502.html", URL: "https://doc.rust-lang.org/error_codes/E0502.html",
		Item: "E0502", Licence: "MIT OR Apache-2.0"}
	if p.Meta != wantMeta {
		t.Errorf("meta %+v, want %+v", p.Meta, wantMeta)
	}
}

func TestMineBook(t *testing.T) {
	pairs, skips, err := MineBook("testdata/docs/book", BookOptions{Source: SourceBook, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(skips) != 0 {
		t.Errorf("skips: %v", skips)
	}
	for _, p := range pairs {
		if p.Meta.Source != SourceBook || !strings.HasPrefix(p.Meta.URL, "https://doc.rust-lang.org/book/ch03-04-comments.html#") {
			t.Errorf("provenance %+v", p.Meta)
		}
		if !hasCode(p.Question + p.Answer) {
			t.Errorf("pair without code: %+v", p)
		}
	}
	checkGolden(t, "book", pairs)
}

func TestMineBookSeedPicksStyle(t *testing.T) {
	kinds := map[string]bool{}
	for seed := int64(0); seed < 8; seed++ {
		pairs, _, err := MineBook("testdata/docs/book", BookOptions{Source: SourceBook, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pairs {
			kinds[p.Meta.Kind] = true
		}
	}
	if !kinds[KindExplainCode] || !kinds[KindWriteCode] {
		t.Errorf("seeds 0–7 gave kinds %v, want both explain-code and write-code", kinds)
	}
}

func TestMineCrate(t *testing.T) {
	crates, missing, err := FindCrates("testdata/crates", []string{"hex", "nonesuch"})
	if err != nil {
		t.Fatal(err)
	}
	if len(crates) != 1 || crates[0].Name != "hex" || crates[0].Version != "0.4.3" || len(missing) != 1 || missing[0] != "nonesuch" {
		t.Fatalf("FindCrates = %+v, missing %v", crates, missing)
	}
	pairs, skips, err := MineCrate(crates[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(skips) != 0 {
		t.Errorf("skips: %v", skips)
	}
	var items []string
	for _, p := range pairs {
		items = append(items, p.Meta.Kind+" "+p.Meta.Item)
	}
	want := "write-fn hex::serde::serialize_upper, write-fn hex::serde::serialize, write-fn hex::serde::deserialize"
	if got := strings.Join(items, ", "); got != want {
		t.Errorf("items %s\nwant %s", got, want)
	}
	checkGolden(t, "crate", pairs)
}

func TestMineClippy(t *testing.T) {
	pairs, skips, err := MineClippy("testdata/clippy")
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 1 || len(skips) != 0 {
		t.Fatalf("got %d pairs, skips %v", len(pairs), skips)
	}
	checkGolden(t, "clippy", pairs)
}
