package handlers

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/store"
)

// doneRun starts an SFT run named v1 with the gated stand-in and runs it to its end.
func (a *runsApp) doneRun(c *client) {
	a.t.Helper()
	a.open("train-gate")
	if res := c.postForm("/runs", a.form("sft", a.sft, map[string]string{"name": "v1"})); res.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("create run: status %d", res.StatusCode)
	}
	if run, err := a.trainer.RunOne(a.t.Context(), 1); err != nil || run.Status != store.RunDone {
		a.t.Fatalf("run: %+v, %v", run, err)
	}
}

func exporting(doc *goquery.Document) bool {
	return testid(doc, "run-export").AttrOr("data-running", "") == "true"
}

func TestRunExportWritesAFolderAndDownloadsIt(t *testing.T) {
	a := newGatedRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	a.doneRun(c)
	page := c.page("/runs/1")
	if testid(page, "export-form").Length() != 1 || testid(page, "export-merged").Length() != 1 {
		t.Fatalf("the done run's page has no export form with a merged choice")
	}

	doc := parse(t, c.htmx(http.MethodPost, "/runs/1/export", url.Values{"merged": {""}}))
	if !exporting(doc) || testid(doc, "run-export").AttrOr("hx-get", "") != "/runs/1/export" {
		t.Fatalf("the export box does not follow the export: %v", testid(doc, "run-export").Nodes)
	}
	if got := testid(doc, "export-running").Text(); !strings.Contains(got, "Exporting v1 (adapter)") {
		t.Errorf("running = %q", got)
	}
	// One export at a time.
	doc = parse(t, c.htmx(http.MethodPost, "/runs/1/export", url.Values{"merged": {"1"}}))
	if got := testid(doc, "export-busy").Text(); !strings.Contains(got, "Busy: the export of v1 (adapter) is running; one export at a time") {
		t.Errorf("second export: %q", got)
	}
	a.open("export-gate")
	doc = c.poll("/runs/1/export", "the export's end", func(d *goquery.Document) bool { return !exporting(d) })
	if testid(doc, "export-error").Length() != 0 {
		t.Fatalf("export failed: %q", testid(doc, "export-error").Text())
	}
	folders := testid(doc, "export-folder")
	if folders.Length() != 1 || testid(doc, "export-files").Text() != "README.md, adapter_config.json" {
		t.Fatalf("export list %q", folders.Text())
	}
	link := testid(doc, "export-download").AttrOr("href", "")
	if !regexp.MustCompile(`^/exports/v1-adapter-\d{8}-\d{6}\.tar\.gz$`).MatchString(link) {
		t.Fatalf("download link %q", link)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(link, "/exports/"), ".tar.gz")
	if _, err := os.Stat(filepath.Join(a.dataDir, "exports", name, "adapter_config.json")); err != nil {
		t.Errorf("the export is not under the data folder's exports/: %v", err)
	}

	res := c.get(link)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/gzip" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="`+name+`.tar.gz"` {
		t.Fatalf("download: status %d, headers %v", res.StatusCode, res.Header)
	}
	files := untar(t, res.Body)
	if len(files) != 2 || files[name+"/adapter_config.json"] != `{"r":8}`+"\n" {
		t.Errorf("archive entries %v", files)
	}
	card := files[name+"/README.md"]
	for _, want := range []string{"library_name: peft", "# v1", "trained from: base", "SFT snapshot 1, 1 rows", "## Training", "SFT LoRA, run 1"} {
		if !strings.Contains(card, want) {
			t.Errorf("model card lacks %q:\n%s", want, card)
		}
	}
	audit, _ := a.store.ListAudit(t.Context(), store.AuditFilter{Action: "model.export"})
	if len(audit) != 1 || audit[0].Target != "v1" || !strings.Contains(audit[0].Details, `"merged":false`) {
		t.Errorf("audit = %+v", audit)
	}

	// A merged export next to it (a folder name of its own), listed newest first.
	time.Sleep(time.Second) // folder names carry the second
	parse(t, c.htmx(http.MethodPost, "/runs/1/export", url.Values{"merged": {"1"}}))
	doc = c.poll("/runs/1/export", "the merged export", func(d *goquery.Document) bool { return !exporting(d) })
	if got := testid(doc, "export-download").First().Text(); !strings.Contains(got, "v1-merged-") || testid(doc, "export-folder").Length() != 2 {
		t.Errorf("after a merged export: first %q of %d", got, testid(doc, "export-folder").Length())
	}
}

func TestRunExportRefusals(t *testing.T) {
	a := newGatedRunsApp(t)
	c := a.login("ann", store.RoleAnnotator)
	c.postForm("/runs", a.form("sft", a.sft, nil))
	if res := c.htmx(http.MethodPost, "/runs/1/export", url.Values{}); res.StatusCode != http.StatusConflict {
		t.Errorf("export of a queued run: status %d, want 409", res.StatusCode)
	}
	if testid(c.page("/runs/1"), "run-export").Length() != 0 {
		t.Error("a queued run's page offers an export")
	}
	for _, path := range []string{"/exports/x.tar.gz", "/exports/..%2Fsecret-adapter-20250101-120000.tar.gz",
		"/exports/v1-adapter-20250101-120000.tar.gz", "/exports/v1-adapter-20250101-120000"} {
		if res := c.get(path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, res.StatusCode)
		}
	}
	a.open("train-gate")
	if _, err := a.trainer.RunOne(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	viewer := a.login("vic", store.RoleViewer)
	if testid(viewer.page("/runs/1"), "run-export").Length() != 0 {
		t.Error("a viewer sees the export box")
	}
	for _, res := range []*http.Response{viewer.htmx(http.MethodPost, "/runs/1/export", url.Values{}), viewer.get("/runs/1/export"),
		viewer.get("/exports/v1-adapter-20250101-120000.tar.gz")} {
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("viewer %s %s: status %d, want 403", res.Request.Method, res.Request.URL.Path, res.StatusCode)
		}
	}
}

func TestExportFolderNames(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	if got := exportFolderName("my.model_1", true, at); got != "my.model_1-merged-20250304-050607" {
		t.Errorf("folder name %q", got)
	}
	if got := exportFolderName("modèle+x", false, at); got != "mod_le_x-adapter-20250304-050607" {
		t.Errorf("folder name of an odd model name %q", got)
	}
	for _, c := range []struct {
		folder, model string
		want          bool
	}{
		{"v1-adapter-20250304-050607", "v1", true},
		{"v1-2-adapter-20250304-050607", "v1", false},
		{"v1-adapter-adapter-20250304-050607", "v1", false},
		{"v1-adapter-adapter-20250304-050607", "v1-adapter", true},
		{"v1-adapter-20250304-050607.partial", "v1", false},
	} {
		if got := isExportOf(c.folder, c.model); got != c.want {
			t.Errorf("isExportOf(%q, %q) = %v", c.folder, c.model, got)
		}
	}
}

// untar reads a gzipped tar into name → content.
func untar(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hdr.Name] = string(b)
	}
}
