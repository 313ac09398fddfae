package training

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"rustexpert/store"
)

// SavedConfig is a saved run configuration, the JSON of a run_configs row: the settings of a
// new run and, when they were chosen, its parent model, dataset snapshot and model name. The
// paths of run.json are left out; a run fills them in (BuildConfig).
type SavedConfig struct {
	ParentID  int64  `json:"parent_id,omitempty"`
	DatasetID int64  `json:"dataset_id,omitempty"`
	Name      string `json:"name,omitempty"` // the produced model's name
	Settings  Config `json:"settings"`
}

// SaveRequest is the saved form of a request: its settings without paths, parent, dataset and name.
func SaveRequest(req Request) SavedConfig {
	s := SavedConfig{ParentID: req.ParentID, DatasetID: req.DatasetID, Name: req.Name, Settings: req.Settings}
	c := &s.Settings
	c.Model, c.Tokenizer, c.Dataset, c.OutputDir = "", "", "", ""
	c.ResumeFrom, c.InitAdapter, c.RefAdapter = "", "", ""
	return s
}

// Check lists the problems a run of kind with these settings would have, as Config.Check and
// the model name's check name them; parent and dataset may be left unchosen.
func (s SavedConfig) Check(kind string) []string {
	var problems []string
	if kind != store.RunSFT && kind != store.RunDPO {
		problems = append(problems, fmt.Sprintf("kind: %q (want sft or dpo)", kind))
	}
	if s.Name != "" {
		if err := store.CheckModelName(s.Name); err != nil {
			problems = append(problems, "name: "+strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": name: "))
		}
	}
	return append(problems, s.Settings.Check(kind)...)
}

// JSON is the text stored in run_configs.json.
func (s SavedConfig) JSON() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Request is a request for a run of kind from these settings; parentID and datasetID, when not
// 0, replace the saved choices.
func (s SavedConfig) Request(kind string, parentID, datasetID, createdBy int64) Request {
	req := Request{Kind: kind, ParentID: s.ParentID, DatasetID: s.DatasetID, Name: s.Name, Settings: s.Settings, CreatedBy: createdBy}
	if parentID != 0 {
		req.ParentID = parentID
	}
	if datasetID != 0 {
		req.DatasetID = datasetID
	}
	return req
}

// ParseSaved reads a stored configuration, refusing unknown fields; the settings must pass the
// checks of a run of the row's kind.
func ParseSaved(row store.SavedConfig) (SavedConfig, error) {
	var s SavedConfig
	dec := json.NewDecoder(bytes.NewReader([]byte(row.JSON)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return SavedConfig{}, fmt.Errorf("saved config %q: %w", row.Name, err)
	}
	if problems := s.Check(row.Kind); len(problems) > 0 {
		return SavedConfig{}, fmt.Errorf("saved config %q: %w", row.Name, &ConfigError{Problems: problems})
	}
	return s, nil
}
