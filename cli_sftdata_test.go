package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSFTDataBuild(t *testing.T) {
	dir := t.TempDir()
	// A held-out prompt that is the clippy pair's question with a few words changed.
	sheetPath := filepath.Join(dir, "heldout.csv")
	heldout := "text,category,tags,split\n\"Please improve this code (clippy: as_underscore):\n\n```rust\nfn main() {\n    let n: u16 = 256;\n" +
		"    foo(n as _);\n\n    let n = 0_u128;\n    let _n: u8 = n as _;\n}\n```\",idioms,,heldout\n"
	if err := os.WriteFile(sheetPath, []byte(heldout), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runIn(t, dir, "prompts", "import", sheetPath); err != nil {
		t.Fatal(err)
	}
	td := filepath.Join("sftdata", "testdata")
	out, _, err := runIn(t, dir, "sft-data", "build", "--rust-docs", filepath.Join(td, "docs"), "--crates", filepath.Join(td, "crates"),
		"--crate-names", "hex", "--clippy", filepath.Join(td, "clippy"), "--exclude-dir", filepath.Join(td, "exercism"), "--model", "none")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"excluding 1 held-out prompts and 3 exercise files from ",
		"rows kept: 5\n",
		"  book             mined     1, kept explain-code 1;",
		"  clippy           mined     1, kept none;",
		"  crates           mined     3, kept write-fn 3;",
		"  error-codes      mined     1, kept error-fix 1;",
		"crates: hex-0.4.3\n",
		"  held-out prompt near duplicate                   1\n",
		"tokens per row, estimated (characters / 4): ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	st := openData(t, dir)
	list, err := st.ListDatasets(t.Context())
	if err != nil || len(list) != 1 || list[0].Kind != "sft" || list[0].Rows != 5 || !strings.HasPrefix(list[0].Path, "datasets/sft-") {
		t.Fatalf("datasets %+v, %v", list, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, list[0].Path))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var row struct {
		Messages []struct{ Role, Content string }
		Meta     struct{ Source, Kind, Path, Licence string }
	}
	if err := json.Unmarshal([]byte(lines[0]), &row); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 5 || len(row.Messages) != 2 || row.Messages[0].Role != "user" || row.Meta.Source != "error-codes" ||
		row.Meta.Licence != "MIT OR Apache-2.0" {
		t.Errorf("%d lines, first row %+v", len(lines), row)
	}
	vout, _, err := runIn(t, dir, "dataset", "validate", filepath.Join(dir, list[0].Path))
	if err != nil || !strings.Contains(vout, "sft, 5 rows") {
		t.Errorf("validate: %v %s", err, vout)
	}
}

func TestSFTDataUsage(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runIn(t, dir, "sft-data"); err == nil || exitCode(err) != 2 {
		t.Errorf("no subcommand: %v", err)
	}
	_, _, err := runIn(t, dir, "sft-data", "build", "--rust-docs", "none", "--crates", "none", "--clippy", "none", "--model", "none")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "no source") {
		t.Errorf("no source: %v", err)
	}
}
