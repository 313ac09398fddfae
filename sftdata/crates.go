package sftdata

import (
	"bufio"
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// DefaultCrates are widely used crates mined when no list is given (those present are used).
var DefaultCrates = []string{
	"serde", "serde_json", "anyhow", "thiserror", "regex", "itertools", "rand", "log", "clap", "bytes",
	"once_cell", "memchr", "smallvec", "either", "bitflags", "hex", "base64", "semver", "walkdir",
	"lazy_static", "indexmap", "crossbeam-channel", "tokio", "rayon", "hashbrown",
}

// maxSourceBytes is the largest crate source file read.
const maxSourceBytes = 1 << 20

// CrateDir is one crate's folder in a registry (Debian's /usr/share/cargo/registry/<name>-<version>).
type CrateDir struct {
	Name, Version, Dir string
}

var crateDirRE = regexp.MustCompile(`^(.+?)-(\d+\.\d+\.\d+.*)$`)

// FindCrates lists the newest version of each named crate in a registry folder; names may use
// '-' or '_'. An empty list means every crate there. Names not found are returned too.
func FindCrates(dir string, names []string) (found []CrateDir, missing []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("crates folder: %w", err)
	}
	newest := map[string]CrateDir{}
	for _, e := range entries {
		m := crateDirRE.FindStringSubmatch(e.Name())
		if !e.IsDir() || m == nil {
			continue
		}
		key := crateKey(m[1])
		c := CrateDir{Name: m[1], Version: m[2], Dir: filepath.Join(dir, e.Name())}
		if old, ok := newest[key]; !ok || compareVersions(c.Version, old.Version) > 0 {
			newest[key] = c
		}
	}
	if len(names) == 0 {
		for _, c := range newest {
			found = append(found, c)
		}
	}
	for _, n := range names {
		if c, ok := newest[crateKey(n)]; ok {
			found = append(found, c)
		} else {
			missing = append(missing, n)
		}
	}
	slices.SortFunc(found, func(a, b CrateDir) int { return cmp.Compare(a.Name, b.Name) })
	return found, missing, nil
}

func crateKey(name string) string { return strings.ReplaceAll(name, "-", "_") }

// compareVersions orders dotted versions numerically (pre-release suffixes compare as text).
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil && na != nb {
			return cmp.Compare(na, nb)
		}
		if ea != nil || eb != nil {
			if c := cmp.Compare(pa[i], pb[i]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(pa), len(pb))
}

var licenceRE = regexp.MustCompile(`^license\s*=\s*"([^"]+)"`)

// crateLicence reads the licence expression of a crate's Cargo.toml [package] table.
func crateLicence(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "Cargo.toml"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	section := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if m := licenceRE.FindStringSubmatch(line); m != nil && (section == "" || section == "[package]") {
			return m[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no license field in Cargo.toml", dir)
}

// MineCrate makes pairs of a crate's sources: each documented public function (doc comment and
// signature → the function) and each module doc with an example ("how do I use crate::module?").
func MineCrate(c CrateDir) ([]Pair, []Skip, error) {
	licence, err := crateLicence(c.Dir)
	if err != nil {
		return nil, []Skip{{Path: filepath.Base(c.Dir), Reason: "no licence: " + err.Error()}}, nil
	}
	srcDir := filepath.Join(c.Dir, "src")
	var pairs []Pair
	var skips []Skip
	err = filepath.WalkDir(srcDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".rs") {
			return nil
		}
		rel, _ := filepath.Rel(c.Dir, path)
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil || info.Size() > maxSourceBytes {
			skips = append(skips, Skip{Path: filepath.Base(c.Dir) + "/" + rel, Reason: "unreadable or larger than 1 MiB"})
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		file := sourceFile{crate: c, rel: rel, licence: licence, module: modulePath(crateKey(c.Name), rel)}
		pairs = append(pairs, file.pairs(string(data))...)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("crate %s: %w", c.Name, err)
	}
	return pairs, skips, nil
}

// modulePath turns src/foo/bar.rs into crate::foo::bar (lib.rs, main.rs and mod.rs name their folder).
func modulePath(crate, rel string) string {
	rel = strings.TrimSuffix(strings.TrimPrefix(rel, "src/"), ".rs")
	parts := []string{crate}
	for _, p := range strings.Split(rel, "/") {
		if p != "lib" && p != "main" && p != "mod" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "::")
}

type sourceFile struct {
	crate   CrateDir
	rel     string
	licence string
	module  string
}

func (f sourceFile) meta(kind, item string) Meta {
	return Meta{Source: SourceCrates, Kind: kind, Path: filepath.Base(f.crate.Dir) + "/" + f.rel, Item: item, Licence: f.licence}
}

func (f sourceFile) pairs(src string) []Pair {
	var pairs []Pair
	if doc := moduleDoc(src); strings.Contains(doc, "```") && len(doc) >= 200 {
		q := fmt.Sprintf("How do I use `%s`?", f.module)
		pairs = append(pairs, Pair{Question: q, Answer: rustdocMarkdown(doc), Meta: f.meta(KindModuleDoc, f.module)})
	}
	for _, it := range rustItems(src) {
		if p, ok := f.fnPair(it); ok {
			pairs = append(pairs, p)
		}
	}
	return pairs
}

// fnPair asks for a documented public function (or a trait's provided method) given its doc
// comment and signature.
func (f sourceFile) fnPair(it rustItem) (Pair, bool) {
	if it.Kind != "fn" || it.Doc == "" || strings.Contains(it.Code, "$") || codeLines(it.Code) < 3 {
		return Pair{}, false
	}
	inTrait := len(it.Context) > 0 && strings.HasPrefix(it.Signature, "fn ")
	if !strings.HasPrefix(it.Signature, "pub ") && !inTrait {
		return Pair{}, false
	}
	for _, a := range it.Attrs {
		if strings.Contains(a, "cfg(test)") || a == "#[test]" || strings.Contains(a, "doc(hidden)") {
			return Pair{}, false
		}
	}
	if slices.Contains(it.Context, "tests") || slices.Contains(it.Context, "test") {
		return Pair{}, false
	}
	doc := docSummary(it.Doc)
	if len(doc) < 20 {
		return Pair{}, false
	}
	path := strings.Join(append(append([]string{f.module}, it.Context...), it.Name), "::")
	q := fmt.Sprintf("Implement `%s` in Rust:\n\n%s\n\n%s", path, fence("rust", it.Signature), doc)
	return Pair{Question: q, Answer: fence("rust", it.Code), Meta: f.meta(KindWriteFn, path)}, true
}

// docSummary is a doc comment up to its first example heading, in Markdown.
func docSummary(doc string) string {
	var kept []string
	for _, line := range strings.Split(doc, "\n") {
		if h := strings.TrimSpace(line); strings.HasPrefix(h, "# Example") {
			break
		}
		kept = append(kept, line)
	}
	return strings.TrimSpace(rustdocMarkdown(strings.Join(kept, "\n")))
}

// rustdocMarkdown turns rustdoc Markdown into plain Markdown: code blocks without a language
// or with doc-test attributes (ignore, no_run, should_panic, …) become ```rust, and their hidden
// lines (# …) are dropped.
func rustdocMarkdown(doc string) string {
	var out []string
	inCode, rust := false, false
	for _, line := range strings.Split(doc, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") {
			if inCode {
				inCode = false
				out = append(out, "```")
				continue
			}
			inCode, rust = true, rustFence(strings.TrimPrefix(t, "```"))
			if rust {
				out = append(out, "```rust")
			} else {
				out = append(out, line)
			}
			continue
		}
		if inCode && rust {
			if t == "#" || strings.HasPrefix(t, "# ") {
				continue
			}
			if strings.HasPrefix(t, "##") {
				line = strings.Replace(line, "##", "#", 1)
			}
		}
		out = append(out, line)
	}
	if inCode {
		out = append(out, "```")
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// rustFence reports whether a code block's info string means Rust to rustdoc.
func rustFence(info string) bool {
	for _, attr := range strings.FieldsFunc(info, func(r rune) bool { return r == ',' || r == ' ' }) {
		switch {
		case attr == "rust", attr == "ignore", attr == "no_run", attr == "should_panic", attr == "compile_fail",
			strings.HasPrefix(attr, "edition"), strings.HasPrefix(attr, "ignore-"), attr == "test_harness":
		default:
			return false
		}
	}
	return true
}
