package sftdata

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"rustexpert/dataset"
	"rustexpert/snapshot"
	"rustexpert/store"
)

// Written is a dataset file written by Write.
type Written struct {
	Path   string // as given or under dataDir/datasets
	Rel    string // relative to dataDir; "" when the file lies outside it
	SHA256 string
	Rows   int
}

// Write writes the rows as JSON Lines, atomically: to a temporary file in the target folder,
// synced, then moved into place. Without out, the file is dataDir/datasets/sft-<time>-<sha>.jsonl
// and an existing file is never replaced.
func Write(rows []Row, dataDir, out string) (Written, error) {
	dir := filepath.Join(dataDir, "datasets")
	if out != "" {
		dir = filepath.Dir(out)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Written{}, fmt.Errorf("write dataset: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-sft-*.jsonl")
	if err != nil {
		return Written{}, fmt.Errorf("write dataset: %w", err)
	}
	defer os.Remove(tmp.Name())
	n, sha, err := dataset.WriteJSONL(tmp, rows)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Written{}, fmt.Errorf("write dataset %s: %w", tmp.Name(), err)
	}
	path := out
	if out == "" {
		path = filepath.Join(dir, fmt.Sprintf("sft-%s-%s.jsonl", time.Now().UTC().Format("20060102-150405"), sha[:12]))
		err = os.Link(tmp.Name(), path)
	} else {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return Written{}, fmt.Errorf("write dataset: %w", err)
	}
	w := Written{Path: path, SHA256: sha, Rows: n}
	if rel, err := filepath.Rel(dataDir, path); err == nil && filepath.IsLocal(rel) {
		w.Rel = rel
	}
	return w, nil
}

// Record validates a written file against the database's held-out prompts and records it as a
// dataset snapshot of kind sft. A file outside the data folder cannot be recorded.
func Record(ctx context.Context, st *store.Store, w Written, options any, sum Summary) (store.Dataset, error) {
	if w.Rel == "" {
		return store.Dataset{}, fmt.Errorf("%s is outside the data folder: not recorded as a snapshot", w.Path)
	}
	f, err := os.Open(w.Path)
	if err != nil {
		return store.Dataset{}, err
	}
	defer f.Close()
	rep, err := snapshot.Validate(ctx, st, f, dataset.KindSFT)
	if err != nil {
		return store.Dataset{}, err
	}
	if !rep.OK() {
		return store.Dataset{}, fmt.Errorf("%s did not validate (%d problems), first: %s", w.Path,
			len(rep.Problems)+rep.MoreProblems, rep.Problems[0])
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return store.Dataset{}, err
	}
	stats, err := json.Marshal(sum)
	if err != nil {
		return store.Dataset{}, err
	}
	return st.CreateDataset(ctx, store.Dataset{Kind: dataset.KindSFT, OptionsJSON: string(opts), StatsJSON: string(stats),
		SHA256: w.SHA256, Rows: w.Rows, Path: w.Rel}, 0)
}
