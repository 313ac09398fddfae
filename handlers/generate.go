package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"rustexpert/generation"
	"rustexpert/store"
	"rustexpert/web"
)

const (
	jobListSize      = 50
	jobAnswersShown  = 20
	maxAnswerSlots   = 4
	defaultTopP      = "0.95"
	defaultMaxTokens = "1024"
	timeLayout       = "2006-01-02 15:04"
)

// defaultTemperature spreads the slots from near-greedy to creative, so a comparison has variety.
func defaultTemperature(slot int) string {
	switch slot {
	case 0:
		return "0.2"
	case 1:
		return "0.7"
	default:
		return "1.0"
	}
}

func defaultJobForm() web.GenerateForm {
	f := web.GenerateForm{N: "2", Slots: make([]web.SamplingSlot, maxAnswerSlots)}
	for i := range f.Slots {
		f.Slots[i] = web.SamplingSlot{Temperature: defaultTemperature(i), TopP: defaultTopP, MaxTokens: defaultMaxTokens}
	}
	return f
}

func jobFormFrom(r *http.Request) web.GenerateForm {
	f := web.GenerateForm{
		ModelID: r.FormValue("model"), Query: strings.TrimSpace(r.FormValue("q")), Category: r.FormValue("category"),
		Split: r.FormValue("split"), Tag: strings.TrimSpace(r.FormValue("tag")), N: r.FormValue("n"), RAG: r.FormValue("rag") == "on",
		Slots: make([]web.SamplingSlot, maxAnswerSlots),
	}
	for i := range f.Slots {
		k := strconv.Itoa(i + 1)
		f.Slots[i] = web.SamplingSlot{
			Temperature: strings.TrimSpace(r.FormValue("temperature_" + k)), TopP: strings.TrimSpace(r.FormValue("top_p_" + k)),
			MaxTokens: strings.TrimSpace(r.FormValue("max_tokens_" + k)), Seed: strings.TrimSpace(r.FormValue("seed_" + k)),
		}
	}
	return f
}

func jobFilter(f web.GenerateForm) store.PromptFilter {
	return store.PromptFilter{Query: f.Query, Category: f.Category, Split: f.Split, Tag: f.Tag}
}

// jobRequest is a validated new-job form.
type jobRequest struct {
	modelID int64
	filter  store.PromptFilter
	params  []store.Sampling
	rag     bool
}

// checkJobForm validates the form and lists every problem, so one submit shows them all.
func (s *Server) checkJobForm(ctx context.Context, f web.GenerateForm) (jobRequest, []web.FieldError, error) {
	var req jobRequest
	var errs []web.FieldError
	add := func(field, msg string) { errs = append(errs, web.FieldError{Field: field, Message: msg}) }

	if f.ModelID == "" {
		add("model", "choose a model")
	} else if id, err := strconv.ParseInt(f.ModelID, 10, 64); err != nil {
		add("model", "no such model")
	} else if _, err := s.store.Model(ctx, id); errors.Is(err, store.ErrNotFound) {
		add("model", "no such model")
	} else if err != nil {
		return req, nil, err
	} else {
		req.modelID = id
	}
	req.rag = f.RAG
	if f.RAG && !s.ragReady(ctx) {
		add("rag", "no documentation is indexed yet: ingest the Rust docs first (rustexpert rag ingest)")
	}
	if f.Split != "" && f.Split != store.SplitTrain && f.Split != store.SplitHeldout {
		add("split", fmt.Sprintf("unknown split %q (want train or heldout)", f.Split))
	}
	n, err := strconv.Atoi(f.N)
	if err != nil || n < 1 || n > maxAnswerSlots {
		add("answers per prompt", fmt.Sprintf("%q is not a whole number from 1 to %d", f.N, maxAnswerSlots))
		n = min(max(n, 1), maxAnswerSlots)
	}
	for i := range n {
		p, slotErrs := checkSlot(f.Slots[i])
		for _, e := range slotErrs {
			add(fmt.Sprintf("answer %d %s", i+1, e.Field), e.Message)
		}
		req.params = append(req.params, p)
	}
	req.filter = jobFilter(f)
	return req, errs, nil
}

func checkSlot(sl web.SamplingSlot) (store.Sampling, []web.FieldError) {
	var p store.Sampling
	var errs []web.FieldError
	var err error
	if p.Temperature, err = strconv.ParseFloat(sl.Temperature, 64); err != nil || p.Temperature < 0 || p.Temperature > 2 {
		errs = append(errs, web.FieldError{Field: "temperature", Message: fmt.Sprintf("%q is not a number from 0 to 2", sl.Temperature)})
	}
	if p.TopP, err = strconv.ParseFloat(sl.TopP, 64); err != nil || p.TopP <= 0 || p.TopP > 1 {
		errs = append(errs, web.FieldError{Field: "top_p", Message: fmt.Sprintf("%q is not a number above 0 and at most 1", sl.TopP)})
	}
	if p.MaxTokens, err = strconv.Atoi(sl.MaxTokens); err != nil || p.MaxTokens < 1 || p.MaxTokens > 32768 {
		errs = append(errs, web.FieldError{Field: "max_tokens", Message: fmt.Sprintf("%q is not a whole number from 1 to 32768", sl.MaxTokens)})
	}
	if sl.Seed != "" {
		seed, err := strconv.ParseInt(sl.Seed, 10, 64)
		if err != nil {
			errs = append(errs, web.FieldError{Field: "seed", Message: fmt.Sprintf("%q is not a whole number", sl.Seed)})
		} else {
			p.Seed = &seed
		}
	}
	return p, errs
}

func (s *Server) handleGeneratePage(w http.ResponseWriter, r *http.Request) {
	vm, err := s.generatePage(r, defaultJobForm())
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.GenerateView(vm))
}

func (s *Server) generatePage(r *http.Request, form web.GenerateForm) (web.GeneratePage, error) {
	ctx := r.Context()
	models, err := s.store.ListModels(ctx)
	if err != nil {
		return web.GeneratePage{}, err
	}
	cats, err := s.store.PromptCategories(ctx)
	if err != nil {
		return web.GeneratePage{}, err
	}
	matching, err := s.countMatching(ctx, jobFilter(form))
	if err != nil {
		return web.GeneratePage{}, err
	}
	jobs, err := s.store.ListJobs(ctx, jobListSize)
	if err != nil {
		return web.GeneratePage{}, err
	}
	if form.ModelID == "" && len(models) == 1 {
		// With a single model there is nothing to choose.
		form.ModelID = strconv.FormatInt(models[0].ID, 10)
	}
	vm := web.GeneratePage{Nav: s.nav(r, "Generate"), Categories: cats, Form: form, Matching: matching}
	for _, m := range models {
		vm.Models = append(vm.Models, web.ModelOption{ID: m.ID, Name: m.Name})
	}
	for _, j := range jobs {
		vm.Jobs = append(vm.Jobs, web.JobRow{ID: j.ID, Model: j.Label(), Progress: progressView(j), CreatedAt: j.CreatedAt.Local().Format(timeLayout)})
	}
	return vm, nil
}

func (s *Server) countMatching(ctx context.Context, f store.PromptFilter) (int, error) {
	f.Limit = 1
	page, err := s.store.ListPrompts(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("count matching prompts: %w", err)
	}
	return page.Total, nil
}

// handleGenerateCount answers the form's filter changes with the number of prompts it matches.
func (s *Server) handleGenerateCount(w http.ResponseWriter, r *http.Request) {
	n, err := s.countMatching(r.Context(), jobFilter(jobFormFrom(r)))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.MatchCount(n))
}

func (s *Server) handleGenerateCreate(w http.ResponseWriter, r *http.Request) {
	form := jobFormFrom(r)
	req, errs, err := s.checkJobForm(r.Context(), form)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if len(errs) == 0 {
		var job store.Job
		job, err = s.store.CreateJob(r.Context(), store.NewJob{ModelID: req.modelID, Filter: req.filter, Params: req.params, UserID: userFrom(r).ID, RAG: req.rag})
		if err == nil {
			s.runner.Wake()
			http.Redirect(w, r, jobPath(job.ID), http.StatusSeeOther)
			return
		}
		if !errors.Is(err, store.ErrInvalid) {
			s.error(w, r, err)
			return
		}
		errs = append(errs, web.FieldError{Message: formMessage(err)})
	}
	vm, err := s.generatePage(r, form)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm.Errors = errs
	s.render(w, r, http.StatusUnprocessableEntity, web.GenerateView(vm))
}

func jobPath(id int64) string { return "/generate/jobs/" + strconv.FormatInt(id, 10) }

func (s *Server) jobFromURL(r *http.Request) (store.Job, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return store.Job{}, fmt.Errorf("job id: %w", store.ErrNotFound)
	}
	return s.store.Job(r.Context(), id)
}

func (s *Server) handleJobPage(w http.ResponseWriter, r *http.Request) {
	job, err := s.jobFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm, err := s.jobPage(r, job)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.JobView(vm))
}

// jobPage builds the job page: settings, progress and the latest answers with their checks.
func (s *Server) jobPage(r *http.Request, job store.Job) (web.JobPage, error) {
	answers, err := s.store.LatestJobAnswers(r.Context(), job.ID, jobAnswersShown)
	if err != nil {
		return web.JobPage{}, err
	}
	vm := web.JobPage{
		Nav: s.nav(r, "Generate"), ID: job.ID, Model: job.Label(), Filter: describeFilter(job.Filter),
		CreatedAt: formatJobTime(job.CreatedAt), StartedAt: formatJobTime(job.StartedAt), FinishedAt: formatJobTime(job.FinishedAt),
		Progress:  progressView(job),
		CanCancel: job.Status == store.JobQueued || job.Status == store.JobRunning,
		CanResume: job.Status == store.JobFailed || job.Status == store.JobCancelled,
	}
	for i, p := range job.Params {
		vm.Settings = append(vm.Settings, slotSettings(i, p))
	}
	texts := make([]string, len(answers))
	ids := make([]int64, len(answers))
	for i, a := range answers {
		texts[i], ids[i] = a.Text, a.ID
	}
	rendered := s.md.Components(texts...)
	checks, err := s.store.ChecksOf(r.Context(), ids)
	if err != nil {
		return web.JobPage{}, err
	}
	for i, a := range answers {
		vm.Answers = append(vm.Answers, web.JobAnswerRow{
			PromptID: a.PromptID, PromptExcerpt: a.PromptExcerpt, Slot: a.Slot + 1, Tokens: a.Tokens,
			LatencyMS: a.LatencyMS, FinishReason: a.FinishReason, Answer: rendered[i], Check: answerCheck(checks, a.ID),
		})
	}
	return vm, nil
}

func formatJobTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(timeLayout)
}

func slotSettings(i int, p store.Sampling) web.SlotSettings {
	sl := web.SlotSettings{Slot: i + 1, Temperature: strconv.FormatFloat(p.Temperature, 'g', -1, 64),
		TopP: strconv.FormatFloat(p.TopP, 'g', -1, 64), MaxTokens: strconv.Itoa(p.MaxTokens), Seed: "random"}
	if p.Seed != nil {
		sl.Seed = strconv.FormatInt(*p.Seed, 10)
	}
	return sl
}

func describeFilter(f store.PromptFilter) string {
	var parts []string
	if f.Split != "" {
		parts = append(parts, "split "+f.Split)
	}
	if f.Category != "" {
		parts = append(parts, "category "+f.Category)
	}
	if f.Tag != "" {
		parts = append(parts, "tag "+f.Tag)
	}
	if f.Query != "" {
		parts = append(parts, fmt.Sprintf("matching %q", f.Query))
	}
	if len(parts) == 0 {
		return "all prompts"
	}
	return strings.Join(parts, ", ")
}

// jobSnapshot is a job's progress as the live display starts from. Its rate covers the job's
// whole time since it first started, where the runner's messages cover only its current run.
func jobSnapshot(job store.Job) generation.Progress {
	var elapsed time.Duration
	if !job.StartedAt.IsZero() {
		end := job.FinishedAt
		if end.IsZero() {
			end = time.Now()
		}
		elapsed = end.Sub(job.StartedAt)
	}
	return generation.ProgressOf(job, job.Tokens, elapsed)
}

func progressView(job store.Job) web.JobProgress {
	p := jobSnapshot(job)
	v := web.JobProgress{Status: p.Status, Done: p.Done, Total: p.Total, Errors: p.Errors,
		TokensPerSec: strconv.FormatFloat(p.TokensPerSec, 'f', 1, 64), LastError: p.LastError, Finished: job.Finished()}
	if p.Total > 0 {
		v.Percent = p.Done * 100 / p.Total
	}
	return v
}

// publishJob tells the job's live viewers about a change the runner does not report itself,
// such as a cancel of a job that was still queued.
func (s *Server) publishJob(ctx context.Context, jobID int64) {
	job, err := s.store.Job(ctx, jobID)
	if err != nil {
		return
	}
	msg, err := json.Marshal(jobSnapshot(job))
	if err != nil {
		return
	}
	s.hub.Publish(generation.Topic(jobID), msg)
}

func (s *Server) handleJobCancel(w http.ResponseWriter, r *http.Request) {
	job, err := s.jobFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.store.CancelJob(r.Context(), job.ID); err != nil {
		s.error(w, r, err)
		return
	}
	s.runner.Cancel(job.ID)
	s.publishJob(r.Context(), job.ID)
	http.Redirect(w, r, jobPath(job.ID), http.StatusSeeOther)
}

func (s *Server) handleJobResume(w http.ResponseWriter, r *http.Request) {
	job, err := s.jobFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.store.ResumeJob(r.Context(), job.ID); err != nil {
		s.error(w, r, err)
		return
	}
	s.runner.Wake()
	s.publishJob(r.Context(), job.ID)
	http.Redirect(w, r, jobPath(job.ID), http.StatusSeeOther)
}
