package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"rustexpert/arena"
	"rustexpert/eval"
	"rustexpert/static"
	"rustexpert/store"
	"rustexpert/web"
)

// Limits of the face-to-face report.
const (
	evalMinChosen = 2   // runs or jobs compared at least
	evalMaxRuns   = 4   // eval runs compared at most
	evalMaxJobs   = 3   // generation jobs compared at most
	evalMaxRows   = 300 // problems or prompts shown side by side
	evalJobList   = 100 // generation jobs offered
)

// evalChoice is what the query string chooses: the mode, the run or job ids and the held-out filter.
type evalChoice struct {
	mode    string
	ids     []int64
	heldOut bool
}

// parseEvalChoice reads ?mode=jobs&job=1&job=2&heldout=1 or ?run=3&run=4; a bad id is ErrInvalid.
func parseEvalChoice(q url.Values) (evalChoice, error) {
	c := evalChoice{mode: web.EvalModeRuns, heldOut: q.Get("heldout") == "1"}
	param := "run"
	if q.Get("mode") == web.EvalModeJobs {
		c.mode, param = web.EvalModeJobs, "job"
	}
	for _, v := range q[param] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return c, fmt.Errorf("%w: %s id %q is not a number", store.ErrInvalid, param, v)
		}
		if !slices.Contains(c.ids, id) {
			c.ids = append(c.ids, id)
		}
	}
	return c, nil
}

// query is the choice as a query string, for the export links.
func (c evalChoice) query() string {
	q := url.Values{}
	param := "run"
	if c.mode == web.EvalModeJobs {
		q.Set("mode", web.EvalModeJobs)
		param = "job"
		if c.heldOut {
			q.Set("heldout", "1")
		}
	}
	for _, id := range c.ids {
		q.Add(param, strconv.FormatInt(id, 10))
	}
	return q.Encode()
}

// handleEvalPage lists the eval runs (or generation jobs) and, when a valid set is chosen, compares them.
func (s *Server) handleEvalPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vm := web.EvalPage{Nav: s.nav(r, "Eval"), Mode: web.EvalModeRuns}
	choice, err := parseEvalChoice(r.URL.Query())
	vm.Mode, vm.HeldOut = choice.mode, choice.heldOut
	if err != nil {
		vm.Problem = formMessage(err)
	}
	if vm.Mode == web.EvalModeJobs {
		vm.Jobs, err = s.evalJobChoices(ctx, choice.ids)
	} else {
		vm.Runs, err = s.evalRunChoices(ctx, choice.ids)
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	if vm.Problem == "" && len(choice.ids) > 0 {
		rep, err := s.evalReport(ctx, choice)
		switch {
		case isInvalid(err):
			vm.Problem = formMessage(err)
		case err != nil:
			s.error(w, r, err)
			return
		default:
			vm.Report, vm.Query = &rep, choice.query()
		}
	}
	s.render(w, r, http.StatusOK, web.EvalView(vm))
}

func isInvalid(err error) bool { return errors.Is(err, store.ErrInvalid) }

// handleEvalReportMarkdown sends the chosen comparison as a Markdown file.
func (s *Server) handleEvalReportMarkdown(w http.ResponseWriter, r *http.Request) {
	rep, err := s.chosenEvalReport(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="eval-report.md"`)
	w.Write([]byte(evalReportMarkdown(rep)))
}

// handleEvalReportHTML sends the chosen comparison as a standalone HTML file (CSS inlined, no scripts).
func (s *Server) handleEvalReportHTML(w http.ResponseWriter, r *http.Request) {
	rep, err := s.chosenEvalReport(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	css, err := evalReportCSS()
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="eval-report.html"`)
	s.render(w, r, http.StatusOK, web.EvalReportDocument(rep, css))
}

func (s *Server) chosenEvalReport(r *http.Request) (web.EvalReport, error) {
	choice, err := parseEvalChoice(r.URL.Query())
	if err != nil {
		return web.EvalReport{}, err
	}
	return s.evalReport(r.Context(), choice)
}

// evalReportCSS is the stylesheets a downloaded report carries inline.
func evalReportCSS() (string, error) {
	var b strings.Builder
	for _, name := range []string{"css/app.css", "css/chroma.css", "css/evalpage.css"} {
		data, err := fs.ReadFile(static.FS, name)
		if err != nil {
			return "", fmt.Errorf("report stylesheet %s: %w", name, err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// evalReport compares the chosen runs or jobs.
func (s *Server) evalReport(ctx context.Context, c evalChoice) (web.EvalReport, error) {
	var rep web.EvalReport
	var err error
	if c.mode == web.EvalModeJobs {
		rep, err = s.compareJobs(ctx, c.ids, c.heldOut)
	} else {
		rep, err = s.compareRuns(ctx, c.ids)
	}
	rep.Generated = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	return rep, err
}

// checkCount refuses fewer than two or more than max chosen items.
func checkCount(ids []int64, max int, what string) error {
	if len(ids) < evalMinChosen || len(ids) > max {
		return fmt.Errorf("%w: choose %d to %d %s (got %d)", store.ErrInvalid, evalMinChosen, max, what, len(ids))
	}
	return nil
}

// evalRunChoices lists the stored runs with the figures of their summaries, newest first.
func (s *Server) evalRunChoices(ctx context.Context, chosen []int64) ([]web.EvalRunChoice, error) {
	runs, err := s.store.EvalRuns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.EvalRunChoice, 0, len(runs))
	for _, run := range runs {
		row := web.EvalRunChoice{ID: run.ID, Model: run.Model, Bench: run.Bench, Format: run.Format, N: run.N,
			Date: run.Started.UTC().Format("2006-01-02 15:04"), Status: run.Status, PassAt1: "—", CompileRate: "—", Lints: "—",
			Chosen: slices.Contains(chosen, run.ID)}
		var sum eval.Summary
		if json.Unmarshal([]byte(run.SummaryJSON), &sum) == nil && sum.Samples > 0 {
			row.PassAt1, row.CompileRate = fraction3(sum.PassAtK["pass@1"]), fraction3(sum.CompileRate)
			row.Lints, row.Statuses = lintsText(sum.LintsPerAnswer, sum.LintedAnswers), statusText(sum.Statuses)
		}
		out = append(out, row)
	}
	return out, nil
}

// evalJobChoices lists the newest generation jobs.
func (s *Server) evalJobChoices(ctx context.Context, chosen []int64) ([]web.EvalJobChoice, error) {
	jobs, err := s.store.ListJobs(ctx, evalJobList)
	if err != nil {
		return nil, err
	}
	out := make([]web.EvalJobChoice, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, web.EvalJobChoice{ID: j.ID, Model: j.Label(), Prompts: describeFilter(j.Filter), Status: j.Status,
			Answers: j.Done, Date: j.CreatedAt.UTC().Format("2006-01-02 15:04"), Chosen: slices.Contains(chosen, j.ID)})
	}
	return out, nil
}

// arenaRatings fits every counted arena vote and returns each model's Bradley–Terry rating (the
// leaderboard's figure; no bootstrap, which only gives the intervals).
func (s *Server) arenaRatings(ctx context.Context) (map[string]float64, error) {
	votes, err := s.store.ArenaVotes(ctx, "")
	if err != nil {
		return nil, err
	}
	var battles []arena.Battle
	for _, v := range votes {
		if o, ok := arenaOutcomes[v.Vote]; ok && v.ModelA != v.ModelB {
			battles = append(battles, arena.Battle{A: v.ModelA, B: v.ModelB, Outcome: o})
		}
	}
	ratings := map[string]float64{}
	if len(battles) == 0 {
		return ratings, nil
	}
	res, err := arena.Fit(battles, arena.Options{Seed: arenaSeed, Rounds: -1})
	if err != nil {
		return ratings, nil // too few battles to fit: no ratings
	}
	for _, r := range res.Ratings {
		ratings[r.Model] = r.Score
	}
	return ratings, nil
}

func ratingText(ratings map[string]float64, model string) string {
	if v, ok := ratings[model]; ok {
		return fmt.Sprintf("%.0f", v)
	}
	return "—"
}

// compareRuns puts 2–4 eval runs of one bench side by side: figures from their scored answers (so a
// run still going counts what it has), and each problem's first sample.
func (s *Server) compareRuns(ctx context.Context, ids []int64) (web.EvalReport, error) {
	if err := checkCount(ids, evalMaxRuns, "eval runs"); err != nil {
		return web.EvalReport{}, err
	}
	runs := make([]store.EvalRun, len(ids))
	results := make([][]store.EvalResult, len(ids))
	for i, id := range ids {
		run, err := s.store.EvalRun(ctx, id)
		if err != nil {
			return web.EvalReport{}, err
		}
		if i > 0 && (run.Bench != runs[0].Bench || run.Format != runs[0].Format) {
			return web.EvalReport{}, fmt.Errorf("%w: run #%d is on %s, run #%d on %s: compare runs of the same bench",
				store.ErrInvalid, runs[0].ID, runs[0].Bench, run.ID, run.Bench)
		}
		if results[i], err = s.store.EvalResults(ctx, id); err != nil {
			return web.EvalReport{}, err
		}
		runs[i] = run
	}
	ratings, err := s.arenaRatings(ctx)
	if err != nil {
		return web.EvalReport{}, err
	}
	rep := web.EvalReport{Title: fmt.Sprintf("Bench %s (%s)", runs[0].Bench, runs[0].Format), Subject: "problem",
		Note: "Figures from each run's scored answers: pass@1 (unbiased, averaged over problems), compile rate over all samples, " +
			"clippy lints per compiled answer, statuses; arena rating is the model's Bradley–Terry rating in the blind arena. " +
			"Each problem shows every run's first sample.",
		Summary: web.EvalTable{Headers: []string{"Run", "Model", "Problems", "Samples", "pass@1", "Compile rate", "Lints/answer", "Statuses", "Arena rating"}},
		Chart:   web.EvalChart{Series: []string{"pass@1", "compile rate"}}}
	for i, run := range runs {
		sum := eval.Summarize(sampleResults(results[i]))
		label := fmt.Sprintf("#%d %s", run.ID, run.Model)
		rep.Columns = append(rep.Columns, label)
		rep.Summary.Rows = append(rep.Summary.Rows, []string{fmt.Sprintf("#%d", run.ID), run.Model, strconv.Itoa(sum.Problems),
			strconv.Itoa(sum.Samples), fraction3(sum.PassAtK["pass@1"]), fraction3(sum.CompileRate),
			lintsText(sum.LintsPerAnswer, sum.LintedAnswers), statusText(sum.Statuses), ratingText(ratings, run.Model)})
		rep.Chart.Groups = append(rep.Chart.Groups, web.EvalBarGroup{Label: label, Values: []float64{sum.PassAtK["pass@1"], sum.CompileRate}})
	}
	rep.Rows, rep.Total = s.problemRows(results)
	return rep, nil
}

// compareJobs puts 2–3 generation jobs side by side on the prompts every one of them answered (only the
// held-out ones when asked): figures over all their answers to those prompts, and each prompt's first answer.
func (s *Server) compareJobs(ctx context.Context, ids []int64, heldOut bool) (web.EvalReport, error) {
	if err := checkCount(ids, evalMaxJobs, "generation jobs"); err != nil {
		return web.EvalReport{}, err
	}
	jobs := make([]store.Job, len(ids))
	answers := make([]map[int64][]store.Response, len(ids))
	for i, id := range ids {
		var err error
		if jobs[i], err = s.store.Job(ctx, id); err != nil {
			return web.EvalReport{}, err
		}
		if answers[i], err = s.jobAnswers(ctx, jobs[i]); err != nil {
			return web.EvalReport{}, err
		}
	}
	prompts, err := s.sharedPrompts(ctx, answers, heldOut)
	if err != nil {
		return web.EvalReport{}, err
	}
	checks, err := s.checksOfPrompts(ctx, answers, prompts)
	if err != nil {
		return web.EvalReport{}, err
	}
	ratings, err := s.arenaRatings(ctx)
	if err != nil {
		return web.EvalReport{}, err
	}
	which := "prompts"
	if heldOut {
		which = "held-out prompts"
	}
	rep := web.EvalReport{Title: fmt.Sprintf("Generation jobs on %d shared %s", len(prompts), which), Subject: "prompt",
		Note: "Figures over every answer of each job to the prompts all chosen jobs answered, from the compiler's checks: " +
			"with code = answers with Rust code among the checked, compile rate = compiling among those with code, " +
			"lints per compiled answer; arena rating is the model's Bradley–Terry rating in the blind arena. Each prompt shows every job's first answer.",
		Summary: web.EvalTable{Headers: []string{"Job", "Model", "Prompts", "Answers", "Checked", "With code", "Compile rate", "Lints/answer", "Arena rating"}},
		Chart:   web.EvalChart{Series: []string{"with code", "compile rate"}}}
	for i, job := range jobs {
		label := fmt.Sprintf("#%d %s", job.ID, job.Label())
		f := jobFiguresOf(answers[i], prompts, checks)
		rep.Columns = append(rep.Columns, label)
		rep.Summary.Rows = append(rep.Summary.Rows, []string{fmt.Sprintf("#%d", job.ID), job.Label(), strconv.Itoa(len(prompts)),
			strconv.Itoa(f.answers), strconv.Itoa(f.checked), fraction3(f.codeRate()), fraction3(f.compileRate()),
			lintsText(f.lintsPerAnswer(), f.linted), ratingText(ratings, job.Label())})
		rep.Chart.Groups = append(rep.Chart.Groups, web.EvalBarGroup{Label: label, Values: []float64{f.codeRate(), f.compileRate()}})
	}
	rep.Total = len(prompts)
	for _, p := range prompts[:min(len(prompts), evalMaxRows)] {
		row := web.EvalRow{Name: fmt.Sprintf("Prompt #%d", p.ID), Prompt: p.Text, HeldOut: p.Split == store.SplitHeldout}
		for i := range jobs {
			first := answers[i][p.ID][0]
			cell := s.answerCell(first.Text, false)
			cell.Badge = checkBadge(checks, first.ID)
			row.Cells = append(row.Cells, cell)
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

// jobAnswers returns a job's answers by prompt, in slot order.
func (s *Server) jobAnswers(ctx context.Context, job store.Job) (map[int64][]store.Response, error) {
	list, err := s.store.LatestJobAnswers(ctx, job.ID, max(job.Total, job.Done, 1))
	if err != nil {
		return nil, err
	}
	by := map[int64][]store.Response{}
	for _, a := range list {
		by[a.PromptID] = append(by[a.PromptID], a.Response)
	}
	for _, rs := range by {
		slices.SortFunc(rs, func(a, b store.Response) int { return a.Slot - b.Slot })
	}
	return by, nil
}

// sharedPrompts reads the prompts every job answered, by id, held-out ones only when asked.
func (s *Server) sharedPrompts(ctx context.Context, answers []map[int64][]store.Response, heldOut bool) ([]store.Prompt, error) {
	var ids []int64
	for id := range answers[0] {
		if !slices.ContainsFunc(answers[1:], func(m map[int64][]store.Response) bool { return len(m[id]) == 0 }) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var prompts []store.Prompt
	for _, id := range ids {
		p, err := s.store.Prompt(ctx, id)
		if err != nil {
			return nil, err
		}
		if !heldOut || p.Split == store.SplitHeldout {
			prompts = append(prompts, p)
		}
	}
	if len(prompts) == 0 {
		what := "prompt"
		if heldOut {
			what = "held-out prompt"
		}
		return nil, fmt.Errorf("%w: the chosen jobs have answered no %s in common", store.ErrInvalid, what)
	}
	return prompts, nil
}

// checksOfPrompts reads the compiler checks of the jobs' answers to the prompts, a few hundred ids a query.
func (s *Server) checksOfPrompts(ctx context.Context, answers []map[int64][]store.Response, prompts []store.Prompt) (map[int64]store.Check, error) {
	var ids []int64
	for _, by := range answers {
		for _, p := range prompts {
			for _, a := range by[p.ID] {
				ids = append(ids, a.ID)
			}
		}
	}
	checks := map[int64]store.Check{}
	for chunk := range slices.Chunk(ids, 500) {
		part, err := s.store.ChecksOf(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for id, c := range part {
			checks[id] = c
		}
	}
	return checks, nil
}

// jobFigures counts one job's answers to the shared prompts by their checks.
type jobFigures struct {
	answers, checked, withCode, compiles, linted, lints int
}

func jobFiguresOf(by map[int64][]store.Response, prompts []store.Prompt, checks map[int64]store.Check) jobFigures {
	var f jobFigures
	for _, p := range prompts {
		for _, a := range by[p.ID] {
			f.answers++
			c, ok := checks[a.ID]
			if !ok {
				continue
			}
			f.checked++
			if c.HasCode {
				f.withCode++
			}
			if c.HasCode && c.Compiles && !c.TimedOut {
				f.compiles++
				if c.Lints >= 0 {
					f.linted++
					f.lints += c.Lints
				}
			}
		}
	}
	return f
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (f jobFigures) codeRate() float64       { return ratio(f.withCode, f.checked) }
func (f jobFigures) compileRate() float64    { return ratio(f.compiles, f.withCode) }
func (f jobFigures) lintsPerAnswer() float64 { return ratio(f.lints, f.linted) }

// sampleResults turns stored results into the harness's results, for eval.Summarize.
func sampleResults(rs []store.EvalResult) []eval.SampleResult {
	out := make([]eval.SampleResult, len(rs))
	for i, r := range rs {
		out[i] = eval.SampleResult{Problem: r.Problem, Category: r.Category, Sample: r.Sample, Status: r.Status,
			Compiled: r.Compiled, Passed: r.Passed, Lints: r.Lints, Seconds: r.Seconds, Detail: r.Detail}
	}
	return out
}

// problemRows is one row per problem of any run (sorted by name), with each run's first sample.
func (s *Server) problemRows(results [][]store.EvalResult) ([]web.EvalRow, int) {
	first := make([]map[string]store.EvalResult, len(results))
	var names []string
	for i, rs := range results {
		first[i] = map[string]store.EvalResult{}
		for _, r := range rs {
			if old, ok := first[i][r.Problem]; !ok || r.Sample < old.Sample {
				first[i][r.Problem] = r
			}
			if !slices.Contains(names, r.Problem) {
				names = append(names, r.Problem)
			}
		}
	}
	slices.Sort(names)
	total := len(names)
	names = names[:min(len(names), evalMaxRows)]
	rows := make([]web.EvalRow, 0, len(names))
	for _, name := range names {
		row := web.EvalRow{Name: name}
		for i := range results {
			r, ok := first[i][name]
			if !ok {
				row.Cells = append(row.Cells, web.EvalCell{Missing: true})
				continue
			}
			cell := s.answerCell(r.Completion, !isMarkdownAnswer(r.Completion))
			cell.Badge = resultBadge(r)
			row.Cells = append(row.Cells, cell)
		}
		rows = append(rows, row)
	}
	return rows, total
}

// answerCell renders an answer: Markdown as it is, bare code as a Rust block. The renderer drops raw
// HTML and sanitizes what is left.
func (s *Server) answerCell(text string, code bool) web.EvalCell {
	md := text
	if code {
		md = fenced(text, "rust")
	}
	return web.EvalCell{Text: text, Code: code, HTML: s.markdownComponent(md)}
}

// fenced wraps text in a code fence longer than any run of backticks inside it.
func fenced(text, language string) string {
	longest, run := 0, 0
	for _, c := range text {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return fence + language + "\n" + strings.TrimRight(text, "\n") + "\n" + fence + "\n"
}

// isMarkdownAnswer reports whether an answer is Markdown with code fences rather than bare code (the
// harness's rule: a line opening a fence at most three spaces in).
func isMarkdownAnswer(text string) bool {
	for line := range strings.Lines(text) {
		trimmed := strings.TrimLeft(line, " ")
		if len(line)-len(trimmed) <= 3 && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			return true
		}
	}
	return false
}

// resultBadges names the harness's statuses for people.
var resultBadges = map[string]string{
	eval.StatusOK: "passed ✓", eval.StatusNoCode: "no code", eval.StatusCompileError: "compile error ✗",
	eval.StatusTestFailed: "tests failed ✗", eval.StatusTimeout: "timeout", eval.StatusMemoryLimit: "memory limit",
	eval.StatusOutputLimit: "output limit", eval.StatusCrashed: "crashed",
}

func resultBadge(r store.EvalResult) web.EvalBadge {
	b := web.EvalBadge{State: r.Status, Text: resultBadges[r.Status], Detail: r.Detail}
	if b.Text == "" {
		b.Text = r.Status
	}
	switch {
	case r.Passed:
		b.Class = "check-ok"
		if r.Lints > 0 {
			b.Text += " · " + lintWord(r.Lints)
		}
	case r.Status != eval.StatusNoCode:
		b.Class = "check-fail"
	}
	return b
}

// checkBadge is a stored answer's compiler check as a badge.
func checkBadge(checks map[int64]store.Check, id int64) web.EvalBadge {
	c, ok := checks[id]
	switch {
	case !ok:
		return web.EvalBadge{State: "pending", Text: "not checked"}
	case !c.HasCode:
		return web.EvalBadge{State: "no-code", Text: "no Rust code"}
	case c.TimedOut:
		return web.EvalBadge{State: "timeout", Text: "compile timed out", Class: "check-fail"}
	case c.Compiles:
		b := web.EvalBadge{State: "compiles", Text: "compiles ✓", Class: "check-ok"}
		if c.Lints > 0 {
			b.Text += " · " + lintWord(c.Lints)
		}
		return b
	}
	return web.EvalBadge{State: "fails", Text: "does not compile ✗", Class: "check-fail", Detail: c.FirstError}
}

func lintWord(n int) string {
	if n == 1 {
		return "1 lint"
	}
	return strconv.Itoa(n) + " lints"
}

func fraction3(v float64) string { return fmt.Sprintf("%.3f", v) }

func lintsText(v float64, counted int) string {
	if counted == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", v)
}

// statusText lists the non-zero status counts in the harness's order.
func statusText(counts map[string]int) string {
	var parts []string
	for _, st := range eval.Statuses {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, counts[st]))
		}
	}
	return strings.Join(parts, " · ")
}
