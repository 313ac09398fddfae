// Command engine measures the built-in CPU engine on the bundled model: prefill
// and decode speed at batch 1, 3 and 8, first-token latency for a 200-token
// prompt, the machine's memory bandwidth (a large copy) and decode speed as a
// fraction of the bound it sets, and llama.cpp's decode speed on the same GGUF
// and prompt (through llama-cpp-python, when installed) for the ratio.
//
//	go run -tags sqlite_fts5 ./bench/engine [-model models/base/...gguf] [-adapter models/v1] [-activations f32|q8|q8-prompt] [-amx=false] [-python python3]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"rustexpert/inference/builtin"
	"rustexpert/inference/llama"
)

func main() {
	model := flag.String("model", "models/base/SmolLM2-135M-Instruct.Q4_1.gguf", "GGUF file")
	adapter := flag.String("adapter", "", "PEFT LoRA adapter folder applied to the model (e.g. models/v1)")
	promptLen := flag.Int("prompt", 200, "prompt tokens")
	decode := flag.Int("decode", 128, "tokens decoded per measurement")
	runs := flag.Int("runs", 3, "measurements (the best is reported; for the first token the median too)")
	python := flag.String("python", "python3", "Python with llama-cpp-python for the reference ('' to skip)")
	activations := flag.String("activations", "", "matrix multiply inputs: f32, q8 or q8-prompt (default: the engine's)")
	amx := flag.Bool("amx", true, "prompt multiplies on the AMX tiles where the CPU has them")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the measurements to this file")
	flag.Parse()
	if *profile != "" {
		stop, err := startProfile(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "engine bench:", err)
			os.Exit(1)
		}
		defer stop()
	}
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "engine bench: -runs must be at least 1")
		os.Exit(2)
	}
	spec := builtin.Spec{Base: *model, Adapter: *adapter, Activations: *activations, NoAMX: !*amx}
	if err := run(spec, *promptLen, *decode, *runs, *python); err != nil {
		fmt.Fprintln(os.Stderr, "engine bench:", err)
		os.Exit(1)
	}
}

// startProfile starts a CPU profile written to path; the returned function ends it.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func run(spec builtin.Spec, promptLen, decode, runs int, python string) error {
	path := spec.Base
	e, err := builtin.Load(spec)
	if err != nil {
		return err
	}
	defer e.Close()
	m := e.Model()
	prompt := promptTokens(e, promptLen)
	fmt.Printf("model %s: %s; adapter %q; activations %s; AMX tiles %v\n", path, m.WeightTypes(), spec.Adapter, m.Activations(), m.AMX())
	fmt.Printf("machine: %d cores (GOMAXPROCS %d), %s/%s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)

	bw := bandwidth()

	var first, firstCPU, prefillTPS, tps1, tps3, tps8, tpsLong float64
	var firsts []float64
	stat0, statErr := readCPUStat()
	for range runs {
		c0 := cpuSeconds()
		f, p := prefill(m, prompt)
		firsts = append(firsts, f)
		firstCPU = best(firstCPU, cpuSeconds()-c0, true)
		first, prefillTPS = best(first, f, true), max(prefillTPS, p)
		tps1 = max(tps1, decodeSpeed(m, prompt[:16], 1, decode))
		tps3 = max(tps3, decodeSpeed(m, prompt[:16], 3, decode))
		tps8 = max(tps8, decodeSpeed(m, prompt[:16], 8, decode))
		tpsLong = max(tpsLong, decodeSpeed(m, prompt, 1, decode))
	}
	// The copy runs again after the measurements and the faster of the two sets the bound: a
	// moment of slow memory on this shared machine must not make decoding look closer to it.
	bw = max(bw, bandwidth())
	bound := bw / float64(m.WeightBytes())
	fmt.Printf("memory bandwidth (copy, read+write bytes, best before and after): %.1f GB/s; weights read per decoded token: %.1f MB; bound %.1f tokens/s\n",
		bw/1e9, float64(m.WeightBytes())/1e6, bound)
	slices.Sort(firsts)
	fmt.Printf("first token after a %d-token prompt: %.0f ms (median of %d runs %.0f ms; prefill %.0f tokens/s; %.0f ms of CPU time on all cores)\n",
		len(prompt), first*1000, len(firsts), firsts[len(firsts)/2]*1000, prefillTPS, firstCPU*1000)
	fmt.Printf("decode batch 1: %.1f tokens/s = %.2f of the bandwidth bound\n", tps1, tps1/bound)
	fmt.Printf("decode batch 3: %.1f tokens/s in all (%.1f per answer)\n", tps3, tps3/3)
	fmt.Printf("decode batch 8 (a generation job's answers at once): %.1f tokens/s in all (%.1f per answer)\n", tps8, tps8/8)
	fmt.Printf("decode batch 1 after the whole %d-token prompt (attention over it each token): %.1f tokens/s\n", len(prompt), tpsLong)
	if stat1, err := readCPUStat(); statErr == nil && err == nil {
		fmt.Printf("CPU time the hypervisor took from this machine during the measurements: %.1f%% (figures from runs with more than a few percent are not comparable)\n",
			100*stat1.stealSince(stat0))
	}
	if python == "" {
		return nil
	}
	ref, err := llamaCpp(python, path, prompt, decode, runs)
	if err != nil {
		fmt.Printf("llama.cpp reference not run: %v\n", err)
		return nil
	}
	fmt.Printf("llama.cpp (llama-cpp-python, %d threads): first token %.0f ms, decode %.1f tokens/s; ours/llama.cpp decode = %.2f, first-token = %.2f\n",
		runtime.GOMAXPROCS(0), ref.PrefillS*1000, ref.DecodeTPS, tps1/ref.DecodeTPS, ref.PrefillS/first)
	return nil
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func best(cur, v float64, lower bool) float64 {
	if cur == 0 || (lower && v < cur) || (!lower && v > cur) {
		return v
	}
	return cur
}

// promptTokens encodes Rust source until there are n tokens.
func promptTokens(e *builtin.Engine, n int) []int {
	text := strings.Repeat(`fn longest<'a>(x: &'a str, y: &'a str) -> &'a str {
    // Returns whichever string slice is longer; both borrow for 'a.
    if x.len() > y.len() { x } else { y }
}
`, 1+n/30)
	ids := e.Tokenizer().EncodeChat(text)
	return ids[:n]
}

// bandwidth copies a 512 MiB buffer with every core and returns the best
// bytes/s (read + write).
func bandwidth() float64 {
	const size = 512 << 20
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	workers := runtime.GOMAXPROCS(0)
	bestRate := 0.0
	for range 5 {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			lo, hi := size*w/workers, size*(w+1)/workers
			wg.Go(func() { copy(dst[lo:hi], src[lo:hi]) })
		}
		wg.Wait()
		bestRate = max(bestRate, 2*size/time.Since(start).Seconds())
	}
	return bestRate
}

// prefill runs the prompt and returns the seconds to the first token's logits
// and prompt tokens per second.
func prefill(m *llama.Model, prompt []int) (float64, float64) {
	seq := m.NewSequence()
	steps := make([]llama.Step, len(prompt))
	for i, t := range prompt {
		steps[i] = llama.Step{Seq: seq, Token: t, Logits: i == len(prompt)-1}
	}
	start := time.Now()
	if _, err := m.Prompt(steps); err != nil {
		panic(err)
	}
	s := time.Since(start).Seconds()
	return s, float64(len(prompt)) / s
}

// decodeSpeed prefills prompt into batch sequences, then decodes n tokens greedily for them at
// once and returns tokens per second over all of them.
func decodeSpeed(m *llama.Model, prompt []int, batch, n int) float64 {
	seqs := make([]*llama.Sequence, batch)
	steps := make([]llama.Step, batch)
	for b := range seqs {
		seqs[b] = m.NewSequence()
		fill := make([]llama.Step, len(prompt))
		for i, t := range prompt {
			fill[i] = llama.Step{Seq: seqs[b], Token: t}
		}
		if _, err := m.Prompt(fill); err != nil {
			panic(err)
		}
		steps[b] = llama.Step{Seq: seqs[b], Token: prompt[len(prompt)-1] + b, Logits: true}
	}
	start := time.Now()
	for range n {
		out, err := m.Forward(steps)
		if err != nil {
			panic(err)
		}
		for b := range steps {
			steps[b].Token = llama.Argmax(out[b])
		}
	}
	return float64(batch*n) / time.Since(start).Seconds()
}

type reference struct {
	PrefillS  float64 `json:"prefill_s"`
	DecodeTPS float64 `json:"decode_tps"`
}

// llamaCpp runs bench/engine/llamacpp.py on the same model and prompt.
func llamaCpp(python, model string, prompt []int, decode, runs int) (reference, error) {
	req, _ := json.Marshal(map[string]any{"model": model, "prompt": prompt, "decode": decode,
		"threads": runtime.GOMAXPROCS(0), "repeats": runs})
	cmd := exec.Command(python, "bench/engine/llamacpp.py")
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return reference{}, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var ref reference
	return ref, json.Unmarshal(out, &ref)
}
