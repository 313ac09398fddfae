// Package generation runs generation jobs: for every prompt of a job, N answers from one model,
// each written to the database as soon as it is done, so a restarted job redoes nothing.
package generation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"rustexpert/inference"
	"rustexpert/live"
	"rustexpert/rag"
	"rustexpert/store"
)

// GeneratorFor returns the generator that reaches a registered model.
type GeneratorFor func(m store.Model) (inference.Generator, error)

// Progress is what the live progress bar shows; it is published as JSON on topic "job:<id>".
type Progress struct {
	JobID        int64   `json:"job_id"`
	Status       string  `json:"status"`
	Done         int     `json:"done"`
	Total        int     `json:"total"`
	Errors       int     `json:"errors"`
	Tokens       int     `json:"tokens"`
	TokensPerSec float64 `json:"tokens_per_sec"`
	LastError    string  `json:"last_error,omitempty"`
}

// Topic is the live topic of a job's progress.
func Topic(jobID int64) string { return fmt.Sprintf("job:%d", jobID) }

// Runner runs queued jobs one at a time, answering a job's prompts with a pool of workers.
type Runner struct {
	store   *store.Store
	genFor  GeneratorFor
	hub     *live.Hub
	log     *slog.Logger
	workers int
	wake    chan struct{}
	// Retrieve finds the documentation for the prompts of "+rag" jobs; nil: such jobs fail.
	Retrieve rag.Retriever

	mu      sync.Mutex
	current int64
	cancel  context.CancelFunc
}

// New returns a runner; workers is the number of answers generated at once.
func New(st *store.Store, genFor GeneratorFor, hub *live.Hub, log *slog.Logger, workers int) *Runner {
	return &Runner{store: st, genFor: genFor, hub: hub, log: log, workers: max(1, workers), wake: make(chan struct{}, 1)}
}

// Wake tells the runner that a job was queued.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Cancel stops the job if it is the one running now. The job's status is the caller's to set.
func (r *Runner) Cancel(jobID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current == jobID && r.cancel != nil {
		r.cancel()
	}
}

// Run processes queued jobs until ctx is done. Jobs left running by an earlier process are
// queued again first, so they resume where they stopped.
func (r *Runner) Run(ctx context.Context) error {
	if n, err := r.store.RequeueRunningJobs(ctx); err != nil {
		return fmt.Errorf("requeue jobs: %w", err)
	} else if n > 0 {
		r.log.Info("resuming interrupted jobs", slog.Int("jobs", n))
	}
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	for {
		job, ok, err := r.store.ClaimNextJob(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Error("claim job", slog.Any("error", err))
		}
		if ok {
			r.runJob(ctx, job)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-ticker.C:
		}
	}
}

// RunOne runs one queued job to its end in the caller's goroutine (for the CLI).
func (r *Runner) RunOne(ctx context.Context, jobID int64) error {
	job, ok, err := r.store.ClaimNextJob(ctx)
	if err != nil {
		return err
	}
	if !ok || job.ID != jobID {
		return fmt.Errorf("job %d is not the next queued job", jobID)
	}
	r.runJob(ctx, job)
	return nil
}

func (r *Runner) runJob(parent context.Context, job store.Job) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	r.mu.Lock()
	r.current, r.cancel = job.ID, cancel
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.current, r.cancel = 0, nil
		r.mu.Unlock()
	}()
	log := r.log.With(slog.Int64("job_id", job.ID), slog.String("model", job.ModelName))
	log.Info("job started", slog.Int("total", job.Total), slog.Int("done", job.Done))
	status, msg := r.answerAll(ctx, job, log)
	switch {
	case parent.Err() != nil:
		// Shutting down: leave the job running so the next start resumes it.
		log.Info("job paused for shutdown")
		return
	case status == "":
		log.Info("job cancelled")
	default:
		if err := r.store.FinishJob(context.WithoutCancel(ctx), job.ID, status, msg); err != nil {
			log.Error("finish job", slog.Any("error", err))
		}
		log.Info("job finished", slog.String("status", status))
	}
	r.publish(context.WithoutCancel(ctx), job.ID, time.Now(), 0)
}

// answerAll generates every missing answer of the job. It returns the final status, or ""
// when the job was cancelled.
func (r *Runner) answerAll(ctx context.Context, job store.Job, log *slog.Logger) (status, msg string) {
	model, err := r.store.Model(ctx, job.ModelID)
	if err != nil {
		return store.JobFailed, err.Error()
	}
	gen, err := r.genFor(model)
	if err != nil {
		return store.JobFailed, err.Error()
	}
	if job.RAG {
		if r.Retrieve == nil {
			return store.JobFailed, "this job answers with retrieved documentation, but no documentation index is set up"
		}
		gen = rag.Augmented{Gen: gen, Retrieve: r.Retrieve}
	}
	tasks, err := r.store.PendingTasks(ctx, job)
	if err != nil {
		return store.JobFailed, err.Error()
	}
	w := &jobWork{r: r, job: job, model: model, gen: gen, log: log, start: time.Now()}
	failed, lastErr := w.run(ctx, tasks)
	if st, _ := r.store.JobStatus(context.WithoutCancel(ctx), job.ID); st == store.JobCancelled {
		return "", ""
	}
	if ctx.Err() != nil {
		return "", ""
	}
	if failed > 0 {
		return store.JobFailed, fmt.Sprintf("%d answers failed (the last: %v); resume the job to retry them", failed, lastErr)
	}
	return store.JobSucceeded, ""
}

// jobWork is one run of one job.
type jobWork struct {
	r      *Runner
	job    store.Job
	model  store.Model
	gen    inference.Generator
	log    *slog.Logger
	start  time.Time
	mu     sync.Mutex
	tokens int
}

// run answers the tasks with the runner's workers; it returns how many failed and the last failure.
func (w *jobWork) run(ctx context.Context, tasks []store.Task) (failed int, lastErr error) {
	todo := make(chan store.Task)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range w.r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range todo {
				if err := w.answer(ctx, t); err != nil && ctx.Err() == nil {
					mu.Lock()
					failed++
					lastErr = err
					mu.Unlock()
				}
			}
		}()
	}
	for _, t := range tasks {
		select {
		case todo <- t:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(todo)
	wg.Wait()
	return failed, lastErr
}

func (w *jobWork) answer(ctx context.Context, t store.Task) error {
	p := w.job.Params[t.Slot]
	req := inference.Request{
		Model:    w.model.ServedName,
		Messages: []inference.Message{{Role: "user", Content: t.PromptText}},
		Params:   inference.Params{Temperature: p.Temperature, TopP: p.TopP, MaxTokens: p.MaxTokens, Seed: p.Seed},
		N:        1,
	}
	began := time.Now()
	res, err := w.gen.Chat(ctx, req, nil)
	if err == nil && len(res.Choices) == 0 {
		err = errors.New("the model returned no answer")
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		w.log.Warn("answer failed", slog.Int64("prompt_id", t.PromptID), slog.Int("slot", t.Slot), slog.Any("error", err))
		w.r.store.RecordJobError(context.WithoutCancel(ctx), w.job.ID, fmt.Sprintf("prompt %d, answer %d: %v", t.PromptID, t.Slot+1, err))
		w.r.publish(ctx, w.job.ID, w.start, w.addTokens(0))
		return err
	}
	c := res.Choices[0]
	resp := store.Response{
		PromptID: t.PromptID, ModelID: w.model.ID, JobID: w.job.ID, Slot: t.Slot, Params: p,
		Text: c.Text, Tokens: res.Usage.CompletionTokens, LatencyMS: time.Since(began).Milliseconds(), FinishReason: c.FinishReason,
	}
	if err := w.r.store.SaveResponse(context.WithoutCancel(ctx), resp); err != nil {
		w.log.Error("save answer", slog.Any("error", err))
		return err
	}
	w.r.publish(ctx, w.job.ID, w.start, w.addTokens(resp.Tokens))
	return nil
}

func (w *jobWork) addTokens(n int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tokens += n
	return w.tokens
}

// publish sends the job's progress, read after the commit, to its live subscribers.
func (r *Runner) publish(ctx context.Context, jobID int64, start time.Time, tokensThisRun int) {
	if r.hub == nil {
		return
	}
	job, err := r.store.Job(context.WithoutCancel(ctx), jobID)
	if err != nil {
		return
	}
	msg, _ := json.Marshal(ProgressOf(job, tokensThisRun, time.Since(start)))
	r.hub.Publish(Topic(jobID), msg)
}

// ProgressOf turns a job row into its progress message.
func ProgressOf(job store.Job, tokensThisRun int, elapsed time.Duration) Progress {
	p := Progress{JobID: job.ID, Status: job.Status, Done: job.Done, Total: job.Total, Errors: job.Errors, Tokens: job.Tokens, LastError: job.LastError}
	if elapsed > 0 && tokensThisRun > 0 {
		p.TokensPerSec = float64(tokensThisRun) / elapsed.Seconds()
	}
	return p
}
