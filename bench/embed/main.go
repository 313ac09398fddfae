// Command embed measures the built-in BERT embedder (all-MiniLM-L6-v2 from
// models/embedder): chunks per second for Rust-documentation-like chunks of
// about 300 tokens (cut to the model's 256), and the latency of embedding one
// short query (p50, p95). In the same run it measures sentence-transformers
// on the same chunks and CPU, through st_bench.py, reports the ratio and
// checks that both give the same embeddings. Each side embeds the chunks
// -rounds times, the rounds alternating between the sides, and reports the
// median round; the machine's load average is printed before and after.
//
//	GOEXPERIMENT=simd go run ./bench/embed [-model models/embedder] [-n 64] [-rounds 3] [-python python3]
package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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

// settle is the pause before each timed round.
const settle = 200 * time.Millisecond

const query = "how do I fix error[E0502]: cannot borrow as mutable because it is also borrowed as immutable"

func main() {
	model := flag.String("model", "models/embedder", "embedder folder (rustexpert models fetch)")
	n := flag.Int("n", 64, "chunks")
	tokens := flag.Int("tokens", 300, "approximate tokens per chunk, before the model's cut")
	queries := flag.Int("queries", 100, "single-query embeddings timed")
	rounds := flag.Int("rounds", 3, "times the chunks are embedded (the median round counts)")
	python := flag.String("python", "python3", "Python with sentence-transformers for the reference ('' to skip)")
	flag.Parse()
	if err := run(*model, *n, *tokens, *queries, max(*rounds, 1), *python); err != nil {
		fmt.Fprintln(os.Stderr, "embed bench:", err)
		os.Exit(1)
	}
}

func run(model string, n, tokens, queries, rounds int, python string) error {
	enc, err := bert.Load(model)
	if err != nil {
		return err
	}
	defer enc.Close()
	chunks := makeChunks(enc.Tokenizer(), n, tokens)
	fmt.Printf("machine: %d cores (GOMAXPROCS %d), %s/%s, load average %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, loadAverage())
	defer func() { fmt.Printf("load average after: %s\n", loadAverage()) }()
	fmt.Printf("%d chunks, %.0f tokens each on average (%d after the cut to max_seq_length)\n",
		n, meanTokens(enc.Tokenizer(), chunks), len(enc.Tokenizer().Encode(chunks[0])))

	var st *stProcess
	if python == "" {
		fmt.Println("sentence-transformers: skipped (-python '')")
	} else if st, err = startST(python, model, chunks, queries); err != nil {
		fmt.Printf("sentence-transformers: skipped (%v)\n", err)
	}
	if st != nil {
		defer st.close()
	}
	if _, err := enc.Embed(chunks[:min(8, n)]); err != nil {
		return err
	}
	// Rounds alternate between the two sides, so that other work on the
	// machine falls on both alike; a pause before each lets the other
	// side's threads go idle.
	var ours [][]float32
	var rates, stRates []float64
	for range rounds {
		time.Sleep(settle)
		start := time.Now()
		if ours, err = enc.Embed(chunks); err != nil {
			return err
		}
		rates = append(rates, float64(n)/time.Since(start).Seconds())
		if st == nil {
			continue
		}
		time.Sleep(settle)
		rate, err := st.round()
		if err != nil {
			fmt.Printf("sentence-transformers: stopped (%v)\n", err)
			st.close()
			st = nil
			continue
		}
		stRates = append(stRates, rate)
	}
	goRate := pct(rates, 50)
	goLat, err := latencies(enc, queries)
	if err != nil {
		return err
	}
	fmt.Printf("Go encoder: %.1f chunks/s (rounds %s); query latency p50 %.2f ms, p95 %.2f ms\n", goRate, list(rates), pct(goLat, 50), pct(goLat, 95))
	if st == nil {
		return nil
	}
	ref, err := st.finish(len(chunks))
	if err != nil {
		fmt.Printf("sentence-transformers: stopped (%v)\n", err)
		return nil
	}
	stRate := pct(stRates, 50)
	fmt.Printf("sentence-transformers (torch %s, %d threads): %.1f chunks/s (rounds %s); query latency p50 %.2f ms, p95 %.2f ms\n",
		ref.Torch, ref.Threads, stRate, list(stRates), pct(ref.LatencyMS, 50), pct(ref.LatencyMS, 95))
	fmt.Printf("Go / sentence-transformers: throughput %.2f×, query p50 latency %.2f×\n",
		goRate/stRate, pct(ref.LatencyMS, 50)/pct(goLat, 50))
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

// stResult is st_bench.py's last answer.
type stResult struct {
	LatencyMS  []float64   `json:"latency_ms"`
	Threads    int         `json:"threads"`
	Torch      string      `json:"torch"`
	Embeddings [][]float32 `json:"embeddings"`
}

// stProcess is st_bench.py running beside the Go side: it has loaded the
// model and embeds the chunks once per "round" line on its stdin.
type stProcess struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *bytes.Buffer
}

// startST runs st_bench.py with python and waits until it has loaded the
// model and embedded a few chunks.
func startST(python, model string, chunks []string, queries int) (*stProcess, error) {
	req, err := json.Marshal(map[string]any{"model": model, "chunks": chunks, "query": query,
		"queries": queries, "threads": runtime.GOMAXPROCS(0)})
	if err != nil {
		return nil, err
	}
	st := &stProcess{cmd: exec.Command(python, "-c", stBench), stderr: new(bytes.Buffer)}
	st.cmd.Stderr = st.stderr
	if st.in, err = st.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := st.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	st.out = bufio.NewScanner(stdout)
	st.out.Buffer(nil, 64<<20)
	if err := st.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", python, err)
	}
	var ready struct{ Ready bool }
	if err := st.ask(string(req), &ready); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

// ask sends one line and decodes the one-line JSON answer into v.
func (st *stProcess) ask(line string, v any) error {
	if _, err := io.WriteString(st.in, line+"\n"); err != nil {
		return fmt.Errorf("st_bench.py: %v: %s", err, lastLine(st.stderr.String()))
	}
	if !st.out.Scan() {
		return fmt.Errorf("st_bench.py ended: %v %s", st.out.Err(), lastLine(st.stderr.String()))
	}
	if err := json.Unmarshal(st.out.Bytes(), v); err != nil {
		return fmt.Errorf("st_bench.py answer: %w", err)
	}
	return nil
}

// round embeds the chunks once and returns chunks per second.
func (st *stProcess) round() (float64, error) {
	var r struct {
		ChunksPerS float64 `json:"chunks_per_s"`
	}
	err := st.ask("round", &r)
	return r.ChunksPerS, err
}

// finish times the single queries and returns them with the chunks'
// embeddings from the last round.
func (st *stProcess) finish(chunks int) (stResult, error) {
	var res stResult
	if err := st.ask("finish", &res); err != nil {
		return res, err
	}
	if len(res.Embeddings) != chunks {
		return res, fmt.Errorf("st_bench.py returned %d embeddings for %d chunks", len(res.Embeddings), chunks)
	}
	return res, nil
}

// close ends the process.
func (st *stProcess) close() {
	st.in.Close()
	st.cmd.Wait()
}

// list formats rates with one decimal.
func list(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(s, ", ")
}

// loadAverage is the 1-, 5- and 15-minute load average from /proc/loadavg,
// or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
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
