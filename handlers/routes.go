package handlers

import (
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"

	"rustexpert/static"
)

// routes lists every route of the app.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	ragTasks := newRAGTasks(s) // the docs sources page's background ingests (ragsources.go)
	r.Use(s.clientAddress, s.recoverer, s.logRequests, securityHeaders, limitBody, compressResponses)

	staticFS, _ := fs.Sub(static.FS, ".")
	r.Handle("/static/*", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(staticFS))))
	r.Get("/healthz", s.handleHealth)
	s.apiRoutes(r) // /v1 (bearer API keys, no session or CSRF) and the admins' /settings/keys

	r.Group(func(r chi.Router) {
		r.Use(s.loadSession, s.limitRequests, s.checkCSRF)
		r.Get("/login", s.handleLoginForm)
		r.Post("/login", s.handleLogin)
		r.Get("/setup", s.handleSetupForm)
		r.Post("/setup", s.handleSetup)
		r.Get("/share/chat/{token}", s.handleSharedChatLink) // read-only links: no login (shares.go)
		r.Get("/s/{token}", s.handleShareView)

		r.Group(func(r chi.Router) {
			r.Use(s.allowVisitors) // a login, or with --public an anonymous visitor too (public.go)
			r.Get("/", s.handleHome)
			r.Get("/chat", s.handleChatPage)
			r.Post("/chat", s.handleChatCreate)
			r.Get("/chat/{id}", s.handleChatShow)
			r.Post("/chat/{id}/turns", s.handleChatAsk)
			r.Get("/chat/{id}/stream/{col}", s.handleChatStream)
			r.Post("/chat/{id}/columns/{col}/regenerate", s.handleChatRegenerate)
			r.Get("/chat/{id}/turns/{turn}/check", s.handleChatCheck) // chatchecks.go
			r.Get("/arena", s.handleArenaPage)
			r.Post("/arena", s.handleArenaCreate)
			r.Get("/arena/leaderboard", s.handleArenaLeaderboard)
			r.Get("/arena/{id}", s.handleArenaBattle)
			r.Get("/arena/{id}/stream/{side}", s.handleArenaStream)
			r.Post("/arena/{id}/vote", s.handleArenaVote)
			r.Get("/arena/{id}/check/{side}", s.handleArenaCheck)
			r.Get("/models/{name}/card", s.handleModelCard)
		})

		r.Group(func(r chi.Router) {
			r.Use(s.requireUser)
			r.Post("/logout", s.handleLogout)
			r.Get("/account", s.handleAccount)
			r.Post("/account/password", s.handlePasswordChange)
			r.Post("/account/logout-all", s.handleLogoutEverywhere)

			r.Get("/prompts", s.handlePromptList)
			r.Get("/prompts/export", s.handlePromptExport)
			r.Get("/prompts/{id}/{field}", s.handlePromptCell)
			r.Get("/prompts/{id}/{field}/edit", s.handlePromptCellEdit)

			r.Group(func(r chi.Router) {
				r.Use(requireEditor)
				r.Post("/prompts", s.handlePromptCreate)
				r.Post("/prompts/import", s.handlePromptImport)
				r.Put("/prompts/{id}/{field}", s.handlePromptUpdate)
				r.Delete("/prompts/{id}", s.handlePromptDelete)
			})

			r.Get("/generate", s.handleGeneratePage)
			r.Get("/generate/count", s.handleGenerateCount)
			r.Get("/generate/jobs/{id}", s.handleJobPage)
			r.Get("/ws/jobs/{id}", s.handleJobSocket)
			r.Get("/models", s.handleModelsPage)
			r.Group(func(r chi.Router) {
				r.Use(requireEditor)
				r.Post("/generate", s.handleGenerateCreate)
				r.Post("/generate/jobs/{id}/cancel", s.handleJobCancel)
				r.Post("/generate/jobs/{id}/resume", s.handleJobResume)
				r.Post("/generate/jobs/{id}/label-by-compiler", s.handleLabelByCompiler)
			})
			r.Group(func(r chi.Router) {
				r.Use(requireAdmin)
				r.Post("/models", s.handleModelCreate)
				r.Post("/models/local", s.handleLocalModelCreate)
				r.Post("/models/{id}/check", s.handleModelCheck)
			})

			r.Get("/runs", s.handleRunsPage)
			r.Get("/runs/form", s.handleRunForm)
			r.Get("/runs/{id}", s.handleRunPage)
			r.Get("/ws/runs/{id}", s.handleRunSocket)
			r.Group(func(r chi.Router) {
				r.Use(requireEditor)
				r.Post("/runs", s.handleRunCreate)
				r.Post("/runs/preview", s.handleRunPreview)
				r.Post("/runs/{id}/cancel", s.handleRunCancel)
				r.Post("/runs/{id}/resume", s.handleRunResume)
				r.Post("/runs/estimate", s.handleRunEstimate) // runs_estimate.go
				r.Get("/runs/estimate", s.handleRunEstimateBox)
				r.Post("/runs/estimate/cancel", s.handleRunEstimateCancel)
				r.Post("/runs/configs", s.handleRunConfigSave) // runconfigs.go
				r.Post("/runs/configs/{id}/delete", s.handleRunConfigDelete)
				r.Post("/runs/{id}/export", s.handleRunExport) // exports.go
				r.Get("/runs/{id}/export", s.handleRunExportBox)
				r.Get("/exports/{name}", s.handleExportDownload)
			})

			r.Get("/review", s.handleReview)
			r.Get("/review/labels/{id}", s.handleReviewLabelRow)
			r.Get("/review/labels/{id}/edit", s.handleReviewLabelEdit)
			r.With(requireEditor).Put("/review/labels/{id}", s.handleReviewLabelUpdate)
			r.Get("/datasets", s.handleDatasets)
			r.Get("/datasets/{id}/download", s.handleDatasetDownload)
			r.Get("/datasets/{id}/validate", s.handleDatasetValidate)
			r.Post("/datasets/validate", s.handleValidateUpload)
			r.With(requireEditor).Post("/datasets", s.handleDatasetCreate)
			r.Group(func(r chi.Router) {
				r.Use(requireAdmin)
				r.Get("/users", s.handleUsers)
				r.Get("/audit", s.handleAudit)
				r.Post("/users", s.handleUserCreate)
				r.Post("/users/{id}/role", s.handleUserRole)
			})

			r.Get("/annotate", s.handleAnnotateNext)
			r.Get("/annotate/{job}/{prompt}", s.handleAnnotateItem)
			r.With(requireEditor).Post("/annotate/{job}/{prompt}", s.handleAnnotateSubmit)
			r.With(requireEditor).Post("/annotate/undo", s.handleAnnotateUndo)
			r.Post("/chat/{id}/share", s.handleChatShareLink)
			r.Get("/shares", s.handleShares)
			r.Post("/shares", s.handleShareCreate)
			r.Post("/shares/{id}/revoke", s.handleShareRevoke)
			r.Get("/rag", s.handleRAGSearch)
			r.Get("/rag/sources", ragTasks.handlePage) // ragsources.go
			r.Get("/ws/rag/tasks", ragTasks.handleSocket)
			r.With(requireAdmin).Post("/rag/sources/{name}/ingest", ragTasks.handleIngest)
			r.With(requireAdmin).Post("/rag/embed", ragTasks.handleEmbed)
			r.Get("/eval", s.handleEvalPage)
			r.Get("/eval/report.md", s.handleEvalReportMarkdown)
			r.Get("/eval/report.html", s.handleEvalReportHTML)
			r.Get("/guidelines", s.handleGuidelines)
			r.With(requireAdmin).Post("/guidelines", s.handleGuidelinesSave)
		})
	})
	return r
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets a strict content security policy (no inline scripts, no framing), no MIME
// sniffing, no referrer to other sites and no powerful browser features.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// Upload limits: sheets and dataset files may be large, everything else is small.
const (
	maxUploadBytes = 50<<20 + 1<<20
	maxFormBytes   = 2 << 20
)

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxFormBytes)
		if r.URL.Path == "/prompts/import" || r.URL.Path == "/datasets/validate" {
			limit = maxUploadBytes
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ping(r.Context()); err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	if isVisitor(r) {
		http.Redirect(w, r, "/chat", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/prompts", http.StatusSeeOther)
}
