package rag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"rustexpert/store"
)

// The crates source reads the doc comments of crate sources in a registry folder (Debian's
// /usr/share/cargo/registry from the librust-*-dev packages, or cargo's ~/.cargo/registry/src/*):
// one document per page docs.rs would show, so every hit links to its docs.rs page. A module's
// page (tokio/sync/mpsc/index.html) holds its //! doc and its item list; each documented public
// item has its own page (fn.channel.html, struct.Sender.html) titled by its item path, holding its
// signature and doc; methods are sections of their type's or trait's page (anchor method.send,
// tymethod.area for a required trait method). The sources are parsed by sftdata's Rust item
// reader, which rag cannot import (sftdata imports rag): a caller sets Source.Crates
// (rag/cratedocs.Attach does).

// CrateFolder is one crate's folder in a registry.
type CrateFolder struct {
	Name, Version, Dir string
}

// CrateModule is the documentation one source file of a crate gives.
type CrateModule struct {
	File    string // relative to the crate folder: src/sync/mpsc/bounded.rs
	Public  string // the public module its items are documented in: tokio::sync::mpsc
	Private bool   // the file's own module is private (its //! doc is shown nowhere)
	Doc     string // the //! doc, Markdown
	Licence string
	Items   []CrateItem
}

// CrateItem is one documented public item; see sftdata.ItemDoc.
type CrateItem struct {
	Kind       string // fn, struct, enum, union, trait, type, const, static, macro, method, tymethod
	Name       string
	Path       string // tokio::sync::mpsc::channel
	Module     string // the public module it is documented in
	Parent     string // methods: the type or trait
	ParentKind string // methods: struct, enum, union or trait
	Signature  string
	Doc        string   // Markdown
	Aliases    []string // the other public paths it is re-exported under: serde_json::from_str
}

// CrateReader lists and reads a registry's crates for the crates source.
type CrateReader struct {
	// Find returns the newest version of each named crate present (in any order) and the names
	// not found; no names means every crate.
	Find func(dir string, names []string) (found []CrateFolder, missing []string, err error)
	// Read returns a crate's documentation per source file and the files skipped, with paths
	// relative to the registry folder.
	Read func(c CrateFolder) ([]CrateModule, []Skip, error)
}

// crateCount is how many crates the source ingests.
const crateCount = 20

// TopCrates are the crates the crates source ingests, most used first.
func TopCrates() []string {
	return []string{"serde", "serde_json", "tokio", "anyhow", "thiserror", "regex", "rand", "log", "clap", "bytes",
		"itertools", "once_cell", "memchr", "smallvec", "either", "bitflags", "hex", "base64", "semver", "walkdir"}
}

// spareCrates stand in, in this order, for crates of TopCrates a registry lacks; after them the
// registry's other crates by name.
func spareCrates() []string {
	return []string{"lazy_static", "indexmap", "crossbeam-channel", "rayon", "hashbrown", "syn", "parking_lot", "tracing"}
}

// CrateRegistryDir is the crate registry folder of this machine: Debian's /usr/share/cargo/registry
// when it exists, else the first index folder of cargo's registry/src (CARGO_HOME or ~/.cargo);
// "" when there is none. getenv reads the environment.
func CrateRegistryDir(getenv func(string) string) string {
	if info, err := os.Stat("/usr/share/cargo/registry"); err == nil && info.IsDir() {
		return "/usr/share/cargo/registry"
	}
	home := getenv("CARGO_HOME")
	if home == "" && getenv("HOME") != "" {
		home = filepath.Join(getenv("HOME"), ".cargo")
	}
	if home == "" {
		return ""
	}
	matches, _ := filepath.Glob(filepath.Join(home, "registry", "src", "*"))
	sort.Strings(matches)
	for _, m := range matches {
		if info, err := os.Stat(m); err == nil && info.IsDir() {
			return m
		}
	}
	return ""
}

// crateSourceFile accepts a Rust source file of a crate folder (NAME-VERSION/src/….rs).
func crateSourceFile(rel string) bool {
	_, after, ok := strings.Cut(rel, "/")
	return ok && strings.HasPrefix(after, "src/") && strings.HasSuffix(rel, ".rs")
}

// PickCrates chooses the crates to ingest from a registry folder: TopCrates in order, those
// missing replaced by spareCrates and then the registry's other crates, up to 20. It returns the
// names of TopCrates that are missing.
func PickCrates(r CrateReader, dir string) ([]CrateFolder, []string, error) {
	top, missing, err := r.Find(dir, TopCrates())
	if err != nil {
		return nil, nil, err
	}
	picked := inOrder(top, TopCrates())
	if len(picked) < crateCount {
		spare, _, err := r.Find(dir, spareCrates())
		if err != nil {
			return nil, nil, err
		}
		all, _, err := r.Find(dir, nil)
		if err != nil {
			return nil, nil, err
		}
		slices.SortFunc(all, func(a, b CrateFolder) int { return strings.Compare(a.Name, b.Name) })
		for _, c := range append(inOrder(spare, spareCrates()), all...) {
			if len(picked) < crateCount && !slices.ContainsFunc(picked, func(p CrateFolder) bool { return crateKey(p.Name) == crateKey(c.Name) }) {
				picked = append(picked, c)
			}
		}
	}
	return picked, missing, nil
}

// inOrder orders found crates as names lists them.
func inOrder(found []CrateFolder, names []string) []CrateFolder {
	var out []CrateFolder
	for _, n := range names {
		for _, c := range found {
			if crateKey(c.Name) == crateKey(n) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func crateKey(name string) string { return strings.ReplaceAll(name, "-", "_") }

// ingestCrates ingests the picked crates of a registry folder: their pages are stored when new or
// changed (sha256 of the page's content), pages no longer made are deleted.
func ingestCrates(ctx context.Context, st Store, src Source, dir string, opt ChunkOptions) (Report, error) {
	rep := Report{Source: src.Name}
	if src.Crates.Find == nil || src.Crates.Read == nil {
		return rep, fmt.Errorf("source %s: no crate reader (Source.Crates is not set)", src.Name)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return rep, fmt.Errorf("source %s: %s is not a readable folder", src.Name, dir)
	}
	crates, _, err := PickCrates(src.Crates, dir)
	if err != nil {
		return rep, err
	}
	if len(crates) == 0 { // not a registry: nothing stored is deleted
		return rep, fmt.Errorf("source %s: no crate folders (NAME-VERSION) in %s", src.Name, dir)
	}
	total := 0
	counts := make([]int, len(crates))
	for i, c := range crates {
		files, err := listFiles(c.Dir, func(rel string) bool { return crateSourceFile("x/"+rel) && !strings.HasPrefix(rel, "src/bin/") })
		if err != nil {
			return rep, err
		}
		counts[i] = len(files)
		total += len(files)
	}
	known, err := st.RAGDocumentHashes(ctx, src.Name)
	if err != nil {
		return rep, err
	}
	opt.Min = 0 // every item and method its own chunk, found by its path and linked to its page
	seen := map[string]bool{}
	done := 0
	progress(src, &rep, 0, total, "")
	for i, c := range crates {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		mods, skips, err := src.Crates.Read(c)
		if err != nil {
			return rep, fmt.Errorf("crate %s %s: %w", c.Name, c.Version, err)
		}
		rep.Skipped = append(rep.Skipped, skips...)
		for _, p := range cratePages(c, mods) {
			seen[p.path] = true
			if err := storeCratePage(ctx, st, src, p, known, opt, &rep); err != nil {
				return rep, err
			}
		}
		done += counts[i]
		progress(src, &rep, done, total, filepath.Base(c.Dir))
	}
	return rep, removeGone(ctx, st, src, known, seen, &rep)
}

// storeCratePage writes a page when it is new or its content changed.
func storeCratePage(ctx context.Context, st Store, src Source, p *cratePage, known map[string]string, opt ChunkOptions, rep *Report) error {
	page := p.page()
	hash := pageHash(p.licence, page)
	old, had := known[p.path]
	if had && old == hash {
		rep.Unchanged++
		return nil
	}
	doc := store.RAGDocument{Source: src.Name, Path: p.path, URL: src.BaseURL + p.path, Licence: p.licence, SHA256: hash}
	return storePage(ctx, st, src, page, doc, had, opt, rep)
}

// pageHash is the sha256 of everything stored of a page.
func pageHash(licence string, page Page) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", licence, page.Title)
	for _, s := range page.Sections {
		fmt.Fprintf(h, "%s\x00%s\x00", strings.Join(s.Path, "\x01"), s.Anchor)
		for _, b := range s.Blocks {
			fmt.Fprintf(h, "%d\x00%s\x00%s\x00", b.Kind, b.Lang, b.Text)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cratePage is one docs.rs page being assembled: the item's (or module's) own sections, then
// its members'.
type cratePage struct {
	path    string // crate/version/…: the docs.rs URL's path
	title   string
	licence string
	head    []Section
	members []Section
	items   []string // a module page's item list
}

func (p *cratePage) page() Page {
	secs := append(slices.Clone(p.head), p.members...)
	if len(p.items) > 0 {
		var blocks []Block
		for _, it := range p.items {
			blocks = append(blocks, Block{Kind: TextBlock, Text: it})
		}
		secs = append(secs, Section{Path: []string{p.title, "Items"}, Blocks: blocks})
	}
	return Page{Title: p.title, Sections: secs}
}

// crateBook collects a crate's pages by path, in the order first met.
type crateBook struct {
	crate   CrateFolder
	order   []string
	pages   map[string]*cratePage
	members map[string]bool // page path + anchor of each member section written
}

func (b *crateBook) get(path, title, licence string) *cratePage {
	if p, ok := b.pages[path]; ok {
		return p
	}
	p := &cratePage{path: path, title: title, licence: licence}
	b.pages[path] = p
	b.order = append(b.order, path)
	return p
}

// cratePages makes a crate's pages from its modules' documentation; pages without text are left out.
func cratePages(c CrateFolder, mods []CrateModule) []*cratePage {
	b := &crateBook{crate: c, pages: map[string]*cratePage{}, members: map[string]bool{}}
	for _, m := range mods {
		b.module(m)
		for _, it := range m.Items {
			b.item(it, m.Licence)
		}
	}
	var out []*cratePage
	for _, path := range b.order {
		if p := b.pages[path]; len(p.head)+len(p.members)+len(p.items) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// moduleDir is a public module's folder on docs.rs: crate/version/tokio/sync/mpsc/.
func (b *crateBook) moduleDir(module string) string {
	return b.crate.Name + "/" + b.crate.Version + "/" + strings.ReplaceAll(module, "::", "/") + "/"
}

// module adds a file's //! doc and item list to its public module's page.
func (b *crateBook) module(m CrateModule) {
	title := m.Public
	if crate, rest, ok := strings.Cut(m.Public, "::"); ok {
		title = crate + titleSep + rest
	}
	p := b.get(b.moduleDir(m.Public)+"index.html", title, m.Licence)
	if !m.Private && m.Doc != "" {
		for _, s := range ParseMarkdown(m.Doc).Sections {
			s.Path = append([]string{title}, s.Path...)
			p.head = append(p.head, s)
		}
	}
	for _, it := range m.Items {
		if it.Parent == "" && it.Module == m.Public {
			p.items = append(p.items, strings.TrimSpace(it.Kind+" "+it.Name+": "+summary(it.Doc)))
		}
	}
}

// item adds an item's page, or a method's section to its type's or trait's page.
func (b *crateBook) item(it CrateItem, licence string) {
	blocks := append(aliasBlocks(it.Aliases), Block{Kind: CodeBlock, Text: it.Signature, Lang: "rust"})
	blocks = append(blocks, docBlocks(it.Doc)...)
	heading := aliasHeading(it.Path, it.Aliases)
	if it.Parent == "" {
		p := b.get(b.moduleDir(it.Module)+pageKind(it.Kind)+"."+it.Name+".html", it.Path, licence)
		if len(p.head) == 0 { // the first of several definitions (under different cfgs) stands
			p.head = []Section{{Path: []string{heading}, Blocks: blocks}}
		}
		return
	}
	parentPath := it.Module + "::" + it.Parent
	p := b.get(b.moduleDir(it.Module)+pageKind(it.ParentKind)+"."+it.Parent+".html", parentPath, licence)
	anchor := it.Kind + "." + it.Name
	if b.members[p.path+"#"+anchor] {
		return
	}
	b.members[p.path+"#"+anchor] = true
	p.members = append(p.members, Section{Path: []string{parentPath, heading}, Anchor: anchor, Blocks: blocks})
}

// aliasHeading is an item's section heading: its path, then the paths it is re-exported under
// in parentheses ("serde_json::de::from_str (serde_json::from_str)"). In the chunk's title each
// path is one token of the title column, so BM25 finds the item by an alias as by its own path,
// and Terms puts the parts and sub-paths of both in the terms column.
func aliasHeading(path string, aliases []string) string {
	if len(aliases) == 0 {
		return path
	}
	return path + " (" + strings.Join(aliases, ", ") + ")"
}

// aliasBlocks says under which other paths an item is re-exported: "Re-exported as `a::b`."
func aliasBlocks(aliases []string) []Block {
	if len(aliases) == 0 {
		return nil
	}
	return []Block{{Kind: TextBlock, Text: "Re-exported as `" + strings.Join(aliases, "`, `") + "`."}}
}

// pageKind is the prefix docs.rs gives an item's page.
func pageKind(kind string) string {
	if kind == "const" {
		return "constant"
	}
	return kind
}

// docBlocks is a doc comment as blocks of one section: its headings ("Examples") become text lines.
func docBlocks(doc string) []Block {
	var out []Block
	var last []string
	for _, s := range ParseMarkdown(doc).Sections {
		if len(s.Path) > 0 && !slices.Equal(s.Path, last) {
			out = append(out, Block{Kind: TextBlock, Text: s.Path[len(s.Path)-1] + ":"})
		}
		last = s.Path
		out = append(out, s.Blocks...)
	}
	return out
}

// summary is the first sentence of a doc comment's first paragraph.
func summary(doc string) string {
	para, _, _ := strings.Cut(strings.TrimSpace(doc), "\n\n")
	para = strings.Join(strings.Fields(para), " ")
	if i := strings.Index(para, ". "); i >= 0 {
		para = para[:i+1]
	}
	return para
}
