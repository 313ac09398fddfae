package rag

import (
	"os"
	"path/filepath"
	"slices"
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
