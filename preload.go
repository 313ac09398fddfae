package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"rustexpert/bundled"
	"rustexpert/inference/builtin"
	"rustexpert/store"
)

// defaultPreload names the bundled models (base,v1,v2): serve loads them at start, so the first
// question does not wait for its model to load.
var defaultPreload = strings.Join(bundled.Names(), ",")

// preloader loads the named built-in models into the engine pool, one after the other, while
// the server already answers; a model that is not registered, is not built-in or fails to load
// is logged and skipped (a request for it then loads it, or reports why it cannot).
type preloader struct {
	store   *store.Store
	engines *builtin.Pool
	names   []string
	log     *slog.Logger
}

// preloadNames reads --preload: comma-separated model names, or "none".
func preloadNames(list string) []string {
	if strings.TrimSpace(list) == "none" {
		return nil
	}
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// Run loads each model in turn and returns when all are loaded or ctx ends.
func (p *preloader) Run(ctx context.Context) error {
	for _, name := range p.names {
		if ctx.Err() != nil {
			return nil
		}
		p.load(ctx, name)
	}
	return nil
}

func (p *preloader) load(ctx context.Context, name string) {
	m, err := p.store.ModelByName(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.log.Debug("not preloaded: no such model", slog.String("model", name))
		return
	case err != nil:
		p.log.Warn("not preloaded", slog.String("model", name), slog.Any("error", err))
		return
	case m.Provider != store.ProviderBuiltin:
		p.log.Debug("not preloaded: served elsewhere", slog.String("model", name))
		return
	}
	start := time.Now()
	if _, err := p.engines.Get(builtinSpec(m)); err != nil {
		p.log.Warn("not preloaded", slog.String("model", name), slog.Any("error", err))
		return
	}
	p.log.Info("model loaded", slog.String("model", name), slog.Duration("took", time.Since(start)))
}
