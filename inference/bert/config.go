package bert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Config is the part of a BERT config.json and of the sentence-transformers
// settings the encoder uses.
type Config struct {
	ModelType        string  `json:"model_type"`
	Hidden           int     `json:"hidden_size"`
	Layers           int     `json:"num_hidden_layers"`
	Heads            int     `json:"num_attention_heads"`
	Intermediate     int     `json:"intermediate_size"`
	HiddenAct        string  `json:"hidden_act"`
	LayerNormEps     float64 `json:"layer_norm_eps"`
	MaxPositions     int     `json:"max_position_embeddings"`
	TypeVocab        int     `json:"type_vocab_size"`
	Vocab            int     `json:"vocab_size"`
	PositionEmbedder string  `json:"position_embedding_type"`

	// From sentence_bert_config.json: the longest input in tokens, special
	// tokens included, and whether the text is lowercased before the
	// tokenizer sees it.
	MaxSeqLength int  `json:"-"`
	LowerCase    bool `json:"-"`
	// From modules.json: whether the pooled vector is L2-normalized.
	Normalize bool `json:"-"`
}

// readJSON decodes the JSON file at path into v; a missing file reports
// os.ErrNotExist.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LoadConfig reads dir's config.json and the sentence-transformers files
// next to it (sentence_bert_config.json, modules.json and the pooling
// module's config.json), and checks that they describe what the encoder
// computes: a BERT model with absolute positions and GELU, mean pooling.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, "config.json")
	c := Config{PositionEmbedder: "absolute", HiddenAct: "gelu", LayerNormEps: 1e-12, TypeVocab: 2}
	if err := readJSON(path, &c); err != nil {
		return c, fmt.Errorf("bert: %w", err)
	}
	if err := c.check(); err != nil {
		return c, fmt.Errorf("bert: %s: %w", path, err)
	}
	if err := c.readSentenceConfig(dir); err != nil {
		return c, fmt.Errorf("bert: %w", err)
	}
	if err := c.readModules(dir); err != nil {
		return c, fmt.Errorf("bert: %w", err)
	}
	return c, nil
}

// check refuses configurations the encoder does not compute.
func (c Config) check() error {
	switch {
	case c.ModelType != "" && c.ModelType != "bert":
		return fmt.Errorf("model_type %q is not supported (want bert)", c.ModelType)
	case c.Hidden <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.Intermediate <= 0 || c.MaxPositions <= 0 || c.TypeVocab <= 0:
		return fmt.Errorf("hidden_size %d, num_hidden_layers %d, num_attention_heads %d, intermediate_size %d, "+
			"max_position_embeddings %d, type_vocab_size %d: all must be positive",
			c.Hidden, c.Layers, c.Heads, c.Intermediate, c.MaxPositions, c.TypeVocab)
	case c.Hidden%c.Heads != 0:
		return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.Hidden, c.Heads)
	case c.HiddenAct != "gelu":
		return fmt.Errorf("hidden_act %q is not supported (want gelu)", c.HiddenAct)
	case c.PositionEmbedder != "absolute":
		return fmt.Errorf("position_embedding_type %q is not supported (want absolute)", c.PositionEmbedder)
	case !(c.LayerNormEps > 0 && c.LayerNormEps < 1):
		return fmt.Errorf("layer_norm_eps %g is out of range", c.LayerNormEps)
	}
	return nil
}

// readSentenceConfig reads max_seq_length and do_lower_case; without the
// file the limit is max_position_embeddings.
func (c *Config) readSentenceConfig(dir string) error {
	path := filepath.Join(dir, "sentence_bert_config.json")
	var s struct {
		MaxSeqLength *int `json:"max_seq_length"`
		DoLowerCase  bool `json:"do_lower_case"`
	}
	err := readJSON(path, &s)
	if errors.Is(err, os.ErrNotExist) {
		c.MaxSeqLength = c.MaxPositions
		return nil
	}
	if err != nil {
		return err
	}
	c.MaxSeqLength, c.LowerCase = c.MaxPositions, s.DoLowerCase
	if s.MaxSeqLength != nil {
		c.MaxSeqLength = *s.MaxSeqLength
	}
	if c.MaxSeqLength < 3 || c.MaxSeqLength > c.MaxPositions {
		return fmt.Errorf("%s: max_seq_length %d is not in [3, max_position_embeddings %d]", path, c.MaxSeqLength, c.MaxPositions)
	}
	return nil
}

// readModules checks the sentence-transformers pipeline: Transformer,
// Pooling (mean), and optionally Normalize. Without modules.json the model
// is taken as Transformer, mean Pooling, Normalize.
func (c *Config) readModules(dir string) error {
	path := filepath.Join(dir, "modules.json")
	var mods []struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	err := readJSON(path, &mods)
	if errors.Is(err, os.ErrNotExist) {
		c.Normalize = true
		return nil
	}
	if err != nil {
		return err
	}
	want := []string{"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"}
	for i, m := range mods {
		switch {
		case i < len(want) && m.Type == want[i]:
			if i == 1 {
				if err := c.checkPooling(filepath.Join(dir, filepath.FromSlash(m.Path), "config.json")); err != nil {
					return err
				}
			}
		case i == len(want) && m.Type == "sentence_transformers.models.Normalize":
			c.Normalize = true
		default:
			return fmt.Errorf("%s: module %d has type %q (want Transformer, Pooling and optionally Normalize)", path, i, m.Type)
		}
	}
	if len(mods) < len(want) {
		return fmt.Errorf("%s: %d modules (want Transformer, Pooling and optionally Normalize)", path, len(mods))
	}
	return nil
}

// checkPooling accepts mean pooling of hidden_size vectors only.
func (c *Config) checkPooling(path string) error {
	var p struct {
		Dim      int  `json:"word_embedding_dimension"`
		Mean     bool `json:"pooling_mode_mean_tokens"`
		CLS      bool `json:"pooling_mode_cls_token"`
		Max      bool `json:"pooling_mode_max_tokens"`
		SqrtLen  bool `json:"pooling_mode_mean_sqrt_len_tokens"`
		Weighted bool `json:"pooling_mode_weightedmean_tokens"`
		Last     bool `json:"pooling_mode_lasttoken"`
	}
	if err := readJSON(path, &p); err != nil {
		return err
	}
	if !p.Mean || p.CLS || p.Max || p.SqrtLen || p.Weighted || p.Last {
		return fmt.Errorf("%s: only pooling_mode_mean_tokens is supported", path)
	}
	if p.Dim != c.Hidden {
		return fmt.Errorf("%s: word_embedding_dimension %d differs from hidden_size %d", path, p.Dim, c.Hidden)
	}
	return nil
}
