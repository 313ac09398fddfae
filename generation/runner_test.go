package generation

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"rustexpert/inference"
	"rustexpert/inference/openaitest"
	"rustexpert/live"
	"rustexpert/store"
)

// modelServer is openaitest, the in-process OpenAI-protocol TEST SERVER, behind a pause before
// every request so that answers are in flight when a test stops the runner. It counts the
// requests it received and those still being answered.
type modelServer struct {
	url      string
	srv      *httptest.Server
	requests atomic.Int64
	inFlight atomic.Int64
}

func newModelServer(t *testing.T, pause time.Duration) *modelServer {
	t.Helper()
	ms := &modelServer{}
	model := openaitest.Handler(openaitest.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms.requests.Add(1)
		ms.inFlight.Add(1)
		defer ms.inFlight.Add(-1)
		select {
		case <-time.After(pause):
			model.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	ms.url, ms.srv = srv.URL+"/v1", srv
	return ms
}

// settle drops the connections of a stopped runner, so that a request it sent just before it
// stopped cannot reach the server later and be counted against the next runner, and waits for the
// requests being answered to end.
func (ms *modelServer) settle(t *testing.T) {
	t.Helper()
	ms.srv.CloseClientConnections()
	waitFor(t, "the stopped runner's requests to end", func() bool { return ms.inFlight.Load() == 0 })
}

func openTestStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newTestRunner(st *store.Store) *Runner {
	genFor := func(m store.Model) (inference.Generator, error) {
		return inference.NewOpenAI(inference.OpenAIConfig{BaseURL: m.Endpoint}), nil
	}
	return New(st, genFor, live.NewHub(16), slog.New(slog.NewTextHandler(io.Discard, nil)), 2)
}

// startRunner runs r until the returned stop is called; stop waits for Run to return.
func startRunner(t *testing.T, r *Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRestartFinishesAnInterruptedJob(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	model := newModelServer(t, 100*time.Millisecond)
	m, err := st.CreateModel(ctx, store.ModelInput{Name: "test-model", Endpoint: model.url})
	if err != nil {
		t.Fatal(err)
	}
	var promptIDs []int64
	for i := range 4 {
		p, err := st.CreatePrompt(ctx, store.PromptInput{Text: fmt.Sprintf("Explain ownership, part %d.", i+1)}, 0)
		if err != nil {
			t.Fatal(err)
		}
		promptIDs = append(promptIDs, p.ID)
	}
	params := []store.Sampling{{Temperature: 0.2, TopP: 0.95, MaxTokens: 256}, {Temperature: 0.7, TopP: 0.95, MaxTokens: 256},
		{Temperature: 1, TopP: 0.95, MaxTokens: 256}}
	job, err := st.CreateJob(ctx, store.NewJob{ModelID: m.ID, Filter: store.PromptFilter{}, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	jobNow := func() store.Job {
		j, err := st.Job(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}

	stop := startRunner(t, newTestRunner(st))
	waitFor(t, "two answers and more in flight", func() bool { return jobNow().Done >= 2 && model.inFlight.Load() > 0 })
	stop()
	interrupted := jobNow()
	if interrupted.Status != store.JobRunning {
		t.Fatalf("interrupted job is %s, want running", interrupted.Status)
	}
	if interrupted.Done >= interrupted.Total {
		t.Fatalf("job finished (%d/%d) before it could be interrupted", interrupted.Done, interrupted.Total)
	}

	model.settle(t)
	asked := model.requests.Load()
	startRunner(t, newTestRunner(st))
	waitFor(t, "the resumed job to finish", func() bool { return jobNow().Finished() })
	finished := jobNow()
	if finished.Status != store.JobSucceeded || finished.Done != finished.Total || finished.Total != 12 {
		t.Fatalf("resumed job ended %s with %d/%d answers, want succeeded with 12/12", finished.Status, finished.Done, finished.Total)
	}
	if again := model.requests.Load() - asked; again != int64(finished.Total-interrupted.Done) {
		t.Errorf("the restarted runner asked %d times, want %d (only the missing answers)", again, finished.Total-interrupted.Done)
	}
	for _, id := range promptIDs {
		answers, err := st.ItemResponses(ctx, job.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(answers) != len(params) {
			t.Errorf("prompt %d has %d answers, want %d", id, len(answers), len(params))
			continue
		}
		for slot, a := range answers {
			if a.Slot != slot || a.Text == "" {
				t.Errorf("prompt %d: answer %d is slot %d with %d bytes", id, slot, a.Slot, len(a.Text))
			}
		}
	}
}
