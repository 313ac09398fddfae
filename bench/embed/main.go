// Command embed measures the built-in BERT embedder (all-MiniLM-L6-v2 from
// models/embedder): chunks per second for Rust-documentation-like chunks of
// about 300 tokens (cut to the model's 256), and the latency of embedding one
// short query (p50, p95). In the same run it measures sentence-transformers
// on the same chunks and CPU, through st_bench.py, reports the ratio and
// checks that both give the same embeddings.
//
//	GOEXPERIMENT=simd go run ./bench/embed [-model models/embedder] [-n 64] [-python python3]
package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"rustexpert/inference/bert"
)

//go:embed st_bench.py
var stBench string

const query = "how do I fix error[E0502]: cannot borrow as mutable because it is also borrowed as immutable"

func main() {
	model := flag.String("model", "models/embedder", "embedder folder (rustexpert models fetch)")
	n := flag.Int("n", 64, "chunks")
	tokens := flag.Int("tokens", 300, "approximate tokens per chunk, before the model's cut")
	queries := flag.Int("queries", 100, "single-query embeddings timed")
	python := flag.String("python", "python3", "Python with sentence-transformers for the reference ('' to skip)")
	flag.Parse()
	if err := run(*model, *n, *tokens, *queries, *python); err != nil {
		fmt.Fprintln(os.Stderr, "embed bench:", err)
		os.Exit(1)
	}
}

func run(model string, n, tokens, queries int, python string) error {
	enc, err := bert.Load(model)
	if err != nil {
		return err
	}
	defer enc.Close()
	chunks := makeChunks(enc.Tokenizer(), n, tokens)
	fmt.Printf("machine: %d cores (GOMAXPROCS %d), %s/%s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("%d chunks, %.0f tokens each on average (%d after the cut to max_seq_length)\n",
		n, meanTokens(enc.Tokenizer(), chunks), len(enc.Tokenizer().Encode(chunks[0])))

	if _, err := enc.Embed(chunks[:min(8, n)]); err != nil {
		return err
	}
	start := time.Now()
	ours, err := enc.Embed(chunks)
	if err != nil {
		return err
	}
	goRate := float64(n) / time.Since(start).Seconds()
	goLat, err := latencies(enc, queries)
	if err != nil {
		return err
	}
	fmt.Printf("Go encoder: %.1f chunks/s; query latency p50 %.2f ms, p95 %.2f ms\n", goRate, pct(goLat, 50), pct(goLat, 95))
	if python == "" {
		fmt.Println("sentence-transformers: skipped (-python '')")
		return nil
	}
	ref, err := reference(python, model, chunks, queries)
	if err != nil {
		fmt.Printf("sentence-transformers: skipped (%v)\n", err)
		return nil
	}
	fmt.Printf("sentence-transformers (torch %s, %d threads): %.1f chunks/s; query latency p50 %.2f ms, p95 %.2f ms\n",
		ref.Torch, ref.Threads, ref.ChunksPerS, pct(ref.LatencyMS, 50), pct(ref.LatencyMS, 95))
	fmt.Printf("Go / sentence-transformers: throughput %.2f×, query p50 latency %.2f×\n",
		goRate/ref.ChunksPerS, pct(ref.LatencyMS, 50)/pct(goLat, 50))
	fmt.Printf("agreement: worst cosine over the chunks 1 - %.2g\n", 1-worstCosine(ours, ref.Embeddings))
	return nil
}

// sentences are the material of the chunks: Rust documentation prose, code
// and compiler messages.
var sentences = []string{
	"A contiguous growable array type, written as Vec<T>, short for 'vector'.",
	"Vectors have O(1) indexing, amortized O(1) push (to the end) and O(1) pop (from the end).",
	"The borrow checker ensures that references never outlive the data they refer to.",
	"error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable",
	"let mut map: HashMap<String, Vec<u32>> = HashMap::new(); map.entry(key).or_default().push(1);",
	"Traits define shared behavior: a type implements a trait by providing its required methods.",
	"fn longest<'a>(x: &'a str, y: &'a str) -> &'a str { if x.len() > y.len() { x } else { y } }",
	"Iterator adapters such as map, filter and zip are lazy; nothing happens until the iterator is consumed.",
	"The ? operator returns early with the error converted by From when a Result is Err.",
	"Send and Sync are marker traits: Arc<Mutex<T>> lets threads share mutable state safely.",
	"warning: unused variable: `x` --> src/main.rs:2:9 help: prefix it with an underscore: `_x`",
	"Box<dyn Error + Send + Sync> is a common error type for applications that do not need to match on errors.",
	"Slices are a view into a contiguous sequence; &str is a string slice of valid UTF-8 bytes.",
	"impl<T: Display> fmt::Display for Wrapper<T> { fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { write!(f, \"[{}]\", self.0) } }",
}

// makeChunks builds n chunks of about tokens tokens each, every one a
// different walk through the sentences.
func makeChunks(tok *bert.Tokenizer, n, tokens int) []string {
	chunks := make([]string, n)
	for i := range chunks {
		var b strings.Builder
		for j := 0; tok.Count(b.String()) < tokens; j++ {
			b.WriteString(sentences[(i*5+j*(1+i%3))%len(sentences)])
			b.WriteByte(' ')
		}
		chunks[i] = b.String()
	}
	return chunks
}

func meanTokens(tok *bert.Tokenizer, chunks []string) float64 {
	sum := 0
	for _, c := range chunks {
		sum += tok.Count(c)
	}
	return float64(sum) / float64(len(chunks))
}

// latencies embeds the query alone, queries times, in milliseconds.
func latencies(enc *bert.Encoder, queries int) ([]float64, error) {
	out := make([]float64, 0, queries)
	for range queries {
		t := time.Now()
		if _, err := enc.Embed([]string{query}); err != nil {
			return nil, err
		}
		out = append(out, float64(time.Since(t).Microseconds())/1000)
	}
	return out, nil
}

// pct is the p-th percentile of v (nearest rank).
func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}

type stResult struct {
	ChunksPerS float64     `json:"chunks_per_s"`
	LatencyMS  []float64   `json:"latency_ms"`
	Threads    int         `json:"threads"`
	Torch      string      `json:"torch"`
	Embeddings [][]float32 `json:"embeddings"`
}

// reference runs st_bench.py with python on the same chunks.
func reference(python, model string, chunks []string, queries int) (stResult, error) {
	var res stResult
	req, err := json.Marshal(map[string]any{"model": model, "chunks": chunks, "query": query,
		"queries": queries, "threads": runtime.GOMAXPROCS(0)})
	if err != nil {
		return res, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(python, "-c", stBench)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(req), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("%s st_bench.py: %v: %s", python, err, lastLine(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("st_bench.py output: %w", err)
	}
	if len(res.Embeddings) != len(chunks) {
		return res, fmt.Errorf("st_bench.py returned %d embeddings for %d chunks", len(res.Embeddings), len(chunks))
	}
	return res, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func worstCosine(a, b [][]float32) float64 {
	worst := 1.0
	for i := range a {
		var ab, aa, bb float64
		for j := range a[i] {
			ab += float64(a[i][j]) * float64(b[i][j])
			aa += float64(a[i][j]) * float64(a[i][j])
			bb += float64(b[i][j]) * float64(b[i][j])
		}
		worst = min(worst, ab/math.Sqrt(aa*bb))
	}
	return worst
}
