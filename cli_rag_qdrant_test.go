package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/rag/qdranttest"
)

// qdrantArgs are the flags that point a rag command at the Qdrant test stand-in.
func qdrantArgs(t *testing.T) []string {
	t.Helper()
	s, err := qdranttest.NewServer("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return []string{"--rag-backend", "qdrant", "--qdrant-addr", s.Addr(), "--qdrant-collection", "docs"}
}

func TestRAGCommandsOnQdrant(t *testing.T) {
	dir := t.TempDir()
	q := qdrantArgs(t)
	docs := filepath.Join("rag", "testdata", "html")
	out, _, err := runIn(t, dir, append([]string{"rag", "ingest", "--source", "book,error-codes", "--dir", docs}, q...)...)
	if err != nil || !strings.Contains(out, "error-codes: 1 new, 0 changed, 0 unchanged, 0 removed, 0 skipped, 1 chunks written") {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	out, _, err = runIn(t, dir, append([]string{"rag", "ingest", "--source", "error-codes", "--dir", docs}, q...)...)
	if err != nil || !strings.Contains(out, "error-codes: 0 new, 0 changed, 1 unchanged") {
		t.Fatalf("second ingest: %v\n%s", err, out)
	}
	out, _, err = runIn(t, dir, append([]string{"rag", "search", "E0502", "-k", "2", "--mode", "bm25"}, q...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) < 3 || !strings.Contains(lines[0], "Error codes › Error code E0502") ||
		lines[1] != "    https://doc.rust-lang.org/error_codes/E0502.html#error-code-e0502" || !strings.Contains(lines[2], "[E0502]") {
		t.Errorf("search: %v\n%s", err, out)
	}
	out, errOut, err := runIn(t, dir, append([]string{"rag", "search", "dangling references"}, q...)...)
	if err != nil || !strings.Contains(errOut, "BM25 only") || !strings.Contains(out, "book/ch04-02-references-and-borrowing.html") {
		t.Errorf("hybrid before embedding: %v %q\n%s", err, errOut, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "rustexpert.db")); !os.IsNotExist(err) {
		t.Errorf("the Qdrant backend made a database: %v", err)
	}
}

func TestRAGQdrantEmbedAndHybrid(t *testing.T) {
	if _, err := os.Stat(filepath.Join("models", "embedder", "model.safetensors")); err != nil {
		t.Skip("the embedder is not fetched (make models)")
	}
	dir := t.TempDir()
	q := qdrantArgs(t)
	if _, _, err := runIn(t, dir, append([]string{"rag", "ingest", "--source", "book,error-codes", "--dir", filepath.Join("rag", "testdata", "html")}, q...)...); err != nil {
		t.Fatal(err)
	}
	out, _, err := runIn(t, dir, append([]string{"rag", "embed"}, q...)...)
	if err != nil || !strings.Contains(out, "chunks embedded in") {
		t.Fatalf("embed: %v\n%s", err, out)
	}
	if out, _, _ := runIn(t, dir, append([]string{"rag", "embed"}, q...)...); !strings.Contains(out, "0 chunks embedded") {
		t.Fatalf("second embed did work again:\n%s", out)
	}
	for _, mode := range []string{"dense", "hybrid"} {
		out, errOut, err := runIn(t, dir, append([]string{"rag", "search", "--mode", mode, "-k", "1", "two mutable references to the same value at once"}, q...)...)
		if err != nil || errOut != "" || !strings.Contains(out, "The Book › 4.2 References and Borrowing") {
			t.Errorf("%s search: %v %q\n%s", mode, err, errOut, out)
		}
	}
}

func TestRAGBackendErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runIn(t, dir, "rag", "search", "x", "--rag-backend", "nope"); err == nil || exitCode(err) != 2 {
		t.Errorf("unknown backend: %v", err)
	}
	if _, _, err := runIn(t, dir, "rag", "search", "x", "--rag-backend", "qdrant", "--qdrant-shards", "-1"); err == nil || exitCode(err) != 2 {
		t.Errorf("negative shards: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := lis.Addr().String()
	lis.Close()
	_, _, err = runIn(t, dir, "rag", "search", "x", "--rag-backend", "qdrant", "--qdrant-addr", down)
	if err == nil || !strings.Contains(err.Error(), "cannot reach Qdrant at "+down) {
		t.Errorf("server down: %v", err)
	}
}

// TestServeRetrievesFromQdrant checks the retriever serve gives "+rag" generation jobs.
func TestServeRetrievesFromQdrant(t *testing.T) {
	dir := t.TempDir()
	q := qdrantArgs(t)
	if _, _, err := runIn(t, dir, append([]string{"rag", "ingest", "--source", "error-codes", "--dir", filepath.Join("rag", "testdata", "html")}, q...)...); err != nil {
		t.Fatal(err)
	}
	e := &cliEnv{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}
	cfg := Config{DataDir: dir, ModelsDir: "models", RAGBackend: ragBackendQdrant}
	cfg.Qdrant.Addr, cfg.Qdrant.Collection = q[3], q[5]
	idx, retrieve, err := e.serveRAG(t.Context(), cfg, nil, nil)
	if err != nil || idx == nil {
		t.Fatalf("serveRAG: %v", err)
	}
	defer idx.Close()
	hits, err := retrieve(t.Context(), "what does E0502 mean")
	if err != nil || len(hits) == 0 || hits[0].URL != "https://doc.rust-lang.org/error_codes/E0502.html#error-code-e0502" {
		t.Errorf("retrieved %+v, %v", hits, err)
	}
	cfg.RAGBackend = "elastic"
	if _, _, err := e.serveRAG(t.Context(), cfg, nil, nil); err == nil || exitCode(err) != 2 {
		t.Errorf("unknown backend: %v", err)
	}
}
