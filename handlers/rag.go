package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"rustexpert/rag"
	"rustexpert/store"
	"rustexpert/web"
)

// ragResultLimit is how many chunks the playground shows.
const ragResultLimit = 20

// handleRAGSearch is the retrieval playground: any query text gives ranked chunks or none.
func (s *Server) handleRAGSearch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vm := web.RAGPage{Nav: s.nav(r, "Docs"), Query: strings.TrimSpace(r.URL.Query().Get("q")), Source: r.URL.Query().Get("source"),
		Mode: r.URL.Query().Get("mode"), Fusion: r.URL.Query().Get("fusion"), Dense: s.cfg.Embedder != nil}
	if vm.Mode != rag.ModeBM25 && vm.Mode != rag.ModeDense {
		vm.Mode = rag.ModeHybrid
	}
	if vm.Fusion != rag.FusionRRF {
		vm.Fusion = rag.FusionWeighted
	}
	sources, err := s.ragSources(ctx)
	if err != nil {
		s.error(w, r, err)
		return
	}
	for _, st := range sources {
		vm.Sources = append(vm.Sources, web.RAGSourceOption{Name: st.Source, Chunks: st.Chunks})
	}
	if vm.Query != "" {
		vm.Searched = true
		hits, note, err := s.retrieve(ctx, rag.Query{Text: vm.Query, Source: vm.Source, K: ragResultLimit, Mode: vm.Mode, Fusion: vm.Fusion})
		if err != nil {
			s.error(w, r, err)
			return
		}
		vm.Note = note
		for _, h := range hits {
			vm.Results = append(vm.Results, web.RAGResult{Title: h.Title, URL: h.URL, Source: h.Source,
				Score: strconv.FormatFloat(h.Fused, 'f', 4, 64), BM25: strconv.FormatFloat(h.BM25, 'f', 2, 64),
				Dense: strconv.FormatFloat(h.Dense, 'f', 3, 64), Snippet: snippetParts(h.Snippet)})
		}
	}
	s.render(w, r, http.StatusOK, web.RAGView(vm))
}

// retrieve runs the query; without an embedder or before any chunk has a vector, dense and hybrid
// searches fall back to BM25 with a note saying so.
func (s *Server) retrieve(ctx context.Context, q rag.Query) ([]rag.Hit, string, error) {
	var searcher rag.Searcher = s.cfg.Docs
	if s.cfg.RAG != nil {
		searcher = s.cfg.RAG
	}
	hits, fellBack, err := rag.SearchOrBM25With(ctx, searcher, s.cfg.Embedder, s.cfg.EmbedderModel, q)
	note := ""
	if fellBack {
		note = "BM25 only: the chunks have no vectors yet (rustexpert rag embed) or the embedder is not installed (rustexpert models fetch)."
	}
	return hits, note, err
}

// ragSources counts the indexed documents and chunks of each source, in Config.RAG when set.
func (s *Server) ragSources(ctx context.Context) ([]store.RAGSourceStats, error) {
	if s.cfg.RAG != nil {
		return s.cfg.RAG.Sources(ctx)
	}
	return s.store.RAGSources(ctx)
}

// snippetParts splits an FTS5 snippet at its match markers; templ escapes every part.
func snippetParts(snippet string) []web.SnippetPart {
	var out []web.SnippetPart
	for snippet != "" {
		before, rest, found := strings.Cut(snippet, store.SnippetOpen)
		if before != "" {
			out = append(out, web.SnippetPart{Text: before})
		}
		if !found {
			break
		}
		hit, after, _ := strings.Cut(rest, store.SnippetClose)
		if hit != "" {
			out = append(out, web.SnippetPart{Text: hit, Hit: true})
		}
		snippet = after
	}
	return out
}
