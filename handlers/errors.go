package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5/middleware"

	"rustexpert/sheet"
	"rustexpert/store"
	"rustexpert/web"
)

// error answers a failed request: app errors get their status and message, anything else is
// logged with its context and shown as a short generic message.
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	status, msg, problems := s.describe(r, err)
	if status == http.StatusUnauthorized && !isHTMX(r) && r.Method == http.MethodGet {
		http.Redirect(w, r, "/login?next="+r.URL.RequestURI(), http.StatusSeeOther)
		return
	}
	if isHTMX(r) {
		// Show the error in the page's error area instead of replacing the target.
		w.Header().Set("HX-Retarget", "#errors")
		w.Header().Set("HX-Reswap", "innerHTML")
		s.render(w, r, status, web.ErrorFragment(msg, problems))
		return
	}
	if wantsJSON(r) {
		http.Error(w, msg, status)
		return
	}
	s.render(w, r, status, web.ErrorView(web.ErrorPage{Nav: s.nav(r, ""), Status: status, Message: msg}))
}

func (s *Server) describe(r *http.Request, err error) (int, string, []string) {
	var sheetErr *sheet.Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &sheetErr):
		return http.StatusUnprocessableEntity, sheetErr.Error(), problemStrings(sheetErr)
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, "the upload is too large (the limit is 50 MB)", nil
	case store.IsDiskFull(err):
		s.log.Error("request failed: disk full", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
		return http.StatusInsufficientStorage, diskFullMessage, nil
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, userMessage(err, "not found"), nil
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, userMessage(err, "conflict"), nil
	case errors.Is(err, store.ErrInvalid):
		return http.StatusUnprocessableEntity, userMessage(err, "invalid"), nil
	case errors.Is(err, store.ErrUnauthorized):
		return http.StatusUnauthorized, "please log in", nil
	case errors.Is(err, store.ErrForbidden):
		return http.StatusForbidden, "your role does not allow this", nil
	}
	s.log.Error("request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("request_id", middleware.GetReqID(r.Context())), slog.Any("error", err))
	return http.StatusInternalServerError, "internal error; the server log has the details", nil
}

// diskFullMessage is what a user is told when a write found the server's disk full.
const diskFullMessage = "the server's disk is full (no space left): this change was not saved; free some space and try again"

// userMessage strips the sentinel's own word from an app error ("invalid: text: …" → "text: …").
func userMessage(err error, sentinel string) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel+": "); i >= 0 {
		return msg[:i] + msg[i+len(sentinel)+2:]
	}
	return msg
}

// formMessage is an invalid or conflicting input's message as a form shows it.
func formMessage(err error) string {
	msg := userMessage(err, store.ErrInvalid.Error())
	if strings.HasPrefix(msg, store.ErrConflict.Error()+": ") {
		msg = strings.TrimPrefix(msg, store.ErrConflict.Error()+": ")
	}
	return msg
}

func problemStrings(e *sheet.Error) []string {
	out := make([]string, 0, len(e.Problems)+1)
	for _, p := range e.Problems {
		out = append(out, p.String())
	}
	if e.More > 0 {
		out = append(out, "… and more problems not listed")
	}
	return out
}

func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// render writes a templ component with a status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		s.log.Warn("render", slog.String("path", r.URL.Path), slog.Any("error", err))
	}
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", slog.String("path", r.URL.Path), slog.Any("panic", v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		next.ServeHTTP(ww, r)
		level := slog.LevelDebug
		if ww.Status() >= 500 {
			level = slog.LevelWarn
		}
		if s.log.Enabled(r.Context(), level) { // no attributes built for a level that is off
			s.log.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", ww.Status()), slog.Duration("took", time.Since(start)))
		}
	})
}
