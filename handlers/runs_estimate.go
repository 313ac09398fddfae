package handlers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"rustexpert/store"
	"rustexpert/training"
	"rustexpert/web"
)

// handleRunEstimate starts an estimate of the form's settings ("Estimate first"): a few steps
// trained in a temporary folder in the background, one estimate at a time and never beside a
// run, since both need the GPU. It answers with the estimate box, which polls itself while the
// trial runs; a busy GPU or the form's problems are said in the box.
func (s *Server) handleRunEstimate(w http.ResponseWriter, r *http.Request) {
	tr, err := s.trainer()
	if err != nil {
		s.error(w, r, err)
		return
	}
	req, problems := runRequest(r)
	price, err := gpuPrice(r.FormValue("gpu_price"))
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		s.render(w, r, http.StatusOK, web.RunEstimateView(web.RunEstimate{Shown: true, Problems: problems}))
		return
	}
	_, err = tr.StartEstimate(r.Context(), req, training.EstimateSteps, price, userFrom(r).Name)
	var ce *training.ConfigError
	var box web.RunEstimate
	switch {
	case errors.As(err, &ce):
		box = web.RunEstimate{Shown: true, Problems: ce.Problems}
	case errors.Is(err, training.ErrBusy):
		box = estimateBox(tr, time.Now())
		box.Shown, box.Busy = true, busyMessage(err)
	case err != nil:
		s.error(w, r, err)
		return
	default:
		box = estimateBox(tr, time.Now())
	}
	s.render(w, r, http.StatusOK, web.RunEstimateView(box))
}

// handleRunEstimateBox answers the estimate box's polling with the running or last estimate.
func (s *Server) handleRunEstimateBox(w http.ResponseWriter, r *http.Request) {
	tr, err := s.trainer()
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.RunEstimateView(estimateBox(tr, time.Now())))
}

// handleRunEstimateCancel stops the running estimate; the box shows it ending.
func (s *Server) handleRunEstimateCancel(w http.ResponseWriter, r *http.Request) {
	tr, err := s.trainer()
	if err != nil {
		s.error(w, r, err)
		return
	}
	if !tr.CancelEstimate() {
		s.error(w, r, fmt.Errorf("%w: no estimate is running", store.ErrConflict))
		return
	}
	s.render(w, r, http.StatusOK, web.RunEstimateView(estimateBox(tr, time.Now())))
}

// gpuPrice reads the optional price per GPU hour.
func gpuPrice(v string) (float64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	p, err := strconv.ParseFloat(v, 64)
	if err != nil || p < 0 || math.IsInf(p, 0) || math.IsNaN(p) {
		return 0, fmt.Errorf("GPU price per hour: %q is not a number of at least 0", v)
	}
	return p, nil
}

// busyMessage is why a background task could not start, without the sentinels' words.
func busyMessage(err error) string {
	return strings.TrimPrefix(userMessage(err, store.ErrConflict.Error()), "busy: ")
}

// estimateBox is the estimate box of the runner's running or last estimate.
func estimateBox(tr *training.Runner, now time.Time) web.RunEstimate {
	t, ok := tr.EstimateTask()
	if !ok {
		return web.RunEstimate{}
	}
	box := web.RunEstimate{Shown: true, Running: t.Running(), What: t.What, By: t.By, Started: formatJobTime(t.Started),
		Elapsed: taskElapsed(t, now), Step: t.Step, Steps: t.Steps, Error: t.Error, Log: t.Log}
	if t.Estimate != nil {
		box.Result = estimateResult(*t.Estimate)
	}
	return box
}

// taskElapsed is how long a task ran (runs) so far.
func taskElapsed(t training.Task, now time.Time) string {
	end := t.Ended
	if end.IsZero() {
		end = now
	}
	if d := end.Sub(t.Started).Seconds(); d >= 1 {
		return formatDuration(d)
	}
	return "0s"
}

// estimateResult formats an estimate for the box.
func estimateResult(e training.Estimate) *web.RunEstimateResult {
	res := &web.RunEstimateResult{Duration: formatDuration(max(e.Seconds, 1)), TotalSteps: e.TotalSteps,
		SecondsPerStep: strconv.FormatFloat(e.SecondsPerStep, 'f', 2, 64), Start: formatDuration(max(e.StartSeconds, 1)),
		Device: e.Device, TrialSteps: e.TrialSteps}
	if e.SecondsPerStep > 0 {
		res.StepsPerSecond = strconv.FormatFloat(1/e.SecondsPerStep, 'f', 2, 64)
	}
	if e.PeakGiB > 0 {
		res.PeakMemory = fmt.Sprintf("%.1f GiB", e.PeakGiB)
	}
	if e.Hourly > 0 {
		res.Cost, res.Hourly = fmt.Sprintf("%.2f", e.Cost), fmt.Sprintf("%.2f", e.Hourly)
	}
	return res
}
