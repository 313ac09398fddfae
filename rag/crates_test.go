package rag

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPickCratesTopsUpMissingCrates(t *testing.T) {
	present := map[string]CrateFolder{}
	for _, n := range append(TopCrates()[:18], "zeta", "alpha", "crossbeam-channel") {
		present[crateKey(n)] = CrateFolder{Name: n, Version: "1.0.0"}
	}
	r := CrateReader{Find: func(dir string, names []string) ([]CrateFolder, []string, error) {
		var found []CrateFolder
		var missing []string
		if len(names) == 0 {
			for _, c := range present {
				found = append(found, c)
			}
		}
		for _, n := range names {
			if c, ok := present[crateKey(n)]; ok {
				found = append(found, c)
			} else {
				missing = append(missing, n)
			}
		}
		return found, missing, nil
	}}
	picked, missing, err := PickCrates(r, "reg")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range picked {
		names = append(names, c.Name)
	}
	want := append(slices.Clone(TopCrates()[:18]), "crossbeam-channel", "alpha")
	if !slices.Equal(names, want) || !slices.Equal(missing, TopCrates()[18:]) {
		t.Errorf("picked %v missing %v", names, missing)
	}
}

func TestCrateRegistryDirFindsCargoRegistry(t *testing.T) {
	if _, err := os.Stat("/usr/share/cargo/registry"); err == nil {
		t.Skip("Debian's registry is found first on this machine")
	}
	home := t.TempDir()
	index := filepath.Join(home, "registry", "src", "index.crates.io-6f17d22bba15001f")
	if err := os.MkdirAll(index, 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CARGO_HOME": home}
	if got := CrateRegistryDir(func(k string) string { return env[k] }); got != index {
		t.Errorf("registry = %q, want %q", got, index)
	}
	if got := CrateRegistryDir(func(string) string { return "" }); got != "" {
		t.Errorf("no home: %q", got)
	}
}

func TestCrateSourceFile(t *testing.T) {
	for rel, want := range map[string]bool{"tokio-1.24.2/src/lib.rs": true, "tokio-1.24.2/src/sync/mpsc/mod.rs": true,
		"tokio-1.24.2/build.rs": false, "tokio-1.24.2/src/README.md": false, "lib.rs": false} {
		if crateSourceFile(rel) != want {
			t.Errorf("crateSourceFile(%q) = %v", rel, !want)
		}
	}
}

func TestCratePagesShowAliases(t *testing.T) {
	c := CrateFolder{Name: "serde_json", Version: "1.0.87"}
	mods := []CrateModule{{File: "src/de.rs", Public: "serde_json::de", Licence: "MIT", Items: []CrateItem{
		{Kind: "fn", Name: "from_str", Path: "serde_json::de::from_str", Module: "serde_json::de",
			Signature: "pub fn from_str<'a, T>(s: &'a str) -> Result<T>", Doc: "Deserializes from a string.",
			Aliases: []string{"serde_json::from_str"}},
		{Kind: "struct", Name: "Deserializer", Path: "serde_json::de::Deserializer", Module: "serde_json::de",
			Signature: "pub struct Deserializer<R>", Doc: "A deserializer.", Aliases: []string{"serde_json::Deserializer"}},
		{Kind: "method", Name: "end", Path: "serde_json::de::Deserializer::end", Module: "serde_json::de", Parent: "Deserializer",
			ParentKind: "struct", Signature: "pub fn end(&mut self) -> Result<()>", Doc: "Checks the input is consumed.",
			Aliases: []string{"serde_json::Deserializer::end"}},
		{Kind: "fn", Name: "from_slice", Path: "serde_json::de::from_slice", Module: "serde_json::de",
			Signature: "pub fn from_slice<'a, T>(v: &'a [u8]) -> Result<T>", Doc: "Deserializes from bytes."},
	}}}
	pages := map[string]Page{}
	for _, p := range cratePages(c, mods) {
		pages[p.path] = p.page()
	}
	dir := "serde_json/1.0.87/serde_json/de/"
	for _, want := range []struct {
		page, heading, first string
		section              int
	}{
		{"fn.from_str.html", "serde_json::de::from_str (serde_json::from_str)", "Re-exported as `serde_json::from_str`.", 0},
		{"struct.Deserializer.html", "serde_json::de::Deserializer (serde_json::Deserializer)", "Re-exported as `serde_json::Deserializer`.", 0},
		{"struct.Deserializer.html", "serde_json::de::Deserializer::end (serde_json::Deserializer::end)", "Re-exported as `serde_json::Deserializer::end`.", 1},
		{"fn.from_slice.html", "serde_json::de::from_slice", "pub fn from_slice<'a, T>(v: &'a [u8]) -> Result<T>", 0},
	} {
		p, ok := pages[dir+want.page]
		if !ok || len(p.Sections) <= want.section {
			t.Errorf("%s: no section %d in %+v", want.page, want.section, p)
			continue
		}
		s := p.Sections[want.section]
		if got := s.Path[len(s.Path)-1]; got != want.heading || s.Blocks[0].Text != want.first {
			t.Errorf("%s section %d: heading %q first block %q, want %q, %q", want.page, want.section, got, s.Blocks[0].Text, want.heading, want.first)
		}
		if p.Title != strings.Fields(want.heading)[0] && want.section == 0 {
			t.Errorf("%s: page title %q", want.page, p.Title)
		}
	}
	chunk := ChunkPage(pages[dir+"fn.from_str.html"], "Crate docs", DefaultChunkOptions)[0]
	if !slices.Contains(words(chunk.Title), "serde_json::from_str") || !strings.Contains(Terms(chunk.Title+"\n"+chunk.Text), "serde json from str") {
		t.Errorf("from_str chunk: title %q terms %q", chunk.Title, Terms(chunk.Title+"\n"+chunk.Text))
	}
}
