package rag

import (
	"os"
	"path/filepath"
	"sort"
)

// RustDocsDir is the first toolchain's html docs folder under RUSTUP_HOME (or ~/.rustup), else the
// distribution's (Debian's rust-doc); "" when there is none. getenv reads the environment.
func RustDocsDir(getenv func(string) string) string {
	home := getenv("RUSTUP_HOME")
	if home == "" && getenv("HOME") != "" {
		home = filepath.Join(getenv("HOME"), ".rustup")
	}
	if home != "" {
		matches, _ := filepath.Glob(filepath.Join(home, "toolchains", "*", "share", "doc", "rust", "html"))
		sort.Strings(matches)
		if len(matches) > 0 {
			return matches[0]
		}
	}
	if info, err := os.Stat("/usr/share/doc/rust/html"); err == nil && info.IsDir() {
		return "/usr/share/doc/rust/html"
	}
	return ""
}
