package sftdata

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"rustexpert/rag"
)

// ModuleDoc is the documentation one source file of a crate gives: its //! doc and its
// documented public items.
type ModuleDoc struct {
	File    string // relative to the crate folder, slash-separated: src/sync/mpsc/bounded.rs
	Module  string // the file's module path: tokio::sync::mpsc::bounded
	Public  string // the module its items are documented in, private modules left out: tokio::sync::mpsc
	Private bool   // the file's module is not public itself (its //! doc is shown nowhere)
	Licence string // the crate's, from its Cargo.toml
	Doc     string // the //! doc as Markdown (rustdoc's hidden example lines dropped)
	Items   []ItemDoc
}

// ItemDoc is one documented public item of a crate.
type ItemDoc struct {
	// Kind is fn, struct, enum, union, trait, type, const, static or macro; "method" for a method of
	// an inherent impl or a provided trait method, "tymethod" for a required trait method.
	Kind       string
	Name       string
	Path       string // tokio::sync::mpsc::channel; a method tokio::sync::mpsc::Sender::send
	Module     string // the public module the item is documented in (the crate root for exported macros)
	Parent     string // methods: the type or trait name
	ParentKind string // methods: struct, enum, union or trait (a type not found is taken as a struct)
	Signature  string // the declaration, whitespace collapsed (a short struct or enum: as written)
	Doc        string // the /// doc as Markdown
	// Aliases are the other public paths the crate re-exports the item under (`pub use`), sorted:
	// serde_json::from_str for serde_json::de::from_str; a method's come from its type's.
	Aliases []string

	defined string // the module the item is written in, private modules included
}

// Crate licence is read as MineCrate reads it; files are read with these limits.
const binaryProbeBytes = 8192

// maxDeclLines is the longest struct or enum declaration shown whole as its signature.
const maxDeclLines = 40

// CrateDocs reads the documentation of a crate's sources (every .rs file under src/, not src/bin/):
// per file its module path and //! doc, and each documented public item (pub, not inside a
// function body, not #[doc(hidden)], not in a cfg(test) module; methods of inherent impls and
// of public traits; exported macros) with its item path, signature and doc. Items of private
// modules are given the path of the nearest public module above (where a crate re-exports
// them). A file that is too large, binary, not UTF-8 or unreadable is skipped with its reason;
// a crate without a licence in Cargo.toml is skipped whole. Only a folder that cannot be
// walked is an error.
func CrateDocs(c CrateDir) ([]ModuleDoc, []Skip, error) {
	licence, err := crateLicence(c.Dir)
	if err != nil {
		return nil, []Skip{{Path: filepath.Base(c.Dir), Reason: "no licence: " + err.Error()}}, nil
	}
	files, skips, err := readCrateFiles(c)
	if err != nil {
		return nil, skips, err
	}
	crate := crateKey(c.Name)
	vis := newModuleVisibility()
	parsed := make([]parsedFile, len(files))
	for i, f := range files {
		parsed[i] = parseDocFile(crate, f.rel, f.src)
		vis.add(parsed[i])
	}
	var docs []ModuleDoc
	for _, p := range parsed {
		if vis.inTest(p.module) {
			continue
		}
		m := p.moduleDoc(crate, vis)
		m.Licence = licence
		docs = append(docs, m)
	}
	resolveParentKinds(docs)
	var uses []pubUse
	for _, p := range parsed {
		for _, u := range p.uses {
			if !vis.inTest(u.module) {
				uses = append(uses, u)
			}
		}
	}
	addAliases(docs, uses, vis)
	return docs, skips, nil
}

type crateFile struct{ rel, src string }

// readCrateFiles reads the .rs files under a crate's src/ (src/bin/ left out), sorted by path.
func readCrateFiles(c CrateDir) ([]crateFile, []Skip, error) {
	var files []crateFile
	var skips []Skip
	base := filepath.Base(c.Dir)
	err := filepath.WalkDir(filepath.Join(c.Dir, "src"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.Dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && rel == "src/bin" {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(rel, ".rs") {
			return nil
		}
		src, reason := readSource(path)
		if reason != "" {
			skips = append(skips, Skip{Path: base + "/" + rel, Reason: reason})
			return nil
		}
		files = append(files, crateFile{rel: rel, src: src})
		return nil
	})
	if err != nil {
		return nil, skips, fmt.Errorf("crate %s: %w", c.Name, err)
	}
	slices.SortFunc(files, func(a, b crateFile) int { return strings.Compare(a.rel, b.rel) })
	return files, skips, nil
}

// readSource reads a source file, or says why it is left out.
func readSource(path string) (string, string) {
	info, err := os.Stat(path)
	if err != nil {
		return "", "unreadable: " + err.Error()
	}
	if info.Size() > maxSourceBytes {
		return "", fmt.Sprintf("too large: %d bytes (limit %d)", info.Size(), maxSourceBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "unreadable: " + err.Error()
	}
	if i := strings.IndexByte(string(data[:min(len(data), binaryProbeBytes)]), 0); i >= 0 {
		return "", fmt.Sprintf("binary file (NUL byte at offset %d)", i)
	}
	if !utf8.Valid(data) {
		return "", fmt.Sprintf("not UTF-8 (first invalid byte at offset %d)", rag.FirstInvalidUTF8(data))
	}
	return string(data), ""
}

// scopedItem is an item with the containers (mods, traits, impls) it is written in, outermost first.
type scopedItem struct {
	item      rustItem
	scopes    []rustItem
	bodiless  bool // declared with ';' (a required trait method, a unit or tuple struct, …)
	moduleDef bool // a `mod x;` declaration
}

// parsedFile is one source file's items before paths are resolved.
type parsedFile struct {
	rel, module, doc string
	items            []scopedItem
	uses             []pubUse
}

func parseDocFile(crate, rel, src string) parsedFile {
	src = unwrapCfgMacros(src)
	p := parsedFile{rel: rel, module: modulePath(crate, rel), doc: moduleDoc(src)}
	var parents []rustItem
	for _, it := range rustItems(src) {
		parents = append(parents[:min(it.Depth, len(parents))], it)
		p.items = append(p.items, scopedItem{item: it, scopes: slices.Clone(parents[:len(parents)-1])})
	}
	p.items = append(p.items, bodilessItems(src)...)
	p.uses = pubUses(crate, p.module, src)
	return p
}

// moduleVisibility records the modules that are private, test-only or #[doc(hidden)], by module path.
type moduleVisibility struct {
	private, test, hidden map[string]bool
}

func newModuleVisibility() moduleVisibility {
	return moduleVisibility{private: map[string]bool{}, test: map[string]bool{}, hidden: map[string]bool{}}
}

func (v moduleVisibility) add(p parsedFile) {
	for _, s := range p.items {
		if s.item.Kind != "mod" {
			continue
		}
		path := joinPath(p.module, scopeNames(s.scopes), s.item.Name)
		// A module declared under several cfgs is public when any declaration is.
		private, seen := v.private[path]
		v.private[path] = (private || !seen) && !strings.HasPrefix(s.item.Signature, "pub ")
		test, seen := v.test[path]
		v.test[path] = (test || !seen) && (testOnly(s.item.Attrs) || s.item.Name == "tests")
		hidden, seen := v.hidden[path]
		v.hidden[path] = (hidden || !seen) && slices.ContainsFunc(s.item.Attrs, func(a string) bool { return strings.Contains(a, "doc(hidden)") })
	}
}

// public drops the private modules of a module path (the crate root always stays).
func (v moduleVisibility) public(module string) string {
	segs := strings.Split(module, "::")
	kept := segs[:1]
	for i := 1; i < len(segs); i++ {
		if !v.private[strings.Join(segs[:i+1], "::")] {
			kept = append(kept, segs[i])
		}
	}
	return strings.Join(kept, "::")
}

func (v moduleVisibility) isPrivate(module string) bool { return v.public(module) != module }

func (v moduleVisibility) inTest(module string) bool { return within(v.test, module) }

func (v moduleVisibility) inHidden(module string) bool { return within(v.hidden, module) }

// within reports whether a module or a module above it (the crate root left out) is in set.
func within(set map[string]bool, module string) bool {
	segs := strings.Split(module, "::")
	for i := 1; i < len(segs); i++ {
		if set[strings.Join(segs[:i+1], "::")] {
			return true
		}
	}
	return false
}

func (p parsedFile) moduleDoc(crate string, vis moduleVisibility) ModuleDoc {
	m := ModuleDoc{File: p.rel, Module: p.module, Public: vis.public(p.module), Private: vis.isPrivate(p.module),
		Doc: rustdocMarkdown(p.doc)}
	for _, s := range p.items {
		if d, ok := itemDoc(crate, p.module, vis, s); ok {
			m.Items = append(m.Items, d)
		}
	}
	return m
}

// itemDoc makes the ItemDoc of a documented public item, or reports that it is not one.
func itemDoc(crate, module string, vis moduleVisibility, s scopedItem) (ItemDoc, bool) {
	it := s.item
	if it.Doc == "" || s.moduleDef || !shown(it.Attrs) {
		return ItemDoc{}, false
	}
	var mods []string
	var parent *rustItem
	for i, sc := range s.scopes {
		if !shown(sc.Attrs) || isTraitImpl(sc) {
			return ItemDoc{}, false
		}
		switch sc.Kind {
		case "mod":
			mods = append(mods, sc.Name)
		case "trait", "impl":
			if i != len(s.scopes)-1 {
				return ItemDoc{}, false
			}
			parent = &s.scopes[i]
		default:
			return ItemDoc{}, false
		}
	}
	full := joinPath(module, mods)
	if vis.inTest(full) {
		return ItemDoc{}, false
	}
	d := ItemDoc{Kind: it.Kind, Name: it.Name, Module: vis.public(full), Signature: signature(s), Doc: rustdocMarkdown(it.Doc),
		defined: full}
	if parent != nil {
		return memberDoc(d, it, *parent, s.bodiless)
	}
	switch {
	case it.Kind == "macro" && slices.ContainsFunc(it.Attrs, func(a string) bool { return strings.HasPrefix(a, "#[macro_export") }):
		d.Module, d.defined = crate, crate
	case it.Kind == "mod" || it.Kind == "impl" || it.Kind == "macro" || !strings.HasPrefix(it.Signature, "pub "):
		return ItemDoc{}, false
	}
	d.Path = d.Module + "::" + it.Name
	return d, true
}

// memberDoc completes the ItemDoc of a method of an inherent impl or a public trait.
func memberDoc(d ItemDoc, it, parent rustItem, bodiless bool) (ItemDoc, bool) {
	if it.Kind != "fn" {
		return ItemDoc{}, false
	}
	switch parent.Kind {
	case "trait":
		if !strings.HasPrefix(parent.Signature, "pub ") {
			return ItemDoc{}, false
		}
		d.Kind, d.ParentKind = "method", "trait"
		if bodiless {
			d.Kind = "tymethod"
		}
	default: // an inherent impl
		if !strings.HasPrefix(it.Signature, "pub ") {
			return ItemDoc{}, false
		}
		d.Kind = "method"
	}
	d.Parent = parent.Name
	d.Path = d.Module + "::" + parent.Name + "::" + it.Name
	return d, true
}

// shown reports whether attributes leave an item in the docs: not #[doc(hidden)], not test-only.
func shown(attrs []string) bool {
	for _, a := range attrs {
		if strings.Contains(a, "doc(hidden)") || a == "#[test]" {
			return false
		}
	}
	return !testOnly(attrs)
}

func testOnly(attrs []string) bool {
	for _, a := range attrs {
		if strings.HasPrefix(a, "#[cfg(") && strings.Contains(a, "test") && !strings.Contains(a, "not(test)") {
			return true
		}
	}
	return false
}

// isTraitImpl reports whether a container is an `impl Trait for Type` (its methods are the trait's).
func isTraitImpl(it rustItem) bool {
	if it.Kind != "impl" {
		return false
	}
	head, _, _ := strings.Cut(it.Signature, " where ")
	rest, ok := strings.CutPrefix(strings.TrimPrefix(head, "unsafe "), "impl")
	if !ok {
		return false
	}
	return strings.Contains(" "+skipGenerics(strings.TrimSpace(rest))+" ", " for ")
}

// signature is the declaration shown for an item: the header, or a short struct, enum or
// union as written.
func signature(s scopedItem) string {
	it := s.item
	switch it.Kind {
	case "struct", "enum", "union":
		if !s.bodiless && codeLines(it.Code) <= maxDeclLines {
			return it.Code
		}
	case "macro":
		return "macro_rules! " + it.Name + " { … }"
	case "trait":
		if !s.bodiless {
			return it.Signature + " { … }"
		}
	}
	return it.Signature
}

func scopeNames(scopes []rustItem) []string {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = s.Name
	}
	return names
}

func joinPath(module string, more []string, last ...string) string {
	return strings.Join(append(append([]string{module}, more...), last...), "::")
}

// resolveParentKinds sets the kind of each method's type: the type's definition in the same
// public module, else anywhere in the crate, else struct.
func resolveParentKinds(docs []ModuleDoc) {
	byPath, byName := map[string]string{}, map[string]string{}
	for _, m := range docs {
		for _, it := range m.Items {
			switch it.Kind {
			case "struct", "enum", "union", "trait", "type":
				byPath[m.Public+"::"+it.Name] = it.Kind
				if _, ok := byName[it.Name]; !ok {
					byName[it.Name] = it.Kind
				}
			}
		}
	}
	for i := range docs {
		for j := range docs[i].Items {
			it := &docs[i].Items[j]
			if it.Parent == "" || it.ParentKind != "" {
				continue
			}
			it.ParentKind = "struct"
			if k, ok := byPath[it.Module+"::"+it.Parent]; ok {
				it.ParentKind = k
			} else if k, ok := byName[it.Parent]; ok {
				it.ParentKind = k
			}
			if it.ParentKind == "type" {
				it.ParentKind = "struct"
			}
		}
	}
}

var (
	cfgMacroRE  = regexp.MustCompile(`^cfg[A-Za-z0-9_]*!$`)
	otherItemRE = regexp.MustCompile(`^(type|const|static)\s+(mut\s+)?([A-Za-z_][A-Za-z0-9_]*)`)
)

// unwrapCfgMacros blanks the `cfg_xxx! {` and `}` around items (tokio's cfg_rt! { … } and the
// like) at the top level or in a module, so the items inside are read as the module's own.
// Offsets and line numbers are kept.
func unwrapCfgMacros(src string) string {
	masked := maskRust(src)
	blocks := braceBlocks(masked)
	out := []byte(src)
	unwrapped := make([]bool, len(blocks))
	for i, b := range blocks {
		if b.parent != -1 && !unwrapped[b.parent] {
			continue
		}
		sig := skipAttributes(masked, b.start, b.open)
		if !cfgMacroRE.MatchString(collapse(masked[sig:b.open])) {
			continue
		}
		unwrapped[i] = true
		for j := sig; j <= b.open; j++ {
			if out[j] != '\n' {
				out[j] = ' '
			}
		}
		if b.close < len(out) && out[b.close] == '}' {
			out[b.close] = ' '
		}
	}
	return string(out)
}

// bodilessItems lists the items declared with ';' in modules, traits and impls: required trait
// methods, unit and tuple structs, type aliases, constants, statics and `mod x;` declarations.
func bodilessItems(src string) []scopedItem {
	masked := maskRust(src)
	blocks := braceBlocks(masked)
	lines := newLineIndex(src)
	heads := make([]rustItem, len(blocks))
	for i, b := range blocks {
		heads[i], _ = classify(src, masked, b, lines)
	}
	var out []scopedItem
	var stack, parens []int
	next, last, paren := 0, 0, 0
	for i := 0; i < len(masked); i++ {
		switch masked[i] {
		case '{':
			stack, parens = append(stack, next), append(parens, paren)
			next, last, paren = next+1, i+1, 0
		case '}':
			if len(stack) > 0 {
				stack, paren = stack[:len(stack)-1], parens[len(parens)-1]
				parens = parens[:len(parens)-1]
			}
			last = i + 1
		case '(', '[':
			paren++
		case ')', ']':
			paren--
		case ';':
			if paren == 0 {
				if s, ok := bodilessItem(src, masked, last, i, stack, heads); ok {
					out = append(out, s)
				}
			}
			last = i + 1
		}
	}
	return out
}

// bodilessItem reads the item declared in masked[from:semi], inside the blocks of stack.
func bodilessItem(src, masked string, from, semi int, stack []int, heads []rustItem) (scopedItem, bool) {
	var scopes []rustItem
	for _, bi := range stack {
		h := heads[bi]
		if h.Kind != "mod" && h.Kind != "trait" && h.Kind != "impl" {
			return scopedItem{}, false
		}
		scopes = append(scopes, h)
	}
	sig := skipAttributes(masked, from, semi)
	header := collapse(masked[sig:semi])
	it := rustItem{Signature: collapse(src[sig:semi]), Depth: len(scopes), Context: scopeNames(scopes)}
	it.Kind, it.Name = itemKind(header)
	if it.Kind == "" {
		rest := header[len(visibilityRE.FindString(header)):]
		m := otherItemRE.FindStringSubmatch(rest)
		if m == nil {
			return scopedItem{}, false
		}
		it.Kind, it.Name = m[1], m[3]
	}
	it.Doc, it.Attrs = leadDocAttrs(src[from:sig], masked[from:sig])
	it.Code = it.Signature + ";"
	return scopedItem{item: it, scopes: scopes, bodiless: true, moduleDef: it.Kind == "mod"}, true
}
