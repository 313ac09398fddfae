// Package cratedocs gives rag's crates source its reader of crate sources: sftdata's Rust item
// reader (rag cannot import sftdata, which imports rag's mdBook parser).
package cratedocs

import (
	"rustexpert/rag"
	"rustexpert/sftdata"
)

// Attach sets the crate reader of a crates source; any other source is returned as it is.
func Attach(src rag.Source) rag.Source {
	if src.Format == rag.CrateDocs {
		src.Crates = Reader()
	}
	return src
}

// Reader reads crates with sftdata.FindCrates and sftdata.CrateDocs.
func Reader() rag.CrateReader {
	return rag.CrateReader{Find: find, Read: read}
}

func find(dir string, names []string) ([]rag.CrateFolder, []string, error) {
	found, missing, err := sftdata.FindCrates(dir, names)
	out := make([]rag.CrateFolder, len(found))
	for i, c := range found {
		out[i] = rag.CrateFolder{Name: c.Name, Version: c.Version, Dir: c.Dir}
	}
	return out, missing, err
}

func read(c rag.CrateFolder) ([]rag.CrateModule, []rag.Skip, error) {
	docs, skips, err := sftdata.CrateDocs(sftdata.CrateDir{Name: c.Name, Version: c.Version, Dir: c.Dir})
	if err != nil {
		return nil, nil, err
	}
	out := make([]rag.CrateModule, len(docs))
	for i, m := range docs {
		out[i] = rag.CrateModule{File: m.File, Public: m.Public, Private: m.Private, Doc: m.Doc, Licence: m.Licence}
		for _, it := range m.Items {
			out[i].Items = append(out[i].Items, rag.CrateItem{Kind: it.Kind, Name: it.Name, Path: it.Path, Module: it.Module,
				Parent: it.Parent, ParentKind: it.ParentKind, Signature: it.Signature, Doc: it.Doc, Aliases: it.Aliases})
		}
	}
	rs := make([]rag.Skip, len(skips))
	for i, s := range skips {
		rs[i] = rag.Skip{Path: s.Path, Reason: s.Reason}
	}
	return out, rs, nil
}
