package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"rustexpert/bundled"
	"rustexpert/checking"
	"rustexpert/eval"
	"rustexpert/generation"
	"rustexpert/handlers"
	"rustexpert/inference"
	"rustexpert/inference/bert"
	"rustexpert/inference/builtin"
	"rustexpert/live"
	"rustexpert/rag"
	"rustexpert/render"
	"rustexpert/store"
	"rustexpert/tuning"
)

// serveConfig reads serve's flags, with their environment fallbacks.
func (e *cliEnv) serveConfig(args []string) (Config, error) {
	var cfg Config
	var proxies string
	fs := e.flags("serve", &cfg)
	fs.StringVar(&cfg.Addr, "addr", e.env("RUSTEXPERT_ADDR", "localhost:8080"), "address to listen on")
	fs.IntVar(&cfg.Workers, "workers", e.envInt("RUSTEXPERT_WORKERS", 0), "answers generated at once (default 8)")
	fs.StringVar(&cfg.Preload, "preload", e.env("RUSTEXPERT_PRELOAD", defaultPreload), "built-in models to load at start, comma-separated (\"none\": each loads on first use)")
	e.trainFlags(fs, &cfg)
	e.limitFlags(fs, &cfg.Limits)
	e.ragFlags(fs, &cfg)
	e.publicFlags(fs, &cfg, &proxies)
	fs.BoolVar(&cfg.SecureCookies, "secure-cookies", e.getenv("RUSTEXPERT_SECURE_COOKIES") == "1", "mark cookies Secure (serve behind TLS)")
	if err := e.parseNoArgs(fs, &cfg, args); err != nil {
		return cfg, err
	}
	var err error
	cfg.TrustedProxies, err = parseProxies(proxies)
	return cfg, err
}

func (e *cliEnv) serve(ctx context.Context, args []string) error {
	cfg, err := e.serveConfig(args)
	if err != nil {
		return err
	}
	log, err := e.logger(cfg)
	if err != nil {
		return err
	}
	unlock, err := lockDatabase(cfg.DBPath) // restore refuses while it is held
	if err != nil {
		return err
	}
	defer unlock()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	if added, err := bundled.Register(ctx, st, cfg.ModelsDir); err != nil {
		return fmt.Errorf("registering the bundled models: %w", err)
	} else if len(added) > 0 {
		log.Info("registered bundled models", slog.Any("models", added))
	}
	engines := builtin.NewPool()
	defer engines.Close()
	embedder := loadEmbedder(cfg, log)
	if embedder != nil {
		defer embedder.Close()
	}
	e.tuneRuntime(log)
	go tuning.AdaptGC(ctx, e.getenv, 2*time.Second)
	hub := live.NewHub(64)
	runner := generation.New(st, generatorFor(e.getenv, engines), hub, log, cfg.Workers)
	docs := rag.NewIndex(st) // one in-memory copy of the vectors and the BM25 index for the pages and the runner
	go func() {
		model := ""
		if embedder != nil {
			model = embedderModel
		}
		if err := docs.Warm(ctx, model); err != nil && ctx.Err() == nil {
			log.Warn("reading the docs' index into memory", slog.Any("err", err))
		}
	}()
	qdrantIndex, retrieve, err := e.serveRAG(ctx, cfg, embedderOrNil(embedder), docs)
	if err != nil {
		return err
	}
	if qdrantIndex != nil {
		defer qdrantIndex.Close()
		log.Info("docs are searched in Qdrant", slog.String("addr", qdrantIndex.Addr()), slog.String("collection", qdrantIndex.Collection()))
	}
	runner.Retrieve = retrieve
	trainer := newTrainer(st, hub, log, cfg, nil)
	checker := newAnswerChecker(log) // one for the background checks and the pages' badges
	site := handlers.Config{Checker: checker, DataDir: cfg.DataDir, SecureCookies: cfg.SecureCookies, GeneratorFor: generatorFor(e.getenv, engines), Embedder: embedderOrNil(embedder), EmbedderModel: embedderModel, Training: trainer, Limits: cfg.Limits,
		Public: cfg.Public, TrustedProxies: cfg.TrustedProxies, Docs: docs}
	if qdrantIndex != nil {
		site.RAG = qdrantIndex
	}
	srv := &http.Server{
		Handler:           handlers.New(log, st, runner, hub, render.New(), site),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("serving", slog.String("url", "http://"+ln.Addr().String()), slog.String("db", cfg.DBPath), slog.Bool("public", cfg.Public))
	workers := []worker{&preloader{store: st, engines: engines, names: preloadNames(cfg.Preload), log: log}, runner, trainer}
	if checker != nil {
		workers = append(workers, checking.New(st, checker, log, 2*time.Second))
	}
	if cfg.Public {
		workers = append(workers, &handlers.VisitorPruner{Store: st, Log: log})
	}
	return serveUntilDone(ctx, log, srv, ln, workers...)
}

// worker is a background loop that runs until its context ends.
type worker interface {
	Run(ctx context.Context) error
}

// serveUntilDone runs the server and the background workers; on ctx's end it shuts down in order:
// stop accepting requests, stop the workers and wait for them, then the caller closes the store.
func serveUntilDone(ctx context.Context, log *slog.Logger, srv *http.Server, ln net.Listener, workers ...worker) error {
	runCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(runCtx); err != nil {
				log.Error("background worker", slog.Any("error", err))
			}
		}()
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-srvDone:
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", slog.Any("error", err))
	}
	stopWorkers()
	wg.Wait()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// newAnswerChecker returns the compiler check of answers, or nil (with a warning) when no Rust
// toolchain is installed: the app works without it, the answers show no compile badges.
func newAnswerChecker(log *slog.Logger) *eval.Checker {
	checker, err := eval.NewChecker(eval.Options{Clippy: true})
	if err != nil {
		log.Warn("answers will not be compile-checked", slog.Any("error", err))
		return nil
	}
	return checker
}

func openStore(ctx context.Context, cfg Config) (*store.Store, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return store.Open(ctx, cfg.DBPath)
}

// openWithModel opens the store, registers the bundled models found in the models folder
// (so a command works before the first serve) and looks up the named model.
func openWithModel(ctx context.Context, cfg Config, name string) (*store.Store, store.Model, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, store.Model{}, err
	}
	if _, err := bundled.Register(ctx, st, cfg.ModelsDir); err != nil {
		st.Close()
		return nil, store.Model{}, err
	}
	m, err := st.ModelByName(ctx, name)
	if err != nil {
		st.Close()
		return nil, store.Model{}, err
	}
	return st, m, nil
}

// generatorFor returns how the app reaches a registered model.
func generatorFor(getenv func(string) string, engines *builtin.Pool) generation.GeneratorFor {
	return func(m store.Model) (inference.Generator, error) {
		switch m.Provider {
		case store.ProviderOpenAI:
			key := ""
			if m.APIKeyEnv != "" {
				key = getenv(m.APIKeyEnv)
			}
			timeout, err := modelTimeout(getenv)
			if err != nil {
				return nil, err
			}
			return inference.NewOpenAI(inference.OpenAIConfig{BaseURL: m.Endpoint, APIKey: key, Timeout: timeout}), nil
		case store.ProviderBuiltin:
			e, err := engines.Get(builtinSpec(m))
			if err != nil {
				return nil, fmt.Errorf("model %s: %w", m.Name, err)
			}
			return e, nil
		default:
			return nil, fmt.Errorf("model %s: provider %q is not available", m.Name, m.Provider)
		}
	}
}

// modelTimeout reads RUSTEXPERT_MODEL_TIMEOUT: how long one attempt at an OpenAI-compatible
// endpoint may take, its streamed answer included, before it is retried (3 times) or fails;
// unset means the client's default of 5 minutes.
func modelTimeout(getenv func(string) string) (time.Duration, error) {
	v := getenv("RUSTEXPERT_MODEL_TIMEOUT")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("RUSTEXPERT_MODEL_TIMEOUT=%q: want a positive duration such as 90s", v)
	}
	return d, nil
}

// builtinSpec says what the CPU engine loads for a registered built-in model.
func builtinSpec(m store.Model) builtin.Spec {
	return builtin.Spec{Base: m.Base, Adapter: m.Adapter, Template: m.ChatTemplate, ContextLength: m.ContextLength}
}

// loadEmbedder loads the bundled embedder for dense retrieval, or returns nil (with a note) when it
// is not fetched: retrieval then ranks by BM25 alone.
func loadEmbedder(cfg Config, log *slog.Logger) *bert.Encoder {
	enc, err := bert.Load(filepath.Join(cfg.ModelsDir, bundled.EmbedderDir))
	if err != nil {
		log.Warn("docs search ranks by BM25 only: no embedder", slog.Any("error", err))
		return nil
	}
	return enc
}

// embedderOrNil keeps a nil encoder a nil interface.
func embedderOrNil(enc *bert.Encoder) rag.Embedder {
	if enc == nil {
		return nil
	}
	return enc
}

// tuneRuntime lets request goroutines run while the models compute and makes garbage collections
// rarer (tuning.Server; tuning.AdaptGC then keeps the garbage within tuning.Headroom once the
// engines' caches make the live heap large). The engines keep to their pool's shared compute
// slots (as many as the cores), so GOMAXPROCS above the cores only gives the other goroutines OS
// threads of their own, which the kernel schedules beside the arithmetic instead of behind it
// (with GOMAXPROCS = cores a page waited for the engines' time slices: 190 ms p99 under 200
// visitors on 2 cores).
func (e *cliEnv) tuneRuntime(log *slog.Logger) {
	procs, gc := tuning.Server(e.getenv)
	log.Debug("runtime tuned", slog.Int("gomaxprocs", procs), slog.Int("gc_percent", gc))
}
