package inference

import "context"

// CompletionRequest asks for N continuations of a plain-text prompt, with no
// chat template applied. N below 1 means 1.
type CompletionRequest struct {
	Model  string
	Prompt string
	Params Params
	N      int
}

// completionBody is the JSON body of a plain-completions request.
type completionBody struct {
	Model  string `json:"model"`
	Prompt string `json:"prompt"`
	sampling
}

// Complete asks the server's plain-completions endpoint (POST /completions)
// for req.N continuations of req.Prompt. Streaming, retries, timeouts and the
// filling-in of answers a server left out work as for Chat.
func (c *OpenAI) Complete(ctx context.Context, req CompletionRequest, onDelta func(Delta)) (Result, error) {
	want := max(req.N, 1)
	return c.generate(ctx, completionEndpoint(req), want, req.Params.Seed, onDelta)
}

func completionEndpoint(req CompletionRequest) endpoint {
	return endpoint{
		what: "completion",
		path: "/completions",
		body: func(n int, seed *int64, stream bool) any {
			params := req.Params
			params.Seed = seed
			return completionBody{Model: req.Model, Prompt: req.Prompt, sampling: newSampling(params, n, stream)}
		},
	}
}
