package generation

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"rustexpert/inference"
	"rustexpert/live"
	"rustexpert/rag"
	"rustexpert/store"
)

// recordingModel answers every request with a fixed text and keeps the last user message it got.
type recordingModel struct {
	mu       sync.Mutex
	lastUser string
}

func (m *recordingModel) Chat(ctx context.Context, req inference.Request, onDelta func(inference.Delta)) (inference.Result, error) {
	m.mu.Lock()
	m.lastUser = req.Messages[len(req.Messages)-1].Content
	m.mu.Unlock()
	res := inference.Result{}
	for i := range max(req.N, 1) {
		res.Choices = append(res.Choices, inference.Choice{Index: i, Text: "fn main() {}", FinishReason: "stop"})
	}
	return res, nil
}

func ragJob(t *testing.T, st *store.Store) store.Job {
	t.Helper()
	ctx := context.Background()
	m, err := st.CreateModel(ctx, store.ModelInput{Name: "v2", Endpoint: "http://127.0.0.1:1/v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreatePrompt(ctx, store.PromptInput{Text: "Why does E0502 stop me pushing while I hold a reference?"}, 0); err != nil {
		t.Fatal(err)
	}
	params := []store.Sampling{{Temperature: 0.2, TopP: 0.95, MaxTokens: 64}}
	job, err := st.CreateJob(ctx, store.NewJob{ModelID: m.ID, Params: params, RAG: true})
	if err != nil {
		t.Fatal(err)
	}
	if !job.RAG || job.Label() != "v2+rag" {
		t.Fatalf("stored job: RAG %v, label %q; want true, v2+rag", job.RAG, job.Label())
	}
	return job
}

func TestRAGJobPutsTheDocsInFrontOfEachPrompt(t *testing.T) {
	st := openTestStore(t)
	job := ragJob(t, st)
	model := &recordingModel{}
	r := New(st, func(store.Model) (inference.Generator, error) { return model, nil }, live.NewHub(4),
		slog.New(slog.NewTextHandler(io.Discard, nil)), 1)
	var asked string
	r.Retrieve = func(ctx context.Context, question string) ([]rag.Hit, error) {
		asked = question
		return []rag.Hit{{RAGHit: store.RAGHit{Title: "Error code E0502", URL: "https://doc.rust-lang.org/error_codes/E0502.html",
			Text: "A variable already borrowed as immutable was borrowed as mutable."}}}, nil
	}
	if err := r.RunOne(context.Background(), job.ID); err != nil {
		t.Fatal(err)
	}
	done, err := st.Job(context.Background(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != store.JobSucceeded || done.Done != 1 {
		t.Fatalf("job %s with %d answers (%s), want succeeded with 1", done.Status, done.Done, done.LastError)
	}
	if !strings.Contains(asked, "E0502") {
		t.Errorf("retrieval was asked %q, want the prompt", asked)
	}
	for _, want := range []string{"Error code E0502", "already borrowed as immutable", "Why does E0502 stop me"} {
		if !strings.Contains(model.lastUser, want) {
			t.Errorf("the model's prompt lacks %q:\n%s", want, model.lastUser)
		}
	}
}

func TestRAGJobWithoutAnIndexFailsWithAReason(t *testing.T) {
	st := openTestStore(t)
	job := ragJob(t, st)
	model := &recordingModel{}
	r := New(st, func(store.Model) (inference.Generator, error) { return model, nil }, live.NewHub(4),
		slog.New(slog.NewTextHandler(io.Discard, nil)), 1)
	if err := r.RunOne(context.Background(), job.ID); err != nil {
		t.Fatal(err)
	}
	done, _ := st.Job(context.Background(), job.ID)
	if done.Status != store.JobFailed || !strings.Contains(done.LastError, "documentation index") {
		t.Fatalf("job %s (%q), want failed naming the missing documentation index", done.Status, done.LastError)
	}
	if model.lastUser != "" {
		t.Error("the model was asked without its documentation")
	}
}
