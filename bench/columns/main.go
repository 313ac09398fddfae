// Command columns measures the chat page's side-by-side case with the
// built-in engine: the bundled base model, v1 and v2 (LoRA adapters of it)
// answer the same question at once, as the page's three columns do. Two
// layouts of the engines alternate in one process: the pool's (one base model
// whose adapters are added to it, so the three answers decode in one batch)
// and the baseline, an engine per model (three copies of the base model, each
// with its own scheduler, taking turns on the same cores — the pool before it
// shared base models). It reports the time until every column's first token
// and until every answer is done, and the tokens per second of the three.
//
//	go run -tags sqlite_fts5 ./bench/columns [-max-tokens 128] [-rounds 3]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"rustexpert/bench/internal/sheet"
	"rustexpert/inference"
	"rustexpert/inference/builtin"
)

func main() {
	model := flag.String("model", "models/base/SmolLM2-135M-Instruct.Q4_1.gguf", "GGUF file")
	adapters := flag.String("adapters", "models/v1,models/v2", "the LoRA adapters answering beside the base model")
	sheetFile := flag.String("prompts", "data/prompts.csv", "prompt sheet (CSV with text and category columns)")
	category := flag.String("category", "lifetimes", "the questions: this category's prompts, one a round")
	maxTokens := flag.Int("max-tokens", 128, "max tokens per answer")
	rounds := flag.Int("rounds", 3, "rounds, each both layouts")
	flag.Parse()
	if err := run(*model, splitList(*adapters), *sheetFile, *category, *maxTokens, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "columns bench:", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

// layout is a way of holding the columns' engines.
type layout struct {
	name    string
	engines []*builtin.Engine
}

func run(model string, adapters []string, sheetPath, category string, maxTokens, rounds int) error {
	prompts, err := sheet.Prompts(sheetPath, category)
	if err != nil {
		return err
	}
	pool := builtin.NewPool()
	defer pool.Close()
	shared, perModel := layout{name: "one base model (pool)"}, layout{name: "an engine per model (baseline)"}
	for i, adapter := range append([]string{""}, adapters...) {
		e, err := pool.Get(builtin.Spec{Base: model, Adapter: adapter})
		if err != nil {
			return err
		}
		shared.engines = append(shared.engines, e)
		// A context limit of its own makes a base model of its own, on the same cores.
		own, err := pool.Get(builtin.Spec{Base: model, Adapter: adapter, ContextLength: 8192 - 1 - i})
		if err != nil {
			return err
		}
		perModel.engines = append(perModel.engines, own)
	}
	fmt.Printf("%d columns (the base model and %v), up to %d tokens each (T 0.7, seeded); activations %s\n",
		len(shared.engines), adapters, maxTokens, shared.engines[0].Model().Activations())
	for r := range rounds {
		order := []layout{shared, perModel}
		if r%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, l := range order {
			if err := idle(shared, perModel); err != nil {
				return err
			}
			firsts, done, tokens, err := columns(l.engines, prompts[r%len(prompts)], maxTokens)
			if err != nil {
				return err
			}
			fmt.Printf("round %d, %s: every column's first token after %.0f ms, all done after %.2f s: %d tokens = %.1f tokens/s in all\n",
				r+1, l.name, ms(firsts), done.Seconds(), tokens, float64(tokens)/done.Seconds())
		}
	}
	return nil
}

// idle waits until no engine has work left (warming a finished conversation
// included), so that a measurement has the cores to itself.
func idle(layouts ...layout) error {
	for _, l := range layouts {
		for _, e := range l.engines {
			if err := e.Idle(context.Background()); err != nil {
				return err
			}
		}
	}
	return nil
}

// columns asks every engine the question at once; it returns when the last
// first token came, when the last answer ended, and the tokens written.
func columns(engines []*builtin.Engine, question string, maxTokens int) (time.Duration, time.Duration, int, error) {
	var (
		mu        sync.Mutex
		lastFirst time.Duration
		tokens    int
		firstErr  error
		wg        sync.WaitGroup
	)
	seed := int64(1)
	start := time.Now()
	for _, e := range engines {
		wg.Go(func() {
			req := inference.Request{Messages: []inference.Message{{Role: "user", Content: question}},
				Params: inference.Params{MaxTokens: maxTokens, Temperature: 0.7, Seed: &seed}}
			var once sync.Once
			res, err := e.Chat(context.Background(), req, func(inference.Delta) {
				once.Do(func() {
					mu.Lock()
					lastFirst = max(lastFirst, time.Since(start))
					mu.Unlock()
				})
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			tokens += res.Usage.CompletionTokens
		})
	}
	wg.Wait()
	return lastFirst, time.Since(start), tokens, firstErr
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
