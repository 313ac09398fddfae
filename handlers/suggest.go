package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"rustexpert/store"
	"rustexpert/suggest"
	"rustexpert/web"
)

// focusSuggestion is the compiler's suggestion for one annotator's view of a comparison.
type focusSuggestion struct {
	best, worst int64
	text        string // "A over B — A compiles, B fails: …", with the display letters
}

// compilerSuggestion asks the suggestion rules about a comparison as shown, naming the answers by
// their display letters; ok is false when the checks do not separate them (or are not all in).
func compilerSuggestion(shown []store.Response, checks map[int64]store.Check) (focusSuggestion, bool) {
	answers := make([]suggest.Answer, len(shown))
	for i, a := range shown {
		c, checked := checks[a.ID]
		answers[i] = suggest.Answer{ID: a.ID, Name: answerLetters[i : i+1], Checked: checked, Check: c.SuggestionCheck()}
	}
	v := suggest.Suggest(answers)
	if v.Outcome != suggest.Suggested {
		return focusSuggestion{}, false
	}
	text := fmt.Sprintf("%s over %s — %s", letterOf(v.Chosen, shown), letterOf(v.Rejected, shown), v.Reason)
	return focusSuggestion{best: v.Chosen, worst: v.Rejected, text: text}, true
}

// suggestionValue is the accept button's value: "CHOSEN:REJECTED".
func suggestionValue(best, worst int64) string {
	return strconv.FormatInt(best, 10) + ":" + strconv.FormatInt(worst, 10)
}

// acceptedSuggestion reads the accept button's value; ok is false when it was not pressed or is malformed.
func acceptedSuggestion(value string) (best, worst int64, ok bool) {
	b, w, found := strings.Cut(value, ":")
	if !found {
		return 0, 0, false
	}
	best, err1 := strconv.ParseInt(b, 10, 64)
	worst, err2 := strconv.ParseInt(w, 10, 64)
	return best, worst, err1 == nil && err2 == nil
}

// handleLabelByCompiler stores compiler labels for the job's comparisons whose checks separate
// the answers (see store.LabelByCompiler) and shows the counts: HTMX gets the result alone, a plain
// form post the job page with it.
func (s *Server) handleLabelByCompiler(w http.ResponseWriter, r *http.Request) {
	job, err := s.jobFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	counts, err := s.store.LabelByCompiler(r.Context(), job.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	result := &web.CompilerLabelResult{Created: counts.Created, Existing: counts.Existing,
		NoSuggestion: counts.NoSuggestion, Unchecked: counts.Unchecked}
	if isHTMX(r) {
		s.render(w, r, http.StatusOK, web.CompilerLabelResultView(result))
		return
	}
	vm, err := s.jobPage(r, job)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm.CompilerLabels = result
	s.render(w, r, http.StatusOK, web.JobView(vm))
}
