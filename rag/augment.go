package rag

import (
	"context"
	"fmt"
	"strings"

	"rustexpert/inference"
)

// DefaultBudget is how many (estimated) tokens of sources go in front of a question.
const DefaultBudget = 1200

// Augment puts the best hits that fit in budget tokens, numbered, in front of
// question, with an instruction to cite them. It returns the new question and
// the hits it used.
func Augment(question string, hits []Hit, budget int) (string, []Hit) {
	var b strings.Builder
	b.WriteString("Answer the question. Use the numbered documentation excerpts below where they help, and cite them like [1].\n\n")
	used := 0
	var kept []Hit
	for _, h := range hits {
		excerpt := fmt.Sprintf("[%d] %s (%s)\n%s\n\n", len(kept)+1, h.Title, h.URL, strings.TrimSpace(h.Text))
		cost := EstimateTokens(excerpt)
		if used+cost > budget {
			continue
		}
		used += cost
		kept = append(kept, h)
		b.WriteString(excerpt)
	}
	if len(kept) == 0 {
		return question, nil
	}
	b.WriteString("Question: ")
	b.WriteString(question)
	return b.String(), kept
}

// Retriever finds the hits for a question.
type Retriever func(ctx context.Context, question string) ([]Hit, error)

// Augmented answers like Gen after putting retrieved documentation in front
// of the conversation's last user message: a model "+rag".
type Augmented struct {
	Gen      inference.Generator
	Retrieve Retriever
	Budget   int
}

// Chat retrieves for the last user message, augments it and asks Gen.
func (a Augmented) Chat(ctx context.Context, req inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	last := -1
	for i, m := range req.Messages {
		if m.Role == "user" {
			last = i
		}
	}
	if last < 0 {
		return a.Gen.Chat(ctx, req, onDelta)
	}
	hits, err := a.Retrieve(ctx, req.Messages[last].Content)
	if err != nil {
		return inference.Result{}, fmt.Errorf("retrieval: %w", err)
	}
	budget := a.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	msgs := append([]inference.Message(nil), req.Messages...)
	msgs[last].Content, _ = Augment(msgs[last].Content, hits, budget)
	req.Messages = msgs
	return a.Gen.Chat(ctx, req, onDelta)
}
