package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"rustexpert/store"
	"rustexpert/web"
)

// labelFromURL returns the label of the route's {id}, if the viewer may change it.
func (s *Server) labelFromURL(r *http.Request) (store.Label, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return store.Label{}, fmt.Errorf("label %q: %w", chi.URLParam(r, "id"), store.ErrNotFound)
	}
	l, err := s.store.LabelByID(r.Context(), id)
	if err != nil {
		return store.Label{}, err
	}
	if !canEditLabel(userFrom(r), l) {
		return store.Label{}, fmt.Errorf("%w: only admins change other people's labels", store.ErrForbidden)
	}
	return l, nil
}

// handleReviewLabelRow serves one label's row of the review list (the editor's Cancel).
func (s *Server) handleReviewLabelRow(w http.ResponseWriter, r *http.Request) {
	l, err := s.labelFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	row, _, err := s.reviewRowOf(r, l)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ReviewRowView(row))
}

// handleReviewLabelEdit serves a label's inline editor.
func (s *Server) handleReviewLabelEdit(w http.ResponseWriter, r *http.Request) {
	l, err := s.labelFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	row, answers, err := s.reviewRowOf(r, l)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ReviewRowEdit(web.ReviewLabelEdit{Row: row, Verdict: l.Verdict, Answers: answers,
		Best: l.ChosenID, Worst: l.RejectedID, Rationale: l.Rationale}))
}

// handleReviewLabelUpdate stores the edited label for its annotator and returns the updated row; an
// invalid edit returns the editor with the reason.
func (s *Server) handleReviewLabelUpdate(w http.ResponseWriter, r *http.Request) {
	l, err := s.labelFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	ids, err := s.store.ItemAnswerIDs(r.Context(), l.Item)
	if err != nil {
		s.error(w, r, err)
		return
	}
	in, posted, err := labelFromForm(r, l.Item, l.AnnotatorID, ids)
	if err == nil {
		err = s.store.SubmitLabel(r.Context(), in)
	}
	if errors.Is(err, store.ErrInvalid) {
		row, answers, rerr := s.reviewRowOf(r, l)
		if rerr != nil {
			s.error(w, r, rerr)
			return
		}
		s.render(w, r, http.StatusOK, web.ReviewRowEdit(web.ReviewLabelEdit{Row: row, Verdict: r.FormValue("verdict"), Answers: answers,
			Best: posted.best, Worst: posted.worst, Rationale: posted.rationale, Error: formMessage(err)}))
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	// The label writer commits labels in batches, so the edit's audit row follows its commit.
	if err := s.store.RecordAudit(r.Context(), "label.edit", fmt.Sprintf("label %d", l.ID), map[string]any{"annotator_id": l.AnnotatorID,
		"job_id": l.Item.JobID, "prompt_id": l.Item.PromptID, "verdict": in.Verdict}); err != nil {
		s.error(w, r, err)
		return
	}
	updated, err := s.store.LabelByID(r.Context(), l.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	row, _, err := s.reviewRowOf(r, updated)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ReviewRowView(row))
}

// reviewRowOf builds a label's row and the choices of its comparison's answers.
func (s *Server) reviewRowOf(r *http.Request, l store.Label) (web.ReviewRow, []web.ReviewAnswerChoice, error) {
	answers, err := s.store.ItemResponses(r.Context(), l.Item.JobID, l.Item.PromptID)
	if err != nil {
		return web.ReviewRow{}, nil, err
	}
	slots := make(map[int64]int, len(answers))
	choices := make([]web.ReviewAnswerChoice, 0, len(answers))
	for _, a := range answers {
		slots[a.ID] = a.Slot
		choices = append(choices, web.ReviewAnswerChoice{ID: a.ID, Letter: reviewAnswerLetter(slots, a.ID)})
	}
	return reviewRow(l, slots, userFrom(r)), choices, nil
}
