package data

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// promptsFile is the starter prompt sheet, relative to this package directory.
const promptsFile = "prompts.csv"

// compilerErrorsCategory is the category whose snippets must reproduce a rustc error.
const compilerErrorsCategory = "compiler-errors"

const (
	minRows              = 150
	minRowsPerCategory   = 8
	minCompilerErrorRows = 20
	maxPromptLines       = 40
	minHeldoutShare      = 0.15
	maxHeldoutShare      = 0.25
	maxConcurrentRustc   = 2
	rustcTimeout         = 2 * time.Minute
	rustFence            = "```rust"
	promptsHeader        = "text,category,tags,split"
)

// promptRow is one data row of the prompt sheet.
type promptRow struct {
	line     int
	text     string
	category string
	tags     []string
	split    string
}

// codeBlock is one fenced code block found in a prompt text.
type codeBlock struct {
	lang string
	body string
}

// rustcDiagnostic holds the fields of one rustc JSON diagnostic line that the tests need.
type rustcDiagnostic struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Code    *struct {
		Code string `json:"code"`
	} `json:"code"`
}

// allowedCategories lists every category slug the sheet may use.
func allowedCategories() []string {
	return []string{
		"ownership-borrowing", "lifetimes", "error-handling", "iterators-closures",
		"traits-generics", "collections", "strings-utf8", "smart-pointers",
		"concurrency", "async-tokio", "unsafe-ffi", "macros", "testing",
		"performance", "idioms", compilerErrorsCategory,
	}
}

// readPrompts parses the prompt sheet, checks its header and returns the data rows.
func readPrompts(t *testing.T) []promptRow {
	t.Helper()
	f, err := os.Open(promptsFile)
	if err != nil {
		t.Fatalf("open prompt sheet: %v", err)
	}
	defer f.Close()
	rows, err := parsePrompts(f)
	if err != nil {
		t.Fatalf("parse %s: %v", promptsFile, err)
	}
	return rows
}

// parsePrompts reads RFC 4180 CSV with the header text,category,tags,split.
func parsePrompts(r io.Reader) ([]promptRow, error) {
	reader := csv.NewReader(r)
	reader.FieldsPerRecord = 4
	header, err := reader.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	if got := strings.Join(header, ","); got != promptsHeader {
		return nil, fmt.Errorf("header is %q, want %q", got, promptsHeader)
	}
	var rows []promptRow
	for {
		record, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read record %d: %w", len(rows)+1, err)
		}
		line, _ := reader.FieldPos(0)
		rows = append(rows, promptRow{
			line:     line,
			text:     record[0],
			category: record[1],
			tags:     strings.Split(record[2], ";"),
			split:    record[3],
		})
	}
}

// codeBlocks returns the fenced code blocks of a prompt, failing on an unclosed fence.
func codeBlocks(text string) ([]codeBlock, error) {
	var blocks []codeBlock
	var current *codeBlock
	var body []string
	for _, line := range strings.Split(text, "\n") {
		fence, isFence := strings.CutPrefix(strings.TrimSpace(line), "```")
		if !isFence {
			if current != nil {
				body = append(body, line)
			}
			continue
		}
		if current == nil {
			current = &codeBlock{lang: strings.TrimSpace(fence)}
			body = nil
			continue
		}
		current.body = strings.Join(body, "\n") + "\n"
		blocks = append(blocks, *current)
		current = nil
	}
	if current != nil {
		return nil, fmt.Errorf("code block opened with %q is never closed", "```"+current.lang)
	}
	return blocks, nil
}

// errorCodeTags returns the tags that name a rustc error code, such as e0382.
func errorCodeTags(tags []string) []string {
	codePattern := regexp.MustCompile(`^e[0-9]{4}$`)
	var codes []string
	for _, tag := range tags {
		if codePattern.MatchString(tag) {
			codes = append(codes, tag)
		}
	}
	return codes
}

// normalizedText lowercases a prompt and collapses whitespace so near-identical copies compare equal.
func normalizedText(text string) string {
	return strings.Join(strings.Fields(strings.ToLower(text)), " ")
}

func TestPromptsFileEncoding(t *testing.T) {
	raw, err := os.ReadFile(promptsFile)
	if err != nil {
		t.Fatalf("read prompt sheet: %v", err)
	}
	if bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")) {
		t.Error("prompt sheet starts with a UTF-8 byte order mark")
	}
	if bytes.Contains(raw, []byte("\r")) {
		t.Error("prompt sheet contains carriage returns; want LF line endings only")
	}
	if !utf8.Valid(raw) {
		t.Error("prompt sheet is not valid UTF-8")
	}
	if !bytes.HasPrefix(raw, []byte(promptsHeader+"\n")) {
		t.Errorf("first line is not the header %q", promptsHeader)
	}
}

func TestPromptsRowCount(t *testing.T) {
	rows := readPrompts(t)
	if len(rows) < minRows {
		t.Errorf("sheet has %d rows, want at least %d", len(rows), minRows)
	}
}

func TestPromptsCategories(t *testing.T) {
	rows := readPrompts(t)
	counts := map[string]int{}
	for _, category := range allowedCategories() {
		counts[category] = 0
	}
	for _, row := range rows {
		if _, ok := counts[row.category]; !ok {
			t.Errorf("line %d: unknown category %q", row.line, row.category)
			continue
		}
		counts[row.category]++
	}
	for category, n := range counts {
		if n < minRowsPerCategory {
			t.Errorf("category %s has %d rows, want at least %d", category, n, minRowsPerCategory)
		}
	}
	if n := counts[compilerErrorsCategory]; n < minCompilerErrorRows {
		t.Errorf("category %s has %d rows, want at least %d", compilerErrorsCategory, n, minCompilerErrorRows)
	}
}

func TestPromptsSplits(t *testing.T) {
	rows := readPrompts(t)
	heldout := 0
	heldoutByCategory := map[string]int{}
	for _, row := range rows {
		switch row.split {
		case "train":
		case "heldout":
			heldout++
			heldoutByCategory[row.category]++
		default:
			t.Errorf("line %d: split is %q, want train or heldout", row.line, row.split)
		}
	}
	if len(rows) == 0 {
		t.Fatal("sheet has no rows")
	}
	share := float64(heldout) / float64(len(rows))
	if share < minHeldoutShare || share > maxHeldoutShare {
		t.Errorf("heldout share is %.3f (%d of %d), want between %.2f and %.2f",
			share, heldout, len(rows), minHeldoutShare, maxHeldoutShare)
	}
	for _, category := range allowedCategories() {
		if heldoutByCategory[category] == 0 {
			t.Errorf("category %s has no heldout row", category)
		}
	}
}

func TestPromptsTextsAreUniqueAndWellFormed(t *testing.T) {
	rows := readPrompts(t)
	firstLineOf := map[string]int{}
	for _, row := range rows {
		if strings.TrimSpace(row.text) == "" {
			t.Errorf("line %d: empty prompt text", row.line)
			continue
		}
		key := normalizedText(row.text)
		if first, seen := firstLineOf[key]; seen {
			t.Errorf("line %d: duplicates the prompt at line %d", row.line, first)
		} else {
			firstLineOf[key] = row.line
		}
		if n := strings.Count(row.text, "\n") + 1; n > maxPromptLines {
			t.Errorf("line %d: prompt has %d lines, want at most %d", row.line, n, maxPromptLines)
		}
		blocks, err := codeBlocks(row.text)
		if err != nil {
			t.Errorf("line %d: %v", row.line, err)
			continue
		}
		for _, block := range blocks {
			if block.lang != "rust" {
				t.Errorf("line %d: code block fenced as %q, want %q", row.line, "```"+block.lang, rustFence)
			}
		}
	}
}

func TestPromptsTags(t *testing.T) {
	rows := readPrompts(t)
	tagPattern := regexp.MustCompile(`^[a-z0-9][a-z0-9_.+-]*$`)
	for _, row := range rows {
		if len(row.tags) < 2 {
			t.Errorf("line %d: has %d tags, want a few", row.line, len(row.tags))
		}
		for _, tag := range row.tags {
			if !tagPattern.MatchString(tag) {
				t.Errorf("line %d: tag %q is not a lowercase slug", row.line, tag)
			}
		}
	}
}

func TestCompilerErrorRowsNameOneCodeAndOneSnippet(t *testing.T) {
	rows := readPrompts(t)
	for _, row := range rows {
		if row.category != compilerErrorsCategory {
			continue
		}
		if codes := errorCodeTags(row.tags); len(codes) != 1 {
			t.Errorf("line %d: tags name %d error codes %v, want exactly one", row.line, len(codes), codes)
		}
		blocks, err := codeBlocks(row.text)
		if err != nil {
			t.Errorf("line %d: %v", row.line, err)
			continue
		}
		if len(blocks) != 1 || blocks[0].lang != "rust" {
			t.Errorf("line %d: has %d code blocks, want exactly one %s block", row.line, len(blocks), rustFence)
		}
	}
}

func TestCompilerErrorSnippetsReproduceTheirCode(t *testing.T) {
	rustc, err := exec.LookPath("rustc")
	if err != nil {
		t.Skip("rustc is not on PATH; cannot check that compiler-errors snippets reproduce their error codes")
	}
	// The semaphore keeps at most two rustc processes alive, whatever -parallel says.
	slots := make(chan struct{}, maxConcurrentRustc)
	for _, row := range readPrompts(t) {
		if row.category != compilerErrorsCategory {
			continue
		}
		codes := errorCodeTags(row.tags)
		blocks, err := codeBlocks(row.text)
		if len(codes) != 1 || err != nil || len(blocks) != 1 {
			t.Errorf("line %d: needs exactly one error-code tag and one code block", row.line)
			continue
		}
		wantCode := strings.ToUpper(codes[0])
		snippet := blocks[0].body
		t.Run(fmt.Sprintf("line%04d_%s", row.line, wantCode), func(t *testing.T) {
			t.Parallel()
			slots <- struct{}{}
			defer func() { <-slots }()
			gotCodes, err := rustcErrorCodes(t.Context(), rustc, t.TempDir(), snippet)
			if err != nil {
				t.Fatalf("run rustc: %v", err)
			}
			for _, code := range gotCodes {
				if code == wantCode {
					return
				}
			}
			t.Errorf("rustc reported error codes %v, want %s", gotCodes, wantCode)
		})
	}
}

// rustcErrorCodes compiles a snippet as a library, or as a binary when it has fn main,
// and returns the error codes rustc reports in its JSON diagnostics.
func rustcErrorCodes(ctx context.Context, rustc, dir, snippet string) ([]string, error) {
	source := filepath.Join(dir, "snippet.rs")
	if err := os.WriteFile(source, []byte(snippet), 0o644); err != nil {
		return nil, fmt.Errorf("write snippet: %w", err)
	}
	crateType := "lib"
	if regexp.MustCompile(`\bfn\s+main\s*\(`).MatchString(snippet) {
		crateType = "bin"
	}
	ctx, cancel := context.WithTimeout(ctx, rustcTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, rustc,
		"--edition", "2021", "--crate-type", crateType, "--emit=metadata",
		"--error-format=json", "-o", filepath.Join(dir, "snippet.rmeta"), source)
	cmd.Dir = dir
	var diagnostics bytes.Buffer
	cmd.Stderr = &diagnostics
	runErr := cmd.Run()
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return nil, fmt.Errorf("start rustc: %w", runErr)
	}
	if runErr == nil {
		return nil, nil
	}
	return diagnosticErrorCodes(diagnostics.Bytes())
}

// diagnosticErrorCodes extracts the codes of error-level diagnostics from rustc's JSON lines.
func diagnosticErrorCodes(jsonLines []byte) ([]string, error) {
	var codes []string
	for _, line := range bytes.Split(jsonLines, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
			continue
		}
		var diagnostic rustcDiagnostic
		if err := json.Unmarshal(line, &diagnostic); err != nil {
			return nil, fmt.Errorf("decode rustc diagnostic %q: %w", line, err)
		}
		if diagnostic.Level == "error" && diagnostic.Code != nil {
			codes = append(codes, diagnostic.Code.Code)
		}
	}
	return codes, nil
}

func TestCodeBlocksRejectsUnclosedFence(t *testing.T) {
	if _, err := codeBlocks("Fix this:\n```rust\nfn main() {}\n"); err == nil {
		t.Error("codeBlocks accepted a fence that is never closed")
	}
	blocks, err := codeBlocks("a\n```rust\nlet x = 1;\n```\nb")
	if err != nil {
		t.Fatalf("codeBlocks: %v", err)
	}
	if len(blocks) != 1 || blocks[0].lang != "rust" || blocks[0].body != "let x = 1;\n" {
		t.Errorf("codeBlocks returned %+v, want one rust block with body %q", blocks, "let x = 1;\n")
	}
}

func TestDiagnosticErrorCodesKeepsOnlyErrors(t *testing.T) {
	jsonLines := []byte(`{"level":"warning","message":"unused variable","code":{"code":"unused_variables"}}
{"level":"error","message":"borrow of moved value","code":{"code":"E0382","explanation":"..."}}
{"level":"error","message":"aborting due to 1 previous error","code":null}
`)
	codes, err := diagnosticErrorCodes(jsonLines)
	if err != nil {
		t.Fatalf("diagnosticErrorCodes: %v", err)
	}
	if len(codes) != 1 || codes[0] != "E0382" {
		t.Errorf("diagnosticErrorCodes = %v, want [E0382]", codes)
	}
}
