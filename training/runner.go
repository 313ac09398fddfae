package training

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"rustexpert/live"
	"rustexpert/snapshot"
	"rustexpert/store"
)

// Worker exit codes (training/worker/__init__.py).
const (
	exitOK          = 0
	exitFailed      = 1
	exitRefused     = 2
	exitMissing     = 3
	exitInterrupted = 4
)

// exitMeaning explains the worker's exit codes in failure messages.
var exitMeaning = map[int]string{
	exitFailed:      "training failed",
	exitRefused:     "the config or the dataset was refused before training",
	exitMissing:     "a required Python package is missing",
	exitInterrupted: "stopped by SIGTERM after saving a checkpoint",
}

// logTailLines is how many lines of the worker's log the run page shows.
const logTailLines = 200

// DefaultGrace is how long a worker has to save a checkpoint after SIGTERM before SIGKILL.
const DefaultGrace = 30 * time.Second

// Options configure a Runner.
type Options struct {
	Python    string        // interpreter with torch, transformers, peft, trl (default python3)
	WorkerDir string        // the folder holding the worker package (training/); put on PYTHONPATH
	DataDir   string        // runs live in DataDir/runs/<id>/; dataset snapshot paths are relative to it
	Grace     time.Duration // SIGTERM to SIGKILL (default 30 s)
	Env       []string      // extra environment for the worker (KEY=value)
	// OnEvent, when set, is called with every protocol event after it was stored and published
	// (the command line prints progress from it).
	OnEvent func(runID int64, e Event)
}

// Runner runs queued training runs one at a time (one GPU), each as a worker process in its own
// process group, storing and publishing what the worker reports.
type Runner struct {
	store *store.Store
	hub   *live.Hub
	log   *slog.Logger
	opt   Options
	wake  chan struct{}

	mu    sync.Mutex
	cur   *attempt // the run being worked on now, nil when idle
	tasks tasks    // background estimates and exports (tasks.go)
}

// New returns a runner.
func New(st *store.Store, hub *live.Hub, log *slog.Logger, opt Options) *Runner {
	if opt.Python == "" {
		opt.Python = "python3"
	}
	if opt.Grace <= 0 {
		opt.Grace = DefaultGrace
	}
	if opt.WorkerDir != "" {
		if abs, err := filepath.Abs(opt.WorkerDir); err == nil {
			opt.WorkerDir = abs
		}
	}
	if abs, err := filepath.Abs(opt.DataDir); err == nil {
		opt.DataDir = abs
	}
	return &Runner{store: st, hub: hub, log: log, opt: opt, wake: make(chan struct{}, 1)}
}

// Python is the interpreter the runner starts workers with.
func (r *Runner) Python() string { return r.opt.Python }

// Topic is the live topic of a run's updates.
func Topic(runID int64) string { return fmt.Sprintf("run:%d", runID) }

// RunDir is the folder of a run: run.json, output/ (checkpoints and the adapter), worker.log.
func (r *Runner) RunDir(id int64) string {
	return filepath.Join(r.opt.DataDir, "runs", fmt.Sprint(id))
}

// Command is the worker's command line for a run of kind with its run.json at configPath;
// with more than one GPU, torchrun starts one worker per GPU (data parallel).
func (r *Runner) Command(kind, configPath string, gpus int) []string {
	worker := []string{"-m", "worker", kind, "--config", configPath}
	if gpus > 1 {
		launch := []string{r.opt.Python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", strconv.Itoa(gpus)}
		return append(launch, worker...)
	}
	return append([]string{r.opt.Python}, worker...)
}

// Wake tells the runner that a run was queued.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run works through queued runs, oldest first, until ctx is done. Runs left running by an
// earlier process are marked interrupted first: their worker is gone, and Resume goes on from
// their last checkpoint.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.interruptLeftRuns(ctx); err != nil {
		return err
	}
	ticker := time.NewTicker(5 * time.Second)
	defer ticker.Stop()
	for {
		a, ok, err := r.claim(ctx, 0)
		if err != nil && ctx.Err() == nil {
			r.log.Error("claim training run", slog.Any("error", err))
		}
		if ok {
			r.execute(ctx, a)
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

// RunOne runs the queued run id to its end in the caller's goroutine (for the command line)
// and returns its final row.
func (r *Runner) RunOne(ctx context.Context, id int64) (store.Run, error) {
	a, ok, err := r.claim(ctx, id)
	if err != nil {
		return store.Run{}, err
	}
	if !ok {
		return store.Run{}, fmt.Errorf("%w: run %d is not queued", store.ErrConflict, id)
	}
	r.execute(ctx, a)
	return r.store.Run(context.WithoutCancel(ctx), id)
}

// claim marks a queued run running and makes it the current one, under the lock so that a
// cancel never falls between the two.
func (r *Runner) claim(ctx context.Context, id int64) (*attempt, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil {
		return nil, false, fmt.Errorf("%w: run %d is running; one run at a time", store.ErrConflict, r.cur.run.ID)
	}
	if r.tasks.gpu { // an estimate holds the GPU; Run is woken when it ends
		if id != 0 {
			return nil, false, fmt.Errorf("%w: an estimate is using the GPU; start the run once it has ended", ErrBusy)
		}
		return nil, false, nil
	}
	release, err := lockGPUFile(r.opt.DataDir)
	if errors.Is(err, ErrBusy) && id == 0 {
		return nil, false, nil // Run tries again on its next tick
	} else if err != nil {
		return nil, false, err
	}
	run, ok, err := r.store.ClaimRun(ctx, id)
	if err != nil || !ok {
		release()
		return nil, false, err
	}
	r.cur = newAttempt(run)
	r.cur.releaseGPU = release
	return r.cur, true, nil
}

// interruptLeftRuns marks the runs a stopped process left running as interrupted, unless another
// live process holds the GPU lock: those runs are its, still training.
func (r *Runner) interruptLeftRuns(ctx context.Context) error {
	release, err := lockGPUFile(r.opt.DataDir)
	if errors.Is(err, ErrBusy) {
		r.log.Info("another process is training on this data folder; its runs are left alone")
		return nil
	} else if err != nil {
		return err
	}
	defer release()
	n, err := r.store.InterruptRunningRuns(ctx)
	if err != nil {
		return fmt.Errorf("mark interrupted training runs: %w", err)
	}
	if n > 0 {
		r.log.Info("training runs interrupted by the last stop", slog.Int("runs", n))
	}
	return nil
}

// Cancel stops a run: a queued one at once, a running one by SIGTERM to its worker's process
// group (SIGKILL after the grace period); it ends canceled, keeping its last checkpoint.
func (r *Runner) Cancel(ctx context.Context, id int64) error {
	r.mu.Lock()
	if r.cur != nil && r.cur.run.ID == id {
		r.cur.requestCancel()
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	if err := r.store.CancelQueuedRun(ctx, id); err != nil {
		return err
	}
	r.publishState(ctx, id)
	return nil
}

// Resume queues a failed, canceled or interrupted run again, resuming from its last checkpoint
// when that checkpoint is on disk (else from the start).
func (r *Runner) Resume(ctx context.Context, id int64) error {
	run, err := r.store.Run(ctx, id)
	if err != nil {
		return err
	}
	if !run.Resumable() {
		return fmt.Errorf("%w: run %d is %s; only failed, canceled or interrupted runs resume", store.ErrConflict, id, run.Status)
	}
	cfg, err := ParseConfig([]byte(run.ConfigJSON))
	if err != nil {
		return fmt.Errorf("run %d: %w", id, err)
	}
	cfg.ResumeFrom = ""
	if run.Checkpoint != "" {
		if _, err := os.Stat(filepath.Join(run.Checkpoint, "trainer_state.json")); err == nil {
			cfg.ResumeFrom = run.Checkpoint
		}
	}
	if err := r.store.RequeueRun(ctx, id, string(cfg.JSON())); err != nil {
		return err
	}
	r.Wake()
	r.publishState(ctx, id)
	return nil
}

// attempt is one start of one run's worker.
type attempt struct {
	run      store.Run
	stop     chan struct{} // closed on cancel
	once     sync.Once
	canceled bool // guarded by Runner.mu
	began    time.Time
	// releaseGPU gives back the data folder's GPU lock, taken with the claim.
	releaseGPU func()
	log        *logTail

	// Filled from the worker's events (by the stdout reader only).
	startStep  int
	done       *Event
	interrupt  *Event
	failure    string
	checkpoint string
	step       int
}

func newAttempt(run store.Run) *attempt {
	return &attempt{run: run, stop: make(chan struct{}), began: time.Now(), startStep: run.Step}
}

// requestCancel marks the attempt canceled and asks its worker to stop (call with Runner.mu held).
func (a *attempt) requestCancel() {
	a.canceled = true
	a.once.Do(func() { close(a.stop) })
}

func (r *Runner) isCanceled(a *attempt) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return a.canceled
}

// execute runs one claimed run to its end and records how it ended.
func (r *Runner) execute(ctx context.Context, a *attempt) {
	defer func() {
		r.mu.Lock()
		r.cur = nil
		r.mu.Unlock()
		a.releaseGPU()
	}()
	bg := context.WithoutCancel(ctx)
	log := r.log.With(slog.Int64("run_id", a.run.ID), slog.String("kind", a.run.Kind))
	end := r.attemptRun(ctx, a, log)
	if err := r.store.FinishRun(bg, a.run.ID, end); err != nil {
		log.Error("finish training run", slog.Any("error", err))
		if end.Model != nil {
			// The model could not be registered: the run failed at its last step.
			end = store.RunEnd{Status: store.RunFailed, Error: "registering the trained model failed: " + err.Error(), Step: end.Step}
			_ = r.store.FinishRun(bg, a.run.ID, end)
		}
	}
	log.Info("training run ended", slog.String("status", end.Status), slog.Int("step", end.Step))
	r.publishState(bg, a.run.ID)
}

// attemptRun prepares the run folder, checks the dataset, runs the worker and says how it ended.
func (r *Runner) attemptRun(ctx context.Context, a *attempt, log *slog.Logger) store.RunEnd {
	fail := func(format string, args ...any) store.RunEnd {
		return store.RunEnd{Status: store.RunFailed, Error: fmt.Sprintf(format, args...), Step: a.run.Step}
	}
	cfg, err := ParseConfig([]byte(a.run.ConfigJSON))
	if err != nil {
		return fail("run %d: %v", a.run.ID, err)
	}
	dir := r.RunDir(a.run.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail("run folder: %v", err)
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "worker.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail("worker log: %v", err)
	}
	defer logFile.Close()
	r.mu.Lock()
	a.log = newLogTail(logFile, func(lines []string) { r.publish(a.run.ID, Update{Type: "log", Lines: lines}) })
	r.mu.Unlock()
	if msg := r.checkDataset(ctx, a.run.Kind, cfg.Dataset); msg != "" {
		a.log.line("dataset refused before training: " + msg)
		return fail("%s", msg)
	}
	configPath := filepath.Join(dir, "run.json")
	if err := os.WriteFile(configPath, cfg.JSON(), 0o644); err != nil {
		return fail("write %s: %v", configPath, err)
	}
	if r.isCanceled(a) {
		return store.RunEnd{Status: store.RunCanceled, Error: "canceled before the worker started", Step: a.run.Step}
	}
	r.publishState(ctx, a.run.ID)
	code, err := r.runWorker(ctx, a, dir, configPath, cfg.GPUs)
	if err != nil {
		log.Error("training worker", slog.Any("error", err))
		return fail("could not run the training worker (%s): %v", r.opt.Python, err)
	}
	return r.outcome(ctx, a, cfg, code)
}

// checkDataset re-validates the snapshot file with the dataset validator; it returns the
// report's problems, or "" when the file is fine.
func (r *Runner) checkDataset(ctx context.Context, kind, path string) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("dataset %s: %v", path, err)
	}
	defer f.Close()
	rep, err := snapshot.Validate(ctx, r.store, f, kind)
	if err != nil {
		return fmt.Sprintf("dataset %s: %v", path, err)
	}
	if rep.OK() {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dataset %s did not validate as %s:", path, kind)
	for i, p := range rep.Problems {
		if i == 20 {
			fmt.Fprintf(&b, "\n… %d more", len(rep.Problems)-i+rep.MoreProblems)
			break
		}
		b.WriteString("\n" + p.String())
	}
	if rep.MoreProblems > 0 && len(rep.Problems) <= 20 {
		fmt.Fprintf(&b, "\n… %d more", rep.MoreProblems)
	}
	return b.String()
}

// outcome turns the worker's exit code and events into the run's end.
func (r *Runner) outcome(ctx context.Context, a *attempt, cfg Config, code int) store.RunEnd {
	end := store.RunEnd{Step: a.step, Checkpoint: a.checkpoint}
	switch {
	case r.isCanceled(a):
		end.Status, end.Error = store.RunCanceled, "canceled"
		if a.checkpoint != "" {
			end.Error += "; resume goes on from " + a.checkpoint
		}
	case code == exitOK && a.done != nil:
		end.Status = store.RunDone
		end.MetricsJSON = metricsJSON(a.done.Metrics)
		model, err := r.outputModel(ctx, a.run, cfg, a.done.Output)
		if err != nil {
			end.Status, end.Error = store.RunFailed, err.Error()
		} else {
			end.Model = &model
		}
	case ctx.Err() != nil || code == exitInterrupted:
		end.Status, end.Error = store.RunInterrupted, "interrupted (the app stopped or the worker got SIGTERM)"
	default:
		end.Status, end.Error = store.RunFailed, a.failureMessage(code)
	}
	return end
}

func (a *attempt) failureMessage(code int) string {
	msg := a.failure
	if msg == "" {
		msg = fmt.Sprintf("the training worker exited with code %d", code)
		if m, ok := exitMeaning[code]; ok {
			msg += " (" + m + ")"
		}
		if code == exitOK {
			msg += " without a done event"
		}
	}
	if tail := a.log.last(15); len(tail) > 0 {
		msg += "\n\nlast lines of worker.log:\n" + strings.Join(tail, "\n")
	}
	return msg
}

// outputModel is the registry entry of a finished run's adapter: a built-in model on the
// parent's base, named as the run asked (default v1 for SFT, v2 for DPO; made unique when stored).
func (r *Runner) outputModel(ctx context.Context, run store.Run, cfg Config, output string) (store.ModelInput, error) {
	if output == "" {
		output = cfg.OutputDir
	}
	if _, err := os.Stat(filepath.Join(output, "adapter_config.json")); err != nil {
		return store.ModelInput{}, fmt.Errorf("the worker reported done but %s holds no adapter: %v", output, err)
	}
	name := run.Name
	if name == "" {
		name = map[string]string{store.RunSFT: "v1", store.RunDPO: "v2"}[run.Kind]
	}
	in := store.ModelInput{Name: name, Provider: store.ProviderBuiltin, Base: cfg.Model, Adapter: output,
		ParentID: run.ParentID, DatasetID: run.DatasetID, Notes: fmt.Sprintf("run %d", run.ID)}
	if parent, err := r.store.Model(ctx, run.ParentID); err == nil {
		in.ChatTemplate, in.ContextLength = parent.ChatTemplate, parent.ContextLength
	}
	return in, nil
}

func metricsJSON(m map[string]float64) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// StopOnStdinEOF names the environment variable that tells a worker its stdin is a pipe held
// open by the app: end of stdin means the app is gone, and the worker kills its process group
// (training/worker/parent.py).
const StopOnStdinEOF = "RUSTEXPERT_STOP_ON_STDIN_EOF"

// runWorker starts the worker in its own process group, reads its events until it exits and
// returns its exit code. Cancel or the end of ctx sends SIGTERM to the group, SIGKILL after the
// grace period; whatever is left of the group after the worker exits is killed too. Should the
// app itself die, the worker does too: the kernel sends it SIGKILL (Pdeathsig) and its stdin
// reaches its end.
func (r *Runner) runWorker(ctx context.Context, a *attempt, dir, configPath string, gpus int) (int, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return 0, err
	}
	args := r.Command(a.run.Kind, configPath, gpus)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(r.workerEnv(), StopOnStdinEOF+"=1")
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The worker's stdin is a pipe whose write end only this process holds, closed by Wait: its
	// end tells the worker (and torchrun's ranks, which run in sessions of their own) that the
	// app is gone, even when the app was SIGKILLed.
	if _, err := cmd.StdinPipe(); err != nil {
		closeAll(outR, outW, errR, errW)
		return 0, err
	}
	a.log.line(fmt.Sprintf("=== %s: %s", time.Now().UTC().Format(time.RFC3339), strings.Join(args, " ")))
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return 0, err
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go r.stopOnCancel(ctx, a, pgid, exited)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); r.readEvents(ctx, a, outR) }()
	go func() { defer readers.Done(); a.log.copyFrom(errR) }()
	waitErr := cmd.Wait()
	close(exited)
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // leftovers of the group (no-op when none)
	closeAfter(&readers, 5*time.Second, outR, errR)
	code := cmd.ProcessState.ExitCode()
	if code < 0 { // killed by a signal
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			a.log.line(fmt.Sprintf("worker killed by %v", ws.Signal()))
		}
		var exitErr *exec.ExitError
		if waitErr != nil && !errors.As(waitErr, &exitErr) {
			return 0, waitErr
		}
	}
	return code, nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// closeAfter waits for the readers, closing their pipes after d if a process outside the group
// still holds the write ends.
func closeAfter(wg *sync.WaitGroup, d time.Duration, pipes ...*os.File) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		for _, p := range pipes {
			p.Close()
		}
		<-done
	}
	for _, p := range pipes {
		p.Close()
	}
}

// stopOnCancel sends SIGTERM to the worker's group on cancel or shutdown, then SIGKILL when it
// has not exited within the grace period.
func (r *Runner) stopOnCancel(ctx context.Context, a *attempt, pgid int, exited <-chan struct{}) {
	select {
	case <-exited:
		return
	case <-a.stop:
	case <-ctx.Done():
	}
	a.log.line(fmt.Sprintf("sending SIGTERM to the worker (process group %d); SIGKILL in %s", pgid, r.opt.Grace))
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(r.opt.Grace):
		a.log.line("the worker did not stop in time: SIGKILL")
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

func (r *Runner) workerEnv() []string {
	env := os.Environ()
	if r.opt.WorkerDir != "" {
		pp := r.opt.WorkerDir
		if old := os.Getenv("PYTHONPATH"); old != "" {
			pp += string(os.PathListSeparator) + old
		}
		env = append(env, "PYTHONPATH="+pp)
	}
	env = append(env, "PYTHONUNBUFFERED=1", "TOKENIZERS_PARALLELISM=false")
	return append(env, r.opt.Env...)
}

// readEvents reads the worker's stdout line by line; protocol events are stored, then
// published; other lines go to the log.
func (r *Runner) readEvents(ctx context.Context, a *attempt, out io.Reader) {
	br := bufio.NewReaderSize(out, 64<<10)
	for {
		line, err := readLine(br, 4<<20)
		if len(line) > 0 {
			if e, ok := ParseEvent(line); ok {
				r.handleEvent(context.WithoutCancel(ctx), a, e)
			} else {
				a.log.line("stdout: " + string(line))
			}
		}
		if err != nil {
			return
		}
	}
}

// readLine reads one line without its end; a line longer than limit is cut at limit and the
// rest of it dropped.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(buf)+len(chunk) <= limit {
			buf = append(buf, chunk...)
		}
		if err != nil || !isPrefix {
			return bytes.TrimRight(buf, "\r"), err
		}
	}
}

// handleEvent stores what an event says, then publishes it.
func (r *Runner) handleEvent(ctx context.Context, a *attempt, e Event) {
	id := a.run.ID
	var err error
	switch e.Event {
	case "start":
		r.mu.Lock()
		a.startStep, a.began = e.ResumedAt, time.Now()
		r.mu.Unlock()
		a.step = max(a.step, e.ResumedAt)
		err = r.store.StartRunAttempt(ctx, id, e.DeviceText(), e.MaxSteps, e.ResumedAt)
	case "metric":
		a.step = max(a.step, e.Step)
		err = r.store.AddRunMetrics(ctx, id, e.Points())
		r.publish(id, Update{Type: "metric", Step: e.Step, Metrics: e.Metrics})
	case "checkpoint":
		a.checkpoint, a.step = e.Path, max(a.step, e.Step)
		err = r.store.SaveRunCheckpoint(ctx, id, e.Step, e.Path)
	case "done":
		a.done, a.step = &e, max(a.step, e.Step)
	case "interrupted":
		a.interrupt, a.step = &e, max(a.step, e.Step)
		if e.Checkpoint != "" {
			a.checkpoint = e.Checkpoint
			err = r.store.SaveRunCheckpoint(ctx, id, e.Step, e.Checkpoint)
		}
	case "error":
		a.failure = e.Message
		if e.Checkpoint != "" {
			a.checkpoint = e.Checkpoint
		}
		a.log.line("worker error: " + e.Message)
	}
	if err != nil {
		r.log.Error("store training event", slog.Int64("run_id", id), slog.String("event", e.Event), slog.Any("error", err))
	}
	if e.Event != "metric" {
		r.publishState(ctx, id)
	}
	if r.opt.OnEvent != nil {
		r.opt.OnEvent(id, e)
	}
}

// Event is one protocol event from the worker's stdout.
type Event struct {
	Event      string             `json:"event"`
	Step       int                `json:"step"`
	MaxSteps   int                `json:"max_steps"`
	ResumedAt  int                `json:"resumed_at_step"`
	Device     string             `json:"device"`
	GPUName    string             `json:"gpu_name"`
	Path       string             `json:"path"`
	Output     string             `json:"output"`
	Checkpoint string             `json:"checkpoint"`
	Message    string             `json:"message"`
	Metrics    map[string]float64 `json:"-"`
}

// ParseEvent reads one stdout line; ok is false for a line that is not a protocol event (any
// JSON object with a string "event"). Metric values that are not finite numbers (the worker
// sends null for NaN) are left out.
func ParseEvent(line []byte) (Event, bool) {
	var raw struct {
		Event
		Metrics map[string]any `json:"metrics"`
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return Event{}, false
	}
	if err := json.Unmarshal(line, &raw); err != nil || raw.Event.Event == "" {
		return Event{}, false
	}
	e := raw.Event
	for k, v := range raw.Metrics {
		if f, ok := v.(float64); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
			if e.Metrics == nil {
				e.Metrics = map[string]float64{}
			}
			e.Metrics[k] = f
		}
	}
	return e, true
}

// DeviceText is the start event's device as the run page shows it ("cuda (NVIDIA H100 80GB)").
func (e Event) DeviceText() string {
	if e.GPUName != "" {
		return e.Device + " (" + e.GPUName + ")"
	}
	return e.Device
}

// Points are a metric event's values as rows.
func (e Event) Points() []store.MetricPoint {
	pts := make([]store.MetricPoint, 0, len(e.Metrics))
	for name, v := range e.Metrics {
		pts = append(pts, store.MetricPoint{Name: name, Step: e.Step, Value: v})
	}
	return pts
}

// Update is a message on a run's live topic: "state" (the run's status and progress),
// "metric" (one step's values) or "log" (new log lines).
type Update struct {
	Type    string             `json:"type"`
	State   *State             `json:"state,omitempty"`
	Step    int                `json:"step,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Lines   []string           `json:"lines,omitempty"`
}

func (r *Runner) publish(id int64, u Update) {
	if r.hub == nil {
		return
	}
	b, err := json.Marshal(u)
	if err != nil {
		return
	}
	r.hub.Publish(Topic(id), b)
}

// publishState sends the run's state, read after the commit.
func (r *Runner) publishState(ctx context.Context, id int64) {
	st, err := r.State(context.WithoutCancel(ctx), id)
	if err != nil {
		return
	}
	r.publish(id, Update{Type: "state", State: &st})
}

// State is a run's progress as the run page and its live updates show it.
type State struct {
	ID         int64              `json:"id"`
	Status     string             `json:"status"`
	Step       int                `json:"step"`
	MaxSteps   int                `json:"max_steps"`
	Percent    int                `json:"percent"`
	Device     string             `json:"device"`
	Checkpoint string             `json:"checkpoint"`
	Error      string             `json:"error"`
	StartedAt  string             `json:"started_at"`
	ElapsedS   float64            `json:"elapsed_s"`
	ETAS       float64            `json:"eta_s"` // -1 when unknown
	ModelID    int64              `json:"model_id"`
	ModelName  string             `json:"model_name"`
	Final      map[string]float64 `json:"final,omitempty"`
	Finished   bool               `json:"finished"`
}

// State reads a run's state; the ETA is known while it runs, from the pace of this attempt.
func (r *Runner) State(ctx context.Context, id int64) (State, error) {
	run, err := r.store.Run(ctx, id)
	if err != nil {
		return State{}, err
	}
	st := StateOf(run, time.Now())
	r.mu.Lock()
	if a := r.cur; a != nil && a.run.ID == id && run.Step > a.startStep && run.MaxSteps > 0 {
		perStep := time.Since(a.began).Seconds() / float64(run.Step-a.startStep)
		st.ETAS = math.Round(perStep * float64(max(0, run.MaxSteps-run.Step)))
	}
	r.mu.Unlock()
	return st, nil
}

// StateOf is a run row's state at time now, without an ETA.
func StateOf(run store.Run, now time.Time) State {
	st := State{ID: run.ID, Status: run.Status, Step: run.Step, MaxSteps: run.MaxSteps, Device: run.Device,
		Checkpoint: run.Checkpoint, Error: run.Error, ModelID: run.ModelID, ModelName: run.ModelName, ETAS: -1,
		Finished: run.Finished()}
	if run.MaxSteps > 0 {
		st.Percent = min(100, run.Step*100/run.MaxSteps)
	}
	if !run.StartedAt.IsZero() {
		st.StartedAt = run.StartedAt.UTC().Format(time.RFC3339)
		end := now
		if run.Finished() && !run.FinishedAt.IsZero() {
			end = run.FinishedAt
		}
		st.ElapsedS = math.Round(end.Sub(run.StartedAt).Seconds())
	}
	if run.MetricsJSON != "" {
		json.Unmarshal([]byte(run.MetricsJSON), &st.Final)
	}
	return st
}

// LogTail returns the last lines of a run's worker log: from memory while it runs, else from
// its worker.log.
func (r *Runner) LogTail(id int64) []string {
	r.mu.Lock()
	if a := r.cur; a != nil && a.run.ID == id && a.log != nil {
		r.mu.Unlock()
		return a.log.last(logTailLines)
	}
	r.mu.Unlock()
	return fileTail(filepath.Join(r.RunDir(id), "worker.log"), logTailLines)
}

// fileTail reads the last n lines of a file (at most its last 256 KiB).
func fileTail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const window = 256 << 10
	if info, err := f.Stat(); err == nil && info.Size() > window {
		f.Seek(info.Size()-window, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines[max(0, len(lines)-n):]
}

// logTail keeps the last lines of the worker's log in memory, appends every line to
// worker.log and hands new lines to publish.
type logTail struct {
	mu      sync.Mutex
	file    io.Writer
	lines   []string
	publish func([]string)
}

func newLogTail(file io.Writer, publish func([]string)) *logTail {
	return &logTail{file: file, publish: publish}
}

// line adds one line.
func (t *logTail) line(s string) { t.add([]string{s}) }

func (t *logTail) add(lines []string) {
	if len(lines) == 0 {
		return
	}
	t.mu.Lock()
	for _, l := range lines {
		io.WriteString(t.file, l+"\n")
	}
	t.lines = append(t.lines, lines...)
	if len(t.lines) > 2*logTailLines {
		t.lines = append([]string(nil), t.lines[len(t.lines)-logTailLines:]...)
	}
	t.mu.Unlock()
	t.publish(lines)
}

// last returns up to n of the newest lines.
func (t *logTail) last(n int) []string {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines[max(0, len(t.lines)-n):]...)
}

// copyFrom reads the worker's stderr; each read's complete lines become one batch (progress
// bars redraw with \r, so \r ends a line too).
func (t *logTail) copyFrom(r io.Reader) {
	buf := make([]byte, 32<<10)
	var partial []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			partial = append(partial, buf[:n]...)
			var lines []string
			for {
				i := bytes.IndexAny(partial, "\r\n")
				if i < 0 {
					break
				}
				if l := strings.TrimSpace(string(partial[:i])); l != "" {
					lines = append(lines, l)
				}
				partial = partial[i+1:]
			}
			if len(partial) > 16<<10 { // an endless line: cut it
				lines = append(lines, string(partial))
				partial = nil
			}
			t.add(lines)
		}
		if err != nil {
			if l := strings.TrimSpace(string(partial)); l != "" {
				t.line(l)
			}
			return
		}
	}
}
