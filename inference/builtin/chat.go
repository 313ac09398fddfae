package builtin

import (
	"context"
	"fmt"
	"math/rand/v2"

	"rustexpert/inference"
	"rustexpert/inference/chat"
	"rustexpert/inference/llama"
)

// DefaultMaxTokens bounds an answer when the request sets no limit.
const DefaultMaxTokens = 512

// Chat answers req with req.N samples, decoded together with every other
// request in flight. onDelta, when set, is called from the caller's goroutine.
func (e *Engine) Chat(ctx context.Context, req inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	j, err := e.newJob(ctx, req)
	if err != nil {
		return inference.Result{}, err
	}
	if err := e.sched.submit(ctx, j); err != nil {
		return inference.Result{}, err
	}
	return j.wait(onDelta)
}

func (e *Engine) newJob(ctx context.Context, req inference.Request) (*job, error) {
	msgs := make([]chat.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = chat.Message{Role: m.Role, Content: m.Content}
	}
	text, err := e.template.Render(msgs, true)
	if err != nil {
		return nil, &inference.RequestError{Msg: err.Error()}
	}
	prompt := e.tok.EncodeChat(text)
	if len(prompt) == 0 {
		return nil, &inference.RequestError{Msg: "the conversation is empty"}
	}
	maxTokens, err := e.answerBudget(len(prompt), req.Params.MaxTokens)
	if err != nil {
		return nil, err
	}
	n := max(req.N, 1)
	seed := rand.Uint64()
	if req.Params.Seed != nil {
		seed = uint64(*req.Params.Seed)
	}
	stops := append(append([]string(nil), req.Params.Stop...), e.template.Stops()...)
	j := newJob(ctx, prompt, n, maxTokens, seed, stops, sampling(req.Params))
	j.msgs, j.adapter = msgs, e.adapter
	return j, nil
}

// answerBudget is how many tokens an answer may have: the request's limit (or
// the default) within what the context leaves after the prompt.
func (e *Engine) answerBudget(promptLen, asked int) (int, error) {
	room := e.model.ContextLen - promptLen
	if room < 1 {
		return 0, &inference.RequestError{Msg: fmt.Sprintf(
			"the prompt is %d tokens, the model's context holds %d: shorten the conversation", promptLen, e.model.ContextLen)}
	}
	if asked <= 0 {
		asked = DefaultMaxTokens
	}
	return min(asked, room), nil
}

func sampling(p inference.Params) llama.Sampling {
	return llama.Sampling{Temperature: p.Temperature, TopP: p.TopP, TopK: p.TopK, RepeatPenalty: p.RepeatPenalty}
}
