package bert

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// embedderDir finds the fetched embedder: RUSTEXPERT_TEST_EMBEDDER or the
// repository's models/embedder. Tests that need it skip without it.
func embedderDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("RUSTEXPERT_TEST_EMBEDDER")
	if dir == "" {
		dir = filepath.Join("..", "..", "models", "embedder")
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Skipf("the embedder is not fetched (run `rustexpert models fetch` or set RUSTEXPERT_TEST_EMBEDDER to its folder): %v", err)
	}
	return dir
}

type golden struct {
	Text      string    `json:"text"`
	IDs       []int     `json:"ids"`
	Embedding []float32 `json:"embedding"`
}

func readGoldens(t testing.TB, path string) []golden {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var g golden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("%s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil || len(out) == 0 {
		t.Fatalf("%s: %d goldens, %v", path, len(out), err)
	}
	return out
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func TestTokenizerMatchesGoldens(t *testing.T) {
	dir := embedderDir(t)
	tok, err := LoadTokenizer(filepath.Join(dir, "tokenizer.json"), 256)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range readGoldens(t, filepath.Join("testdata", "goldens.jsonl")) {
		if got := tok.Encode(g.Text); !slices.Equal(got, g.IDs) {
			t.Errorf("golden %d %.60q:\n got %v\nwant %v", i, g.Text, got, g.IDs)
		}
	}
}

func TestEmbedMatchesSentenceTransformers(t *testing.T) {
	enc, err := Load(embedderDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	goldens := readGoldens(t, filepath.Join("testdata", "goldens.jsonl"))
	texts := make([]string, len(goldens))
	for i, g := range goldens {
		texts[i] = g.Text
	}
	got, err := enc.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	worst, at, maxDiff := 1.0, -1, 0.0
	for i, g := range goldens {
		if len(got[i]) != enc.Dim() || len(g.Embedding) != enc.Dim() {
			t.Fatalf("golden %d: %d floats, golden %d, Dim %d", i, len(got[i]), len(g.Embedding), enc.Dim())
		}
		c := cosine(got[i], g.Embedding)
		for j := range g.Embedding {
			maxDiff = max(maxDiff, math.Abs(float64(got[i][j]-g.Embedding[j])))
		}
		if c < 1-1e-4 || math.IsNaN(c) {
			t.Errorf("golden %d %.60q: cosine %.7f", i, g.Text, c)
		}
		if c < worst || math.IsNaN(c) {
			worst, at = c, i
		}
	}
	t.Logf("worst cosine 1 - %.2g at golden %d %.40q; largest difference of a component %.2g", 1-worst, at, goldens[at].Text, maxDiff)
}
