package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"rustexpert/store"
	"rustexpert/web"
)

// handleGuidelines shows the labelling guidelines (and, to admins, their editor).
func (s *Server) handleGuidelines(w http.ResponseWriter, r *http.Request) {
	g, err := s.store.Guidelines(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm := s.guidelinesPage(r, g)
	vm.Saved = r.URL.Query().Get("saved") != ""
	s.render(w, r, http.StatusOK, web.GuidelinesView(vm))
}

func (s *Server) guidelinesPage(r *http.Request, g store.Guidelines) web.GuidelinesPage {
	return web.GuidelinesPage{
		Nav: s.nav(r, "Annotate"), Body: s.markdownComponent(g.Text), Text: g.Text,
		Overlap: g.Overlap, OverlapIn: strconv.Itoa(g.Overlap), MaxOverlap: store.MaxOverlap,
	}
}

// handleGuidelinesSave stores the guidelines and the overlap an admin typed.
func (s *Server) handleGuidelinesSave(w http.ResponseWriter, r *http.Request) {
	text, overlapIn := r.FormValue("guidelines"), strings.TrimSpace(r.FormValue("overlap"))
	overlap, err := strconv.Atoi(overlapIn)
	if err != nil {
		err = fmt.Errorf("%w: labels per comparison: %q is not a whole number", store.ErrInvalid, overlapIn)
	} else {
		err = s.store.SaveGuidelines(r.Context(), store.Guidelines{Text: text, Overlap: overlap})
	}
	if errors.Is(err, store.ErrInvalid) {
		stored, serr := s.store.Guidelines(r.Context())
		if serr != nil {
			s.error(w, r, serr)
			return
		}
		vm := s.guidelinesPage(r, stored)
		vm.Text, vm.OverlapIn, vm.Error = text, overlapIn, formMessage(err)
		s.render(w, r, http.StatusUnprocessableEntity, web.GuidelinesView(vm))
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/guidelines?saved=1", http.StatusSeeOther)
}
