package sftdata

import (
	"cmp"
	"slices"
	"strings"
)

// A crate's `pub use` declarations give its items more public paths: serde_json's root has
// `pub use crate::de::from_str;`, so serde_json::de::from_str is also serde_json::from_str.
// pubUses reads them per file; addAliases resolves them to the items they name (following
// chains of re-exports) and records each item's public paths other than its own as Aliases.

// pubUse is one name a `pub use` declaration brings into a module, or one glob.
type pubUse struct {
	module string   // the module the declaration is in: fakeio::util
	paths  []string // the absolute paths it may name, first found wins: fakeio::util::x, fakeio::x
	name   string   // the name in module (the alias after `as`); "" for a glob
	glob   bool     // `pub use a::*`: every name of module a
}

// useLeaf is one path of a use tree: a::b::c as d, a::b::*.
type useLeaf struct {
	path  []string
	alias string
	glob  bool
}

// maxUseDepth bounds the nesting of use groups read; maxReexportRounds bounds the rounds of
// following re-exports of re-exports.
const (
	maxUseDepth       = 16
	maxReexportRounds = 16
)

// pubUses reads the `pub use` declarations of a source file (its cfg macros already unwrapped)
// whose module path is module: those at the top level and in inline modules, not those in
// function bodies, impls or macros, nor #[doc(hidden)] or test-only ones. `pub(crate) use`
// and plain `use` are not re-exports. Comments and strings are masked, so commented-out
// declarations are left out.
func pubUses(crate, module, src string) []pubUse {
	if _, _, ok := nextPubUse(src, 0); !ok {
		return nil
	}
	masked := maskRust(src)
	blocks := braceBlocks(masked)
	var out []pubUse
	for start, end, ok := nextPubUse(masked, 0); ok; start, end, ok = nextPubUse(masked, end) {
		out = append(out, pubUseAt(crate, module, src, masked, blocks, start, end)...)
	}
	return out
}

// pubUseAt reads the `pub use` declaration whose two words are masked[start:end].
func pubUseAt(crate, module, src, masked string, blocks []block, start, end int) []pubUse {
	from, ok := statementStart(masked, start)
	if !ok {
		return nil
	}
	if _, attrs := leadDocAttrs(src[from:start], masked[from:start]); !shown(attrs) {
		return nil
	}
	semi := strings.IndexByte(masked[end:], ';')
	if semi < 0 {
		return nil
	}
	mod, ok := useModule(masked, blocks, start, module)
	if !ok {
		return nil
	}
	var out []pubUse
	for _, l := range parseUseTree(masked[end : end+semi]) {
		if u, ok := leafUse(crate, mod, l); ok {
			out = append(out, u)
		}
	}
	return out
}

// nextPubUse finds the next `pub use` (the words, any space between) at or after from: where
// `pub` starts and `use` ends.
func nextPubUse(s string, from int) (int, int, bool) {
	for {
		i := strings.Index(s[from:], "pub")
		if i < 0 {
			return 0, 0, false
		}
		start := from + i
		j := start + 3
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if !identBefore(s, start) && j > start+3 && strings.HasPrefix(s[j:], "use") && (j+3 == len(s) || !isIdent(s[j+3])) {
			return start, j + 3, true
		}
		from = start + 3
	}
}

// statementStart reports whether the code at pos starts a statement (only attributes and space
// since the previous ';', '{' or '}') and returns where the statement's lead begins.
func statementStart(masked string, pos int) (int, bool) {
	from := strings.LastIndexAny(masked[:pos], ";{}") + 1
	return from, skipAttributes(masked, from, pos) == pos
}

// useModule returns the module path of the code at pos: module, then the inline modules around
// pos. It fails when pos is inside anything else (a function body, an impl, a macro).
func useModule(masked string, blocks []block, pos int, module string) (string, bool) {
	inner := -1
	for i, b := range blocks {
		if b.open >= pos {
			break
		}
		if pos < b.close {
			inner = i
		}
	}
	var names []string
	for bi := inner; bi != -1; bi = blocks[bi].parent {
		b := blocks[bi]
		header := collapse(masked[skipAttributes(masked, b.start, b.open):b.open])
		if cfgMacroRE.MatchString(header) {
			continue
		}
		kind, name := itemKind(header)
		if kind != "mod" {
			return "", false
		}
		names = append(names, name)
	}
	slices.Reverse(names)
	return joinPath(module, names), true
}

// leafUse makes the pubUse of one leaf of a use tree; a path naming nothing of this crate
// (`::std::…`, `_` aliases, `super` above the crate) gives none.
func leafUse(crate, module string, l useLeaf) (pubUse, bool) {
	path := l.path
	if n := len(path); n > 0 && path[n-1] == "self" {
		path = path[:n-1]
	}
	if len(path) == 0 || l.alias == "_" {
		return pubUse{}, false
	}
	u := pubUse{module: module, paths: absolutePaths(crate, module, path), glob: l.glob}
	if !l.glob {
		u.name = path[len(path)-1]
		if l.alias != "" {
			u.name = l.alias
		}
	}
	return u, len(u.paths) > 0
}

// absolutePaths are the crate paths a use path may mean, in the order Rust's editions try them:
// crate::, self:: and super:: are exact; a bare path is relative to the module (2018 edition)
// or, failing that, to the crate root (2015 edition).
func absolutePaths(crate, module string, path []string) []string {
	switch path[0] {
	case "crate", "$crate":
		return []string{joinPath(crate, path[1:])}
	case "self":
		return []string{joinPath(module, path[1:])}
	case "super":
		segs := strings.Split(module, "::")
		for len(path) > 0 && path[0] == "super" {
			if len(segs) < 2 {
				return nil
			}
			segs, path = segs[:len(segs)-1], path[1:]
		}
		return []string{joinPath(strings.Join(segs, "::"), path)}
	case "":
		return nil // ::name: another crate
	}
	rel := joinPath(module, path)
	if root := joinPath(crate, path); root != rel {
		return []string{rel, root}
	}
	return []string{rel}
}

// useParser reads a use tree: a::b::c, a::b::c as d, a::b::*, a::{b, c::{d, e as f}}.
type useParser struct {
	toks []string
	i    int
	out  []useLeaf
}

// parseUseTree returns the leaves of the use tree in text (masked code between `use` and ';').
// A malformed tree gives the leaves read before the fault.
func parseUseTree(text string) []useLeaf {
	p := &useParser{toks: useTokens(text)}
	p.tree(nil, 0)
	return p.out
}

// useTokens splits a use tree into identifiers, "::", "{", "}", ",", "*" and "?" for anything else.
func useTokens(text string) []string {
	var toks []string
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case isSpace(c):
			i++
		case c == ':' && i+1 < len(text) && text[i+1] == ':':
			toks, i = append(toks, "::"), i+2
		case strings.IndexByte("{},*", c) >= 0:
			toks, i = append(toks, string(c)), i+1
		case isIdent(c) || c == '$':
			if c == 'r' && strings.HasPrefix(text[i:], "r#") {
				i += 2 // a raw identifier: r#type is type
			}
			j := i + 1
			for j < len(text) && isIdent(text[j]) {
				j++
			}
			toks, i = append(toks, text[i:min(j, len(text))]), j
		default:
			toks, i = append(toks, "?"), i+1
		}
	}
	return toks
}

func (p *useParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

// tree reads one use tree under prefix; it reports false at a malformed tree.
func (p *useParser) tree(prefix []string, depth int) bool {
	path := slices.Clone(prefix)
	if p.peek() == "::" { // ::name, a path of another crate
		path = append(path, "")
		p.i++
	}
	for {
		switch t := p.peek(); t {
		case "{":
			p.i++
			return depth < maxUseDepth && p.group(path, depth+1)
		case "*":
			p.i++
			p.out = append(p.out, useLeaf{path: path, glob: true})
			return true
		case "", "}", ",", "::", "?":
			return false
		default:
			p.i++
			path = append(path, t)
		}
		if p.peek() != "::" {
			return p.leafEnd(path)
		}
		p.i++
	}
}

// leafEnd completes a leaf path with its optional `as name`.
func (p *useParser) leafEnd(path []string) bool {
	l := useLeaf{path: path}
	if p.peek() == "as" {
		p.i++
		l.alias = p.peek()
		if l.alias == "" || strings.Contains("{},*:?", l.alias[:1]) {
			return false
		}
		p.i++
	}
	p.out = append(p.out, l)
	return true
}

// group reads the trees of a {…} group up to its closing brace.
func (p *useParser) group(prefix []string, depth int) bool {
	for {
		if p.peek() == "}" {
			p.i++
			return true
		}
		if !p.tree(prefix, depth) {
			return false
		}
		switch p.peek() {
		case ",":
			p.i++
		case "}":
		default:
			return false
		}
	}
}

// aliasTable resolves paths of a crate to its items (indices of items).
type aliasTable struct {
	items    []*ItemDoc
	byPath   map[string][]int           // an item's path where it is defined and its public path
	inModule map[string][]string        // a module's own item names, by the module's full path
	bound    map[string]map[int]bool    // module::name of each name a pub use brings in
	boundIn  map[string]map[string]bool // the names pub uses bring into each module
	moved    map[int]bool               // items relocate gave another path
}

// addAliases gives every item the public paths the crate re-exports it under (Aliases), its
// own Path left out. A re-export counts where it is made in a public module (not a
// #[doc(hidden)] one); re-exports of re-exports are followed, in private modules too. A method
// gets its type's or trait's aliases.
func addAliases(docs []ModuleDoc, uses []pubUse, vis moduleVisibility) {
	t := newAliasTable(docs)
	for round := 0; round < maxReexportRounds; round++ {
		if !t.bindAll(uses) {
			break
		}
	}
	public := make([][]string, len(t.items)) // each item's public paths from pub uses
	for key, items := range t.bound {
		module := key[:strings.LastIndex(key, "::")]
		if vis.isPrivate(module) || vis.inTest(module) || vis.inHidden(module) {
			continue
		}
		for i := range items {
			public[i] = append(public[i], key)
		}
	}
	for i, it := range t.items {
		t.moved[i] = relocate(it, public[i])
		setAliases(it, public[i])
	}
	for i := range docs {
		for j := range docs[i].Items {
			if it := &docs[i].Items[j]; it.Parent != "" {
				setMethodAliases(it, t)
			}
		}
	}
}

// relocate moves an item of a private module to its shortest public path when the crate
// re-exports it, but not at the path the private-module rule gave it: regex's re_bytes::Regex is
// regex::bytes::Regex (regex::Regex is re_unicode::Regex), rand's rngs::thread::thread_rng is
// rand::thread_rng. It reports whether the item moved.
func relocate(it *ItemDoc, public []string) bool {
	if len(public) == 0 || it.Path == it.defined+"::"+it.Name || slices.Contains(public, it.Path) {
		return false
	}
	it.Path = slices.MinFunc(public, func(a, b string) int {
		if c := cmp.Compare(strings.Count(a, "::"), strings.Count(b, "::")); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	cut := strings.LastIndex(it.Path, "::")
	it.Module, it.Name = it.Path[:cut], it.Path[cut+2:]
	return true
}

// follow moves a method with its type or trait when relocate moved that.
func follow(it *ItemDoc, t *aliasTable) {
	parents := t.byPath[it.defined+"::"+it.Parent]
	if len(parents) == 0 || !t.moved[parents[0]] {
		return
	}
	p := t.items[parents[0]]
	it.Module, it.Parent = p.Module, p.Name
	it.Path = p.Path + "::" + it.Name
}

// setAliases sets an item's aliases: its public paths other than its Path, sorted, once each.
func setAliases(it *ItemDoc, paths []string) {
	paths = slices.DeleteFunc(paths, func(a string) bool { return a == it.Path })
	slices.Sort(paths)
	it.Aliases = slices.Compact(paths)
}

// setMethodAliases gives a method its type's or trait's aliases: the type where the impl is
// written, else the one of its public path.
func setMethodAliases(it *ItemDoc, t *aliasTable) {
	follow(it, t)
	var paths []string
	for _, i := range t.resolve([]string{it.defined + "::" + it.Parent, it.Module + "::" + it.Parent}) {
		for _, a := range t.items[i].Aliases {
			paths = append(paths, a+"::"+it.Name)
		}
	}
	setAliases(it, paths)
}

func newAliasTable(docs []ModuleDoc) *aliasTable {
	t := &aliasTable{byPath: map[string][]int{}, inModule: map[string][]string{},
		bound: map[string]map[int]bool{}, boundIn: map[string]map[string]bool{}, moved: map[int]bool{}}
	for i := range docs {
		for j := range docs[i].Items {
			it := &docs[i].Items[j]
			if it.Parent != "" {
				continue
			}
			n := len(t.items)
			t.items = append(t.items, it)
			defined := it.defined + "::" + it.Name
			t.byPath[defined] = append(t.byPath[defined], n)
			if it.Path != defined {
				t.byPath[it.Path] = append(t.byPath[it.Path], n)
			}
			t.inModule[it.defined] = append(t.inModule[it.defined], it.Name)
		}
	}
	return t
}

// bindAll binds the names of every pub use to the items they resolve to now; it reports
// whether any name got an item it did not have.
func (t *aliasTable) bindAll(uses []pubUse) bool {
	changed := false
	for _, u := range uses {
		if !u.glob {
			changed = t.bind(u.module, u.name, t.resolve(u.paths)) || changed
			continue
		}
		for _, target := range u.paths {
			names := t.namesIn(target)
			for _, n := range names {
				changed = t.bind(u.module, n, t.resolve([]string{target + "::" + n})) || changed
			}
			if len(names) > 0 {
				break
			}
		}
	}
	return changed
}

// resolve returns the items of the first of paths that names any.
func (t *aliasTable) resolve(paths []string) []int {
	for _, p := range paths {
		var out []int
		out = append(out, t.byPath[p]...)
		for i := range t.bound[p] {
			out = append(out, i)
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// namesIn lists the names a glob import of module takes: its items' and those re-exported into it.
func (t *aliasTable) namesIn(module string) []string {
	names := slices.Clone(t.inModule[module])
	for n := range t.boundIn[module] {
		names = append(names, n)
	}
	return names
}

// bind adds items to the name module::name; it reports whether any was new.
func (t *aliasTable) bind(module, name string, items []int) bool {
	if len(items) == 0 {
		return false
	}
	key := module + "::" + name
	set := t.bound[key]
	if set == nil {
		set = map[int]bool{}
		t.bound[key] = set
		if t.boundIn[module] == nil {
			t.boundIn[module] = map[string]bool{}
		}
		t.boundIn[module][name] = true
	}
	changed := false
	for _, i := range items {
		if !set[i] {
			set[i], changed = true, true
		}
	}
	return changed
}
