package handlers

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"rustexpert/dataset"
	"rustexpert/snapshot"
	"rustexpert/store"
	"rustexpert/web"
)

func (s *Server) handleDatasets(w http.ResponseWriter, r *http.Request) {
	vm, err := s.datasetsPage(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if id, _ := strconv.ParseInt(r.URL.Query().Get("created"), 10, 64); id > 0 {
		d, err := s.store.Dataset(r.Context(), id)
		if err != nil {
			s.error(w, r, err)
			return
		}
		vm.Created = datasetRow(d)
		vm.Stats = datasetStats(storedStats(d))
	}
	s.render(w, r, http.StatusOK, web.DatasetsView(vm))
}

func (s *Server) datasetsPage(r *http.Request) (web.DatasetsPage, error) {
	list, err := s.store.ListDatasets(r.Context())
	if err != nil {
		return web.DatasetsPage{}, err
	}
	vm := web.DatasetsPage{Nav: s.nav(r, "Datasets"), Form: web.DatasetForm{Kind: dataset.KindDPO, Shape: dataset.ShapeConversational}}
	for _, d := range list {
		vm.Snapshots = append(vm.Snapshots, datasetRow(d))
	}
	return vm, nil
}

func datasetRow(d store.Dataset) web.DatasetRow {
	return web.DatasetRow{ID: d.ID, Kind: d.Kind, Rows: d.Rows, SHA256: d.SHA256, File: snapshot.FileName(d),
		Created: d.CreatedAt.UTC().Format("2006-01-02 15:04"), Options: datasetOptionsText(d.Kind, d.OptionsJSON)}
}

// datasetOptionsText describes a snapshot's stored options in a few words.
func datasetOptionsText(kind, optionsJSON string) string {
	var o dataset.Options
	if err := json.Unmarshal([]byte(optionsJSON), &o); err != nil {
		return ""
	}
	var parts []string
	if kind == dataset.KindDPO {
		parts = append(parts, cmp.Or(o.Shape, dataset.ShapeConversational))
		if o.AllPairs {
			parts = append(parts, "all pairs")
		}
	}
	if kind == dataset.KindSFT && o.TiesToSFT {
		parts = append(parts, "ties included")
	}
	if o.IncludeSuggested {
		parts = append(parts, "with suggestions")
	}
	if o.System != "" {
		parts = append(parts, "system message")
	}
	return strings.Join(parts, ", ")
}

func storedStats(d store.Dataset) dataset.Stats {
	var st dataset.Stats
	json.Unmarshal([]byte(d.StatsJSON), &st)
	return st
}

func datasetStats(st dataset.Stats) []web.DatasetStat {
	return []web.DatasetStat{
		{Name: "labels read", Value: st.Labels},
		{Name: "rows built", Value: st.Rows},
		{Name: "held out (never exported)", Value: st.SkippedHeldout},
		{Name: "verdict gives no row of this kind", Value: st.SkippedVerdict},
		{Name: "unconfirmed suggestions left out", Value: st.SkippedSuggested},
		{Name: "dropped for disagreement", Value: st.Conflicts},
		{Name: "duplicate votes merged", Value: st.Duplicates},
		{Name: "identical chosen and rejected", Value: st.Identical},
		{Name: "invalid labels", Value: st.Invalid},
	}
}

func datasetFormFrom(r *http.Request) (snapshot.Request, web.DatasetForm) {
	form := web.DatasetForm{
		Kind: r.FormValue("kind"), Shape: r.FormValue("shape"), AllPairs: r.FormValue("all_pairs") != "",
		TiesToSFT: r.FormValue("ties_to_sft") != "", IncludeSuggested: r.FormValue("include_suggested") != "",
		System: strings.TrimSpace(r.FormValue("system")),
	}
	req := snapshot.Request{Kind: form.Kind, Options: dataset.Options{Shape: form.Shape, AllPairs: form.AllPairs,
		TiesToSFT: form.TiesToSFT, IncludeSuggested: form.IncludeSuggested, System: form.System}}
	return req, form
}

// handleDatasetCreate writes a snapshot of the current labels; a request that yields no rows
// re-renders the form with the builder's counts so the reason is visible.
func (s *Server) handleDatasetCreate(w http.ResponseWriter, r *http.Request) {
	req, form := datasetFormFrom(r)
	d, stats, err := snapshot.Create(r.Context(), s.store, s.cfg.DataDir, req, userFrom(r).ID)
	if errors.Is(err, store.ErrInvalid) {
		vm, perr := s.datasetsPage(r)
		if perr != nil {
			s.error(w, r, perr)
			return
		}
		vm.Form = form
		vm.CreateErrors = []web.FieldError{{Message: formMessage(err)}}
		if stats.Labels > 0 || stats.Rows > 0 {
			vm.Stats = datasetStats(stats)
		}
		s.render(w, r, http.StatusUnprocessableEntity, web.DatasetsView(vm))
		return
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/datasets?created="+strconv.FormatInt(d.ID, 10), http.StatusSeeOther)
}

func (s *Server) datasetFromURL(r *http.Request) (store.Dataset, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return store.Dataset{}, fmt.Errorf("dataset id: %w", store.ErrNotFound)
	}
	return s.store.Dataset(r.Context(), id)
}

// snapshotFromURL returns the route's snapshot with its file opened; the caller closes the file.
func (s *Server) snapshotFromURL(r *http.Request) (store.Dataset, *os.File, error) {
	d, err := s.datasetFromURL(r)
	if err != nil {
		return store.Dataset{}, nil, err
	}
	f, err := s.openDatasetFile(d)
	return d, f, err
}

// openDatasetFile opens a snapshot's file inside the data directory; a recorded path that
// leads outside it, directly or through a link, is refused.
func (s *Server) openDatasetFile(d store.Dataset) (*os.File, error) {
	if !filepath.IsLocal(d.Path) {
		s.log.Warn("dataset path outside the data directory", slog.Int64("dataset", d.ID), slog.String("path", d.Path))
		return nil, fmt.Errorf("snapshot %d: its file is not in the data directory: %w", d.ID, store.ErrNotFound)
	}
	f, err := os.OpenInRoot(s.cfg.DataDir, d.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("snapshot %d: its file is missing: %w", d.ID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open snapshot %d: %w", d.ID, err)
	}
	return f, nil
}

func (s *Server) handleDatasetDownload(w http.ResponseWriter, r *http.Request) {
	d, f, err := s.snapshotFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		s.error(w, r, fmt.Errorf("stat snapshot %d: %w", d.ID, err))
		return
	}
	name := snapshot.FileName(d)
	w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("ETag", `"`+d.SHA256+`"`)
	http.ServeContent(w, r, name, info.ModTime(), f)
}

// handleDatasetValidate validates a stored snapshot and checks its bytes against the recorded sha256.
func (s *Server) handleDatasetValidate(w http.ResponseWriter, r *http.Request) {
	d, f, err := s.snapshotFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	defer f.Close()
	hash := sha256.New()
	rep, err := snapshot.Validate(r.Context(), s.store, io.TeeReader(f, hash), d.Kind)
	if err != nil {
		s.error(w, r, fmt.Errorf("validate snapshot %d: %w", d.ID, err))
		return
	}
	vm := datasetReport(s.nav(r, "Datasets"), fmt.Sprintf("snapshot #%d (%s)", d.ID, snapshot.FileName(d)), rep)
	if sum := hex.EncodeToString(hash.Sum(nil)); sum != d.SHA256 {
		vm.OK = false
		vm.Problems = append([]web.ReportProblem{{Message: fmt.Sprintf("the file's sha256 %s differs from the recorded %s", sum, d.SHA256)}},
			vm.Problems...)
	} else {
		vm.Checksum = "The file's sha256 matches the recorded " + d.SHA256 + "."
	}
	s.render(w, r, http.StatusOK, web.DatasetReportView(vm))
}

// handleValidateUpload validates an uploaded DPO or SFT file against the database's held-out prompts.
func (s *Server) handleValidateUpload(w http.ResponseWriter, r *http.Request) {
	file, header, err := r.FormFile("file")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.error(w, r, err)
			return
		}
		s.validateUploadFailed(w, r, "choose a JSON Lines file to validate")
		return
	}
	defer file.Close()
	kind := r.FormValue("kind")
	if kind != "" && kind != dataset.KindDPO && kind != dataset.KindSFT {
		s.validateUploadFailed(w, r, fmt.Sprintf("kind %q: want dpo, sft or automatic", kind))
		return
	}
	rep, err := snapshot.Validate(r.Context(), s.store, file, kind)
	if err != nil {
		s.error(w, r, fmt.Errorf("validate upload: %w", err))
		return
	}
	s.render(w, r, http.StatusOK, web.DatasetReportView(datasetReport(s.nav(r, "Datasets"), filepath.Base(header.Filename), rep)))
}

func (s *Server) validateUploadFailed(w http.ResponseWriter, r *http.Request, msg string) {
	vm, err := s.datasetsPage(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm.ValidateErrors = []web.FieldError{{Message: msg}}
	s.render(w, r, http.StatusUnprocessableEntity, web.DatasetsView(vm))
}

func datasetReport(nav web.Nav, source string, rep dataset.Report) web.DatasetReportPage {
	vm := web.DatasetReportPage{Nav: nav, Source: source, Kind: cmp.Or(rep.Kind, "unknown"), Rows: rep.Rows, OK: rep.OK(),
		MoreProblems: rep.MoreProblems, ValidatedAt: time.Now().UTC().Format("2006-01-02 15:04:05")}
	for _, p := range rep.Problems {
		vm.Problems = append(vm.Problems, web.ReportProblem{Line: p.Line, Field: p.Field, Message: p.Message})
	}
	vm.Lengths = []web.ReportLength{reportLength("prompt", rep.Prompt), reportLength("chosen", rep.Chosen)}
	if rep.Kind == dataset.KindSFT {
		vm.Lengths[1].Name = "answer"
	} else {
		vm.Lengths = append(vm.Lengths, reportLength("rejected", rep.Rejected))
	}
	for name, n := range rep.Categories {
		vm.Categories = append(vm.Categories, web.ReportCategory{Name: name, Rows: n})
	}
	slices.SortFunc(vm.Categories, func(a, b web.ReportCategory) int {
		return cmp.Or(cmp.Compare(b.Rows, a.Rows), cmp.Compare(a.Name, b.Name))
	})
	return vm
}

func reportLength(name string, l dataset.LengthStats) web.ReportLength {
	return web.ReportLength{Name: name, Min: l.Min, Median: l.Median, P95: l.P95, Max: l.Max}
}
