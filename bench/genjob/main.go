// Command genjob measures the built-in engine the way a generation job uses
// it: the starter sheet's prompts of one category, n answers each, the
// answer slots' temperatures (0.2, 0.7, …) and top-p 0.95, eight answers
// requested at once (the job runner's default), each answer up to
// -max-tokens. It reports generated tokens per second over the whole job,
// and in the same run the same requests decoded greedily (temperature 0):
// the baseline that shows what sampling and scheduling cost on top of the
// model's own arithmetic.
//
//	go run -tags sqlite_fts5 ./bench/genjob [-category lifetimes] [-n 2] [-max-tokens 128] [-rounds 2] [-cpuprofile FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"rustexpert/bench/internal/sheet"
	"rustexpert/inference"
	"rustexpert/inference/builtin"
)

func main() {
	model := flag.String("model", "models/base/SmolLM2-135M-Instruct.Q4_1.gguf", "GGUF file")
	sheetFile := flag.String("prompts", "data/prompts.csv", "prompt sheet (CSV with text and category columns)")
	category := flag.String("category", "lifetimes", "the prompts of this category")
	n := flag.Int("n", 2, "answers per prompt")
	maxTokens := flag.Int("max-tokens", 128, "max tokens per answer")
	workers := flag.Int("workers", 8, "answers requested at once")
	rounds := flag.Int("rounds", 2, "rounds, each the job sampled and then greedy")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the rounds to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*model, *sheetFile, *category, *n, *maxTokens, *workers, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "genjob bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(model, sheetPath, category string, n, maxTokens, workers, rounds int) error {
	prompts, err := sheet.Prompts(sheetPath, category)
	if err != nil {
		return err
	}
	e, err := builtin.Load(builtin.Spec{Base: model})
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Printf("%d prompts of %q × %d answers, up to %d tokens each, %d requested at once; activations %s\n",
		len(prompts), category, n, maxTokens, workers, e.Model().Activations())
	for r := range rounds {
		for _, sampled := range []bool{true, false} {
			tokens, took, err := job(e, prompts, n, maxTokens, workers, sampled)
			if err != nil {
				return err
			}
			what := "greedy (baseline)"
			if sampled {
				what = "sampled (T 0.2, 0.7, …; top-p 0.95)"
			}
			fmt.Printf("round %d, %s: %d tokens in %.2f s = %.1f tokens/s\n", r+1, what, tokens, took.Seconds(), float64(tokens)/took.Seconds())
		}
	}
	return nil
}

// job answers every prompt n times, workers requests at a time, and returns
// the tokens generated and the time taken.
func job(e *builtin.Engine, prompts []string, n, maxTokens, workers int, sampled bool) (int, time.Duration, error) {
	var (
		mu       sync.Mutex
		tokens   int
		firstErr error
		wg       sync.WaitGroup
	)
	slots := make(chan struct{}, workers)
	start := time.Now()
	for i := range len(prompts) * n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			req := inference.Request{Messages: []inference.Message{{Role: "user", Content: prompts[i/n]}}}
			req.Params = inference.Params{MaxTokens: maxTokens, TopP: 0.95}
			if sampled {
				req.Params.Temperature = []float64{0.2, 0.7, 1.0, 1.0}[i%n%4]
			}
			res, err := e.Chat(context.Background(), req, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if err == nil {
				tokens += res.Usage.CompletionTokens
			}
		})
	}
	wg.Wait()
	return tokens, time.Since(start), firstErr
}
