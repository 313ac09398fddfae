package sftdata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCrateDocsFakeCrate(t *testing.T) {
	c := CrateDir{Name: "fakecrate", Version: "0.2.1", Dir: filepath.Join("testdata", "registry", "fakecrate-0.2.1")}
	docs, skips, err := CrateDocs(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(skips) != 0 {
		t.Errorf("skips = %v, want none", skips)
	}
	byFile := map[string]ModuleDoc{}
	for _, m := range docs {
		byFile[m.File] = m
	}
	root := byFile["src/lib.rs"]
	if root.Module != "fakecrate" || root.Private || !strings.HasPrefix(root.Doc, "A small crate") {
		t.Errorf("lib.rs = %+v", root)
	}
	if strings.Contains(root.Doc, "# use") || !strings.Contains(root.Doc, "```rust\nassert_eq!(double(2), 4);\n```") {
		t.Errorf("lib.rs doc: hidden line kept or example lost:\n%s", root.Doc)
	}
	hidden := byFile["src/hidden_impl.rs"]
	if hidden.Module != "fakecrate::hidden_impl" || hidden.Public != "fakecrate" || !hidden.Private {
		t.Errorf("hidden_impl.rs: module %q public %q private %v", hidden.Module, hidden.Public, hidden.Private)
	}
	sub := byFile["src/sub/mod.rs"]
	if sub.Module != "fakecrate::sub" || sub.Private || sub.Doc != "Shapes and how to measure them." {
		t.Errorf("sub/mod.rs = %+v", sub)
	}
	var got []string
	for _, m := range docs {
		for _, it := range m.Items {
			got = append(got, it.Kind+" "+it.Path+" "+it.ParentKind)
		}
	}
	want := []string{
		"struct fakecrate::Counter ", "method fakecrate::Counter::bump struct",
		"fn fakecrate::double ", "macro fakecrate::greet ", "struct fakecrate::Meters ",
		"trait fakecrate::sub::Shape ", "method fakecrate::sub::Shape::double_area trait", "enum fakecrate::sub::Kind ",
		"tymethod fakecrate::sub::Shape::area trait", "type fakecrate::sub::Area ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	fn := byFile["src/lib.rs"].Items[0]
	if fn.Signature != "pub fn double(x: u32) -> u32" || !strings.Contains(fn.Doc, "```rust\nassert_eq!(fakecrate::double(3), 6);\n```") {
		t.Errorf("double: signature %q doc %q", fn.Signature, fn.Doc)
	}
}

func TestCrateDocsSkipsBadFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bad-1.0.0")
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Cargo.toml", "[package]\nname = \"bad\"\nlicense = \"MIT\"\n")
	write("src/lib.rs", "/// Fine.\npub fn ok() {}\n")
	write("src/latin1.rs", "/// caf\xe9\npub fn f() {}\n")
	write("src/blob.rs", "\x00\x01\x02")
	write("src/big.rs", strings.Repeat("// x\n", maxSourceBytes/5+1))
	write("src/broken.rs", "/// Unclosed.\npub fn broken() { if x { \"unterminated")
	docs, skips, err := CrateDocs(CrateDir{Name: "bad", Version: "1.0.0", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, s := range skips {
		reasons[s.Path] = s.Reason
	}
	for path, want := range map[string]string{"bad-1.0.0/src/latin1.rs": "not UTF-8 (first invalid byte at offset 7)",
		"bad-1.0.0/src/blob.rs": "binary file (NUL byte at offset 0)", "bad-1.0.0/src/big.rs": "too large"} {
		if !strings.HasPrefix(reasons[path], want) {
			t.Errorf("skip of %s = %q, want %q", path, reasons[path], want)
		}
	}
	if len(docs) != 2 {
		t.Fatalf("documents = %d, want 2 (lib.rs, broken.rs)", len(docs))
	}
	_, skips, err = CrateDocs(CrateDir{Name: "none", Dir: t.TempDir()})
	if err != nil || len(skips) != 1 || !strings.HasPrefix(skips[0].Reason, "no licence") {
		t.Errorf("crate without Cargo.toml: skips %v, err %v", skips, err)
	}
}
