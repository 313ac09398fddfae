// Command followup measures how long a follow-up question waits for its first
// token in a conversation with the built-in engine: the first question of the
// starter sheet's prompts is answered (greedy, up to -answer tokens), the
// engine is left idle, and then the conversation goes on with -next. With
// warming (the default) the engine prefills the finished conversation while
// idle; the baseline in the same run is an engine with warming off, which
// reuses only the first question's cache (the engine before warming came).
// The two engines alternate, conversation by conversation; each round has
// its own conversations (the category's next prompts), since a follow-up
// asked before would be found in the prompt cache whole.
//
//	go run -tags sqlite_fts5 ./bench/followup [-category lifetimes] [-conversations 4] [-answer 256] [-rounds 2]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"rustexpert/bench/internal/sheet"
	"rustexpert/inference"
	"rustexpert/inference/builtin"
)

func main() {
	model := flag.String("model", "models/base/SmolLM2-135M-Instruct.Q4_1.gguf", "GGUF file")
	sheetFile := flag.String("prompts", "data/prompts.csv", "prompt sheet (CSV with text and category columns)")
	category := flag.String("category", "lifetimes", "the first questions: this category's prompts")
	conversations := flag.Int("conversations", 4, "conversations per round (the category's next prompts)")
	answer := flag.Int("answer", 256, "max tokens of the first answer")
	next := flag.String("next", "Now show it in a complete program with a main function.", "the follow-up question")
	rounds := flag.Int("rounds", 2, "rounds over the conversations")
	flag.Parse()
	if err := run(*model, *sheetFile, *category, *next, *conversations, *answer, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "followup bench:", err)
		os.Exit(1)
	}
}

// turn is one measured follow-up.
type turn struct {
	first               time.Duration // the follow-up's first token
	idle                time.Duration // from the first answer's end until the engine was idle
	prompt, cached, ans int
}

func run(model, sheetPath, category, next string, conversations, answer, rounds int) error {
	prompts, err := sheet.Prompts(sheetPath, category)
	if err != nil {
		return err
	}
	if len(prompts) < conversations*rounds {
		return fmt.Errorf("%q has %d prompts, %d rounds of %d conversations need %d (each round its own: a follow-up asked before is cached whole)",
			category, len(prompts), rounds, conversations, conversations*rounds)
	}
	warm, err := builtin.Load(builtin.Spec{Base: model})
	if err != nil {
		return err
	}
	defer warm.Close()
	cold, err := builtin.Load(builtin.Spec{Base: model, NoWarm: true})
	if err != nil {
		return err
	}
	defer cold.Close()
	fmt.Printf("%d × %d conversations of %q, first answers up to %d tokens (greedy), follow-up %q; activations %s\n",
		rounds, conversations, category, answer, next, warm.Model().Activations())
	var withWarm, without []time.Duration
	for r := range rounds {
		for i, p := range prompts[r*conversations : (r+1)*conversations] {
			engines := []*builtin.Engine{warm, cold}
			if (r+i)%2 == 1 {
				slices.Reverse(engines)
			}
			for _, e := range engines {
				t, err := converse(e, p, next, answer)
				if err != nil {
					return err
				}
				what := "warmed"
				if e == cold {
					what, without = "no warming (baseline)", append(without, t.first)
				} else {
					withWarm = append(withWarm, t.first)
				}
				fmt.Printf("round %d, conversation %d, %s: answer %d tokens, idle after %.0f ms; follow-up prompt %d tokens, %d cached: first token %.1f ms\n",
					r+1, i+1, what, t.ans, ms(t.idle), t.prompt, t.cached, ms(t.first))
			}
		}
	}
	w, c := median(withWarm), median(without)
	fmt.Printf("follow-up first token, median: warmed %.1f ms, no warming %.1f ms: warmed/baseline %.2f×\n", ms(w), ms(c), w.Seconds()/c.Seconds())
	return nil
}

// converse asks p, waits for the engine to be idle, and times the follow-up's
// first token (an answer of one token).
func converse(e *builtin.Engine, p, next string, answer int) (turn, error) {
	ctx := context.Background()
	first := inference.Request{Messages: []inference.Message{{Role: "user", Content: p}}, Params: inference.Params{MaxTokens: answer}}
	res, err := e.Chat(ctx, first, nil)
	if err != nil {
		return turn{}, err
	}
	start := time.Now()
	if err := e.Idle(ctx); err != nil {
		return turn{}, err
	}
	t := turn{idle: time.Since(start), ans: res.Usage.CompletionTokens}
	follow := inference.Request{Messages: []inference.Message{first.Messages[0],
		{Role: "assistant", Content: res.Choices[0].Text}, {Role: "user", Content: next}}, Params: inference.Params{MaxTokens: 1}}
	start = time.Now()
	res, err = e.Chat(ctx, follow, nil)
	if err != nil {
		return turn{}, err
	}
	t.first, t.prompt, t.cached = time.Since(start), res.Usage.PromptTokens, res.Usage.CachedTokens
	return t, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
