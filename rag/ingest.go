package rag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"rustexpert/store"
)

// MaxFileBytes is the largest file ingested; bigger ones are skipped.
const MaxFileBytes = 4 << 20

// Format is how a source's files are written.
type Format int

// Source formats.
const (
	MdBookHTML Format = iota // mdBook HTML pages (<main> holds the content)
	Markdown
	Rustdoc   // rustdoc API pages (std, core, alloc): one section per item member
	CrateDocs // a crate registry folder: the doc comments of the most used crates' sources (crates.go)
)

// Source is one documentation collection.
type Source struct {
	Name    string // the --source name and the stored source
	Label   string // the first part of every chunk title
	Subdir  string // its folder under rustup's share/doc/rust/html ("" for a folder given on its own)
	Match   func(rel string) bool
	Format  Format
	BaseURL string // rel path appended (Markdown: without ".md", index → the folder)
	Licence string
	// ShadowedBy names a sibling folder whose page at the same path supersedes this source's
	// (core and alloc items that std re-exports are ingested once, from std).
	ShadowedBy string
	// Crates reads the crate sources of a CrateDocs source (rag/cratedocs.Attach sets it).
	Crates CrateReader
	// OnProgress, when set, is called by Ingest on its own goroutine once the files are listed
	// and after each file.
	OnProgress func(Progress)
}

// Progress is how far an ingest of a source has got.
type Progress struct {
	Source  string
	Done    int    // files handled (stored, unchanged or skipped)
	Total   int    // files to handle
	Written int    // documents stored (new and changed)
	Chunks  int    // chunks of the documents stored
	Skipped int    // files skipped
	File    string // the file just handled, relative to the folder ("" before the first)
}

// Sources are the collections ingest knows, by name.
var Sources = []Source{
	{Name: "book", Label: "The Book", Subdir: "book", Match: mdBookPage, BaseURL: "https://doc.rust-lang.org/book/", Licence: rustLicence},
	{Name: "error-codes", Label: "Error codes", Subdir: "error_codes", Match: errorCodePage, BaseURL: "https://doc.rust-lang.org/error_codes/", Licence: rustLicence},
	{Name: "nomicon", Label: "The Rustonomicon", Subdir: "nomicon", Match: mdBookPage, BaseURL: "https://doc.rust-lang.org/nomicon/", Licence: rustLicence},
	{Name: "rust-by-example", Label: "Rust by Example", Subdir: "rust-by-example", Match: mdBookPage, BaseURL: "https://doc.rust-lang.org/rust-by-example/", Licence: rustLicence},
	{Name: "reference", Label: "The Reference", Subdir: "reference", Match: mdBookPage, BaseURL: "https://doc.rust-lang.org/reference/", Licence: rustLicence},
	{Name: "std", Label: "std API", Subdir: "std", Match: rustdocPage, Format: Rustdoc, BaseURL: "https://doc.rust-lang.org/std/", Licence: rustLicence},
	{Name: "core", Label: "core API", Subdir: "core", Match: rustdocPage, Format: Rustdoc, BaseURL: "https://doc.rust-lang.org/core/", Licence: rustLicence, ShadowedBy: "std"},
	{Name: "alloc", Label: "alloc API", Subdir: "alloc", Match: rustdocPage, Format: Rustdoc, BaseURL: "https://doc.rust-lang.org/alloc/", Licence: rustLicence, ShadowedBy: "std"},
	{Name: "cargo", Label: "The Cargo Book", Subdir: "cargo", Match: mdBookPage, BaseURL: "https://doc.rust-lang.org/cargo/", Licence: rustLicence},
	{Name: "edition-guide", Label: "The Edition Guide", Subdir: "edition-guide", Match: mdBookPage, BaseURL: "https://doc.rust-lang.org/edition-guide/", Licence: rustLicence},
	{Name: "tokio", Label: "Tokio tutorial", Match: markdownPage, Format: Markdown, BaseURL: "https://tokio.rs/tokio/", Licence: "MIT"},
	{Name: "crates", Label: "Crate docs", Match: crateSourceFile, Format: CrateDocs, BaseURL: "https://docs.rs/", Licence: "each crate's (Cargo.toml)"},
}

const rustLicence = "MIT OR Apache-2.0"

// SourceByName finds a known source.
func SourceByName(name string) (Source, bool) {
	for _, s := range Sources {
		if s.Name == name {
			return s, true
		}
	}
	return Source{}, false
}

// mdBookPage accepts the content pages of an mdBook: not the print-all, contents, 404 and index
// copies, nor the stubs of old editions.
func mdBookPage(rel string) bool {
	if !strings.HasSuffix(rel, ".html") {
		return false
	}
	switch rel {
	case "print.html", "toc.html", "404.html", "index.html":
		return false
	}
	for _, old := range []string{"2018-edition/", "first-edition/", "second-edition/"} {
		if strings.HasPrefix(rel, old) {
			return false
		}
	}
	return true
}

func errorCodePage(rel string) bool {
	return strings.HasPrefix(rel, "E") && strings.HasSuffix(rel, ".html") && !strings.Contains(rel, "/")
}

func markdownPage(rel string) bool { return strings.HasSuffix(rel, ".md") }

// rustdocPage accepts the item and module pages of an API crate, not its platform intrinsics
// (arch, intrinsics: tens of thousands of pages of vendor instructions) nor the all-items list.
func rustdocPage(rel string) bool {
	if !strings.HasSuffix(rel, ".html") || rel == "all.html" {
		return false
	}
	for _, skip := range []string{"arch/", "core_arch/", "intrinsics/", "core_simd/"} {
		if strings.HasPrefix(rel, skip) {
			return false
		}
	}
	return true
}

// shadowed drops the paths that src.ShadowedBy (a sibling of dir) also has.
func shadowed(src Source, dir string, files []string) []string {
	if src.ShadowedBy == "" {
		return files
	}
	other := filepath.Join(filepath.Dir(filepath.Clean(dir)), src.ShadowedBy)
	kept := files[:0]
	for _, rel := range files {
		if _, err := os.Stat(filepath.Join(other, filepath.FromSlash(rel))); err != nil {
			kept = append(kept, rel)
		}
	}
	return kept
}

// Store is what ingest needs of the database.
type Store interface {
	RAGDocumentHashes(ctx context.Context, source string) (map[string]string, error)
	PutRAGDocument(ctx context.Context, d store.RAGDocument, chunks []store.RAGChunk) error
	DeleteRAGDocuments(ctx context.Context, source string, paths []string) error
}

// Skip is a file left out and why.
type Skip struct {
	Path   string
	Reason string
}

// Report counts what one ingest of a source did.
type Report struct {
	Source    string
	New       int
	Changed   int
	Unchanged int
	Removed   int // stored documents whose file is gone or now skipped
	Chunks    int // chunks written (of new and changed documents)
	Skipped   []Skip
}

// Ingest reads every page of src under dir, stores new and changed ones (by sha256 of the file)
// with their chunks, and deletes stored pages that are gone. A file that cannot be read as a page
// (binary, not UTF-8, too big, no content) is skipped with its reason; only database and
// folder errors stop the ingest.
func Ingest(ctx context.Context, st Store, src Source, dir string, opt ChunkOptions) (Report, error) {
	if src.Format == CrateDocs {
		return ingestCrates(ctx, st, src, dir, opt)
	}
	rep := Report{Source: src.Name}
	files, err := listFiles(dir, src.Match)
	if err != nil {
		return rep, err
	}
	files = shadowed(src, dir, files)
	if src.Format == Rustdoc {
		opt.Min = 0 // every method its own chunk, found by its path and linked by its anchor
	}
	known, err := st.RAGDocumentHashes(ctx, src.Name)
	if err != nil {
		return rep, err
	}
	numbers := tocNumbers(dir)
	seen := map[string]bool{}
	progress(src, &rep, 0, len(files), "")
	for i, rel := range files {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		skips := len(rep.Skipped)
		if err := ingestFile(ctx, st, src, dir, rel, known, numbers, opt, &rep); err != nil {
			return rep, err
		}
		seen[rel] = len(rep.Skipped) == skips
		progress(src, &rep, i+1, len(files), rel)
	}
	return rep, removeGone(ctx, st, src, known, seen, &rep)
}

// removeGone deletes the stored documents of src (known, by path) that this ingest did not see,
// and counts them in rep.
func removeGone(ctx context.Context, st Store, src Source, known map[string]string, seen map[string]bool, rep *Report) error {
	var gone []string
	for path := range known {
		if !seen[path] {
			gone = append(gone, path)
		}
	}
	sort.Strings(gone)
	rep.Removed = len(gone)
	return st.DeleteRAGDocuments(ctx, src.Name, gone)
}

// progress tells src.OnProgress, when set, how far the ingest has got.
func progress(src Source, rep *Report, done, total int, file string) {
	if src.OnProgress == nil {
		return
	}
	src.OnProgress(Progress{Source: src.Name, Done: done, Total: total, Written: rep.New + rep.Changed, Chunks: rep.Chunks,
		Skipped: len(rep.Skipped), File: file})
}

// ingestFile handles one file; a file-level problem is recorded in rep.Skipped, not returned.
func ingestFile(ctx context.Context, st Store, src Source, dir, rel string, known, numbers map[string]string,
	opt ChunkOptions, rep *Report) error {
	data, err := readPage(filepath.Join(dir, rel))
	if err != nil {
		rep.Skipped = append(rep.Skipped, Skip{Path: rel, Reason: err.Error()})
		return nil
	}
	if src.Format != Markdown {
		if lang := declaredLang(data); lang != "" && !strings.HasPrefix(lang, "en") {
			rep.Skipped = append(rep.Skipped, Skip{Path: rel, Reason: fmt.Sprintf("page language %q is not English", lang)})
			return nil
		}
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	old, had := known[rel]
	if had && old == hash {
		rep.Unchanged++
		return nil
	}
	page, err := parsePage(src, data, numbers[filepath.ToSlash(rel)])
	if err != nil {
		rep.Skipped = append(rep.Skipped, Skip{Path: rel, Reason: err.Error()})
		return nil
	}
	doc := store.RAGDocument{Source: src.Name, Path: rel, URL: pageURL(src, rel), Licence: src.Licence, SHA256: hash}
	return storePage(ctx, st, src, page, doc, had, opt, rep)
}

// storePage chunks a new or changed page, writes it as doc (its title made here) and counts it.
func storePage(ctx context.Context, st Store, src Source, page Page, doc store.RAGDocument, had bool, opt ChunkOptions, rep *Report) error {
	chunks := ChunkPage(page, src.Label, opt)
	doc.Title = joinTitle(src.Label, []string{page.Title})
	if err := st.PutRAGDocument(ctx, doc, storeChunks(chunks)); err != nil {
		return err
	}
	if had {
		rep.Changed++
	} else {
		rep.New++
	}
	rep.Chunks += len(chunks)
	return nil
}

func storeChunks(chunks []Chunk) []store.RAGChunk {
	out := make([]store.RAGChunk, len(chunks))
	for i, c := range chunks {
		out[i] = store.RAGChunk{Seq: c.Seq, Title: c.Title, Anchor: c.Anchor, Text: c.Text, Terms: Terms(c.Title + "\n" + c.Text), Tokens: c.Tokens}
	}
	return out
}

func parsePage(src Source, data []byte, number string) (Page, error) {
	if src.Format == Markdown {
		page := ParseMarkdown(string(data))
		if len(page.Sections) == 0 {
			return Page{}, fmt.Errorf("no text")
		}
		return page, nil
	}
	if src.Format == Rustdoc {
		return ParseRustdoc(data)
	}
	return ParseHTML(data, number)
}

// readPage reads a file that is a text page: at most MaxFileBytes, UTF-8, no NUL bytes.
func readPage(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Size() > MaxFileBytes {
		return nil, fmt.Errorf("too large: %d bytes (limit %d)", info.Size(), MaxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := strings.IndexByte(string(data[:min(len(data), 8192)]), 0); i >= 0 {
		return nil, fmt.Errorf("binary file (NUL byte at offset %d)", i)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("not UTF-8 (first invalid byte at offset %d)", FirstInvalidUTF8(data))
	}
	return data, nil
}

// FirstInvalidUTF8 returns the offset of the first byte of data that is not valid UTF-8, or -1.
func FirstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// listFiles returns the paths under dir (slash-separated, sorted) that match.
func listFiles(dir string, match func(string) bool) ([]string, error) {
	var out []string
	err := walkFiles(dir, match, func(rel string) bool { out = append(out, rel); return true })
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(out)
	return out, nil
}

// HasFile reports whether dir holds a regular file whose slash-separated path match accepts; it
// stops at the first.
func HasFile(dir string, match func(string) bool) (bool, error) {
	found := false
	err := walkFiles(dir, match, func(string) bool { found = true; return false })
	return found, err
}

// walkFiles calls visit with the path under dir (slash-separated) of each regular file that match
// accepts, until visit returns false.
func walkFiles(dir string, match func(string) bool, visit func(rel string) bool) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); match(rel) && !visit(rel) {
			return fs.SkipAll
		}
		return nil
	})
}

// pageURL is the canonical URL of a page.
func pageURL(src Source, rel string) string {
	if src.Format != Markdown {
		return src.BaseURL + rel
	}
	rel = strings.TrimSuffix(rel, ".md")
	if rel == "index" || strings.HasSuffix(rel, "/index") {
		rel = strings.TrimSuffix(strings.TrimSuffix(rel, "index"), "/")
	}
	return src.BaseURL + rel
}

// declaredLang is the lang attribute of a page's <html> tag, read from its first kilobyte
// (translations are skipped before they are parsed).
func declaredLang(data []byte) string {
	head := strings.ToLower(string(data[:min(len(data), 1024)]))
	i := strings.Index(head, "<html")
	if i < 0 {
		return ""
	}
	tag, _, _ := strings.Cut(head[i:], ">")
	_, after, ok := strings.Cut(tag, ` lang="`)
	if !ok {
		return ""
	}
	lang, _, _ := strings.Cut(after, `"`)
	return lang
}
