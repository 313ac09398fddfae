package eval

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadMultiPLESample(t *testing.T) {
	b, err := LoadBench(filepath.Join("testdata", "multiple_sample.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Format != FormatMultiPLE || b.Name != "multiple_sample" || len(b.Problems) != 4 {
		t.Fatalf("bench %s %s with %d problems", b.Name, b.Format, len(b.Problems))
	}
	p := b.Problems[2]
	if p.Name != "Sample_2_rotate_left" || p.Category != "multiple_sample" || len(p.Stop) != 1 || p.Stop[0] != "\n}" ||
		!strings.HasSuffix(p.Prompt, "fn rotate_left(items: Vec<isize>, k: isize) -> Vec<isize> {\n") ||
		!strings.HasPrefix(p.Tests, "}\n\nfn main() {\n    let candidate = rotate_left;") {
		t.Errorf("problem %+v", p)
	}
}

func TestReadMultiPLERefusesBadInput(t *testing.T) {
	ok := `{"name":"a","prompt":"fn a() {\n","tests":"}\nfn main() {}\n","stop_tokens":["\n}"]}`
	for _, tc := range []struct{ input, want string }{
		{ok + "\n{\"name\": \"b\", \"prompt\": 3}", "x.jsonl:2"},
		{ok + "\n" + ok, `x.jsonl:2: problem "a" appears twice`},
		{`{"name":"a","prompt":"fn a() {","tests":""}`, "x.jsonl:1 (a): field tests is empty"},
		{`{"prompt":"fn a() {","tests":"}"}`, "x.jsonl:1: field name is empty"},
		{`[{"name":"a","prompt":"","tests":"}"}]`, "x.jsonl: problem 1 (a): field prompt is empty"},
		{`[{"name":"a",`, "a JSON array"},
		{"\n\n", "no problems"},
	} {
		_, err := ReadMultiPLE(strings.NewReader(tc.input), "x.jsonl")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.input, err, tc.want)
		}
	}
	problems, err := ReadMultiPLE(strings.NewReader("["+ok+"]"), "x.json")
	if err != nil || len(problems) != 1 || problems[0].Tests != "}\nfn main() {}\n" {
		t.Errorf("array form: %+v, %v", problems, err)
	}
}

func TestMultipleCompletionFromAnswers(t *testing.T) {
	p := Problem{Prompt: "/// Double it.\nfn double(x: isize) -> isize {\n", Stop: []string{"\n}"}}
	for _, tc := range []struct {
		text, want string
		ok         bool
	}{
		{"    x * 2\n}\n\nfn other() {}", "    x * 2", true}, // a plain completion, cut at the stop
		{"Sure:\n\n```rust\npub fn double(x: isize) -> isize {\n    x + x\n}\n```\n", "\n    x + x", true},
		{"```rust\nfn double(\n    x: isize,\n) -> isize\n{\n    2 * x\n", "\n    2 * x\n", true}, // unterminated fence
		{"```\n    x * 2\n```", "", false},                                                        // an untagged fence that does not look like Rust
		{"I cannot help with that.\n\n```text\nno\n```", "", false},
		{"   \n\t", "", false},
		{"```rust\nfn helper() -> isize { 2 }\n```", "fn helper() -> isize { 2 }\n", true},
		// Bare code whose doc comment holds a fenced example is code, not Markdown.
		{"    /// ```\n    /// assert!(true);\n    /// ```\n    x * 2\n}", "    /// ```\n    /// assert!(true);\n    /// ```\n    x * 2", true},
		{"  ```rust\n    x * 2\n  ```", "  x * 2\n", true}, // an indented fence loses its indent

	} {
		got, ok := multipleCompletion(p, tc.text)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %q, %v; want %q, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReadExercism(t *testing.T) {
	b, err := LoadBench(filepath.Join("testdata", "exercism"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Format != FormatExercism || len(b.Problems) != 1 {
		t.Fatalf("bench %+v", b)
	}
	p := b.Problems[0]
	if p.Name != "digit-sum" || p.Edition != "2021" || !strings.Contains(p.Prompt, "sum of the decimal digits") ||
		!strings.Contains(p.Prompt, "```rust\npub fn digit_sum(n: u64) -> u64 {") || strings.Contains(p.Prompt, "while n > 0") ||
		strings.Contains(p.Prompt, "u64::MAX") {
		t.Errorf("problem %+v", p)
	}
	if _, err := ReadExercism(t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no exercise") {
		t.Errorf("empty folder: %v", err)
	}
	broken := t.TempDir()
	os.MkdirAll(filepath.Join(broken, "ex", "tests"), 0o755)
	os.WriteFile(filepath.Join(broken, "ex", "Cargo.toml"), []byte("[package]\n"), 0o644)
	if _, err := ReadExercism(broken); err == nil || !strings.Contains(err.Error(), "exercism ex: .docs/instructions.md") {
		t.Errorf("exercise without instructions: %v", err)
	}
}

// testHarness is a harness with short limits, or a skip when there is no Rust toolchain.
func testHarness(t *testing.T, opts HarnessOptions) *Harness {
	t.Helper()
	opts.TempDir = t.TempDir()
	h, err := NewHarness(opts)
	if err != nil {
		t.Skipf("no Rust toolchain: %v", err)
	}
	return h
}

func scoreAll(t *testing.T, h *Harness, b Bench, texts map[string][]string) map[string]SampleResult {
	t.Helper()
	var samples []Sample
	for _, p := range b.Problems {
		for i, text := range texts[p.Name] {
			samples = append(samples, Sample{Problem: p.Name, Index: i, Text: text})
		}
	}
	results, err := h.Score(t.Context(), b, samples, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]SampleResult{}
	for _, r := range results {
		out[fmt.Sprintf("%s#%d", r.Problem, r.Sample)] = r
	}
	return out
}

// TestScoreMultiPLESample compiles and runs the sample's reference completions and wrong ones with rustc.
func TestScoreMultiPLESample(t *testing.T) {
	h := testHarness(t, HarnessOptions{RunTimeout: 2 * time.Second, Lints: true})
	b, err := LoadBench(filepath.Join("testdata", "multiple_sample.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string][]string{}
	f, err := os.Open(filepath.Join("testdata", "multiple_completions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	completions, err := ReadCompletions(f, "multiple_completions.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range completions {
		texts[c.Name] = append(texts[c.Name], c.Completion)
	}
	got := scoreAll(t, h, b, texts)
	want := map[string]string{
		"Sample_0_sum_odd_squares#0": StatusOK, "Sample_1_count_vowels#0": StatusOK,
		"Sample_2_rotate_left#0": StatusOK, "Sample_3_balanced_brackets#0": StatusOK,
		"Sample_0_sum_odd_squares#1": StatusTestFailed, "Sample_1_count_vowels#1": StatusNoCode,
		"Sample_2_rotate_left#1": StatusCompileError, "Sample_3_balanced_brackets#1": StatusTimeout,
	}
	for key, status := range want {
		r := got[key]
		if r.Status != status || r.Passed != (status == StatusOK) {
			t.Errorf("%s: %s (%s), want %s", key, r.Status, r.Detail, status)
		}
	}
	if r := got["Sample_2_rotate_left#1"]; !strings.Contains(r.Detail, "error") || r.Compiled || r.Lints != -1 {
		t.Errorf("compile error result %+v", r)
	}
	if r := got["Sample_0_sum_odd_squares#1"]; !strings.Contains(r.Detail, "panicked at") || !strings.Contains(r.Detail, "left: 0") || !r.Compiled {
		t.Errorf("failed test result %+v", r)
	}
	if c, err := NewChecker(Options{Clippy: true}); err == nil && c.clippy != "" {
		if r := got["Sample_0_sum_odd_squares#0"]; r.Lints < 0 {
			t.Errorf("clippy is installed, yet the lints of a compiled answer were not counted: %+v", r)
		}
	}
	s := Summarize(mapValues(got))
	if s.PassAtK["pass@1"] != 0.5 || s.Problems != 4 || s.N != 2 {
		t.Errorf("summary %+v", s)
	}
}

func mapValues(m map[string]SampleResult) []SampleResult {
	var out []SampleResult
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

// badProgram is a MultiPL-E problem whose completion is a whole main body: the tests only call it.
var badProgram = Problem{Name: "bad", Category: "bad", Format: FormatMultiPLE,
	Prompt: "#[allow(unreachable_code, unused)]\nfn body() {\n", Tests: "}\n\nfn main() {\n    body();\n}\n", Stop: []string{"\n}"}}

// TestBadAnswersGetTheirStatus: answers that loop, allocate without bound, print without end, crash, spawn
// processes or reach for the network each get a status, and the harness goes on with the next.
func TestBadAnswersGetTheirStatus(t *testing.T) {
	h := testHarness(t, HarnessOptions{RunTimeout: 1500 * time.Millisecond, Memory: 256 << 20, Output: 64 << 10})
	marker := fmt.Sprintf("31.%d", os.Getpid())
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if conn, err := listener.Accept(); err == nil {
			accepted <- struct{}{}
			conn.Close()
		}
	}()
	answers := []struct{ code, status string }{
		{"    loop {}\n", StatusTimeout},
		{"    loop { std::thread::sleep(std::time::Duration::from_millis(10)); }\n", StatusTimeout},
		{"    let mut v: Vec<u64> = Vec::new();\n    loop { v.push(1); }\n", StatusMemoryLimit},
		{"    let v = vec![1u8; 8 << 30];\n    println!(\"{}\", v[12345]);\n", StatusMemoryLimit},
		{"    loop { println!(\"all work and no play\"); }\n", StatusOutputLimit},
		{"    fn deep(n: u64) -> u64 { if n == 0 { 0 } else { 1 + deep(n - 1) + deep(n / 2) } }\n    println!(\"{}\", deep(u64::MAX));\n", StatusCrashed},
		{"    std::process::exit(3);\n", StatusTestFailed},
		{"    for _ in 0..20 {\n        let _ = std::process::Command::new(\"sleep\").arg(\"" + marker + "\").spawn();\n    }\n    loop {}\n", StatusTimeout},
		{"    use std::os::unix::process::CommandExt;\n    for _ in 0..5 {\n        let _ = std::process::Command::new(\"sleep\").arg(\"" + marker + "\").process_group(0).spawn();\n    }\n", StatusOK},
		{"    let addr = \"" + listener.Addr().String() + "\";\n    assert!(std::net::TcpStream::connect(addr).is_err(), \"reached the network\");\n", StatusOK},
		{"    println!(\"fine\");\n", StatusOK},
	}
	texts := map[string][]string{}
	for _, a := range answers {
		texts["bad"] = append(texts["bad"], a.code)
	}
	got := scoreAll(t, h, Bench{Name: "bad", Format: FormatMultiPLE, Problems: []Problem{badProgram}}, texts)
	for i, a := range answers {
		r := got[fmt.Sprintf("bad#%d", i)]
		if i == 9 && !h.sandbox.NetworkIsolated() {
			continue // no network namespace here: the connection may succeed
		}
		if r.Status != a.status {
			t.Errorf("answer %d %q: %s (%s), want %s", i, a.code, r.Status, r.Detail, a.status)
		}
	}
	// Children in the program's process group die with it; children that left the group die with the
	// PID namespace, where there is one.
	if h.sandbox.pidNS {
		if left := processesWith(marker); len(left) > 0 {
			t.Errorf("%d spawned processes outlived their program: %v", len(left), left)
		}
	}
	select {
	case <-accepted:
		if h.sandbox.NetworkIsolated() {
			t.Error("a sandboxed program connected to the host's listener")
		}
	default:
	}
	t.Logf("isolation: %s", h.Isolation())
}

// processesWith lists the pids whose command line holds marker.
func processesWith(marker string) []string {
	entries, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), marker) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// TestScoreExercism builds the test exercise with cargo: its example solution passes, the ignored tests
// run, and empty, garbage and wrong answers get their statuses.
func TestScoreExercism(t *testing.T) {
	h := testHarness(t, HarnessOptions{})
	b, err := LoadBench(filepath.Join("testdata", "exercism"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("testdata", "exercism", "digit-sum", ".meta", "example.rs"))
	if err != nil {
		t.Fatal(err)
	}
	answers := []struct{ text, status string }{
		{string(example), StatusOK},
		{"Here it is:\n\n```rust\n" + string(example), StatusOK}, // unterminated fence
		{"/// Sums digits.\n///\n/// ```\n/// assert_eq!(digit_sum::digit_sum(1), 1);\n/// ```\n" + string(example), StatusOK}, // bare code with a doc test
		{"", StatusNoCode},
		{"I would rather not.\n\n```sh\ncargo test\n```\n", StatusNoCode},
		{"this is not rust at all", StatusCompileError},
		{"pub fn digit_sum(n: u32) -> u32 { n }", StatusCompileError},
		// Passes the one test that is not ignored: only --include-ignored finds the bug.
		{"pub fn digit_sum(n: u64) -> u64 { if n == 1234 { 10 } else { 1 } }", StatusTestFailed},
		{"pub fn digit_sum(_: u64) -> u64 { loop {} }", StatusTimeout},
	}
	texts := map[string][]string{}
	for _, a := range answers {
		texts["digit-sum"] = append(texts["digit-sum"], a.text)
	}
	h.opts.RunTimeout = 2 * time.Second
	got := scoreAll(t, h, b, texts)
	for i, a := range answers {
		r := got[fmt.Sprintf("digit-sum#%d", i)]
		if r.Status != a.status || r.Passed != (a.status == StatusOK) {
			t.Errorf("answer %d %q: %s (%s), want %s", i, a.text, r.Status, r.Detail, a.status)
		}
	}
	if r := got["digit-sum#6"]; !strings.Contains(r.Detail, "mismatched types") {
		t.Errorf("compile error detail %q", r.Detail)
	}
	if r := got["digit-sum#7"]; !strings.Contains(r.Detail, "panicked at") {
		t.Errorf("test failure detail %q", r.Detail)
	}
	// The first build's rustc info cache is kept and goes into every later build's target folder.
	if !strings.Contains(string(h.rustcInfo), `"rustc_fingerprint"`) {
		t.Fatalf("rustc info kept: %.200q", h.rustcInfo)
	}
	dir := t.TempDir()
	h.seedRustcInfo(dir)
	if seeded, err := os.ReadFile(filepath.Join(dir, "target", rustcInfoFile)); err != nil || string(seeded) != string(h.rustcInfo) {
		t.Errorf("seeded %q, %v", seeded, err)
	}
}

// TestExercismStaleRustcInfo seeds a rustc info cache that matches no rustc: cargo asks rustc again and
// the example still passes.
func TestExercismStaleRustcInfo(t *testing.T) {
	h := testHarness(t, HarnessOptions{})
	if h.cargo == "" {
		t.Skip("cargo is not installed")
	}
	b, err := LoadBench(filepath.Join("testdata", "exercism"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("testdata", "exercism", "digit-sum", ".meta", "example.rs"))
	if err != nil {
		t.Fatal(err)
	}
	h.rustcInfo = []byte(`{"rustc_fingerprint":1,"outputs":{}}`)
	r, err := h.ScoreOne(t.Context(), b.Problems[0], Sample{Problem: "digit-sum", Text: string(example)})
	if err != nil || r.Status != StatusOK {
		t.Fatalf("example with a stale rustc info cache: %+v, %v", r, err)
	}
}

// TestExercismExamplesPass scores every example solution of a full Exercism Rust track as answers (set
// RUSTEXPERT_EXERCISM to its folder; it takes minutes). Every example must pass.
func TestExercismExamplesPass(t *testing.T) {
	dir := os.Getenv("RUSTEXPERT_EXERCISM")
	if dir == "" {
		t.Skip("set RUSTEXPERT_EXERCISM to an Exercism Rust track folder")
	}
	h := testHarness(t, HarnessOptions{})
	b, err := LoadBench(dir)
	if err != nil {
		t.Fatal(err)
	}
	var samples []Sample
	for _, p := range b.Problems {
		example, err := os.ReadFile(filepath.Join(p.Dir, ".meta", "example.rs"))
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, Sample{Problem: p.Name, Text: string(example)})
	}
	results, err := h.Score(t.Context(), b, samples, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Passed {
			t.Errorf("%s: %s: %s", r.Problem, r.Status, r.Detail)
		}
	}
}

// TestLintsOfCompiledAnswers: clippy's lints of a passing answer are counted (needless return, let and
// return), and a clean answer has none.
func TestLintsOfCompiledAnswers(t *testing.T) {
	if c, err := NewChecker(Options{Clippy: true}); err != nil || c.clippy == "" {
		t.Skip("no clippy-driver")
	}
	h := testHarness(t, HarnessOptions{Lints: true})
	b, err := LoadBench(filepath.Join("testdata", "multiple_sample.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got := scoreAll(t, h, b, map[string][]string{"Sample_0_sum_odd_squares": {
		"    let total = numbers.iter().filter(|n| *n % 2 != 0).map(|n| n * n).sum();\n    return total;\n",
		"    numbers.iter().filter(|n| *n % 2 != 0).map(|n| n * n).sum()\n",
	}})
	if r := got["Sample_0_sum_odd_squares#0"]; r.Status != StatusOK || r.Lints < 1 {
		t.Errorf("lint-y answer: %+v", r)
	}
	if r := got["Sample_0_sum_odd_squares#1"]; r.Status != StatusOK || r.Lints != 0 {
		t.Errorf("clean answer: %+v", r)
	}
}
