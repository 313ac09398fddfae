// Package sheet reads prompt spreadsheets (CSV, TSV, JSON Lines, XLSX) and
// writes them back out.
//
// Imports are all-or-nothing: Read checks the whole file and reports every
// problem it finds, each with its line and column, so that a user can fix a
// sheet in one pass instead of uploading it again for every mistake.
package sheet

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	textunicode "golang.org/x/text/encoding/unicode"
	"golang.org/x/text/unicode/norm"
)

// Format names a spreadsheet file format.
type Format string

// The supported formats.
const (
	CSV   Format = "csv"
	TSV   Format = "tsv"
	JSONL Format = "jsonl"
	XLSX  Format = "xlsx"
)

// MaxFileBytes is the largest file Read accepts; callers reject larger
// uploads with 413 before they reach Read.
const MaxFileBytes = 50 << 20

// MaxCellBytes is the largest cell Read accepts. A bigger cell is almost
// always a broken quote that swallowed the rest of the file.
const MaxCellBytes = 32 << 10

// maxProblems caps Error.Problems; a file with thousands of problems is
// usually the wrong file, and the first few hundred say enough.
const maxProblems = 200

// Row is one prompt read from a sheet.
type Row struct {
	Line     int // line (CSV, TSV, JSONL) or row number (XLSX) where the row starts
	Text     string
	Category string
	Tags     []string
	Split    string // "train" or "heldout"
}

// ExportRow is one stored prompt as Write puts it into a file.
type ExportRow struct {
	ID        int64
	Text      string
	Category  string
	Tags      []string
	Split     string
	CreatedAt time.Time
}

// Problem is one thing wrong with an imported file.
type Problem struct {
	Line    int    // 0 for the whole file
	Column  string // header name as in the file, a 1-based column number, or ""
	Message string
}

// String formats p as `line 12, column "split": message`.
func (p Problem) String() string {
	var where []string
	if p.Line > 0 {
		where = append(where, "line "+strconv.Itoa(p.Line))
	}
	if p.Column != "" {
		if isNumber(p.Column) {
			where = append(where, "column "+p.Column)
		} else {
			where = append(where, "column "+strconv.Quote(p.Column))
		}
	}
	if len(where) == 0 {
		return p.Message
	}
	return strings.Join(where, ", ") + ": " + p.Message
}

// isNumber reports whether s is a column number rather than a header name.
func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// Error lists the problems that made Read reject a file.
type Error struct {
	Problems []Problem
	More     int // problems found beyond the listed ones
}

// Error returns the first few problems and how many there are in all.
func (e *Error) Error() string {
	const shown = 3
	total := len(e.Problems) + e.More
	if total == 1 && len(e.Problems) == 1 {
		return "sheet: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "sheet: %d problems: ", total)
	for i, p := range e.Problems[:min(shown, len(e.Problems))] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	if rest := total - min(shown, len(e.Problems)); rest > 0 {
		fmt.Fprintf(&b, "; and %d more", rest)
	}
	return b.String()
}

// problems collects the problems of one Read call, keeping the first
// maxProblems and counting the rest.
type problems struct {
	list []Problem
	more int
}

func (ps *problems) add(line int, column, format string, args ...any) {
	if len(ps.list) >= maxProblems {
		ps.more++
		return
	}
	ps.list = append(ps.list, Problem{Line: line, Column: column, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) count() int {
	return len(ps.list) + ps.more
}

// err returns the collected problems as an *Error, or nil when there are none.
func (ps *problems) err() error {
	if ps.count() == 0 {
		return nil
	}
	return &Error{Problems: ps.list, More: ps.more}
}

// ParseFormat parses a format name such as "csv" or "JSONL".
func ParseFormat(name string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "csv":
		return CSV, nil
	case "tsv":
		return TSV, nil
	case "jsonl", "json-lines", "ndjson":
		return JSONL, nil
	case "xlsx":
		return XLSX, nil
	}
	return "", fmt.Errorf("unknown format %q (want csv, tsv, jsonl or xlsx)", name)
}

// DetectFormat picks the format from a file name's extension. A .txt file is
// taken to be tab-separated, because that is what Excel's "Unicode text"
// export produces.
func DetectFormat(filename string) (Format, error) {
	// Browsers on Windows may send the whole client path, with backslashes.
	base := filename[strings.LastIndexAny(filename, `/\`)+1:]
	ext := ""
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		ext = strings.ToLower(base[i:])
	}
	switch ext {
	case ".csv":
		return CSV, nil
	case ".tsv", ".tab", ".txt":
		return TSV, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	case ".xlsx":
		return XLSX, nil
	case ".xls":
		return "", fmt.Errorf("%q is an old Excel .xls file; save it as .xlsx or .csv", base)
	}
	return "", fmt.Errorf("unsupported file type %q (want .csv, .tsv, .txt, .jsonl or .xlsx)", base)
}

// Normalize returns the key under which two prompts count as duplicates:
// Unicode NFC, trimmed, every whitespace run collapsed to one space,
// lowercased.
func Normalize(text string) string {
	text = norm.NFC.String(text)
	// One pass with an ASCII fast path instead of Fields, Join and ToLower:
	// this runs once per imported row and was the slowest step of a large
	// import.
	key := make([]byte, 0, len(text))
	pendingSpace := false
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			i++
			if c == ' ' || c-'\t' <= '\r'-'\t' {
				pendingSpace = len(key) > 0
				continue
			}
			if pendingSpace {
				key = append(key, ' ')
				pendingSpace = false
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			key = append(key, c)
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if unicode.IsSpace(r) {
			pendingSpace = len(key) > 0
			continue
		}
		if pendingSpace {
			key = append(key, ' ')
			pendingSpace = false
		}
		key = utf8.AppendRune(key, unicode.ToLower(r))
	}
	return string(key)
}

// Read parses a whole sheet. It returns an *Error listing every problem in
// the file (with the rows it could read) when the content is bad, and a plain
// error only when r itself fails or f is unknown.
func Read(r io.Reader, f Format) ([]Row, error) {
	switch f {
	case CSV, TSV, JSONL, XLSX:
	default:
		return nil, fmt.Errorf("read sheet: unknown format %q", f)
	}
	data, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("read sheet: %w", err)
	}
	var ps problems
	if len(data) > MaxFileBytes {
		ps.add(0, "", "file is larger than the %d MiB limit", MaxFileBytes>>20)
		return nil, ps.err()
	}
	var rows []Row
	if f == XLSX {
		rows = readXLSX(data, &ps)
	} else {
		rows = readText(data, f, &ps)
	}
	if err := ps.err(); err != nil {
		return rows, err
	}
	return rows, nil
}

// readAll reads up to MaxFileBytes+1 bytes, so that Read can tell a file
// that is too big. When r knows its size, the buffer is allocated once
// instead of growing through a series of copies.
func readAll(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	switch sized := r.(type) {
	case interface{ Len() int }:
		buf.Grow(max(0, min(sized.Len(), MaxFileBytes)) + bytes.MinRead)
	case interface{ Size() int64 }:
		buf.Grow(int(max(0, min(sized.Size(), MaxFileBytes))) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, MaxFileBytes+1)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readText decodes a text file and hands it to the reader for its format.
func readText(data []byte, f Format, ps *problems) []Row {
	data, ok := decodeText(data, ps)
	if !ok {
		return nil
	}
	if f == JSONL {
		return readJSONL(data, ps)
	}
	return readDelimited(data, sniffDelimiter(data, f), ps)
}

// Signatures at the start of a file.
const (
	bomUTF8    = "\xEF\xBB\xBF"
	bomUTF16LE = "\xFF\xFE"
	bomUTF16BE = "\xFE\xFF"
	zipMagic   = "PK\x03\x04"
	oleMagic   = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" // old .xls, or a password-protected workbook
)

// hasPrefix reports whether data starts with the signature prefix.
func hasPrefix(data []byte, prefix string) bool {
	return len(data) >= len(prefix) && string(data[:len(prefix)]) == prefix
}

// decodeText strips a UTF-8 byte-order mark, turns UTF-16 (Excel's "Unicode
// text") into UTF-8, and rejects binary files. Invalid UTF-8 is left for the
// format readers, which know the line and column it sits in.
func decodeText(data []byte, ps *problems) ([]byte, bool) {
	switch {
	case hasPrefix(data, bomUTF8):
		data = data[len(bomUTF8):]
	case hasPrefix(data, bomUTF16LE), hasPrefix(data, bomUTF16BE):
		decoded, err := decodeUTF16(data)
		if err != nil {
			ps.add(0, "", "cannot decode UTF-16 text: %v", err)
			return nil, false
		}
		data = decoded
	case hasPrefix(data, zipMagic):
		ps.add(0, "", "this is a zip file, probably an .xlsx workbook; import it as xlsx")
		return nil, false
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line := bytes.Count(data[:i], []byte{'\n'}) + 1
		ps.add(line, "", "contains NUL bytes (binary file? or UTF-16 text without a byte-order mark?)")
		return nil, false
	}
	return data, true
}

// decodeUTF16 turns UTF-16 text that starts with a byte-order mark into UTF-8.
func decodeUTF16(data []byte) ([]byte, error) {
	decoded, err := textunicode.UTF16(textunicode.LittleEndian, textunicode.UseBOM).NewDecoder().Bytes(data)
	if err != nil {
		return nil, fmt.Errorf("decode UTF-16: %w", err)
	}
	return decoded, nil
}

// emptyFileMessage is the problem for a sheet without even a header row.
const emptyFileMessage = "file is empty; a header row is required"
