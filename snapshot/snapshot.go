// Package snapshot writes immutable, versioned dataset snapshots (DPO or SFT JSON Lines) from the
// labels in the database, and records them so training runs can point to them.
package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"rustexpert/dataset"
	"rustexpert/store"
)

// Request says what to export.
type Request struct {
	Kind    string // dpo or sft
	Options dataset.Options
}

// Create builds the rows, writes them under dataDir/datasets/ and records the snapshot.
// Held-out prompts never enter a snapshot: the builder drops them and the file is validated
// against the held-out set before it is recorded.
func Create(ctx context.Context, st *store.Store, dataDir string, req Request, userID int64) (store.Dataset, dataset.Stats, error) {
	if req.Kind != "dpo" && req.Kind != "sft" {
		return store.Dataset{}, dataset.Stats{}, fmt.Errorf("%w: kind %q (want dpo or sft)", store.ErrInvalid, req.Kind)
	}
	if req.Options.Shape != "" && req.Options.Shape != dataset.ShapeConversational && req.Options.Shape != dataset.ShapePlain {
		return store.Dataset{}, dataset.Stats{}, fmt.Errorf("%w: shape %q (want conversational or plain)", store.ErrInvalid, req.Options.Shape)
	}
	labels, err := Labels(ctx, st)
	if err != nil {
		return store.Dataset{}, dataset.Stats{}, err
	}
	var rows any
	var stats dataset.Stats
	if req.Kind == "dpo" {
		rows, stats = dataset.BuildDPO(labels, req.Options)
	} else {
		rows, stats = dataset.BuildSFT(labels, req.Options)
	}
	if stats.Rows == 0 {
		return store.Dataset{}, stats, fmt.Errorf("%w: no %s rows: %s", store.ErrInvalid, req.Kind, describeStats(stats))
	}
	rel, sha, n, err := writeFile(dataDir, req.Kind, rows)
	if err != nil {
		return store.Dataset{}, stats, err
	}
	if err := checkNoLeak(ctx, st, filepath.Join(dataDir, rel), req.Kind); err != nil {
		os.Remove(filepath.Join(dataDir, rel))
		return store.Dataset{}, stats, err
	}
	opts, _ := json.Marshal(req.Options)
	statsJSON, _ := json.Marshal(stats)
	d, err := st.CreateDataset(ctx, store.Dataset{Kind: req.Kind, OptionsJSON: string(opts), StatsJSON: string(statsJSON),
		SHA256: sha, Rows: n, Path: rel}, userID)
	if err != nil {
		// Not recorded (a full disk, say): leave no file that looks like a snapshot.
		os.Remove(filepath.Join(dataDir, rel))
	}
	return d, stats, err
}

func describeStats(s dataset.Stats) string {
	return fmt.Sprintf("%d labels; %d held out, %d without a pair verdict, %d suggested, %d conflicts",
		s.Labels, s.SkippedHeldout, s.SkippedVerdict, s.SkippedSuggested, s.Conflicts)
}

// writeFile writes the rows to a new file named by time and hash; it never overwrites.
func writeFile(dataDir, kind string, rows any) (rel, sha string, n int, err error) {
	dir := filepath.Join(dataDir, "datasets")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", 0, err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*.jsonl")
	if err != nil {
		return "", "", 0, err
	}
	defer os.Remove(tmp.Name())
	n, sha, err = dataset.WriteJSONL(tmp, rows)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", 0, fmt.Errorf("write dataset: %w", err)
	}
	name := fmt.Sprintf("%s-%s-%s.jsonl", kind, time.Now().UTC().Format("20060102-150405"), sha[:12])
	if err := os.Link(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return "", "", 0, fmt.Errorf("write dataset: %w", err)
	}
	return filepath.Join("datasets", name), sha, n, nil
}

func checkNoLeak(ctx context.Context, st *store.Store, path, kind string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := Validate(ctx, st, f, kind)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("the exported file did not validate: %s", rep.Problems[0])
	}
	return nil
}

// Validate checks a DPO/SFT JSONL file, including leaks of the database's held-out prompts.
func Validate(ctx context.Context, st *store.Store, r io.Reader, kind string) (dataset.Report, error) {
	heldout, err := st.HeldoutPromptTexts(ctx)
	if err != nil {
		return dataset.Report{}, err
	}
	ids := make(map[string]bool, len(heldout))
	for _, t := range heldout {
		ids[dataset.PromptID(t)] = true
	}
	return dataset.Validate(r, dataset.ValidateOptions{Kind: kind, HeldoutPromptIDs: ids})
}

// Labels converts the database's labels into the dataset builder's input.
func Labels(ctx context.Context, st *store.Store) ([]dataset.Label, error) {
	stored, err := st.LabelsForExport(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dataset.Label, 0, len(stored))
	for _, l := range stored {
		dl := dataset.Label{
			PromptID: l.Item.PromptID, Prompt: l.PromptText, Category: l.Category, Split: l.Split,
			Annotator: l.AnnotatorName, Verdict: l.Verdict, ChosenID: l.ChosenID, RejectedID: l.RejectedID,
			Ranking: l.Ranking, SuggestedBy: l.SuggestedBy,
		}
		for _, a := range l.Answers {
			dl.Answers = append(dl.Answers, dataset.Answer{ID: a.ID, Model: a.ModelName, Text: a.Text})
		}
		out = append(out, dl)
	}
	return out, nil
}

// FileName is the download name of a snapshot.
func FileName(d store.Dataset) string {
	return filepath.Base(d.Path)
}
