package rag

import (
	"context"
	"strings"
	"testing"

	"rustexpert/inference"
	"rustexpert/store"
)

func hit(title, url, text string) Hit {
	return Hit{RAGHit: store.RAGHit{Title: title, URL: url, Text: text}}
}

func TestAugmentNumbersSourcesWithinTheBudget(t *testing.T) {
	hits := []Hit{hit("A", "https://a", "first excerpt"), hit("B", "https://b", strings.Repeat("long ", 400)), hit("C", "https://c", "third")}
	got, used := Augment("What is a borrow?", hits, 60)
	if len(used) != 2 || used[0].Title != "A" || used[1].Title != "C" {
		t.Fatalf("used %v, want A and C (B is over the budget)", used)
	}
	for _, want := range []string{"[1] A (https://a)\nfirst excerpt", "[2] C (https://c)\nthird", "cite them like [1]", "Question: What is a borrow?"} {
		if !strings.Contains(got, want) {
			t.Errorf("augmented prompt lacks %q:\n%s", want, got)
		}
	}
	if same, none := Augment("Q", nil, 100); same != "Q" || none != nil {
		t.Fatalf("no hits: %q %v", same, none)
	}
}

type recorder struct{ got inference.Request }

func (r *recorder) Chat(_ context.Context, req inference.Request, _ func(inference.Delta)) (inference.Result, error) {
	r.got = req
	return inference.Result{Choices: []inference.Choice{{Text: "ok"}}}, nil
}

func TestAugmentedAddsSourcesToTheLastUserMessage(t *testing.T) {
	rec := &recorder{}
	asked := ""
	gen := Augmented{Gen: rec, Retrieve: func(_ context.Context, q string) ([]Hit, error) {
		asked = q
		return []Hit{hit("The Book › 4.2", "https://doc.rust-lang.org/book/ch04-02.html", "References borrow.")}, nil
	}}
	req := inference.Request{Messages: []inference.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "first"},
		{Role: "assistant", Content: "answer"}, {Role: "user", Content: "What is a reference?"}}}
	if _, err := gen.Chat(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	if asked != "What is a reference?" {
		t.Fatalf("retrieved for %q", asked)
	}
	msgs := rec.got.Messages
	if len(msgs) != 4 || msgs[1].Content != "first" || !strings.Contains(msgs[3].Content, "[1] The Book › 4.2") ||
		!strings.HasSuffix(msgs[3].Content, "Question: What is a reference?") {
		t.Fatalf("model got %+v", msgs)
	}
	if req.Messages[3].Content != "What is a reference?" {
		t.Fatal("the caller's request was changed")
	}
}
