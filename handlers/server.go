// Package handlers is the HTTP layer: every route is listed in routes.go, one file per resource,
// and every failure goes through Server.error.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"rustexpert/rag"

	"rustexpert/eval"
	"rustexpert/generation"
	"rustexpert/live"
	"rustexpert/render"
	"rustexpert/store"
	"rustexpert/training"
)

// Config is what the HTTP layer needs from the app's configuration.
type Config struct {
	DataDir       string // where dataset snapshots are written
	SecureCookies bool   // set the Secure flag on cookies (behind TLS)
	// GeneratorFor reaches a registered model for the /v1 API; nil turns /v1 chat completions off.
	GeneratorFor generation.GeneratorFor
	// Embedder makes query vectors for dense and hybrid retrieval (nil: BM25 only); EmbedderModel
	// names its vectors in the database.
	Embedder      rag.Embedder
	EmbedderModel string
	// RAG, when set, is where documentation is kept and searched instead of the database (the
	// Qdrant backend, rag.Qdrant).
	RAG RAGIndex
	// Docs searches the database's documentation index when RAG is not set; nil: one is made (a
	// rag.Index keeps the vectors in memory, so the server shares one with its generation runner).
	Docs rag.Searcher
	// Training runs fine-tuning runs (/runs); nil turns training off.
	Training *training.Runner
	// Limits are the rate limits, the generation gate and login throttling (zero values: off).
	Limits Limits
	// Public lets anonymous visitors chat, battle in the arena and read model cards (see public.go).
	Public bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client. In public mode
	// (or when set) no other peer's forwarding headers are believed; empty in public mode means
	// loopback.
	TrustedProxies []netip.Prefix
	// Checker compiles chat answers, and arena answers after the vote, for their badges; nil (no
	// Rust toolchain) shows none.
	Checker *eval.Checker
}

// RAGIndex is a documentation index other than the database's.
type RAGIndex interface {
	rag.Searcher
	HasChunks(ctx context.Context) (bool, error)
	Sources(ctx context.Context) ([]store.RAGSourceStats, error)
}

// Server holds the dependencies of every handler.
type Server struct {
	log    *slog.Logger
	store  *store.Store
	runner *generation.Runner
	hub    *live.Hub
	md     *render.Renderer
	cfg    Config
	limits *limits
	fits   *fitCache // leaderboard fits by category
	// reports are the pages of shared eval reports by link query and data version (nil: none kept).
	reports *reportCache
}

// New returns the app's HTTP handler; md renders every piece of untrusted Markdown it shows.
func New(log *slog.Logger, st *store.Store, runner *generation.Runner, hub *live.Hub, md *render.Renderer, cfg Config) http.Handler {
	return newServer(log, st, runner, hub, md, cfg).routes()
}

// newServer builds the Server that New routes to.
func newServer(log *slog.Logger, st *store.Store, runner *generation.Runner, hub *live.Hub, md *render.Renderer, cfg Config) *Server {
	if cfg.Docs == nil {
		cfg.Docs = rag.NewIndex(st)
	}
	return &Server{log: log, store: st, runner: runner, hub: hub, md: md, cfg: cfg, limits: newLimits(cfg.Limits), fits: newFitCache(),
		reports: newReportCache(reportCacheBytes)}
}
