package handlers

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"rustexpert/bundled"
	"rustexpert/store"
	"rustexpert/training"
	"rustexpert/web"
)

// Exports from the web are written to <data>/exports/<model>-<adapter|merged>-<UTC time>/ (the
// model's name with characters other than letters, digits, '.', '_' and '-' as '_'), one at a
// time, by the training worker's export command; each folder downloads as a .tar.gz.

// exportFolderPattern matches the folders the web's exports write; exportSuffixPattern is what
// follows the model's part.
var (
	exportFolderPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+-(adapter|merged)-[0-9]{8}-[0-9]{6}$`)
	exportSuffixPattern = regexp.MustCompile(`^(adapter|merged)-[0-9]{8}-[0-9]{6}$`)
)

const exportTimeLayout = "20060102-150405"

// exportsDir is the folder of the web's exports.
func (s *Server) exportsDir() string { return filepath.Join(s.cfg.DataDir, "exports") }

// exportSlug is a model's name as export folders spell it.
func exportSlug(model string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, model)
}

// exportFolderName names a new export of model.
func exportFolderName(model string, merged bool, at time.Time) string {
	kind := "adapter"
	if merged {
		kind = "merged"
	}
	return exportSlug(model) + "-" + kind + "-" + at.UTC().Format(exportTimeLayout)
}

// isExportOf reports whether an export folder's name is one of model's.
func isExportOf(name, model string) bool {
	rest, ok := strings.CutPrefix(name, exportSlug(model)+"-")
	return ok && exportFolderPattern.MatchString(name) && exportSuffixPattern.MatchString(rest)
}

// runModel is a done run's produced model, which the export box exports.
func (s *Server) runModel(ctx context.Context, run store.Run) (store.Model, error) {
	if run.Status != store.RunDone || run.ModelID == 0 {
		return store.Model{}, fmt.Errorf("%w: run %d has produced no model to export (it is %s)", store.ErrConflict, run.ID, run.Status)
	}
	return s.store.Model(ctx, run.ModelID)
}

// handleRunExport starts exporting a done run's model (the adapter, or merged with form field
// merged) into a new folder under <data>/exports in the background, audited as model.export. It
// answers with the export box (HTMX) or goes back to the run's page.
func (s *Server) handleRunExport(w http.ResponseWriter, r *http.Request) {
	tr, run, model, ok := s.exportTarget(w, r)
	if !ok {
		return
	}
	req := s.exportRequest(r.Context(), model)
	req.Merged = r.FormValue("merged") != ""
	name := exportFolderName(model.Name, req.Merged, time.Now())
	req.Out = filepath.Join(s.exportsDir(), name)
	var busy, refused string
	if err := os.MkdirAll(s.exportsDir(), 0o755); err != nil {
		s.error(w, r, fmt.Errorf("exports folder: %w", err))
		return
	}
	_, err := tr.StartExport(r.Context(), req, userFrom(r).Name)
	switch {
	case errors.Is(err, training.ErrBusy):
		busy = busyMessage(err)
	case errors.Is(err, store.ErrInvalid):
		refused = formMessage(err)
	case err != nil:
		s.error(w, r, err)
		return
	default:
		details := map[string]any{"run_id": run.ID, "merged": req.Merged, "folder": filepath.Join("exports", name)}
		if err := s.store.RecordAudit(r.Context(), "model.export", model.Name, details); err != nil {
			s.log.Error("audit model.export", slog.String("model", model.Name), slog.Any("error", err))
		}
	}
	if !isHTMX(r) {
		if busy != "" || refused != "" {
			s.error(w, r, err)
			return
		}
		http.Redirect(w, r, runPath(run.ID), http.StatusSeeOther)
		return
	}
	box := s.exportBox(r, tr, run, model)
	box.Busy = busy
	if refused != "" {
		box.Error = refused
	}
	s.render(w, r, http.StatusOK, web.RunExportView(box))
}

// handleRunExportBox answers the export box's polling.
func (s *Server) handleRunExportBox(w http.ResponseWriter, r *http.Request) {
	tr, run, model, ok := s.exportTarget(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, web.RunExportView(s.exportBox(r, tr, run, model)))
}

// exportTarget reads the run of the URL and its model; on failure it has answered.
func (s *Server) exportTarget(w http.ResponseWriter, r *http.Request) (*training.Runner, store.Run, store.Model, bool) {
	tr, err := s.trainer()
	if err != nil {
		s.error(w, r, err)
		return nil, store.Run{}, store.Model{}, false
	}
	run, err := s.runFromURL(r)
	if err != nil {
		s.error(w, r, err)
		return nil, store.Run{}, store.Model{}, false
	}
	model, err := s.runModel(r.Context(), run)
	if err != nil {
		s.error(w, r, err)
		return nil, store.Run{}, store.Model{}, false
	}
	return tr, run, model, true
}

// exportRequest gathers a model's lineage for its card (training.Lineage); the bundled base's hub id is filled in
// when the model stands on it.
func (s *Server) exportRequest(ctx context.Context, m store.Model) training.ExportRequest {
	req := training.Lineage(ctx, s.store, m)
	if strings.HasSuffix(filepath.ToSlash(m.Base), "/"+bundled.Base.Path) {
		req.BaseModelID = bundled.Base.HubID
	}
	return req
}

// exportBox is the export box of a run's model: the running or last export when it is this
// model's, and the folders written before, newest first.
func (s *Server) exportBox(r *http.Request, tr *training.Runner, run store.Run, model store.Model) web.RunExport {
	box := web.RunExport{RunID: run.ID, Model: model.Name, HasAdapter: model.Adapter != "", CSRF: s.nav(r, "").CSRFToken}
	if t, ok := tr.ExportTask(); ok && filepath.Dir(t.Dir) == s.exportsDir() && isExportOf(filepath.Base(t.Dir), model.Name) {
		box.Running, box.What, box.Elapsed = t.Running(), t.What, taskElapsed(t, time.Now())
		if t.Error != "" {
			box.Error, box.Log = fmt.Sprintf("The export of %s failed: %s", t.What, t.Error), t.Log
		}
	}
	entries, err := os.ReadDir(s.exportsDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("list exports", slog.Any("error", err))
	}
	for _, e := range entries {
		if e.IsDir() && isExportOf(e.Name(), model.Name) {
			box.Done = append(box.Done, s.exportFolder(e.Name()))
		}
	}
	slices.Reverse(box.Done) // names end in their time: newest first
	return box
}

// exportFolder describes one export folder.
func (s *Server) exportFolder(name string) web.ExportFolder {
	dir := filepath.Join(s.exportsDir(), name)
	f := web.ExportFolder{Name: name, Path: filepath.Join("exports", name)}
	var size int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			size += info.Size()
		}
		rel, _ := filepath.Rel(dir, path)
		f.Files = append(f.Files, filepath.ToSlash(rel))
		return nil
	})
	f.Size = formatBytes(size)
	return f
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// handleExportDownload sends an export folder (GET /exports/NAME.tar.gz) as a gzipped tar whose
// entries sit under NAME/. Only folders the web's exports write are served.
func (s *Server) handleExportDownload(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(chi.URLParam(r, "name"), ".tar.gz")
	if !ok || !exportFolderPattern.MatchString(name) {
		s.error(w, r, fmt.Errorf("export %q: %w", chi.URLParam(r, "name"), store.ErrNotFound))
		return
	}
	dir := filepath.Join(s.exportsDir(), name)
	if info, err := os.Lstat(dir); err != nil || !info.IsDir() {
		s.error(w, r, fmt.Errorf("export %s: %w", name, store.ErrNotFound))
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.tar.gz"`)
	if err := writeTarGz(w, dir, name); err != nil {
		// The status is sent; a cut archive fails to unpack, and the log says why.
		s.log.Error("export download", slog.String("export", name), slog.Any("error", err))
	}
}

// writeTarGz writes the regular files of dir (walked in lexical order) as a gzipped tar with
// the entries under prefix/. Links and other special files are left out.
func writeTarGz(w io.Writer, dir, prefix string) error {
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		hdr.Name = prefix + "/" + filepath.ToSlash(rel)
		hdr.Uname, hdr.Gname, hdr.Uid, hdr.Gid = "", "", 0, 0
		if d.IsDir() {
			hdr.Name += "/"
			return tw.WriteHeader(hdr)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return copyFile(tw, path)
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
