package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"rustexpert/sheet"
	"rustexpert/store"
	"rustexpert/web"
)

const promptPageSize = 50

func promptFilterFrom(q url.Values) store.PromptFilter {
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	return store.PromptFilter{
		Query: strings.TrimSpace(q.Get("q")), Category: q.Get("category"), Split: q.Get("split"),
		Tag: strings.TrimSpace(q.Get("tag")), After: after, Limit: promptPageSize,
	}
}

func filterQuery(f store.PromptFilter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"q": f.Query, "category": f.Category, "split": f.Split, "tag": f.Tag} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func (s *Server) handlePromptList(w http.ResponseWriter, r *http.Request) {
	vm, err := s.promptsPage(r, promptFilterFrom(r.URL.Query()))
	if err != nil {
		s.error(w, r, err)
		return
	}
	if n, _ := strconv.Atoi(r.URL.Query().Get("imported")); n > 0 {
		vm.Imported = n
	}
	if isHTMX(r) {
		s.render(w, r, http.StatusOK, web.PromptGridView(vm.Grid))
		return
	}
	s.render(w, r, http.StatusOK, web.PromptsView(vm))
}

func (s *Server) promptsPage(r *http.Request, f store.PromptFilter) (web.PromptsPage, error) {
	ctx := r.Context()
	page, err := s.store.ListPrompts(ctx, f)
	if err != nil {
		return web.PromptsPage{}, err
	}
	cats, err := s.store.PromptCategories(ctx)
	if err != nil {
		return web.PromptsPage{}, err
	}
	canEdit := userFrom(r).CanEdit()
	grid := web.PromptGrid{Total: page.Total, CanEdit: canEdit}
	for _, p := range page.Items {
		grid.Rows = append(grid.Rows, promptRow(p, canEdit))
	}
	q := filterQuery(f)
	if page.NextAfter != 0 {
		next := cloneValues(q)
		next.Set("after", strconv.FormatInt(page.NextAfter, 10))
		grid.NextURL = "/prompts?" + next.Encode()
	}
	if f.After > 0 {
		before, err := s.store.PromptCursorBefore(ctx, f, f.After)
		if err != nil {
			return web.PromptsPage{}, err
		}
		prev := cloneValues(q)
		if before > 0 {
			prev.Set("after", strconv.FormatInt(before, 10))
		}
		grid.PrevURL = "/prompts?" + prev.Encode()
	}
	grid.From = 1
	if len(page.Items) > 0 && f.After > 0 {
		// Number the rows: those from the cursor on are the last ones of the filter.
		rest, err := s.store.CountPromptsAfter(ctx, f)
		if err != nil {
			return web.PromptsPage{}, err
		}
		grid.From = page.Total - rest + 1
	}
	return web.PromptsPage{
		Nav: s.nav(r, "Prompts"), Categories: cats, Grid: grid, ExportQuery: q.Encode(),
		Filter: web.PromptFilter{Query: f.Query, Category: f.Category, Split: f.Split, Tag: f.Tag},
	}, nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func promptRow(p store.Prompt, canEdit bool) web.PromptRow {
	return web.PromptRow{ID: p.ID, Text: p.Text, Category: p.Category, Tags: strings.Join(p.Tags, "; "), Split: p.Split, CanEdit: canEdit}
}

func (s *Server) handlePromptCreate(w http.ResponseWriter, r *http.Request) {
	in := store.PromptInput{Text: r.FormValue("text"), Category: r.FormValue("category"),
		Tags: store.SplitTags(r.FormValue("tags")), Split: r.FormValue("split"), Source: "web"}
	_, err := s.store.CreatePrompt(r.Context(), in, userFrom(r).ID)
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
		vm, perr := s.promptsPage(r, store.PromptFilter{Limit: promptPageSize})
		if perr != nil {
			s.error(w, r, perr)
			return
		}
		vm.AddErrors = []web.FieldError{{Message: formMessage(err)}}
		vm.Add = web.PromptRow{Text: in.Text, Category: in.Category, Tags: r.FormValue("tags"), Split: in.Split}
		s.render(w, r, http.StatusUnprocessableEntity, web.PromptsView(vm))
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/prompts?q="+url.QueryEscape(firstWords(in.Text, 3)), http.StatusSeeOther)
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}

// handlePromptImport imports an uploaded sheet in one transaction: all rows or none.
func (s *Server) handlePromptImport(w http.ResponseWriter, r *http.Request) {
	file, header, err := r.FormFile("file")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.error(w, r, err)
			return
		}
		s.importFailed(w, r, "", fmt.Errorf("%w: choose a file to import", store.ErrInvalid))
		return
	}
	defer file.Close()
	if header.Size > sheet.MaxFileBytes {
		s.error(w, r, &http.MaxBytesError{Limit: sheet.MaxFileBytes})
		return
	}
	format, err := sheet.DetectFormat(header.Filename)
	if err != nil {
		s.importFailed(w, r, header.Filename, fmt.Errorf("%w: %v", store.ErrInvalid, err))
		return
	}
	rows, err := sheet.Read(file, format)
	if err == nil {
		var n int
		n, err = s.store.ImportPrompts(r.Context(), rows, "import:"+filepath.Base(header.Filename), userFrom(r).ID)
		if err == nil {
			http.Redirect(w, r, "/prompts?imported="+strconv.Itoa(n), http.StatusSeeOther)
			return
		}
	}
	s.importFailed(w, r, header.Filename, err)
}

func (s *Server) importFailed(w http.ResponseWriter, r *http.Request, filename string, err error) {
	var sheetErr *sheet.Error
	if !errors.As(err, &sheetErr) && !errors.Is(err, store.ErrInvalid) {
		s.error(w, r, err)
		return
	}
	vm, perr := s.promptsPage(r, store.PromptFilter{Limit: promptPageSize})
	if perr != nil {
		s.error(w, r, perr)
		return
	}
	vm.ImportFile = filepath.Base(filename)
	if sheetErr != nil {
		vm.ImportError = fmt.Sprintf("%d problems", len(sheetErr.Problems)+sheetErr.More)
		vm.Problems = problemStrings(sheetErr)
	} else {
		vm.ImportError = userMessage(err, "invalid")
	}
	s.render(w, r, http.StatusUnprocessableEntity, web.PromptsView(vm))
}

func (s *Server) handlePromptExport(w http.ResponseWriter, r *http.Request) {
	format, err := sheet.ParseFormat(r.URL.Query().Get("format"))
	if err != nil {
		s.error(w, r, fmt.Errorf("%w: %v", store.ErrInvalid, err))
		return
	}
	f := promptFilterFrom(r.URL.Query())
	f.After = 0
	var rows []sheet.ExportRow
	err = s.store.EachPrompt(r.Context(), f, func(p store.Prompt) error {
		rows = append(rows, sheet.ExportRow{ID: p.ID, Text: p.Text, Category: p.Category, Tags: p.Tags, Split: p.Split, CreatedAt: p.CreatedAt})
		return nil
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	name := "prompts-" + time.Now().UTC().Format("20060102-150405") + "." + string(format)
	w.Header().Set("Content-Type", contentType(format))
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if err := sheet.Write(w, format, rows); err != nil {
		s.log.Warn("export prompts", "error", err)
	}
}

func (s *Server) promptAndField(r *http.Request) (store.Prompt, string, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return store.Prompt{}, "", fmt.Errorf("prompt id: %w", store.ErrNotFound)
	}
	field := chi.URLParam(r, "field")
	if field != "" && !isPromptField(field) {
		return store.Prompt{}, "", fmt.Errorf("%w: field %q cannot be edited", store.ErrNotFound, field)
	}
	p, err := s.store.Prompt(r.Context(), id)
	return p, field, err
}

func isPromptField(f string) bool {
	for _, x := range store.PromptFields {
		if x == f {
			return true
		}
	}
	return false
}

func fieldValue(row web.PromptRow, field string) string {
	switch field {
	case "text":
		return row.Text
	case "category":
		return row.Category
	case "tags":
		return row.Tags
	default:
		return row.Split
	}
}

func (s *Server) handlePromptCell(w http.ResponseWriter, r *http.Request) {
	p, field, err := s.promptAndField(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	row := promptRow(p, userFrom(r).CanEdit())
	s.render(w, r, http.StatusOK, web.PromptCellView(row, field, fieldValue(row, field)))
}

func (s *Server) handlePromptCellEdit(w http.ResponseWriter, r *http.Request) {
	p, field, err := s.promptAndField(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	row := promptRow(p, userFrom(r).CanEdit())
	if !row.CanEdit {
		s.render(w, r, http.StatusOK, web.PromptCellView(row, field, fieldValue(row, field)))
		return
	}
	s.render(w, r, http.StatusOK, web.PromptCellEdit(row, field, fieldValue(row, field), ""))
}

func (s *Server) handlePromptUpdate(w http.ResponseWriter, r *http.Request) {
	p, field, err := s.promptAndField(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	value := r.FormValue("value")
	updated, err := s.store.UpdatePromptField(r.Context(), p.ID, field, value)
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
		row := promptRow(p, true)
		msg := formMessage(err)
		s.render(w, r, http.StatusOK, web.PromptCellEdit(row, field, value, msg))
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	row := promptRow(updated, true)
	s.render(w, r, http.StatusOK, web.PromptCellView(row, field, fieldValue(row, field)))
}

func (s *Server) handlePromptDelete(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.error(w, r, store.ErrNotFound)
		return
	}
	if err := s.store.DeletePrompt(r.Context(), id); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func contentType(f sheet.Format) string {
	switch f {
	case sheet.XLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case sheet.JSONL:
		return "application/x-ndjson; charset=utf-8"
	case sheet.TSV:
		return "text/tab-separated-values; charset=utf-8"
	default:
		return "text/csv; charset=utf-8"
	}
}
