package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"rustexpert/store"
	"rustexpert/web"
)

// auditPageSize is how many audit rows a page shows.
const auditPageSize = 100

// handleAudit shows the audit log to admins, newest first, filtered by who, action, target and dates.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	vm := web.AuditPage{Nav: s.nav(r, "Audit"), Actor: strings.TrimSpace(q.Get("actor")), Action: q.Get("action"),
		Target: strings.TrimSpace(q.Get("target")), Since: q.Get("since"), Until: q.Get("until")}
	f := store.AuditFilter{Actor: vm.Actor, Action: vm.Action, Target: vm.Target, Limit: auditPageSize}
	var errs []web.FieldError
	if vm.Since != "" {
		t, err := time.Parse(time.DateOnly, vm.Since)
		if err != nil {
			errs = append(errs, web.FieldError{Field: "from", Message: fmt.Sprintf("%q is not a date (YYYY-MM-DD)", vm.Since)})
		}
		f.Since = t
	}
	if vm.Until != "" {
		t, err := time.Parse(time.DateOnly, vm.Until)
		if err != nil {
			errs = append(errs, web.FieldError{Field: "to", Message: fmt.Sprintf("%q is not a date (YYYY-MM-DD)", vm.Until)})
		}
		f.Until = t.AddDate(0, 0, 1) // the whole day
	}
	if before := q.Get("before"); before != "" {
		id, err := strconv.ParseInt(before, 10, 64)
		if err != nil || id < 1 {
			errs = append(errs, web.FieldError{Field: "before", Message: fmt.Sprintf("%q is not a row id", before)})
		}
		f.BeforeID = id
	}
	status := http.StatusOK
	if len(errs) > 0 {
		vm.Errors, status = errs, http.StatusUnprocessableEntity
		f = store.AuditFilter{Limit: auditPageSize}
	}
	var err error
	if vm.Actions, err = s.store.AuditActions(r.Context()); err != nil {
		s.error(w, r, err)
		return
	}
	rows, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	for _, e := range rows {
		vm.Rows = append(vm.Rows, web.AuditRow{ID: e.ID, At: e.At.UTC().Format("2006-01-02 15:04:05"), Actor: e.Actor,
			Action: e.Action, Target: e.Target, Details: e.Details})
	}
	if len(rows) == auditPageSize {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("before", strconv.FormatInt(rows[len(rows)-1].ID, 10))
		vm.Older = "/audit?" + next.Encode()
	}
	s.render(w, r, status, web.AuditView(vm))
}
