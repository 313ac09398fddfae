package handlers

import (
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
	vm := web.RAGPage{Nav: s.nav(r, "Docs"), Query: strings.TrimSpace(r.URL.Query().Get("q")), Source: r.URL.Query().Get("source")}
	sources, err := s.store.RAGSources(ctx)
	if err != nil {
		s.error(w, r, err)
		return
	}
	for _, st := range sources {
		vm.Sources = append(vm.Sources, web.RAGSourceOption{Name: st.Source, Chunks: st.Chunks})
	}
	if vm.Query != "" {
		vm.Searched = true
		hits, err := s.store.SearchRAG(ctx, store.RAGSearch{Match: rag.MatchQuery(vm.Query), Source: vm.Source, Limit: ragResultLimit})
		if err != nil {
			s.error(w, r, err)
			return
		}
		for _, h := range hits {
			vm.Results = append(vm.Results, web.RAGResult{Title: h.Title, URL: h.URL, Source: h.Source,
				Score: strconv.FormatFloat(h.Score, 'f', 2, 64), Snippet: snippetParts(h.Snippet)})
		}
	}
	s.render(w, r, http.StatusOK, web.RAGView(vm))
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
