package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rustexpert/inference"
	"rustexpert/inference/llama"
	"rustexpert/inference/tensor"
)

// bundledModel loads the bundled base model once per test binary, or skips.
var bundledModel = sync.OnceValues(func() (*Engine, error) { return loadBundled("") })

// loadBundled loads the bundled model with the given activations ("" for
// the default), or reports errMissingModel.
func loadBundled(activations string) (*Engine, error) {
	path := bundledPath()
	if _, err := os.Stat(path); err != nil {
		return nil, errMissingModel
	}
	return Load(Spec{Base: path, Activations: activations})
}

func bundledPath() string {
	if path := os.Getenv("RUSTEXPERT_TEST_GGUF"); path != "" {
		return path
	}
	return filepath.Join("..", "..", "models", "base", "SmolLM2-135M-Instruct.Q4_1.gguf")
}

var errMissingModel = errors.New("missing")

// bundledExact is the bundled model with float32 activations, the path the
// transformers goldens check: bundledModel itself when that is its default.
var bundledExact = sync.OnceValues(func() (*Engine, error) {
	if llama.DefaultActivations() == llama.ActivationsF32 {
		return bundledModel()
	}
	return loadBundled(string(llama.ActivationsF32))
})

func engine(t *testing.T) *Engine {
	t.Helper()
	return skipMissing(t, bundledModel)
}

// exactEngine is engine with float32 activations.
func exactEngine(t *testing.T) *Engine {
	t.Helper()
	return skipMissing(t, bundledExact)
}

func skipMissing(t *testing.T, load func() (*Engine, error)) *Engine {
	t.Helper()
	e, err := load()
	if errors.Is(err, errMissingModel) {
		t.Skip("the bundled model is not fetched (make models); set RUSTEXPERT_TEST_GGUF to its path")
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ask(question string) inference.Request {
	return inference.Request{Messages: []inference.Message{{Role: "user", Content: question}}}
}

func seed(n int64) *int64 { return &n }

// The transformers goldens of inference/llama hold the chat prompts' token ids and greedy
// continuations: the engine's template, tokenizer and decoding must reproduce them
// (with float32 activations, the exact path).
func TestGreedyAnswerMatchesTransformers(t *testing.T) {
	e := exactEngine(t)
	data, err := os.ReadFile(filepath.Join("..", "llama", "testdata", "smollm2", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Question string `json:"question"`
		Prompt   []int  `json:"prompt"`
		Greedy   []int  `json:"greedy"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		req := ask(c.Question)
		if prompt := e.promptIDs(t, req); !slices.Equal(prompt, c.Prompt) {
			t.Fatalf("%q: prompt ids\n got  %v\n want %v", c.Question, prompt, c.Prompt)
		}
		req.Params.MaxTokens = len(c.Greedy)
		res, err := e.Chat(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The reference forces 64 tokens; the engine stops at the end-of-turn token.
		want := c.Greedy
		if end := slices.IndexFunc(want, func(id int) bool { return e.stopIDs[id] }); end >= 0 {
			want = want[:end]
		}
		if got := res.Choices[0].Text; got != e.tok.Decode(want) {
			t.Errorf("%q: greedy answer\n got  %q\n want %q", c.Question, got, e.tok.Decode(want))
		}
	}
}

// promptIDs renders and encodes a request as Chat does.
func (e *Engine) promptIDs(t *testing.T, req inference.Request) []int {
	t.Helper()
	j, err := e.newJob(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return j.prompt
}

func TestSamplesAreReproducibleStreamedAndCounted(t *testing.T) {
	e := engine(t)
	req := ask("Name a Rust collection type.")
	req.N = 3
	req.Params = inference.Params{Temperature: 0.9, TopP: 0.95, MaxTokens: 24, Seed: seed(11)}
	streamed := map[int]string{}
	res, err := e.Chat(context.Background(), req, func(d inference.Delta) { streamed[d.Index] += d.Text })
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Chat(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 3 {
		t.Fatalf("%d choices, want 3", len(res.Choices))
	}
	distinct := map[string]bool{}
	completion := 0
	for i, c := range res.Choices {
		if c.Text != streamed[i] {
			t.Errorf("choice %d: streamed %q, result %q", i, streamed[i], c.Text)
		}
		if c.Text != again.Choices[i].Text {
			t.Errorf("choice %d: the same seed gave %q and %q", i, c.Text, again.Choices[i].Text)
		}
		if c.FinishReason != "stop" && c.FinishReason != "length" {
			t.Errorf("choice %d: finish reason %q", i, c.FinishReason)
		}
		distinct[c.Text] = true
		completion += len(e.tok.EncodeChat(c.Text))
	}
	if len(distinct) < 2 {
		t.Errorf("three samples at temperature 0.9 were all %q", res.Choices[0].Text)
	}
	u := res.Usage
	if u.PromptTokens != len(e.promptIDs(t, req)) || u.CompletionTokens < 3 || u.CompletionTokens > 3*24 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage %+v", u)
	}
}

// Answers decoded in one batch with other requests equal the answers decoded alone (five
// of them: batches of up to five, which the matrix kernels take four and one at a time).
func TestBatchingDoesNotChangeAnswers(t *testing.T) {
	e := engine(t)
	questions := []string{"What is a trait?", "Write hello world in Rust.", "What does `?` do?",
		"Explain lifetimes.", "What is a Box?"}
	alone := make([]string, len(questions))
	for i, q := range questions {
		req := ask(q)
		req.Params.MaxTokens = 20
		res, err := e.Chat(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = res.Choices[0].Text
	}
	together := make([]string, len(questions))
	var wg sync.WaitGroup
	for i, q := range questions {
		wg.Go(func() {
			req := ask(q)
			req.Params.MaxTokens = 20
			res, err := e.Chat(context.Background(), req, nil)
			if err != nil {
				t.Error(err)
				return
			}
			together[i] = res.Choices[0].Text
		})
	}
	wg.Wait()
	for i := range questions {
		if alone[i] != together[i] {
			t.Errorf("%q: alone %q, batched %q", questions[i], alone[i], together[i])
		}
	}
}

func TestStopsAndLimits(t *testing.T) {
	e := engine(t)
	req := ask("Count from 1 to 20, separated by commas.")
	req.Params.MaxTokens = 40
	full, err := e.Chat(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := full.Choices[0].Text
	if len(text) < 6 {
		t.Fatalf("answer too short to test stops: %q", text)
	}
	stop := text[3:5]
	req.Params.Stop = []string{stop}
	streamed := ""
	cut, err := e.Chat(context.Background(), req, func(d inference.Delta) { streamed += d.Text })
	if err != nil {
		t.Fatal(err)
	}
	want := text[:strings.Index(text, stop)]
	if got := cut.Choices[0]; got.Text != want || got.FinishReason != "stop" || streamed != want {
		t.Errorf("stop %q: got %q (%s), streamed %q; want %q", stop, got.Text, got.FinishReason, streamed, want)
	}
	req.Params.Stop = nil
	req.Params.MaxTokens = 3
	short, err := e.Chat(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := short.Choices[0]; c.FinishReason != "length" || short.Usage.CompletionTokens != 3 {
		t.Errorf("max_tokens 3: %q finished %q after %d tokens", c.Text, c.FinishReason, short.Usage.CompletionTokens)
	}
}

func TestPromptLongerThanContextIsRefused(t *testing.T) {
	e := engine(t)
	_, err := e.Chat(context.Background(), ask(strings.Repeat("borrow ", 9000)), nil)
	var reqErr *inference.RequestError
	if !errors.As(err, &reqErr) || !strings.Contains(err.Error(), "context holds 8192") {
		t.Fatalf("got %v, want a RequestError about the 8192-token context", err)
	}
}

func TestCancelStopsTheAnswer(t *testing.T) {
	e := engine(t)
	ctx, cancel := context.WithCancel(context.Background())
	req := ask("Explain ownership in Rust in detail.")
	req.Params = inference.Params{Temperature: 1, MaxTokens: 2000, Seed: seed(1)}
	got := 0
	start := time.Now()
	_, err := e.Chat(ctx, req, func(inference.Delta) {
		got++
		if got == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("cancel took %s", time.Since(start))
	}
	// The engine goes on serving.
	req.Params.MaxTokens = 2
	if _, err := e.Chat(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
}

// A prompt that shares its start with an earlier one reuses that part of the cache; the answer
// must be the one a fresh engine gives.
func TestSharedPrefixGivesTheSameAnswer(t *testing.T) {
	engine(t)
	first := ask("Why does Rust have both String and &str?")
	second := ask("Why does Rust have both Vec<T> and &[T]?")
	first.Params.MaxTokens, second.Params.MaxTokens = 24, 24
	answer := func(e *Engine, req inference.Request) string {
		res, err := e.Chat(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Choices[0].Text
	}
	alone, err := Load(Spec{Base: bundledPath()})
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	want := answer(alone, second)
	shared, err := Load(Spec{Base: bundledPath()})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	answer(shared, first)
	if err := shared.Idle(context.Background()); err != nil { // the scheduler owns the cache
		t.Fatal(err)
	}
	j, _ := shared.newJob(context.Background(), second)
	reused := commonPrefix(shared.sched.prefix.entries[0].tokens, j.prompt)
	if reused < 20 {
		t.Fatalf("the two prompts share only %d tokens", reused)
	}
	if got := answer(shared, second); got != want {
		t.Errorf("after a prompt sharing %d tokens: %q, fresh engine: %q", reused, got, want)
	}
}

// A prompt longer than one prefill chunk gives the answer an unchunked prefill gives.
func TestLongPromptIsPrefilledInChunks(t *testing.T) {
	e := engine(t)
	req := ask(strings.Repeat("Rust's ownership rules keep memory safe without a garbage collector. ", 45) + "Summarize.")
	req.Params.MaxTokens = 8
	prompt := e.promptIDs(t, req)
	if len(prompt) <= IdlePrefillChunk {
		t.Fatalf("prompt of %d tokens does not span chunks", len(prompt))
	}
	res, err := e.Chat(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := e.Model()
	seq := m.NewSequence()
	steps := make([]llama.Step, len(prompt))
	for i, tok := range prompt {
		steps[i] = llama.Step{Seq: seq, Token: tok, Logits: i == len(prompt)-1}
	}
	out, err := m.Prompt(steps)
	if err != nil {
		t.Fatal(err)
	}
	logits := out[len(out)-1]
	var ids []int
	for range req.Params.MaxTokens {
		tok := llama.Argmax(logits)
		if e.stopIDs[tok] {
			break
		}
		ids = append(ids, tok)
		next, err := m.Forward([]llama.Step{{Seq: seq, Token: tok, Logits: true}})
		if err != nil {
			t.Fatal(err)
		}
		logits = next[0]
	}
	if want := e.tok.Decode(ids); res.Choices[0].Text != want {
		t.Fatalf("chunked: %q, in one piece: %q", res.Choices[0].Text, want)
	}
}

// TestAMXSwitch checks that Spec.NoAMX and RUSTEXPERT_ENGINE_AMX=off turn
// the AMX prompt path off, and that it is on by default where the CPU has it.
func TestAMXSwitch(t *testing.T) {
	engine(t) // skips without the bundled model
	if !tensor.AMXSupported(tensor.Q4_1) {
		t.Skip("no AMX tiles on this CPU")
	}
	for _, c := range []struct {
		spec Spec
		env  string
		want bool
	}{{Spec{}, "", true}, {Spec{NoAMX: true}, "", false}, {Spec{}, "off", false}} {
		t.Setenv(amxEnv, c.env)
		c.spec.Base = bundledPath()
		e, err := Load(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.model.AMX(); got != c.want {
			t.Errorf("NoAMX %v, %s=%q: AMX %v, want %v", c.spec.NoAMX, amxEnv, c.env, got, c.want)
		}
		e.Close()
	}
}

// TestDescribeSaysActivations checks that the models page's description
// names the loaded weights' formats and the activations they run with.
func TestDescribeSaysActivations(t *testing.T) {
	e := engine(t)
	d := e.Describe()
	if !strings.Contains(d, "weights Q4_1 ×") {
		t.Errorf("Describe() = %q: no weight formats", d)
	}
	want := "activations " + activationsNames[e.model.Activations()]
	if activationsNames[e.model.Activations()] == "" || !strings.HasSuffix(d, want) {
		t.Errorf("Describe() = %q, want it to end with %q", d, want)
	}
	exact := skipMissing(t, bundledExact)
	if d := exact.Describe(); !strings.HasSuffix(d, "activations float32") {
		t.Errorf("float32 engine: Describe() = %q", d)
	}
}
