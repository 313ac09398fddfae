package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"rustexpert/agreement"
	"rustexpert/store"
	"rustexpert/web"
)

// Review list limits: the table shows the newest labels, the agreement section the first conflicts.
const (
	reviewLimit        = 500
	reviewConflictsMax = 100
	reviewExcerptRunes = 160
)

func reviewFilterFrom(q url.Values) store.LabelFilter {
	annotator, _ := strconv.ParseInt(q.Get("annotator"), 10, 64)
	return store.LabelFilter{AnnotatorID: annotator, Category: q.Get("category"), Verdict: q.Get("verdict"),
		Source: reviewSource(q.Get("by")), Limit: reviewLimit}
}

// Values of the review list's "by" filter: people's labels (the default), the compiler's, or all.
const (
	reviewByPeople   = ""
	reviewByCompiler = "compiler"
	reviewByAll      = "all"
)

// reviewSource maps the "by" filter to the store's label source: compiler labels stay apart from
// people's unless asked for.
func reviewSource(by string) string {
	switch by {
	case reviewByCompiler:
		return store.SuggestedByCompiler
	case reviewByAll:
		return ""
	default:
		return store.LabelsByPeople
	}
}

// reviewBy is the "by" filter's value for a label source.
func reviewBy(source string) string {
	switch source {
	case store.SuggestedByCompiler:
		return reviewByCompiler
	case "":
		return reviewByAll
	default:
		return reviewByPeople
	}
}

// handleReview lists labels with filters; HTMX filter requests get only the table.
func (s *Server) handleReview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f := reviewFilterFrom(r.URL.Query())
	labels, err := s.store.ListLabels(ctx, f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var shared []store.Label
	if !isHTMX(r) {
		if shared, err = s.store.SharedItemLabels(ctx); err != nil {
			s.error(w, r, err)
			return
		}
	}
	slots, err := s.store.ResponseSlots(ctx, reviewAnswerIDs(labels, shared))
	if err != nil {
		s.error(w, r, err)
		return
	}
	table := reviewTable(labels, slots, userFrom(r))
	if isHTMX(r) {
		s.render(w, r, http.StatusOK, web.ReviewTableView(table))
		return
	}
	vm, err := s.reviewPage(r, f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm.Table = table
	vm.Agreement = reviewAgreement(shared, slots)
	s.render(w, r, http.StatusOK, web.ReviewView(vm))
}

// reviewPage fills the filter form's choices.
func (s *Server) reviewPage(r *http.Request, f store.LabelFilter) (web.ReviewPage, error) {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		return web.ReviewPage{}, err
	}
	cats, err := s.store.PromptCategories(r.Context())
	if err != nil {
		return web.ReviewPage{}, err
	}
	vm := web.ReviewPage{Nav: s.nav(r, "Review"), Categories: cats,
		Filter: web.ReviewFilter{AnnotatorID: f.AnnotatorID, Category: f.Category, Verdict: f.Verdict, By: reviewBy(f.Source)}}
	for _, u := range users {
		vm.Annotators = append(vm.Annotators, web.ReviewAnnotator{ID: u.ID, Name: u.Name})
	}
	return vm, nil
}

func reviewAnswerIDs(lists ...[]store.Label) []int64 {
	seen := map[int64]bool{}
	var ids []int64
	for _, labels := range lists {
		for _, l := range labels {
			for _, id := range []int64{l.ChosenID, l.RejectedID} {
				if id != 0 && !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
	}
	return ids
}

func reviewTable(labels []store.Label, slots map[int64]int, viewer store.User) web.ReviewTable {
	t := web.ReviewTable{Total: len(labels), Limited: len(labels) == reviewLimit}
	for _, l := range labels {
		t.Rows = append(t.Rows, reviewRow(l, slots, viewer))
	}
	return t
}

// reviewRow is one label as the viewer sees it in the list.
func reviewRow(l store.Label, slots map[int64]int, viewer store.User) web.ReviewRow {
	row := web.ReviewRow{
		ID: l.ID, Item: reviewItemKey(l.Item), Prompt: reviewPromptExcerpt(l.PromptText), Category: l.Category,
		Annotator: l.AnnotatorName, Verdict: reviewVerdictText(l.Verdict), Rationale: l.Rationale, Suggested: l.SuggestedBy,
		Spent: reviewSpentText(l.MSSpent), Updated: l.UpdatedAt.UTC().Format("2006-01-02 15:04"),
		UpdatedFull: l.UpdatedAt.UTC().Format(time.RFC3339),
	}
	if l.Verdict == store.VerdictPair {
		row.Chosen, row.ChosenID = reviewAnswerLetter(slots, l.ChosenID), l.ChosenID
		row.Rejected, row.RejectedID = reviewAnswerLetter(slots, l.RejectedID), l.RejectedID
	}
	if l.AnnotatorID == viewer.ID {
		row.EditURL = reviewItemURL(l.Item)
	}
	row.CanEdit = canEditLabel(viewer, l)
	return row
}

// canEditLabel reports whether the viewer may change a label: an admin any, an annotator their own.
func canEditLabel(viewer store.User, l store.Label) bool {
	return viewer.IsAdmin() || (viewer.CanEdit() && l.AnnotatorID == viewer.ID)
}

// reviewItemKey is a comparison's unit name in the agreement measures: "job:prompt".
func reviewItemKey(it store.Item) string { return fmt.Sprintf("%d:%d", it.JobID, it.PromptID) }

func reviewItemURL(it store.Item) string {
	return fmt.Sprintf("/annotate/%d/%d", it.JobID, it.PromptID)
}

// reviewAnswerLetter names an answer by its slot as annotators see it (A, B, …), or by id when the
// answer is gone.
func reviewAnswerLetter(slots map[int64]int, id int64) string {
	slot, ok := slots[id]
	if !ok || slot < 0 || slot >= 26 {
		return "#" + strconv.FormatInt(id, 10)
	}
	return string(rune('A' + slot))
}

func reviewVerdictText(v string) string {
	switch v {
	case store.VerdictPair:
		return "best/worst"
	case store.VerdictBothBad:
		return "both bad"
	default:
		return v
	}
}

// reviewPromptExcerpt is the start of a prompt on one line.
func reviewPromptExcerpt(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) <= reviewExcerptRunes {
		return text
	}
	return string([]rune(text)[:reviewExcerptRunes]) + "…"
}

func reviewSpentText(ms int64) string {
	if ms <= 0 {
		return "—"
	}
	if ms < 1000 {
		return "<1s"
	}
	return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
}

// reviewAgreementValue is what a label says about its comparison: the chosen answer for a pair
// verdict, else the verdict itself.
func reviewAgreementValue(l store.Label) string {
	if l.Verdict == store.VerdictPair {
		return strconv.FormatInt(l.ChosenID, 10)
	}
	return l.Verdict
}

// reviewLabelSummary says in words what a label says, for the conflicts list.
func reviewLabelSummary(l store.Label, slots map[int64]int) string {
	if l.Verdict == store.VerdictPair {
		return "best " + reviewAnswerLetter(slots, l.ChosenID) + ", worst " + reviewAnswerLetter(slots, l.RejectedID)
	}
	return reviewVerdictText(l.Verdict)
}

// reviewAgreement measures agreement over the comparisons that several people labelled
// (shared is ordered by comparison) and lists the comparisons where they disagree.
func reviewAgreement(shared []store.Label, slots map[int64]int) web.ReviewAgreement {
	ratings := make([]agreement.Rating, 0, len(shared))
	for _, l := range shared {
		ratings = append(ratings, agreement.Rating{Unit: reviewItemKey(l.Item), Annotator: l.AnnotatorName, Value: reviewAgreementValue(l)})
	}
	var a web.ReviewAgreement
	alpha, units, ok := agreement.KrippendorffAlpha(ratings)
	a.Units = units
	if ok {
		a.Alpha = strconv.FormatFloat(alpha, 'f', 3, 64)
	}
	for _, p := range agreement.PairwiseKappa(ratings) {
		a.Pairs = append(a.Pairs, web.ReviewKappa{A: p.A, B: p.B, Kappa: strconv.FormatFloat(p.Kappa, 'f', 3, 64), N: p.N})
	}
	for start := 0; start < len(shared); {
		end := start + 1
		for end < len(shared) && shared[end].Item == shared[start].Item {
			end++
		}
		if c, ok := reviewConflictOf(shared[start:end], slots); ok {
			if len(a.Conflicts) < reviewConflictsMax {
				a.Conflicts = append(a.Conflicts, c)
			} else {
				a.MoreConflicts++
			}
		}
		start = end
	}
	return a
}

// reviewConflictOf returns the conflict of one comparison's labels, if their values differ.
func reviewConflictOf(labels []store.Label, slots map[int64]int) (web.ReviewConflict, bool) {
	first := reviewAgreementValue(labels[0])
	differ := false
	for _, l := range labels[1:] {
		differ = differ || reviewAgreementValue(l) != first
	}
	if !differ {
		return web.ReviewConflict{}, false
	}
	c := web.ReviewConflict{Item: reviewItemKey(labels[0].Item), URL: reviewItemURL(labels[0].Item), Prompt: reviewPromptExcerpt(labels[0].PromptText)}
	for _, l := range labels {
		c.Votes = append(c.Votes, web.ReviewVote{Annotator: l.AnnotatorName, Said: reviewLabelSummary(l, slots)})
	}
	return c, true
}
