package training

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EstimateSteps is how many optimizer steps an estimate trains by default.
const EstimateSteps = 10

// Estimate is what a short trial run of a request's settings predicts for the full run.
type Estimate struct {
	TrialSteps     int     // steps the trial trained
	SecondsPerStep float64 // measured after the first step (kernels warm, memory allocated)
	StartSeconds   float64 // from launching the worker to the end of its first step (loading, first step)
	TotalSteps     int     // steps of the full run
	Seconds        float64 // predicted wall time of the full run
	PeakGiB        float64 // peak GPU memory of the trial (0 on CPU)
	Device         string
	Cost           float64 // Seconds at the hourly price (0 when no price is set)
	Hourly         float64
}

// String is the estimate in one paragraph.
func (e Estimate) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d steps at %.2f s/step after a start of %.0f s (measured over a %d-step trial on %s): about %s",
		e.TotalSteps, e.SecondsPerStep, e.StartSeconds, e.TrialSteps, e.Device, time.Duration(e.Seconds*float64(time.Second)).Round(time.Second))
	if e.PeakGiB > 0 {
		fmt.Fprintf(&b, ", peak GPU memory %.1f GiB", e.PeakGiB)
	}
	if e.Hourly > 0 {
		fmt.Fprintf(&b, ", cost %.2f at %.2f per hour", e.Cost, e.Hourly)
	}
	return b.String()
}

// TotalSteps is the number of optimizer steps a run of cfg makes over rows dataset rows: its
// max_steps when set, else epochs × ceil(training rows / rows per step).
func TotalSteps(cfg Config, rows int) int {
	h := cfg.Hyperparameters
	if h.MaxSteps > 0 {
		return h.MaxSteps
	}
	train := rows - int(math.Round(float64(rows)*cfg.EvalFraction))
	perStep := max(h.PerDeviceBatchSize, 1) * max(h.GradientAccumulation, 1) * max(cfg.GPUs, 1)
	return int(math.Ceil(h.Epochs * math.Ceil(float64(train)/float64(perStep))))
}

// Estimate trains the request's settings for a few steps (steps ≤ 0: EstimateSteps) in a
// temporary folder, times the steps as the worker reports them and extrapolates the full run's
// time, memory and cost (hourly: the GPU's price per hour, 0 for none). Nothing is stored. It
// holds the GPU meanwhile: ErrBusy while a run of this runner trains or another estimate runs,
// and no run starts until it ends.
func (r *Runner) Estimate(ctx context.Context, req Request, steps int, hourly float64, logw io.Writer) (Estimate, error) {
	release, err := r.holdGPU()
	if err != nil {
		return Estimate{}, err
	}
	defer release()
	return r.estimate(ctx, req, steps, hourly, logw, nil)
}

// estimate is Estimate without taking the GPU; progress, when set, hears each trial step.
func (r *Runner) estimate(ctx context.Context, req Request, steps int, hourly float64, logw io.Writer, progress func(step, of int)) (Estimate, error) {
	if steps <= 0 {
		steps = EstimateSteps
	}
	cfg, err := r.BuildConfig(ctx, req, 0)
	if err != nil {
		return Estimate{}, err
	}
	ds, err := r.store.Dataset(ctx, req.DatasetID)
	if err != nil {
		return Estimate{}, err
	}
	total := TotalSteps(cfg, ds.Rows)
	dir, err := os.MkdirTemp("", "rustexpert-estimate-")
	if err != nil {
		return Estimate{}, err
	}
	defer os.RemoveAll(dir)
	trial := cfg
	trial.OutputDir = filepath.Join(dir, "output")
	trial.EvalFraction = 0
	trial.Hyperparameters.MaxSteps = min(steps, total)
	trial.Hyperparameters.LoggingSteps = 1
	trial.Hyperparameters.SaveSteps = 1 << 30
	trial.Hyperparameters.EvalSteps = 0
	path := filepath.Join(dir, "run.json")
	if err := os.WriteFile(path, trial.JSON(), 0o644); err != nil {
		return Estimate{}, err
	}
	if progress != nil {
		progress(0, trial.Hyperparameters.MaxSteps)
	}
	t, err := r.timeTrial(ctx, req.Kind, path, trial.GPUs, logw, progress)
	if err != nil {
		return Estimate{}, err
	}
	t.TotalSteps, t.Hourly = total, hourly
	t.Seconds = t.StartSeconds + float64(max(total-1, 0))*t.SecondsPerStep
	t.Cost = t.Seconds / 3600 * hourly
	return t, nil
}

// timeTrial runs the worker and times its metric events: the first step's arrival marks the
// end of the start, the rest give the pace.
func (r *Runner) timeTrial(ctx context.Context, kind, configPath string, gpus int, logw io.Writer, progress func(step, of int)) (Estimate, error) {
	args := r.Command(kind, configPath, gpus)
	cmd := workerCommand(ctx, args, r.opt.WorkerDir, r.workerEnv(), logw, r.opt.Grace)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Estimate{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Estimate{}, fmt.Errorf("could not run the training worker (%s): %w", args[0], err)
	}
	est, failure := readTrial(out, start, progress)
	waitErr := cmd.Wait()
	switch {
	case failure != "":
		return Estimate{}, errors.New(failure)
	case waitErr != nil:
		return Estimate{}, fmt.Errorf("training worker: %w", waitErr)
	case est.TrialSteps < 2:
		return Estimate{}, fmt.Errorf("the trial trained %d step(s); at least 2 are needed to time a step", est.TrialSteps)
	}
	return est, nil
}

// readTrial reads the trial's events: the arrival time of each step's loss, the device and the
// peak memory of the done event, or the error event's message. progress, when set, hears each
// step with the trial's step count from the start event.
func readTrial(out io.Reader, start time.Time, progress func(step, of int)) (Estimate, string) {
	var est Estimate
	var first, last time.Time
	var firstStep, lastStep, maxSteps int
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		e, ok := ParseEvent(sc.Bytes())
		if !ok {
			continue
		}
		switch e.Event {
		case "start":
			est.Device, maxSteps = e.DeviceText(), e.MaxSteps
		case "metric":
			if _, hasLoss := e.Metrics["loss"]; !hasLoss {
				continue
			}
			now := time.Now()
			if first.IsZero() {
				first, firstStep = now, e.Step
			}
			last, lastStep = now, e.Step
			est.TrialSteps = e.Step
			if progress != nil {
				progress(e.Step, maxSteps)
			}
		case "done":
			est.PeakGiB = e.Metrics["peak_memory_gib"]
		case "error":
			return est, e.Message
		}
	}
	est.StartSeconds = first.Sub(start).Seconds()
	if lastStep > firstStep {
		est.SecondsPerStep = last.Sub(first).Seconds() / float64(lastStep-firstStep)
	}
	return est, ""
}
