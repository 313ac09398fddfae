package builtin

import (
	"context"
	"strings"
	"sync"
	"unicode/utf8"

	"rustexpert/inference"
	"rustexpert/inference/chat"
	"rustexpert/inference/llama"
	"rustexpert/inference/tokenizer"
)

// job is one chat request inside the scheduler.
type job struct {
	ctx       context.Context
	msgs      []chat.Message // the conversation the prompt renders
	prompt    []int
	cached    int // the prompt's positions found in the prefix cache
	adapter   int // the core model's LoRA adapter that answers (0: none)
	n         int
	maxTokens int
	seed      uint64
	stops     []string
	sampling  llama.Sampling

	mu      sync.Mutex
	deltas  []inference.Delta
	notify  chan struct{}
	done    chan struct{}
	result  inference.Result
	err     error
	choices []*choice
}

func newJob(ctx context.Context, prompt []int, n, maxTokens int, seed uint64, stops []string, s llama.Sampling) *job {
	return &job{ctx: ctx, prompt: prompt, n: n, maxTokens: maxTokens, seed: seed, stops: stops, sampling: s,
		notify: make(chan struct{}, 1), done: make(chan struct{})}
}

// choice is one answer being decoded.
type choice struct {
	job     *job
	index   int
	seq     *llama.Sequence
	sampler *llama.Sampler
	stream  *tokenizer.Stream
	text    strings.Builder
	emitted int
	tokens  int
	next    int
	finish  string
}

// emit queues text for the caller's onDelta.
func (j *job) emit(index int, text string) {
	if text == "" {
		return
	}
	j.mu.Lock()
	j.deltas = append(j.deltas, inference.Delta{Index: index, Text: text})
	j.mu.Unlock()
	select {
	case j.notify <- struct{}{}:
	default:
	}
}

// finish completes the job with its result or an error.
func (j *job) finish(err error) {
	j.err = err
	if err == nil {
		j.result = inference.Result{Choices: make([]inference.Choice, len(j.choices))}
		for i, c := range j.choices {
			j.result.Choices[i] = inference.Choice{Index: i, Text: c.text.String(), FinishReason: c.finish}
			j.result.Usage.CompletionTokens += c.tokens
		}
		j.result.Usage.PromptTokens = len(j.prompt)
		j.result.Usage.CachedTokens = j.cached
		j.result.Usage.TotalTokens = j.result.Usage.PromptTokens + j.result.Usage.CompletionTokens
	}
	close(j.done)
}

// wait delivers deltas to onDelta on the caller's goroutine until the job is
// done.
func (j *job) wait(onDelta func(inference.Delta)) (inference.Result, error) {
	for {
		select {
		case <-j.notify:
			j.deliver(onDelta)
		case <-j.done:
			j.deliver(onDelta)
			return j.result, j.err
		}
	}
}

func (j *job) deliver(onDelta func(inference.Delta)) {
	j.mu.Lock()
	deltas := j.deltas
	j.deltas = nil
	j.mu.Unlock()
	if onDelta == nil {
		return
	}
	for _, d := range deltas {
		onDelta(d)
	}
}

// accept adds a sampled token to the answer. It returns false when the answer
// is finished.
func (c *choice) accept(token int, stopIDs map[int]bool, room int) bool {
	if stopIDs[token] {
		c.end("stop")
		return false
	}
	c.tokens++
	c.text.WriteString(c.stream.Add(token))
	if c.cutAtStop() {
		c.end("stop")
		return false
	}
	if c.tokens >= c.job.maxTokens || room <= 0 {
		c.end("length")
		return false
	}
	c.flush(false)
	c.next = token
	c.sampler.Observe(token)
	return true
}

// cutAtStop truncates the text at the first stop string, if one appeared.
func (c *choice) cutAtStop() bool {
	text := c.text.String()
	from := c.emitted
	for _, s := range c.job.stops {
		if s == "" {
			continue
		}
		start := max(0, from-len(s)+1)
		if i := strings.Index(text[start:], s); i >= 0 {
			c.text.Reset()
			c.text.WriteString(text[:start+i])
			return true
		}
	}
	return false
}

// flush emits the text that can no longer turn into a stop string (all of it
// when the answer is over): all but an end that begins a stop string, never
// splitting a UTF-8 character.
func (c *choice) flush(final bool) {
	text := c.text.String()
	safe := len(text)
	if !final {
		safe -= c.stopStart(text)
		for safe > c.emitted && safe < len(text) && !utf8.RuneStart(text[safe]) {
			safe--
		}
	}
	if safe > c.emitted {
		c.job.emit(c.index, text[c.emitted:safe])
		c.emitted = safe
	}
}

// stopStart is the length of the longest end of text that is the beginning of
// a stop string.
func (c *choice) stopStart(text string) int {
	n := 0
	for _, s := range c.job.stops {
		for k := min(len(s)-1, len(text)); k > n; k-- {
			if strings.HasSuffix(text, s[:k]) {
				n = k
				break
			}
		}
	}
	return n
}

func (c *choice) end(reason string) {
	c.finish = reason
	c.flush(true)
}
