package sheet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/unicode"
)

// goldenRows are the prompts in testdata/prompts.*, without line numbers.
var goldenRows = []Row{
	{Text: "What does the borrow checker do?", Category: "ownership", Tags: []string{"borrowing", "lifetimes"}, Split: "train"},
	{Text: "Explain this error:\nerror[E0382]: use of moved value", Category: "errors", Tags: []string{"e0382"}, Split: "heldout"},
	{Text: "Why is `Rc<T>` not `Send`?", Category: "concurrency", Split: "train"},
	{Text: `Write a function that returns "hello"`, Category: "basics", Tags: []string{"strings"}, Split: "heldout"},
	{Text: "Ünïcödé — naïve café?", Category: "misc", Split: "train"},
}

// withLines returns a copy of rows with the given line numbers.
func withLines(rows []Row, lines ...int) []Row {
	out := make([]Row, len(rows))
	for i, r := range rows {
		r.Line = lines[i]
		out[i] = r
	}
	return out
}

func readFile(t *testing.T, name string, f Format) ([]Row, error) {
	t.Helper()
	file, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	return Read(file, f)
}

// mustRead reads data and fails the test on any error.
func mustRead(t *testing.T, data []byte, f Format) []Row {
	t.Helper()
	rows, err := Read(bytes.NewReader(data), f)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return rows
}

// problemsOf reads data and returns its problems, failing when Read
// succeeds or fails with something other than *Error.
func problemsOf(t *testing.T, data []byte, f Format) *Error {
	t.Helper()
	_, err := Read(bytes.NewReader(data), f)
	var sheetErr *Error
	if !errors.As(err, &sheetErr) {
		t.Fatalf("Read error = %v (%T), want *Error", err, err)
	}
	return sheetErr
}

func checkRows(t *testing.T, got, want []Row) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows differ\n got: %#v\nwant: %#v", got, want)
	}
}

func TestReadGoldenFiles(t *testing.T) {
	tests := []struct {
		file   string
		format Format
		lines  []int
	}{
		{"prompts.csv", CSV, []int{2, 3, 5, 6, 7}},
		{"prompts.tsv", TSV, []int{2, 3, 5, 6, 7}},
		{"prompts-utf16le.txt", TSV, []int{2, 3, 5, 6, 7}},
		// Excel's Unicode text export saved under a .csv name.
		{"prompts-utf16le.txt", CSV, []int{2, 3, 5, 6, 7}},
		{"prompts.jsonl", JSONL, []int{1, 2, 4, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+string(tt.format), func(t *testing.T) {
			rows, err := readFile(t, tt.file, tt.format)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			checkRows(t, rows, withLines(goldenRows, tt.lines...))
		})
	}
}

func TestReadTextEncodingsAndLayouts(t *testing.T) {
	utf16be, err := unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder().String("text\tsplit\r\nhello\theld_out\r\n")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		format Format
		input  string
		want   []Row
	}{
		{"utf-8 BOM", CSV, "\xEF\xBB\xBFtext,category\nhello,greeting\n",
			[]Row{{Line: 2, Text: "hello", Category: "greeting", Split: "train"}}},
		{"CRLF", CSV, "text,split\r\nhello,train\r\nbye,heldout\r\n",
			[]Row{{Line: 2, Text: "hello", Split: "train"}, {Line: 3, Text: "bye", Split: "heldout"}}},
		{"no newline at end", CSV, "text\r\nhello",
			[]Row{{Line: 2, Text: "hello", Split: "train"}}},
		{"multi-line cells keep start lines", CSV,
			"text,category\r\n\"one\r\ntwo\r\nthree\",a\r\n\"four\",\"b\r\nc\"\r\nfive,d\r\n",
			[]Row{
				{Line: 2, Text: "one\ntwo\nthree", Category: "a", Split: "train"},
				{Line: 5, Text: "four", Category: "b\nc", Split: "train"},
				{Line: 7, Text: "five", Category: "d", Split: "train"},
			}},
		{"utf-16 BE", TSV, utf16be, []Row{{Line: 2, Text: "hello", Split: "heldout"}}},
		{"tab header in a .csv is TSV", CSV, "Text\tCategory\nhello, world\tgreeting\n",
			[]Row{{Line: 2, Text: "hello, world", Category: "greeting", Split: "train"}}},
		{"comma header in a .txt is CSV", TSV, "text,category\nhello,greeting\n",
			[]Row{{Line: 2, Text: "hello", Category: "greeting", Split: "train"}}},
		{"blank lines and empty cells are skipped", CSV, "\n\ntext,tags\n\nhello,\n,\n  ,  \n\n",
			[]Row{{Line: 5, Text: "hello", Split: "train"}}},
		{"header names are trimmed and case-insensitive", CSV, " INSTRUCTION , Split \nhello,HELD-OUT\n",
			[]Row{{Line: 2, Text: "hello", Split: "heldout"}}},
		{"input column and short records", CSV, "id,input,tags,split\n1,hello\n",
			[]Row{{Line: 2, Text: "hello", Split: "train"}}},
		{"text is trimmed", CSV, "text\n\"  hello  \"\n",
			[]Row{{Line: 2, Text: "hello", Split: "train"}}},
		{"tags split, trimmed, lowercased, deduplicated", CSV, "text,tags\nhello,\"A; b ,,a;;B;c\"\n",
			[]Row{{Line: 2, Text: "hello", Tags: []string{"a", "b", "c"}, Split: "train"}}},
		{"extra cells that are empty are fine", CSV, "text,category\nhello,a,,\n",
			[]Row{{Line: 2, Text: "hello", Category: "a", Split: "train"}}},
		{"jsonl CRLF, blank lines and tag string", JSONL, "\r\n{\"input\":\"hello\",\"tags\":\"A,b\"}\r\n\r\n  \n",
			[]Row{{Line: 2, Text: "hello", Tags: []string{"a", "b"}, Split: "train"}}},
		{"jsonl utf-8 BOM", JSONL, "\xEF\xBB\xBF{\"text\":\"hello\"}\n",
			[]Row{{Line: 1, Text: "hello", Split: "train"}}},
		{"jsonl long line", JSONL, `{"text":"` + strings.Repeat("a", MaxCellBytes) + `"}`,
			[]Row{{Line: 1, Text: strings.Repeat("a", MaxCellBytes), Split: "train"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRows(t, mustRead(t, []byte(tt.input), tt.format), tt.want)
		})
	}
}

// wantProblem is a problem with its exact line and column, and a part of
// its message.
type wantProblem struct {
	line    int
	column  string
	message string
}

func checkProblems(t *testing.T, got *Error, want []wantProblem) {
	t.Helper()
	if got.More != 0 {
		t.Errorf("More = %d, want 0", got.More)
	}
	if len(got.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got.Problems), len(want), listProblems(got.Problems))
	}
	for i := range min(len(got.Problems), len(want)) {
		g, w := got.Problems[i], want[i]
		if g.Line != w.line || g.Column != w.column || !strings.Contains(g.Message, w.message) {
			t.Errorf("problem %d = %s\n want line %d, column %q, message containing %q", i, g, w.line, w.column, w.message)
		}
	}
}

func listProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintln(&b, "  ", p)
	}
	return b.String()
}

func TestReadProblems(t *testing.T) {
	big := strings.Repeat("x", MaxCellBytes+1)
	tests := []struct {
		name   string
		format Format
		input  string
		want   []wantProblem
	}{
		{"missing text column", CSV, "id,notes,Category\n1,x,y\n",
			[]wantProblem{{1, "", "missing text column; found: id, notes, Category"}}},
		{"missing text column on a later header line", CSV, "\n\nid\n1\n",
			[]wantProblem{{3, "", "missing text column; found: id"}}},
		{"empty csv", CSV, "", []wantProblem{{0, "", "file is empty"}}},
		{"csv of blank lines", CSV, "\n\r\n\n", []wantProblem{{0, "", "file is empty"}}},
		{"empty jsonl", JSONL, "\n\n", []wantProblem{{0, "", "file is empty"}}},
		{"empty text", CSV, "category,text\na,hello\nb,   \n",
			[]wantProblem{{3, "text", "text is empty"}}},
		{"unknown split", CSV, "text,Split\nhello,test\n",
			[]wantProblem{{2, "Split", `unknown split "test" (want train or heldout)`}}},
		{"cell too big in text", CSV, "text\n" + big + "\n",
			[]wantProblem{{2, "text", "cell is 32769 bytes; the limit is 32 KiB"}}},
		{"cell too big in an ignored column", CSV, "text,notes\nhello," + big + "\n",
			[]wantProblem{{2, "notes", "cell is 32769 bytes"}}},
		{"cell too big without a header name", CSV, "text,\nhello," + big + "\n",
			[]wantProblem{{2, "2", "cell is 32769 bytes"}}},
		{"jsonl text too big", JSONL, `{"text":"` + big + `"}`,
			[]wantProblem{{1, "text", "cell is 32769 bytes"}}},
		{"invalid utf-8 in a cell", CSV, "text,category\nhello,caf\xe9\n",
			[]wantProblem{{2, "category", "not valid UTF-8 (save the file as UTF-8)"}}},
		{"invalid utf-8 in the header", CSV, "text,caf\xe9\nhello,x\n",
			[]wantProblem{{1, "2", "not valid UTF-8"}}},
		{"invalid utf-8 in jsonl", JSONL, "{\"text\":\"a\"}\n{\"text\":\"caf\xe9\"}\n",
			[]wantProblem{{2, "", "not valid UTF-8 (save the file as UTF-8)"}}},
		{"NUL bytes", CSV, "text\nhello\nwor\x00ld\n",
			[]wantProblem{{3, "", "NUL bytes (binary file?"}}},
		{"UTF-16 without a byte-order mark", TSV, "t\x00e\x00x\x00t\x00\n\x00",
			[]wantProblem{{1, "", "binary file?"}}},
		{"xlsx sent as csv", CSV, "PK\x03\x04rest of a zip",
			[]wantProblem{{0, "", "import it as xlsx"}}},
		{"duplicate after normalizing", CSV, "text\nHow do I  sort\ta Vec?\n\"how do i sort a vec? \"\n",
			[]wantProblem{{3, "text", "duplicate of line 2"}}},
		{"duplicate in NFD form", CSV, "text\ncaf\u00e9\ncafe\u0301\n",
			[]wantProblem{{3, "text", "duplicate of line 2"}}},
		{"duplicate after a multi-line cell", CSV, "Prompt\n\"a\nb\"\n\"a b\"\n",
			[]wantProblem{{4, "Prompt", "duplicate of line 2"}}},
		{"more cells than the header", CSV, "text,category\nhello,a,b\n",
			[]wantProblem{{2, "", "row has 3 cells but the header has 2 columns"}}},
		{"two text columns", CSV, "text,Prompt\nhello,x\n",
			[]wantProblem{{1, "Prompt", `already have "text"`}}},
		{"bare quote", CSV, "text,category\nhello,say \"hi\"\nnever read,x\n",
			[]wantProblem{{2, "category", `stray " in a cell that does not start with a quote (line 2, byte 11)`}}},
		{"bare quote in the header", CSV, "text,cat\"egory\nhello,x\n",
			[]wantProblem{{1, "2", `stray "`}}},
		{"stray quote after a closing quote", TSV, "text\tcategory\n\"hello\"x\ta\n",
			[]wantProblem{{2, "text", `stray " after the closing quote`}}},
		{"unclosed quote", CSV, "text,category\nhello,a\n\"broken,b\nmore\nand more\r\n",
			[]wantProblem{{3, "text", "quoted cell is never closed"}}},
		{"unclosed quote in the last cell", CSV, "text,category\nhello,\"a\n",
			[]wantProblem{{2, "category", "quoted cell is never closed"}}},
		{"jsonl invalid JSON", JSONL, "{\"text\": \"a\"}\n{\"text\": \"b\",}\n",
			[]wantProblem{{2, "", "invalid JSON at byte 14"}}},
		{"jsonl truncated JSON", JSONL, "{\"text\": \"a\n",
			[]wantProblem{{1, "", "invalid JSON at byte 11"}}},
		{"jsonl two objects on a line", JSONL, "{\"text\": \"a\"} {\"text\": \"b\"}\n",
			[]wantProblem{{1, "", "invalid JSON at byte 15"}}},
		{"jsonl string line", JSONL, "\"hello\"\n", []wantProblem{{1, "", "line is a JSON string, not an object"}}},
		{"jsonl null line", JSONL, "null\n", []wantProblem{{1, "", "line is a JSON null, not an object"}}},
		{"jsonl text null", JSONL, "{\"text\": null}\n", []wantProblem{{1, "text", `field "text" must be a string, not null`}}},
		{"jsonl split number", JSONL, "{\"text\": \"a\", \"split\": 1}\n",
			[]wantProblem{{1, "split", `field "split" must be a string, not number`}}},
		{"jsonl tags object", JSONL, "{\"text\": \"a\", \"Tags\": {}}\n",
			[]wantProblem{{1, "Tags", `field "Tags" must be a string, not object`}}},
		{"xlsx that is not a zip", XLSX, "text,category\nhello,x\n",
			[]wantProblem{{0, "", "not an .xlsx workbook (an .xlsx file is a zip archive)"}}},
		{"xlsx that is an old xls", XLSX, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + strings.Repeat("\x00", 600),
			[]wantProblem{{0, "", "old .xls file"}}},
		{"xlsx that is a broken zip", XLSX, "PK\x03\x04" + strings.Repeat("\x00", 100),
			[]wantProblem{{0, "", "cannot open the .xlsx workbook"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, problemsOf(t, []byte(tt.input), tt.format), tt.want)
		})
	}
}

func TestReadReportsAllProblemsAtOnce(t *testing.T) {
	tests := []struct {
		file     string
		format   Format
		want     []wantProblem
		wantRows []int
	}{
		{"problems.csv", CSV, []wantProblem{
			{3, "text", "text is empty"},
			{4, "split", `unknown split "test"`},
			{5, "text", "duplicate of line 2"},
			{6, "", "row has 6 cells but the header has 5 columns"},
			{10, "text", "not valid UTF-8"},
			{11, "split", `unknown split "HELD OUT"`},
			{12, "category", `stray "`},
		}, []int{2, 8}},
		{"problems.jsonl", JSONL, []wantProblem{
			{2, "text", `field "text" must be a string, not number`},
			{3, "tags", `field "tags" must be an array of strings or a string`},
			{4, "", "line is a JSON array, not an object"},
			{5, "", "invalid JSON at byte 29"},
			{7, "", "missing text field (name it text, prompt, question, instruction or input)"},
			{8, "split", `unknown split "test"`},
			{8, "text", "duplicate of line 1"},
			{9, "category", `field "category" must be a string, not array`},
			{10, "text", `second field for the same column (already have "prompt")`},
			{11, "text", "text is empty"},
		}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rows, err := readFile(t, tt.file, tt.format)
			var sheetErr *Error
			if !errors.As(err, &sheetErr) {
				t.Fatalf("Read error = %v, want *Error", err)
			}
			checkProblems(t, sheetErr, tt.want)
			var lines []int
			for _, r := range rows {
				lines = append(lines, r.Line)
			}
			if !reflect.DeepEqual(lines, tt.wantRows) {
				t.Errorf("good rows on lines %v, want %v", lines, tt.wantRows)
			}
		})
	}
}

func TestReadCapsProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("text,split\n")
	for range 250 {
		b.WriteString("hello,test\n")
	}
	err := problemsOf(t, []byte(b.String()), CSV)
	// Every row has a bad split, and every row after the first is a duplicate.
	if len(err.Problems) != 200 || err.More != 299 {
		t.Errorf("got %d problems and %d more, want 200 and 299", len(err.Problems), err.More)
	}
	if want := "sheet: 499 problems: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
	}
	if !strings.HasSuffix(err.Error(), "; and 496 more") {
		t.Errorf("Error() = %q, want it to end with the count of the rest", err.Error())
	}
}

// countingReader yields n bytes of 'a' and counts what was read.
type countingReader struct {
	left, read int
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	for i := range p[:n] {
		p[i] = 'a'
	}
	r.left -= n
	r.read += n
	return n, nil
}

func TestReadRejectsOversizeFile(t *testing.T) {
	for _, f := range []Format{CSV, XLSX} {
		t.Run(string(f), func(t *testing.T) {
			src := &countingReader{left: 2 * MaxFileBytes}
			rows, err := Read(src, f)
			var sheetErr *Error
			if !errors.As(err, &sheetErr) {
				t.Fatalf("Read error = %v, want *Error", err)
			}
			if rows != nil {
				t.Errorf("got %d rows from an oversize file", len(rows))
			}
			checkProblems(t, sheetErr, []wantProblem{{0, "", "larger than the 50 MiB limit"}})
			if src.read > MaxFileBytes+1 {
				t.Errorf("read %d bytes, want at most %d", src.read, MaxFileBytes+1)
			}
		})
	}
}

func TestReadPassesReaderErrorsThrough(t *testing.T) {
	broken := errors.New("connection reset")
	_, err := Read(io.MultiReader(strings.NewReader("text\n"), iotestErrReader{broken}), CSV)
	if !errors.Is(err, broken) {
		t.Fatalf("Read error = %v, want it to wrap %v", err, broken)
	}
	var sheetErr *Error
	if errors.As(err, &sheetErr) {
		t.Errorf("a reader failure came back as a content problem: %v", err)
	}
	if _, err := Read(strings.NewReader("text\n"), Format("ods")); err == nil {
		t.Error("Read accepted an unknown format")
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// newWorkbook builds an .xlsx whose first sheet holds rows, starting at A1.
func newWorkbook(t *testing.T, rows [][]any) []byte {
	t.Helper()
	book := excelize.NewFile()
	defer book.Close()
	first := book.GetSheetName(0)
	if err := book.SetSheetName(first, "Prompts from Sam"); err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		if row == nil {
			continue
		}
		cellName, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := book.SetSheetRow("Prompts from Sam", cellName, &row); err != nil {
			t.Fatal(err)
		}
	}
	// A second sheet must be ignored.
	if _, err := book.NewSheet("Scratch"); err != nil {
		t.Fatal(err)
	}
	if err := book.SetCellValue("Scratch", "A1", "not a header"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := book.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadXLSX(t *testing.T) {
	data := newWorkbook(t, [][]any{
		{"Question", "Category", "Tags", "Split", "Reviewed"},
		{"What is a trait object?", 42, "Traits, DYN", "held_out", true},
		nil,
		{"Line one\nline two", "", "", "TRAIN", false},
		{3.5, true, "", "Train"},
		{"", "", "", ""},
	})
	want := []Row{
		{Line: 2, Text: "What is a trait object?", Category: "42", Tags: []string{"traits", "dyn"}, Split: "heldout"},
		{Line: 4, Text: "Line one\nline two", Split: "train"},
		{Line: 5, Text: "3.5", Category: "TRUE", Split: "train"},
	}
	checkRows(t, mustRead(t, data, XLSX), want)
}

func TestReadXLSXProblems(t *testing.T) {
	tests := []struct {
		name string
		rows [][]any
		want []wantProblem
	}{
		{"missing text column", [][]any{{"id", "notes"}, {1, "x"}},
			[]wantProblem{{1, "", "missing text column; found: id, notes"}}},
		{"empty sheet", nil, []wantProblem{{0, "", `sheet "Prompts from Sam" is empty`}}},
		{"row problems use sheet row numbers", [][]any{
			{"prompt", "split", "notes"},
			{"fine", "train"},
			nil,
			{"   ", "train"},
			{"Fine", "later"},
			{"other", "", "", "stray"},
		}, []wantProblem{
			{4, "prompt", "text is empty"},
			{5, "split", `unknown split "later"`},
			{5, "prompt", "duplicate of line 2"},
			{6, "", "row has 4 cells but the header has 3 columns"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, problemsOf(t, newWorkbook(t, tt.rows), XLSX), tt.want)
		})
	}
}

// exportRows has every awkward thing a cell can hold.
var exportRows = []ExportRow{
	{ID: 1, Text: "What does `impl Trait` mean?", Category: "traits", Tags: []string{"impl", "generics"}, Split: "train",
		CreatedAt: time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC)},
	{ID: 2, Text: "Fix this:\n\tlet x = \"a, b; c\";\r\n<T> & 'a", Category: "errors, lifetimes", Split: "heldout",
		CreatedAt: time.Date(2024, 3, 2, 8, 0, 0, 0, time.FixedZone("CET", 3600))},
	{ID: 3, Text: "=SUM(A1:A2) is not a formula here", Tags: []string{"excel"}, Split: "train"},
	{ID: 4, Text: "Ünïcödé — 日本語 🦀", Category: "misc", Split: "heldout"},
	{ID: 5, Text: `"quoted" from the start`, Split: "train"},
}

func TestWriteReadRoundTrip(t *testing.T) {
	want := make([]Row, len(exportRows))
	for i, e := range exportRows {
		want[i] = Row{Text: strings.TrimSpace(e.Text), Category: e.Category, Tags: e.Tags, Split: e.Split}
	}
	for _, f := range []Format{CSV, TSV, JSONL, XLSX} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, f, exportRows); err != nil {
				t.Fatalf("Write: %v", err)
			}
			rows := mustRead(t, buf.Bytes(), f)
			for i := range rows {
				rows[i].Line = 0
			}
			want := slices.Clone(want)
			if f == CSV || f == TSV {
				// encoding/csv reads a quoted "\r\n" as "\n".
				for i := range want {
					want[i].Text = strings.ReplaceAll(want[i].Text, "\r\n", "\n")
				}
			}
			checkRows(t, rows, want)
		})
	}
}

func TestWriteCSVAndJSONLLayout(t *testing.T) {
	rows := exportRows[:2]
	tests := []struct {
		format Format
		want   string
	}{
		{CSV, "id,text,category,tags,split,created_at\n" +
			"1,What does `impl Trait` mean?,traits,impl;generics,train,2024-03-01T12:30:00Z\n" +
			"2,\"Fix this:\n\tlet x = \"\"a, b; c\"\";\r\n<T> & 'a\",\"errors, lifetimes\",,heldout,2024-03-02T07:00:00Z\n"},
		{TSV, "id\ttext\tcategory\ttags\tsplit\tcreated_at\n" +
			"1\tWhat does `impl Trait` mean?\ttraits\timpl;generics\ttrain\t2024-03-01T12:30:00Z\n" +
			"2\t\"Fix this:\n\tlet x = \"\"a, b; c\"\";\r\n<T> & 'a\"\terrors, lifetimes\t\theldout\t2024-03-02T07:00:00Z\n"},
		{JSONL, `{"id":1,"text":"What does ` + "`impl Trait`" + ` mean?","category":"traits","tags":["impl","generics"],"split":"train","created_at":"2024-03-01T12:30:00Z"}` + "\n" +
			`{"id":2,"text":"Fix this:\n\tlet x = \"a, b; c\";\r\n<T> & 'a","category":"errors, lifetimes","tags":[],"split":"heldout","created_at":"2024-03-02T07:00:00Z"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, rows); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if buf.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", buf.String(), tt.want)
			}
		})
	}
	if err := Write(io.Discard, Format("ods"), rows); err == nil {
		t.Error("Write accepted an unknown format")
	}
}

func TestWriteXLSXLayout(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, XLSX, exportRows); err != nil {
		t.Fatalf("Write: %v", err)
	}
	book, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatalf("open written workbook: %v", err)
	}
	defer book.Close()
	if got := book.GetSheetList(); !reflect.DeepEqual(got, []string{"prompts"}) {
		t.Fatalf("sheets = %v, want [prompts]", got)
	}
	header, err := book.GetRows("prompts")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"id", "text", "category", "tags", "split", "created_at"}; !reflect.DeepEqual(header[0], want) {
		t.Errorf("header = %v, want %v", header[0], want)
	}
	if got := header[2]; got[0] != "2" || got[3] != "" || got[5] != "2024-03-02T07:00:00Z" {
		t.Errorf("row 3 = %q", got)
	}
	if style := cellStyle(t, book, "B1"); style.Font == nil || !style.Font.Bold {
		t.Error("header is not bold")
	}
	if style := cellStyle(t, book, "B2"); style.Alignment == nil || !style.Alignment.WrapText {
		t.Error("text cells do not wrap")
	}
	panes, err := book.GetPanes("prompts")
	if err != nil {
		t.Fatal(err)
	}
	if !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
		t.Errorf("panes = %+v, want the first row frozen", panes)
	}
	width, err := book.GetColWidth("prompts", "B")
	if err != nil {
		t.Fatal(err)
	}
	if width < 40 {
		t.Errorf("text column width = %v, want a wide column", width)
	}
}

func cellStyle(t *testing.T, book *excelize.File, cell string) *excelize.Style {
	t.Helper()
	id, err := book.GetCellStyle("prompts", cell)
	if err != nil {
		t.Fatal(err)
	}
	style, err := book.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	return style
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		name string
		want Format
	}{
		{"csv", CSV}, {" CSV ", CSV}, {"tsv", TSV}, {"jsonl", JSONL}, {"JSON-Lines", JSONL}, {"ndjson", JSONL}, {"XLSX", XLSX},
		{"xls", ""}, {"json", ""}, {"", ""},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.name)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name string
		want Format
	}{
		{"prompts.csv", CSV}, {"PROMPTS.CSV", CSV}, {"a.tsv", TSV}, {"a.tab", TSV}, {"Unicode export.txt", TSV},
		{"a.jsonl", JSONL}, {"a.ndjson", JSONL}, {"Book1.xlsx", XLSX}, {`C:\Users\sam\my.dir\Book1.xlsx`, XLSX},
		{"old.xls", ""}, {"a.json", ""}, {"noext", ""}, {`C:\my.dir\noext`, ""}, {"", ""},
	}
	for _, tt := range tests {
		got, err := DetectFormat(tt.name)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("DetectFormat(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Hello\t\n World  ", "hello world"},
		{"cafe\u0301", "caf\u00e9"},
		{"A\u00a0B\u3000C", "a b c"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{12, "split", `unknown split "test" (want train or heldout)`}, `line 12, column "split": unknown split "test" (want train or heldout)`},
		{Problem{3, "4", "cell is too big"}, "line 3, column 4: cell is too big"},
		{Problem{3, "", "bad"}, "line 3: bad"},
		{Problem{0, "", "file is empty"}, "file is empty"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	one := &Error{Problems: []Problem{{2, "text", "text is empty"}}}
	if got, want := one.Error(), `sheet: line 2, column "text": text is empty`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// benchmarkCSV builds a CSV of n prompts of about 200 bytes each.
func benchmarkCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,text,category,tags,split,created_at\n")
	filler := strings.Repeat("lifetimes and borrowing ", 6)
	for i := range n {
		fmt.Fprintf(&b, "%d,\"Prompt %d: explain, with an example, %s\",ownership,borrowing;lifetimes,train,2024-03-01T12:30:00Z\n", i, i, filler)
	}
	return b.Bytes()
}

func BenchmarkReadCSV100k(b *testing.B) {
	data := benchmarkCSV(100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rows, err := Read(bytes.NewReader(data), CSV)
		if err != nil || len(rows) != 100_000 {
			b.Fatalf("got %d rows, %v", len(rows), err)
		}
	}
}

func BenchmarkWriteXLSX100k(b *testing.B) {
	rows := make([]ExportRow, 100_000)
	for i := range rows {
		rows[i] = ExportRow{ID: int64(i), Text: fmt.Sprintf("Prompt %d: %s", i, strings.Repeat("lifetimes ", 18)),
			Category: "ownership", Tags: []string{"borrowing"}, Split: "train", CreatedAt: time.Now()}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, XLSX, rows); err != nil {
			b.Fatal(err)
		}
	}
}
