// Package inference generates chat answers from a language model. The rest of
// the app depends only on the Generator interface; OpenAI is the client for any
// OpenAI-compatible chat-completions server (vLLM, llama.cpp's llama-server,
// Ollama's /v1 endpoint, TGI).
package inference

import "context"

// Message is one turn of a chat conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Params are the sampling parameters of a request.
type Params struct {
	Temperature float64
	// TopP of zero leaves the server's default in place, since zero is not a
	// valid nucleus size.
	TopP float64
	// MaxTokens of zero leaves the server's default in place.
	MaxTokens int
	// Seed makes sampling reproducible when set.
	Seed *int64
	Stop []string
	// TopK of zero keeps every token.
	TopK int
	// RepeatPenalty above 1 discourages tokens already in the conversation;
	// zero or 1 leaves it off.
	RepeatPenalty float64
}

// RequestError is a request the model cannot answer as asked (a prompt longer
// than the context, a role the chat template does not know): the caller's
// mistake, not the model's.
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return e.Msg }

// Request asks for N answers to one conversation. N below 1 means 1.
type Request struct {
	Model    string
	Messages []Message
	Params   Params
	N        int
}

// Choice is one generated answer.
type Choice struct {
	Index        int
	Text         string
	FinishReason string
}

// Usage counts the tokens a request consumed.
type Usage struct {
	PromptTokens, CompletionTokens, TotalTokens int
	// CachedTokens is the part of the prompt whose cache was reused from earlier
	// requests (OpenAI's usage.prompt_tokens_details.cached_tokens).
	CachedTokens int
}

// Result holds the answers of a request, ordered by index 0..N-1.
type Result struct {
	Choices []Choice
	Usage   Usage
}

// Delta is a piece of text appended to the answer with the given index while
// it is being generated.
type Delta struct {
	Index int
	Text  string
}

// Generator produces answers to chat requests. When onDelta is not nil the
// answers are streamed and onDelta receives every piece of text as it arrives.
type Generator interface {
	Chat(ctx context.Context, req Request, onDelta func(Delta)) (Result, error)
}

// wantedChoices returns how many answers req asks for.
func (req Request) wantedChoices() int {
	if req.N < 1 {
		return 1
	}
	return req.N
}
