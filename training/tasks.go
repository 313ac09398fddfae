package training

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"rustexpert/store"
)

// ErrBusy is a background task refused because the GPU or the task's slot is taken: a run is
// training, or another estimate or export is running. It is store.ErrConflict.
var ErrBusy = fmt.Errorf("%w: busy", store.ErrConflict)

// Task kinds.
const (
	TaskEstimate = "estimate"
	TaskExport   = "export"
)

// taskTimeout bounds a background estimate or export.
const taskTimeout = 2 * time.Hour

// taskLogLines is how many of a task worker's log lines are kept.
const taskLogLines = 40

// Task is a background job the web pages start besides runs: an estimate (one at a time, never
// while a run trains, and no run starts while it runs: they share the GPU) or an export (one at
// a time). Tasks live in memory; a restart forgets them.
type Task struct {
	ID      int64 // counts up from 1 per runner
	Kind    string
	What    string // what it works on, in words
	By      string // who started it
	Started time.Time
	Ended   time.Time // zero while it runs
	Error   string
	Log     []string // the worker's last log lines

	Step, Steps int       // estimate: trial steps reported so far, of Steps
	Estimate    *Estimate // estimate: the result

	Dir   string   // export: the folder written
	Files []string // export: its files
}

// Running reports whether the task has not ended.
func (t Task) Running() bool { return t.Ended.IsZero() }

// tasks are the runner's background tasks (guarded by Runner.mu).
type tasks struct {
	seq      int64
	gpu      bool // an estimate holds the GPU: no run is claimed
	estimate *taskState
	export   *taskState
}

// taskState is one task and what its goroutine needs.
type taskState struct {
	task   Task
	log    *lineBuffer
	cancel context.CancelFunc
}

// holdGPU takes the GPU for an estimate: ErrBusy while a run trains or another estimate holds
// it. Runs wait until release.
func (r *Runner) holdGPU() (release func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.gpuFree(); err != nil {
		return nil, err
	}
	releaseFile, err := lockGPUFile(r.opt.DataDir)
	if err != nil {
		return nil, err
	}
	r.tasks.gpu = true
	return func() {
		r.mu.Lock()
		r.tasks.gpu = false
		r.mu.Unlock()
		releaseFile()
		r.Wake()
	}, nil
}

// gpuFree says why an estimate cannot start now (call with r.mu held).
func (r *Runner) gpuFree() error {
	if r.cur != nil {
		return fmt.Errorf("%w: run %d is training on the GPU; estimate once it has ended", ErrBusy, r.cur.run.ID)
	}
	if r.tasks.gpu {
		return fmt.Errorf("%w: another estimate is using the GPU; wait for its result", ErrBusy)
	}
	return nil
}

// StartEstimate checks the request (a ConfigError lists its problems) and estimates it in the
// background (see Estimate), reporting progress and result through EstimateTask. It is ErrBusy
// while a run trains or another estimate runs; no queued run starts until it ends.
func (r *Runner) StartEstimate(ctx context.Context, req Request, steps int, hourly float64, by string) (Task, error) {
	cfg, err := r.BuildConfig(ctx, req, 0)
	if err != nil {
		return Task{}, err
	}
	ds, err := r.store.Dataset(ctx, req.DatasetID)
	if err != nil {
		return Task{}, err
	}
	if steps <= 0 {
		steps = EstimateSteps
	}
	what := estimateWhat(ctx, r.store, req)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), taskTimeout)
	release, err := r.holdGPU()
	if err != nil {
		cancel()
		return Task{}, err
	}
	r.mu.Lock()
	ts := r.newTask(TaskEstimate, what, by, cancel)
	ts.task.Steps = min(steps, TotalSteps(cfg, ds.Rows))
	r.tasks.estimate = ts
	task := ts.snapshot()
	r.mu.Unlock()
	go func() {
		defer cancel()
		progress := func(step, of int) {
			r.mu.Lock()
			ts.task.Step = step
			if of > 0 {
				ts.task.Steps = of
			}
			r.mu.Unlock()
		}
		est, err := r.estimate(bg, req, steps, hourly, ts.log, progress)
		r.mu.Lock()
		ts.end(bg, err)
		if err == nil {
			ts.task.Estimate = &est
		}
		r.mu.Unlock()
		release()
	}()
	return task, nil
}

// estimateWhat names what an estimate trains: "SFT of base on dataset 3".
func estimateWhat(ctx context.Context, st *store.Store, req Request) string {
	parent := fmt.Sprintf("model %d", req.ParentID)
	if m, err := st.Model(ctx, req.ParentID); err == nil {
		parent = m.Name
	}
	return fmt.Sprintf("%s of %s on dataset %d", strings.ToUpper(req.Kind), parent, req.DatasetID)
}

// EstimateTask is the running or last estimate; false when there was none since the start.
func (r *Runner) EstimateTask() (Task, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tasks.estimate == nil {
		return Task{}, false
	}
	return r.tasks.estimate.snapshot(), true
}

// CancelEstimate stops the running estimate (SIGTERM to its worker's group, SIGKILL after the
// grace period); false when none runs.
func (r *Runner) CancelEstimate() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := r.tasks.estimate
	if ts == nil || !ts.task.Running() {
		return false
	}
	ts.cancel()
	return true
}

// StartExport checks the request and exports it in the background (see Export) with the
// runner's Python and worker, reporting through ExportTask. It is ErrBusy while another export
// runs.
func (r *Runner) StartExport(ctx context.Context, req ExportRequest, by string) (Task, error) {
	if err := checkExport(req); err != nil {
		return Task{}, err
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), taskTimeout)
	r.mu.Lock()
	if ts := r.tasks.export; ts != nil && ts.task.Running() {
		r.mu.Unlock()
		cancel()
		return Task{}, fmt.Errorf("%w: the export of %s is running; one export at a time", ErrBusy, ts.task.What)
	}
	kind := "adapter"
	if req.Merged {
		kind = "merged"
	}
	ts := r.newTask(TaskExport, fmt.Sprintf("%s (%s)", req.Model.Name, kind), by, cancel)
	ts.task.Dir = req.Out
	r.tasks.export = ts
	task := ts.snapshot()
	r.mu.Unlock()
	go func() {
		defer cancel()
		files, err := Export(bg, r.opt.Python, r.opt.WorkerDir, req, ts.log)
		r.mu.Lock()
		ts.end(bg, err)
		ts.task.Files = files
		r.mu.Unlock()
	}()
	return task, nil
}

// ExportTask is the running or last export; false when there was none since the start.
func (r *Runner) ExportTask() (Task, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tasks.export == nil {
		return Task{}, false
	}
	return r.tasks.export.snapshot(), true
}

// newTask makes the next task (call with r.mu held).
func (r *Runner) newTask(kind, what, by string, cancel context.CancelFunc) *taskState {
	r.tasks.seq++
	return &taskState{task: Task{ID: r.tasks.seq, Kind: kind, What: what, By: by, Started: time.Now()},
		log: &lineBuffer{keep: taskLogLines}, cancel: cancel}
}

// end records how a task ended (call with Runner.mu held).
func (ts *taskState) end(ctx context.Context, err error) {
	ts.task.Ended = time.Now()
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		ts.task.Error = fmt.Sprintf("stopped after %s: %v", taskTimeout, err)
	case ctx.Err() != nil:
		ts.task.Error = "canceled"
	default:
		ts.task.Error = err.Error()
	}
}

// snapshot copies the task with its log (call with Runner.mu held).
func (ts *taskState) snapshot() Task {
	t := ts.task
	t.Log = ts.log.lines()
	t.Files = append([]string(nil), t.Files...)
	return t
}

// lineBuffer is an io.Writer that keeps the last lines written (\r ends a line too, as
// progress bars redraw with it).
type lineBuffer struct {
	mu      sync.Mutex
	keep    int
	partial []byte
	last    []string
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexAny(b.partial, "\r\n")
		if i < 0 {
			break
		}
		b.add(string(b.partial[:i]))
		b.partial = b.partial[i+1:]
	}
	if len(b.partial) > 16<<10 { // an endless line: cut it
		b.add(string(b.partial))
		b.partial = nil
	}
	return len(p), nil
}

func (b *lineBuffer) add(line string) {
	if line = strings.TrimSpace(line); line == "" {
		return
	}
	b.last = append(b.last, line)
	if len(b.last) > 2*b.keep {
		b.last = append([]string(nil), b.last[len(b.last)-b.keep:]...)
	}
}

// lines returns the kept lines, the unfinished one last.
func (b *lineBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]string(nil), b.last[max(0, len(b.last)-b.keep):]...)
	if l := strings.TrimSpace(string(b.partial)); l != "" {
		out = append(out, l)
	}
	return out
}
