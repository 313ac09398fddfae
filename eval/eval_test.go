package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestExtract(t *testing.T) {
	answer := "Here is the type:\n\n" +
		"```rust\npub struct Point { x: i32 }\n```\n\n" +
		"Run it with:\n\n```sh\ncargo run --release\n```\n\n" +
		"```rs\nimpl Point {}\n```\n\n" +
		"```Rust,ignore\nlet p = Point { x: 1 };\n```\n\n" +
		"```\nfn untagged() {}\n```\n\n" +
		"```\n$ cargo build\n   Compiling demo v0.1.0\n```\n\n" +
		"```python\ndef f():\n    pass\n```\n\n" +
		"```toml\n[dependencies]\nserde = \"1\"\n```\n\n" +
		"1. In a list:\n\n   ```rust\n   fn listed() {}\n   ```\n"
	want := []string{
		"pub struct Point { x: i32 }\n",
		"impl Point {}\n",
		"let p = Point { x: 1 };\n",
		"fn untagged() {}\n",
		"fn listed() {}\n",
	}
	if got := Extract(answer); !slices.Equal(got, want) {
		t.Fatalf("Extract =\n%q\nwant\n%q", got, want)
	}
}

func TestExtractWithoutRust(t *testing.T) {
	answer := "Use `Vec::new()` and `let` bindings.\n\n```text\nfn in a text block is not code\n```\n\n```rust\n\n```\n"
	if got := Extract(answer); len(got) != 0 {
		t.Fatalf("Extract = %q, want no blocks", got)
	}
}

func TestNewProgramBinaryWithMain(t *testing.T) {
	blocks := []string{"struct Counter(u32);\n", "fn main() {\n    let c = Counter(1);\n    println!(\"{}\", c.0);\n}\n"}
	program, ok := NewProgram(blocks)
	if !ok || program.Kind != KindBin {
		t.Fatalf("NewProgram = %+v, %v; want a binary", program, ok)
	}
	want := "struct Counter(u32);\n\nfn main() {\n    let c = Counter(1);\n    println!(\"{}\", c.0);\n}\n"
	if program.Source != want {
		t.Fatalf("Source =\n%s\nwant\n%s", program.Source, want)
	}
}

func TestNewProgramLibrary(t *testing.T) {
	block := "/// Adds.\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\n#[cfg(test)]\nmod tests {\n    fn main() {}\n}\n"
	program, ok := NewProgram([]string{block})
	if !ok || program.Kind != KindLib || program.Source != block {
		t.Fatalf("NewProgram = %+v, %v; want the block as a library", program, ok)
	}
}

func TestNewProgramWrapsStatements(t *testing.T) {
	blocks := []string{
		"use std::collections::HashMap;\n\nfn count(words: &[&str]) -> HashMap<String, usize> {\n    HashMap::new()\n}\n",
		"use std::collections::HashMap;\n\nlet counts: HashMap<String, usize> = count(&[\"a\"]);\nfor (word, n) in &counts {\n    println!(\"{word}: {n}\");\n}\ncounts.len() // the number of words\n",
	}
	program, ok := NewProgram(blocks)
	if !ok || program.Kind != KindBin {
		t.Fatalf("NewProgram = %+v, %v; want a binary", program, ok)
	}
	want := "use std::collections::HashMap;\n\nfn count(words: &[&str]) -> HashMap<String, usize> {\n    HashMap::new()\n}\n\n" +
		"fn main() {\n" +
		"    let counts: HashMap<String, usize> = count(&[\"a\"]);\n" +
		"    for (word, n) in &counts {\n        println!(\"{word}: {n}\");\n    }\n" +
		"    counts.len(); // the number of words\n" +
		"}\n"
	if program.Source != want {
		t.Fatalf("Source =\n%s\nwant\n%s", program.Source, want)
	}
}

func TestNewProgramQuestionMarkAndInnerAttributes(t *testing.T) {
	blocks := []string{
		"#![allow(dead_code)]\nfn parse(s: &str) -> i32 { s.len() as i32 }\n",
		"#![allow(dead_code)]\nlet n: i32 = \"5\".parse()?;\n",
	}
	program, ok := NewProgram(blocks)
	if !ok || program.Kind != KindBin {
		t.Fatalf("NewProgram = %+v, %v; want a binary", program, ok)
	}
	want := "#![allow(dead_code)]\n\nfn parse(s: &str) -> i32 { s.len() as i32 }\n\n" +
		"fn main() -> Result<(), Box<dyn std::error::Error>> {\n    let n: i32 = \"5\".parse()?;\n    Ok(())\n}\n"
	if program.Source != want {
		t.Fatalf("Source =\n%s\nwant\n%s", program.Source, want)
	}
}

func TestNewProgramWithoutCode(t *testing.T) {
	for _, blocks := range [][]string{nil, {"\n"}, {"// only a comment\n/* and another */\n"}} {
		if program, ok := NewProgram(blocks); ok {
			t.Errorf("NewProgram(%q) = %+v, want no program", blocks, program)
		}
	}
}

func TestSplitTopLevel(t *testing.T) {
	code := `#[derive(Debug)]
struct Wrapper<'a> { text: &'a str }
let braces = "}{ fn main() {";
let raw = r#"a "quoted" } brace"#;
let quote = '}';
let unicode = 'é';
/* a { nested /* comment */ } */
let picked = if braces.is_empty() { 1 } else { 2 };
match picked {
    1 => {}
    _ => {}
}
let total = { 1 } + 2;
thread_local! { static DEPTH: u32 = 0; }
unsafe fn raw_read() {}
unsafe { raw_read() }
// the end
`
	var kinds []chunkKind
	for _, c := range splitTopLevel(code) {
		kinds = append(kinds, c.kind)
	}
	want := []chunkKind{
		itemChunk,      // struct
		statementChunk, // braces
		statementChunk, // raw
		statementChunk, // quote
		statementChunk, // unicode
		statementChunk, // picked, with the comment before it
		statementChunk, // match
		statementChunk, // total
		itemChunk,      // thread_local!
		itemChunk,      // unsafe fn
		statementChunk, // unsafe block
		statementChunk, // trailing comment, kept with the block
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}
}

func TestParseDiagnostics(t *testing.T) {
	output := []byte(`{"$message_type":"diagnostic","message":"unused variable: ` + "`x`" + `","code":{"code":"unused_variables","explanation":null},"level":"warning","spans":[{"file_name":"main.rs","line_start":2,"column_start":9,"is_primary":true}]}
{"$message_type":"diagnostic","message":"borrow of moved value","code":{"code":"E0382"},"level":"error","spans":[{"file_name":"/rustlib/src/fmt.rs","line_start":9,"column_start":1,"is_primary":true},{"file_name":"main.rs","line_start":4,"column_start":16,"is_primary":true}]}
{"$message_type":"diagnostic","message":"aborting due to 1 previous error; 1 warning emitted","code":null,"level":"error","spans":[]}
{"$message_type":"diagnostic","message":"1 warning emitted","code":null,"level":"warning","spans":[]}
{"$message_type":"diagnostic","message":"For more information about this error, try ` + "`rustc --explain E0382`" + `.","code":null,"level":"failure-note","spans":[]}
{"$message_type":"artifact","artifact":"out","emit":"metadata"}
plain text from a panic
{"$message_type":"diagnostic","message":"cut off`)
	got := parseDiagnostics(output)
	want := []Diagnostic{
		{Level: "warning", Code: "unused_variables", Message: "unused variable: `x`", Line: 2, Column: 9},
		{Level: "error", Code: "E0382", Message: "borrow of moved value", Line: 4, Column: 16},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("parseDiagnostics =\n%+v\nwant\n%+v", got, want)
	}
}

func TestCappedBuffer(t *testing.T) {
	buffer := &cappedBuffer{limit: 5}
	for _, part := range []string{"abc", "defg", "h"} {
		if n, err := buffer.Write([]byte(part)); n != len(part) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want all written", part, n, err)
		}
	}
	if string(buffer.data) != "abcde" || !buffer.truncated {
		t.Fatalf("buffer = %q, truncated %v; want \"abcde\", true", buffer.data, buffer.truncated)
	}
}

func TestResultCacheEvictsLeastRecentlyUsed(t *testing.T) {
	cache := newResultCache(2)
	cache.put("a", Result{Errors: 1, Diagnostics: []Diagnostic{{Message: "a"}}})
	cache.put("b", Result{Errors: 2})
	if got, _ := cache.get("a"); got.Errors != 1 {
		t.Fatalf("get(a) = %+v", got)
	}
	cache.put("c", Result{Errors: 3})
	if _, ok := cache.get("b"); ok {
		t.Fatal("b is still cached after a and c were used later")
	}
	got, ok := cache.get("a")
	if !ok || cache.len() != 2 {
		t.Fatalf("get(a) ok=%v, len=%d; want a kept and 2 entries", ok, cache.len())
	}
	got.Diagnostics[0].Message = "changed"
	if again, _ := cache.get("a"); again.Diagnostics[0].Message != "a" {
		t.Fatal("changing a returned Result changed the cached one")
	}
}

func TestNewCheckerWithoutRustc(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := NewChecker(Options{})
	if err == nil || !strings.Contains(err.Error(), "rustc is not on PATH") {
		t.Fatalf("NewChecker error = %v, want one saying rustc is not on PATH", err)
	}
}

func TestNewCheckerRejectsUnknownEdition(t *testing.T) {
	if _, err := NewChecker(Options{Edition: "2020"}); err == nil {
		t.Fatal("NewChecker accepted edition 2020")
	}
}

func TestCheckRejectsUnknownKind(t *testing.T) {
	checker := newTestChecker(t, Options{})
	if _, err := checker.Check(context.Background(), Program{Source: "fn main() {}", Kind: "dylib"}); err == nil {
		t.Fatal("Check accepted kind dylib")
	}
	if checker.Runs() != 0 {
		t.Fatalf("Runs = %d, want 0", checker.Runs())
	}
}

func TestHashCoversKindEditionAndClippy(t *testing.T) {
	plain := newTestChecker(t, Options{})
	edition2018 := newTestChecker(t, Options{Edition: "2018"})
	clippy := newTestChecker(t, Options{Clippy: true})
	library := Program{Source: "pub fn f() {}\n", Kind: KindLib}
	hashes := []string{
		plain.Hash(library),
		plain.Hash(Program{Source: library.Source, Kind: KindBin}),
		plain.Hash(Program{Source: library.Source + " ", Kind: KindLib}),
		edition2018.Hash(library),
		clippy.Hash(library),
	}
	for i := range hashes {
		if len(hashes[i]) != 64 || slices.Contains(hashes[i+1:], hashes[i]) {
			t.Fatalf("hashes are not distinct sha256 hex strings: %q", hashes)
		}
	}
	if plain.Hash(library) != newTestChecker(t, Options{}).Hash(library) {
		t.Fatal("the same program hashes differently in two checkers")
	}
}

func TestCheckCompilingLibrary(t *testing.T) {
	checker := newTestChecker(t, Options{})
	result := mustCheck(t, checker, Program{Source: "pub fn answer() -> i32 {\n    let unused = 1;\n    42\n}\n", Kind: KindLib})
	if !result.Compiles || result.Errors != 0 || result.First != nil || result.TimedOut || result.Cached {
		t.Fatalf("result = %+v, want a compiling library", result)
	}
	if result.Warnings != 1 || len(result.Diagnostics) != 1 || result.Diagnostics[0].Code != "unused_variables" {
		t.Fatalf("warnings = %d, diagnostics = %+v; want only the unused variable", result.Warnings, result.Diagnostics)
	}
	if d := result.Diagnostics[0]; d.Line != 2 || d.Column != 9 {
		t.Fatalf("unused variable at %d:%d, want 2:9", d.Line, d.Column)
	}
	if len(result.CodeHash) != 64 || result.Duration <= 0 {
		t.Fatalf("CodeHash %q, Duration %v", result.CodeHash, result.Duration)
	}
}

func TestCheckCompilingBinaryFromAnswer(t *testing.T) {
	answer := "Parse, then sum:\n\n```rust\nuse std::num::ParseIntError;\n\n" +
		"fn sum(text: &str) -> Result<i64, ParseIntError> {\n    text.split(',').map(|n| n.trim().parse::<i64>()).sum()\n}\n```\n\n" +
		"Usage:\n\n```rust\nuse std::num::ParseIntError;\n\nlet total = sum(\"1, 2, 3\")?;\nassert_eq!(total, 6);\nprintln!(\"{total}\")\n```\n"
	program, ok := NewProgram(Extract(answer))
	if !ok || program.Kind != KindBin {
		t.Fatalf("NewProgram = %+v, %v; want a binary", program, ok)
	}
	checker := newTestChecker(t, Options{})
	result := mustCheck(t, checker, program)
	if !result.Compiles || result.Errors != 0 || result.Warnings != 0 {
		t.Fatalf("result = %+v, want a clean compile of\n%s", result, program.Source)
	}
}

func TestCheckUseAfterMove(t *testing.T) {
	source := "fn main() {\n    let s = String::from(\"hi\");\n    let t = s;\n    println!(\"{} {}\", s, t);\n}\n"
	checker := newTestChecker(t, Options{})
	result := mustCheck(t, checker, Program{Source: source, Kind: KindBin})
	if result.Compiles || result.Errors != 1 || result.First == nil {
		t.Fatalf("result = %+v, want exactly one error", result)
	}
	if first := *result.First; first.Code != "E0382" || first.Line != 4 || first.Column != 23 || !strings.Contains(first.Message, "moved value") {
		t.Fatalf("first error = %+v, want E0382 at 4:23", first)
	}
}

func TestCheckMismatchedTypes(t *testing.T) {
	checker := newTestChecker(t, Options{})
	result := mustCheck(t, checker, Program{Source: "pub fn count() -> usize {\n    \"three\"\n}\n", Kind: KindLib})
	if result.Compiles || result.Errors != 1 || result.First == nil || result.First.Code != "E0308" || result.First.Line != 2 || result.First.Column != 5 {
		t.Fatalf("result = %+v, first = %+v; want one E0308 at 2:5", result, result.First)
	}
}

func TestCheckSyntaxError(t *testing.T) {
	checker := newTestChecker(t, Options{})
	result := mustCheck(t, checker, Program{Source: "pub fn broken( {\n    1 +\n}\n", Kind: KindLib})
	if result.Compiles || result.Errors == 0 || result.First == nil || result.First.Line == 0 {
		t.Fatalf("result = %+v, want a located syntax error", result)
	}
	errorsListed := 0
	for _, d := range result.Diagnostics {
		if strings.HasPrefix(d.Message, "aborting due to") {
			t.Fatalf("the summary %q is listed as a diagnostic", d.Message)
		}
		if isError(d) {
			errorsListed++
		}
	}
	if errorsListed != result.Errors {
		t.Fatalf("Errors = %d, but %d errors are listed: %+v", result.Errors, errorsListed, result.Diagnostics)
	}
}

// slowProgram spins in constant evaluation, which rustc does while checking, far past any test's timeout.
const slowProgram = `#![allow(long_running_const_eval)]
const SPIN: u64 = {
    let mut i = 0u64;
    while i < 1_000_000_000_000 {
        i += 1;
    }
    i
};
pub fn spin() -> u64 {
    SPIN
}
`

func TestCheckTimeout(t *testing.T) {
	checker := newTestChecker(t, Options{Timeout: time.Second})
	result := mustCheck(t, checker, Program{Source: slowProgram, Kind: KindLib})
	if !result.TimedOut || result.Compiles {
		t.Fatalf("result = %+v, want a timed-out check", result)
	}
	if result.Duration < time.Second || result.Duration > 5*time.Second {
		t.Fatalf("Duration = %v, want about the 1s timeout", result.Duration)
	}
	assertNoCompilerLeft(t, checker)
	if checker.cache.len() != 0 {
		t.Fatal("a timed-out result was cached")
	}
}

func TestCheckCancelled(t *testing.T) {
	checker := newTestChecker(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err := checker.Check(ctx, Program{Source: slowProgram, Kind: KindLib})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(started) > 5*time.Second {
		t.Fatalf("Check = %v after %v, want the caller's deadline soon", err, time.Since(started))
	}
	assertNoCompilerLeft(t, checker)
	assertNoCheckDirectories(t, checker)
}

func TestCheckOutputCap(t *testing.T) {
	var source strings.Builder
	for i := range 40 {
		fmt.Fprintf(&source, "pub fn f%d() -> i32 {\n    \"not a number\"\n}\n", i)
	}
	checker := newTestChecker(t, Options{MaxOutputBytes: 4096})
	result := mustCheck(t, checker, Program{Source: source.String(), Kind: KindLib})
	if !result.Truncated || result.Compiles {
		t.Fatalf("result = %+v, want a truncated failure", result)
	}
	if result.Errors == 0 || result.Errors >= 40 || result.First == nil || result.First.Code != "E0308" {
		t.Fatalf("Errors = %d, First = %+v; want the errors that fit in 4 KiB", result.Errors, result.First)
	}
}

func TestCheckCache(t *testing.T) {
	checker := newTestChecker(t, Options{})
	program := Program{Source: "pub fn twice(x: u8) -> u16 {\n    u16::from(x) * 2\n}\n", Kind: KindLib}
	results := make([]Result, 4)
	failures := make([]error, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i], failures[i] = checker.Check(context.Background(), program) })
	}
	wg.Wait()
	if err := errors.Join(failures...); err != nil {
		t.Fatal(err)
	}
	later := mustCheck(t, checker, program)
	if checker.Runs() != 1 {
		t.Fatalf("Runs = %d after five checks of the same code, want 1", checker.Runs())
	}
	if !later.Cached || !later.Compiles || later.CodeHash != checker.Hash(program) {
		t.Fatalf("later result = %+v, want the cached compile", later)
	}
	for _, result := range results {
		if !result.Compiles || result.CodeHash != later.CodeHash {
			t.Fatalf("concurrent result = %+v, want the same compile", result)
		}
	}
}

func TestCheckClippy(t *testing.T) {
	checker := newTestChecker(t, Options{Clippy: true})
	source := "pub fn sign(positive: bool) -> i32 {\n    if positive == true {\n        return 1;\n    }\n    return -1;\n}\n"
	result := mustCheck(t, checker, Program{Source: source, Kind: KindLib})
	if result.Lints == -1 {
		if _, err := exec.LookPath("clippy-driver"); err == nil {
			t.Fatalf("clippy-driver is on PATH but no lints were counted: %+v", result)
		}
		t.Skip("clippy-driver is not installed")
	}
	if !result.Compiles || result.Lints != 2 || result.Warnings != 0 || checker.Runs() != 2 {
		t.Fatalf("result = %+v after %d runs, want 2 lints from a second run", result, checker.Runs())
	}
	var codes []string
	for _, d := range result.Diagnostics {
		codes = append(codes, d.Code)
	}
	slices.Sort(codes)
	if want := []string{"clippy::bool_comparison", "clippy::needless_return"}; !slices.Equal(codes, want) {
		t.Fatalf("lint codes = %q, want %q", codes, want)
	}

	broken := mustCheck(t, checker, Program{Source: "pub fn f() -> i32 { \"x\" }\n", Kind: KindLib})
	if broken.Compiles || broken.Lints != 0 || checker.Runs() != 3 {
		t.Fatalf("broken result = %+v after %d runs, want no clippy run for code that does not compile", broken, checker.Runs())
	}
}

func BenchmarkCheck(b *testing.B) {
	if _, err := exec.LookPath("rustc"); err != nil {
		b.Skip("rustc is not installed")
	}
	checker, err := NewChecker(Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("uncached", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			program := Program{Source: fmt.Sprintf("pub fn value() -> u64 {\n    %d\n}\n", i), Kind: KindLib}
			if result, err := checker.Check(ctx, program); err != nil || !result.Compiles || result.Cached {
				b.Fatalf("Check = %+v, %v", result, err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		program := Program{Source: "pub fn value() -> u64 {\n    7\n}\n", Kind: KindLib}
		if _, err := checker.Check(ctx, program); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if result, err := checker.Check(ctx, program); err != nil || !result.Cached {
				b.Fatalf("Check = %+v, %v", result, err)
			}
		}
	})
}

// newTestChecker returns a Checker whose check directories go under a fresh directory of the test.
func newTestChecker(t *testing.T, opts Options) *Checker {
	t.Helper()
	if _, err := exec.LookPath("rustc"); err != nil {
		t.Skip("rustc is not installed")
	}
	opts.TempDir = t.TempDir()
	checker, err := NewChecker(opts)
	if err != nil {
		t.Fatal(err)
	}
	return checker
}

// mustCheck checks p and asserts the check left no directory behind.
func mustCheck(t *testing.T, checker *Checker, p Program) Result {
	t.Helper()
	result, err := checker.Check(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	assertNoCheckDirectories(t, checker)
	return result
}

func assertNoCheckDirectories(t *testing.T, checker *Checker) {
	t.Helper()
	entries, err := os.ReadDir(checker.opts.TempDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("check directories left behind: %v", entries)
	}
}

// assertNoCompilerLeft fails when a process still names a check directory of checker on its command line.
func assertNoCompilerLeft(t *testing.T, checker *Checker) {
	t.Helper()
	processes, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range processes {
		commandLine, err := os.ReadFile(path)
		if err == nil && bytes.Contains(commandLine, []byte(checker.opts.TempDir)) {
			t.Fatalf("process %s is still running: %q", path, commandLine)
		}
	}
}
