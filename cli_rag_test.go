package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRAGIngestAndSearch(t *testing.T) {
	dir := t.TempDir()
	docs := filepath.Join("rag", "testdata", "html")
	out, errOut, err := runIn(t, dir, "rag", "ingest", "--source", "book,error-codes", "--dir", docs)
	if err != nil {
		t.Fatal(err)
	}
	// Progress on stderr: once the files are listed, then at each tenth of them.
	for _, want := range []string{"book: 0/2 files, 0 written, 0 chunks, 0 skipped\n", "book: 2/2 files, 1 written, ",
		"error-codes: 1/1 files, 1 written, 1 chunks, 0 skipped\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("ingest progress lacks %q:\n%s", want, errOut)
		}
	}
	for _, want := range []string{
		"book: 1 new, 0 changed, 0 unchanged, 0 removed, 1 skipped, ",
		"  skipped 1: redirect page: ch17-00-oop.html\n",
		"error-codes: 1 new, 0 changed, 0 unchanged, 0 removed, 0 skipped, 1 chunks written",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ingest output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runIn(t, dir, "rag", "ingest", "--source", "error-codes", "--dir", docs)
	if err != nil || !strings.Contains(out, "error-codes: 0 new, 0 changed, 1 unchanged, 0 removed, 0 skipped, 0 chunks written") {
		t.Fatalf("second ingest: %v\n%s", err, out)
	}
	out, _, err = runIn(t, dir, "rag", "search", "E0502", "-k", "2")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.Contains(lines[0], "Error codes › Error code E0502") ||
		lines[1] != "    https://doc.rust-lang.org/error_codes/E0502.html#error-code-e0502" || !strings.Contains(lines[2], "[E0502]") {
		t.Errorf("search output:\n%s", out)
	}
	out, _, err = runIn(t, dir, "rag", "search", `" AND NEAR *`)
	if err != nil || strings.TrimSpace(out) == "" {
		t.Errorf("operator query: %v %q", err, out)
	}
}

func TestRAGIngestUsage(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runIn(t, dir, "rag", "ingest", "--source", "nope"); err == nil || exitCode(err) != 2 {
		t.Errorf("unknown source: %v", err)
	}
	if _, _, err := runIn(t, dir, "rag", "ingest", "--source", "tokio"); err == nil || !strings.Contains(err.Error(), "needs --dir") {
		t.Errorf("tokio without --dir: %v", err)
	}
	if _, _, err := runIn(t, dir, "rag", "search"); err == nil || exitCode(err) != 2 {
		t.Errorf("search without a query: %v", err)
	}
	if _, _, err := runIn(t, dir, "rag", "search", "--fusion", "max", "E0502"); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `"max"`) {
		t.Errorf("search with an unknown fusion: %v", err)
	}
}

func TestRAGEmbedAndHybridSearch(t *testing.T) {
	if _, err := os.Stat(filepath.Join("models", "embedder", "model.safetensors")); err != nil {
		t.Skip("the embedder is not fetched (make models)")
	}
	dir := t.TempDir()
	if _, _, err := runIn(t, dir, "rag", "ingest", "--source", "book,error-codes", "--dir", filepath.Join("rag", "testdata", "html")); err != nil {
		t.Fatal(err)
	}
	out, _, err := runIn(t, dir, "rag", "embed")
	if err != nil || !strings.Contains(out, "chunks embedded in") {
		t.Fatalf("embed: %v\n%s", err, out)
	}
	if out, _, _ := runIn(t, dir, "rag", "embed"); !strings.Contains(out, "0 chunks embedded") {
		t.Fatalf("second embed did work again:\n%s", out)
	}
	for _, args := range [][]string{{"--mode", "dense"}, {"--mode", "hybrid"}, {"--mode", "hybrid", "--fusion", "rrf"}} {
		out, errOut, err := runIn(t, dir, append(append([]string{"rag", "search"}, args...), "-k", "1", "two mutable references to the same value at once")...)
		if err != nil || errOut != "" || !strings.Contains(out, "The Book › 4.2 References and Borrowing") {
			t.Errorf("search %v: %v %q\n%s", args, err, errOut, out)
		}
	}
	// rag eval reports both fusions of hybrid side by side.
	gold := filepath.Join(dir, "gold.jsonl")
	row := `{"id":"a","question":"two mutable references to the same value at once","topic":"borrowing","urls":["https://doc.rust-lang.org/book/ch04-02-references-and-borrowing.html"]}` + "\n"
	if err := os.WriteFile(gold, []byte(row), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runIn(t, dir, "rag", "eval", gold, "--modes", "bm25,hybrid")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| bm25 | ", "| hybrid-weighted | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |", "| hybrid-rrf | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("eval output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "| hybrid |") {
		t.Errorf("eval printed a hybrid row without its fusion:\n%s", out)
	}
	if out, _, err := runIn(t, dir, "rag", "eval", gold, "--modes", "hybrid-rrf", "--json"); err != nil || !strings.Contains(out, `"mode": "hybrid-rrf"`) || strings.Contains(out, "hybrid-weighted") {
		t.Errorf("eval of hybrid-rrf alone: %v\n%s", err, out)
	}
}

func TestRAGEvalPrintsMetricsPerMode(t *testing.T) {
	dir := t.TempDir()
	docs := filepath.Join("rag", "testdata", "html")
	if _, _, err := runIn(t, dir, "rag", "ingest", "--source", "std,error-codes", "--dir", docs); err != nil {
		t.Fatal(err)
	}
	gold := filepath.Join(dir, "gold.jsonl")
	rows := `// two questions
{"id":"a","question":"block until all threads reach the same point","topic":"std-api","urls":["https://doc.rust-lang.org/std/sync/struct.Barrier.html#method.wait"]}
{"id":"b","question":"E0502 cannot borrow as mutable because it is also borrowed as immutable","topic":"compiler-errors","urls":["https://doc.rust-lang.org/error_codes/E0502.html","https://doc.rust-lang.org/book/missing.html"]}
`
	if err := os.WriteFile(gold, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runIn(t, dir, "rag", "eval", gold, "--modes", "bm25", "--misses")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gold.jsonl: 2 questions", "| mode | recall@1 | recall@5 | recall@10 | MRR | nDCG@10 |",
		"document level", "section level", "| bm25 | 1.000 | 1.000 | 1.000 | 1.000 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("eval output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "b: https://doc.rust-lang.org/book/missing.html is not in the index") {
		t.Errorf("no warning for a gold URL outside the index: %q", errOut)
	}
	out, _, err = runIn(t, dir, "rag", "eval", gold, "--modes", "bm25", "--json")
	if err != nil || !strings.Contains(out, `"recall_at_5": 1`) || !strings.Contains(out, `"mode": "bm25"`) {
		t.Errorf("--json: %v\n%s", err, out)
	}
	if _, _, err := runIn(t, dir, "rag", "eval", gold, "--modes", "bm25,nope"); err == nil || exitCode(err) != 2 {
		t.Errorf("unknown mode: %v", err)
	}
	if _, _, err := runIn(t, dir, "rag", "eval"); err == nil || exitCode(err) != 2 {
		t.Errorf("eval without a file: %v", err)
	}
}

func TestRAGIngestCrates(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join("sftdata", "testdata", "registry")
	out, _, err := runIn(t, dir, "rag", "ingest", "--source", "crates", "--dir", reg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "crates: 9 new, 0 changed, 0 unchanged, 0 removed, 0 skipped, ") {
		t.Errorf("ingest output:\n%s", out)
	}
	out, _, err = runIn(t, dir, "rag", "search", "--mode", "bm25", "-k", "1", "Counter::bump")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(out, "\n"); len(lines) < 2 || !strings.Contains(lines[0], "Crate docs › fakecrate::Counter › fakecrate::Counter::bump") ||
		lines[1] != "    https://docs.rs/fakecrate/0.2.1/fakecrate/struct.Counter.html#method.bump" {
		t.Errorf("search output:\n%s", out)
	}
	if _, _, err := runIn(t, dir, "rag", "ingest", "--source", "crates", "--dir", filepath.Join(dir, "nope")); err == nil ||
		!strings.Contains(err.Error(), "is not a folder") {
		t.Errorf("missing registry: %v", err)
	}
}
