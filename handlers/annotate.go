package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"rustexpert/store"
	"rustexpert/web"
)

// answerLetters name the display positions of a comparison's answers (jobs write at most four).
const answerLetters = "ABCD"

func annotateURL(it store.Item) string {
	return fmt.Sprintf("/annotate/%d/%d", it.JobID, it.PromptID)
}

func itemFromURL(r *http.Request) (store.Item, error) {
	job, err1 := strconv.ParseInt(chi.URLParam(r, "job"), 10, 64)
	prompt, err2 := strconv.ParseInt(chi.URLParam(r, "prompt"), 10, 64)
	if err1 != nil || err2 != nil {
		return store.Item{}, fmt.Errorf("comparison %s/%s: %w", chi.URLParam(r, "job"), chi.URLParam(r, "prompt"), store.ErrNotFound)
	}
	return store.Item{JobID: job, PromptID: prompt}, nil
}

// handleAnnotateNext sends the annotator to the first comparison of their queue, or shows that it is empty.
func (s *Server) handleAnnotateNext(w http.ResponseWriter, r *http.Request) {
	ctx, me := r.Context(), userFrom(r)
	next, ok, err := s.store.NextItem(ctx, me.ID, store.Item{})
	if err != nil {
		s.error(w, r, err)
		return
	}
	if ok {
		http.Redirect(w, r, annotateURL(next), http.StatusSeeOther)
		return
	}
	progress, err := s.annotateProgress(ctx, me.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm := web.AnnotateDonePage{Nav: s.nav(r, "Annotate"), Progress: progress}
	last, ok, err := s.store.PreviousItem(ctx, me.ID, store.Item{})
	if err != nil {
		s.error(w, r, err)
		return
	}
	if ok {
		vm.LastURL = annotateURL(last)
	}
	s.render(w, r, http.StatusOK, web.AnnotateDoneView(vm))
}

// labelPicks is what the annotator chose in the form (or earlier, in a stored label).
type labelPicks struct {
	best, worst int64
	rationale   string
}

// handleAnnotateItem serves the focus view of one comparison. The page is built in memory and sent with
// its Content-Length and flushed, so the browser has all of it; only then does the handler warm the render
// cache with the next comparison's prompt and answers, in its own goroutine (one comparison, at most four
// answers, per request). The next page, where auto-advance goes, is then served from the cache instead of
// paying for first Markdown renders (about 9 ms per long answer). The cost is that this connection stays
// busy while warming; browsers use their other connections meanwhile. Server-Timing reports the time spent
// building the page, before the warming.
func (s *Server) handleAnnotateItem(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	it, err := itemFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	answers, err := s.itemAnswers(r.Context(), it)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm, next, err := s.focusPage(r, it, answers, nil)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var page bytes.Buffer
	if err := web.AnnotateView(vm).Render(r.Context(), &page); err != nil {
		s.error(w, r, fmt.Errorf("render comparison %s: %w", annotateURL(it), err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(page.Len()))
	h.Set("Server-Timing", fmt.Sprintf("app;dur=%.2f", float64(time.Since(start).Microseconds())/1000))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(page.Bytes()); err != nil {
		return
	}
	if err := http.NewResponseController(w).Flush(); err != nil {
		s.log.Debug("flush comparison", slog.Any("error", err))
	}
	if next != (store.Item{}) {
		// The page is delivered, so a client that hangs up now need not stop the (bounded) warming.
		s.warmItem(context.WithoutCancel(r.Context()), next)
	}
}

// warmItem renders a comparison's prompt and answers into the renderer's cache and drops the HTML.
func (s *Server) warmItem(ctx context.Context, it store.Item) {
	answers, err := s.store.ItemResponses(ctx, it.JobID, it.PromptID)
	if err != nil {
		return
	}
	for _, a := range answers {
		s.md.HTML(a.Text)
	}
	if p, err := s.store.Prompt(ctx, it.PromptID); err == nil {
		s.md.HTML(p.Text)
	}
}

// itemAnswers returns a comparison's answers; a comparison needs at least two.
func (s *Server) itemAnswers(ctx context.Context, it store.Item) ([]store.Response, error) {
	answers, err := s.store.ItemResponses(ctx, it.JobID, it.PromptID)
	if err != nil {
		return nil, err
	}
	if len(answers) < 2 {
		return nil, fmt.Errorf("comparison %s: %w", annotateURL(it), store.ErrNotFound)
	}
	return answers, nil
}

// focusPage builds the focus view. posted is the form of a failed submission (nil on a plain visit, where
// the annotator's stored label, if any, is pre-selected). It also returns the comparison after this one in
// the queue (zero when there is none).
func (s *Server) focusPage(r *http.Request, it store.Item, answers []store.Response, posted *labelPicks) (web.AnnotatePage, store.Item, error) {
	ctx, me := r.Context(), userFrom(r)
	prompt, err := s.store.Prompt(ctx, it.PromptID)
	if err != nil {
		return web.AnnotatePage{}, store.Item{}, err
	}
	progress, err := s.annotateProgress(ctx, me.ID)
	if err != nil {
		return web.AnnotatePage{}, store.Item{}, err
	}
	label, labelled, err := s.store.LabelOf(ctx, me.ID, it)
	if err != nil {
		return web.AnnotatePage{}, store.Item{}, err
	}
	guidelines, err := s.store.Setting(ctx, store.SettingGuidelines, "")
	if err != nil {
		return web.AnnotatePage{}, store.Item{}, err
	}
	prev, hasPrev, err := s.store.PreviousItem(ctx, me.ID, it)
	if err != nil {
		return web.AnnotatePage{}, store.Item{}, err
	}
	next, _, err := s.store.ItemAfter(ctx, me.ID, it)
	if err != nil {
		return web.AnnotatePage{}, store.Item{}, err
	}

	shown := displayOrder(me.ID, it, answers)
	chosen := labelPicks{}
	if labelled && label.Verdict == store.VerdictPair {
		chosen = labelPicks{best: label.ChosenID, worst: label.RejectedID}
	}
	chosen.rationale = label.Rationale
	if posted != nil {
		chosen = *posted
	}
	texts := []string{prompt.Text}
	for _, a := range shown {
		texts = append(texts, a.Text)
	}
	rendered := s.md.Components(texts...)
	checks, err := s.store.ChecksOf(ctx, responseIDs(shown))
	if err != nil {
		return web.AnnotatePage{}, store.Item{}, err
	}
	// The compiler's suggestion pre-selects its pair on a first visit; the person accepts or changes it.
	var sug focusSuggestion
	if !labelled && posted == nil {
		var ok bool
		if sug, ok = compilerSuggestion(shown, checks); ok {
			chosen.best, chosen.worst = sug.best, sug.worst
		}
	}
	vm := web.AnnotatePage{
		Nav: s.nav(r, "Annotate"), JobID: it.JobID, PromptID: it.PromptID, Category: prompt.Category,
		Action: annotateURL(it), Prompt: rendered[0], Progress: progress, Rationale: chosen.rationale,
		Guidelines: s.markdownComponent(guidelines), Suggestion: sug.text,
	}
	if sug.text != "" {
		vm.SuggestionPair = suggestionValue(sug.best, sug.worst)
	}
	for i, a := range shown {
		vm.Answers = append(vm.Answers, web.AnnotateAnswer{
			ID: a.ID, Letter: answerLetters[i : i+1], Key: strconv.Itoa(i + 1), Body: rendered[i+1],
			Best: a.ID == chosen.best, Worst: isWorst(a.ID, chosen, len(shown)), Check: answerCheck(checks, a.ID),
		})
	}
	vm.Ranking = rankingOrder(vm.Answers, label.Ranking)
	if labelled {
		vm.Labelled = labelSummary(label, shown)
	}
	// A skip is not a judgement: the comparison stays blind so that a later label is not swayed by the models.
	if labelled && label.Verdict != store.VerdictSkip {
		vm.Reveals = reveals(shown)
	}
	if hasPrev {
		vm.PrevURL = annotateURL(prev)
	}
	if next != (store.Item{}) {
		vm.NextURL = annotateURL(next)
	}
	return vm, next, nil
}

func responseIDs(rs []store.Response) []int64 {
	ids := make([]int64, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// answerCheck is an answer's compile badge; an answer not checked yet is pending.
func answerCheck(checks map[int64]store.Check, id int64) web.AnswerCheck {
	c, ok := checks[id]
	switch {
	case !ok:
		return web.AnswerCheck{State: "pending", Lints: -1}
	case !c.HasCode:
		return web.AnswerCheck{State: "no-code", Lints: -1}
	case c.TimedOut:
		return web.AnswerCheck{State: "timeout", Lints: -1}
	case c.Compiles:
		return web.AnswerCheck{State: "compiles", Lints: c.Lints}
	default:
		return web.AnswerCheck{State: "fails", Error: c.FirstError, Lints: -1}
	}
}

// rankingOrder lists the answers in a stored full ranking's order, or as shown when there is none.
func rankingOrder(answers []web.AnnotateAnswer, ranking []int64) []web.AnnotateAnswer {
	if len(ranking) != len(answers) {
		return answers
	}
	out := make([]web.AnnotateAnswer, 0, len(answers))
	for _, id := range ranking {
		i := slices.IndexFunc(answers, func(a web.AnnotateAnswer) bool { return a.ID == id })
		if i < 0 {
			return answers
		}
		out = append(out, answers[i])
	}
	return out
}

// isWorst reports whether an answer shows as the worst pick. With two answers the worst is the one
// that is not the best.
func isWorst(id int64, p labelPicks, answers int) bool {
	if answers == 2 {
		return p.best != 0 && id != p.best
	}
	return id == p.worst
}

func (s *Server) annotateProgress(ctx context.Context, annotatorID int64) (web.AnnotateProgress, error) {
	p, err := s.store.LabelProgress(ctx, annotatorID)
	if err != nil {
		return web.AnnotateProgress{}, fmt.Errorf("label progress: %w", err)
	}
	avg := "–"
	if p.Mine > 0 {
		avg = fmt.Sprintf("%.1f s", float64(p.MineAvgMS)/1000)
	}
	return web.AnnotateProgress{Mine: p.Mine, MinePending: p.MinePending, TeamDone: p.TeamDone, TeamTotal: p.TeamTotal, AvgPerLabel: avg}, nil
}

// displayOrder shuffles a comparison's answers for one annotator. The shuffle is seeded with a hash of
// the annotator and the comparison, so it is the same on every visit but differs between annotators,
// which spreads any preference for a position evenly over the answers.
func displayOrder(annotatorID int64, it store.Item, answers []store.Response) []store.Response {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d", annotatorID, it.JobID, it.PromptID)
	seed := h.Sum64()
	out := slices.Clone(answers)
	slices.SortFunc(out, func(a, b store.Response) int { return a.Slot - b.Slot })
	rand.New(rand.NewPCG(seed, seed>>1|1)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// letterOf returns the display letter of an answer.
func letterOf(id int64, shown []store.Response) string {
	for i, a := range shown {
		if a.ID == id {
			return answerLetters[i : i+1]
		}
	}
	return "?"
}

func labelSummary(l store.Label, shown []store.Response) string {
	switch l.Verdict {
	case store.VerdictPair:
		return fmt.Sprintf("You labelled this: %s best, %s worst.", letterOf(l.ChosenID, shown), letterOf(l.RejectedID, shown))
	case store.VerdictTie:
		return "You labelled this a tie."
	case store.VerdictBothBad:
		return "You labelled all answers bad."
	default:
		return "You skipped this comparison."
	}
}

func reveals(shown []store.Response) []web.AnswerReveal {
	out := make([]web.AnswerReveal, 0, len(shown))
	for i, a := range shown {
		seed := "–"
		if a.Params.Seed != nil {
			seed = strconv.FormatInt(*a.Params.Seed, 10)
		}
		out = append(out, web.AnswerReveal{
			Letter: answerLetters[i : i+1], Model: a.ModelName, Seed: seed, MaxTokens: a.Params.MaxTokens,
			Temperature: strconv.FormatFloat(a.Params.Temperature, 'g', -1, 64), TopP: strconv.FormatFloat(a.Params.TopP, 'g', -1, 64),
			Tokens: a.Tokens, LatencyMS: a.LatencyMS, FinishReason: a.FinishReason,
		})
	}
	return out
}

// handleAnnotateSubmit stores the annotator's label and moves on to the next comparison of the queue.
func (s *Server) handleAnnotateSubmit(w http.ResponseWriter, r *http.Request) {
	ctx, me := r.Context(), userFrom(r)
	it, err := itemFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	ids, err := s.store.ItemAnswerIDs(ctx, it)
	if err == nil && len(ids) < 2 {
		err = fmt.Errorf("comparison %s: %w", annotateURL(it), store.ErrNotFound)
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	in, posted, err := labelFromForm(r, it, me.ID, ids)
	if err == nil {
		err = s.store.SubmitLabel(ctx, in)
	}
	if errors.Is(err, store.ErrInvalid) {
		s.renderInvalidLabel(w, r, it, posted, err)
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	next, _, err := s.store.ItemAfter(ctx, me.ID, it)
	if err != nil {
		s.error(w, r, err)
		return
	}
	target := "/annotate"
	if next != (store.Item{}) {
		target = annotateURL(next)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// renderInvalidLabel shows the focus view again with what was posted and why it was refused.
func (s *Server) renderInvalidLabel(w http.ResponseWriter, r *http.Request, it store.Item, posted labelPicks, invalid error) {
	answers, err := s.itemAnswers(r.Context(), it)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm, _, err := s.focusPage(r, it, answers, &posted)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm.Error = formMessage(invalid)
	s.render(w, r, http.StatusUnprocessableEntity, web.AnnotateView(vm))
}

// labelFromForm reads a label from the focus view's form. It also returns the picks as posted, for
// showing the form again when the label is invalid.
func labelFromForm(r *http.Request, it store.Item, annotatorID int64, ids []int64) (store.LabelInput, labelPicks, error) {
	posted := labelPicks{rationale: r.FormValue("rationale")}
	posted.best, _ = strconv.ParseInt(r.FormValue("best"), 10, 64)
	posted.worst, _ = strconv.ParseInt(r.FormValue("worst"), 10, 64)
	ms, _ := strconv.ParseInt(r.FormValue("ms_spent"), 10, 64)
	verdict := r.FormValue("verdict")
	if verdict == "" {
		// Pressing Enter in a form submits it without the button's name: that is the main Submit.
		verdict = store.VerdictPair
	}
	// Accepting the compiler's suggestion submits its pair, whatever is picked on the page; the
	// label is the person's own (suggested_by stays empty).
	best, worst, accepted := acceptedSuggestion(r.FormValue("accept"))
	if accepted {
		verdict, posted.best, posted.worst = store.VerdictPair, best, worst
	}
	in := store.LabelInput{Item: it, AnnotatorID: annotatorID, Verdict: verdict, Rationale: posted.rationale, MSSpent: ms}
	if verdict != store.VerdictPair {
		return in, posted, nil
	}
	if ranks := r.Form["rank"]; len(ranks) > 0 && !accepted {
		return rankedLabel(in, posted, ranks, ids)
	}
	if !slices.Contains(ids, posted.best) {
		return in, posted, fmt.Errorf("%w: pick the best answer (keys 1–%d), or choose Tie, All bad or Skip", store.ErrInvalid, len(ids))
	}
	if len(ids) == 2 {
		posted.worst = ids[0]
		if posted.worst == posted.best {
			posted.worst = ids[1]
		}
	}
	switch {
	case !slices.Contains(ids, posted.worst):
		return in, posted, fmt.Errorf("%w: pick the worst answer (Shift + 1–%d)", store.ErrInvalid, len(ids))
	case posted.worst == posted.best:
		return in, posted, fmt.Errorf("%w: the best and the worst answer must differ", store.ErrInvalid)
	}
	in.ChosenID, in.RejectedID = posted.best, posted.worst
	in.Ranking = fullRanking(ids, posted.best, posted.worst)
	return in, posted, nil
}

// rankedLabel reads a dragged full ranking, best first: its first answer is the best, its last the worst.
func rankedLabel(in store.LabelInput, posted labelPicks, ranks []string, ids []int64) (store.LabelInput, labelPicks, error) {
	ranking := make([]int64, 0, len(ranks))
	for _, v := range ranks {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !slices.Contains(ids, id) || slices.Contains(ranking, id) {
			return in, posted, fmt.Errorf("%w: the ranking must list each answer of this comparison once", store.ErrInvalid)
		}
		ranking = append(ranking, id)
	}
	if len(ranking) != len(ids) {
		return in, posted, fmt.Errorf("%w: the ranking must list all %d answers", store.ErrInvalid, len(ids))
	}
	posted.best, posted.worst = ranking[0], ranking[len(ranking)-1]
	in.ChosenID, in.RejectedID, in.Ranking = posted.best, posted.worst, ranking
	return in, posted, nil
}

// fullRanking returns the ranking, best first, when best and worst order every answer (two or three
// answers); nil otherwise.
func fullRanking(ids []int64, best, worst int64) []int64 {
	if len(ids) > 3 {
		return nil
	}
	ranking := []int64{best}
	for _, id := range ids {
		if id != best && id != worst {
			ranking = append(ranking, id)
		}
	}
	return append(ranking, worst)
}

// handleAnnotateUndo deletes the annotator's most recent label and opens that comparison again.
func (s *Server) handleAnnotateUndo(w http.ResponseWriter, r *http.Request) {
	it, err := s.store.UndoLastLabel(r.Context(), userFrom(r).ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, annotateURL(it), http.StatusSeeOther)
}

// markdownComponent renders Markdown when there is any (nil otherwise, so templates can say "none yet").
func (s *Server) markdownComponent(markdown string) templ.Component {
	if strings.TrimSpace(markdown) == "" {
		return nil
	}
	return s.md.Component(markdown)
}
