package llama

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"rustexpert/inference/safetensors"
)

// hfConfig is the part of a Hugging Face config.json the engine reads.
type hfConfig struct {
	ModelType      string          `json:"model_type"`
	Hidden         int             `json:"hidden_size"`
	Layers         int             `json:"num_hidden_layers"`
	Heads          int             `json:"num_attention_heads"`
	KVHeads        int             `json:"num_key_value_heads"`
	HeadDim        int             `json:"head_dim"`
	FFN            int             `json:"intermediate_size"`
	Vocab          int             `json:"vocab_size"`
	RopeTheta      float64         `json:"rope_theta"`
	RopeParameters *ropeParameters `json:"rope_parameters"`
	RopeScaling    *ropeParameters `json:"rope_scaling"`
	NormEps        float64         `json:"rms_norm_eps"`
	MaxPositions   int             `json:"max_position_embeddings"`
	SlidingWindow  int             `json:"sliding_window"`
	UseSliding     *bool           `json:"use_sliding_window"`
	Tied           bool            `json:"tie_word_embeddings"`
	AttentionBias  bool            `json:"attention_bias"`
}

type ropeParameters struct {
	Type      string  `json:"rope_type"`
	TypeAlias string  `json:"type"`
	Theta     float64 `json:"rope_theta"`
	// Llama 3.1's scaling (rope_type "llama3").
	Factor          float64 `json:"factor"`
	LowFreqFactor   float64 `json:"low_freq_factor"`
	HighFreqFactor  float64 `json:"high_freq_factor"`
	OriginalContext float64 `json:"original_max_position_embeddings"`
}

// LoadDir loads a model from a Hugging Face folder: config.json and one or
// several safetensors files.
func LoadDir(dir string) (*Model, error) {
	cfg, err := readHFConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	m, err := build(cfg, set, hfNames, set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

func readHFConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("model config: %w", err)
	}
	var hc hfConfig
	if err := json.Unmarshal(data, &hc); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	cfg, err := hc.config()
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func (hc hfConfig) config() (Config, error) {
	switch hc.ModelType {
	case "llama", "mistral", "qwen2", "qwen3":
	default:
		return Config{}, fmt.Errorf("model_type %q is not supported (supported: llama, mistral, qwen2, qwen3)", hc.ModelType)
	}
	theta, scaling, err := hc.rope()
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Arch: hc.ModelType, Vocab: hc.Vocab, Hidden: hc.Hidden, Layers: hc.Layers, Heads: hc.Heads,
		KVHeads: hc.KVHeads, HeadDim: hc.HeadDim, FFN: hc.FFN, RopeTheta: theta, NormEps: float32(hc.NormEps),
		ContextLen: hc.MaxPositions, Tied: hc.Tied, QKVBias: hc.ModelType == "qwen2" || hc.AttentionBias,
		QKNorm: hc.ModelType == "qwen3"}
	if cfg.KVHeads == 0 {
		cfg.KVHeads = cfg.Heads
	}
	if cfg.HeadDim == 0 && cfg.Heads > 0 {
		cfg.HeadDim = cfg.Hidden / cfg.Heads
	}
	if cfg.NormEps == 0 {
		cfg.NormEps = 1e-6
	}
	if scaling != nil {
		if cfg.RopeFactors, err = scaling.factors(theta, cfg.HeadDim); err != nil {
			return Config{}, err
		}
	}
	// Sliding-window attention equals full attention while the context fits the
	// window, so the window caps the context.
	if hc.SlidingWindow > 0 && (hc.UseSliding == nil || *hc.UseSliding) && hc.SlidingWindow < cfg.ContextLen {
		cfg.ContextLen = hc.SlidingWindow
	}
	return cfg, nil
}

// rope reads the RoPE base from either config layout, and Llama 3.1's
// scaling where it is asked for; it refuses other scaled RoPE variants.
func (hc hfConfig) rope() (float64, *ropeParameters, error) {
	theta := hc.RopeTheta
	var scaling *ropeParameters
	for _, p := range []*ropeParameters{hc.RopeParameters, hc.RopeScaling} {
		if p == nil {
			continue
		}
		switch kind := p.kind(); kind {
		case "", "default":
		case "llama3", "linear":
			scaling = p
		default:
			return 0, nil, fmt.Errorf("RoPE type %q is not supported (supported: default, linear, llama3)", kind)
		}
		if p.Theta > 0 {
			theta = p.Theta
		}
	}
	if theta == 0 {
		theta = 10000
	}
	return theta, scaling, nil
}

// kind is the RoPE type, from either of its keys.
func (p *ropeParameters) kind() string { return cmp.Or(p.Type, p.TypeAlias) }

// factors are the divisors of RoPE's frequencies that a scaled RoPE gives
// heads of dim values: linear's factor for all of them (positions divided
// by it, as DeepSeek-Coder's config asks), or llama3Factors.
func (p *ropeParameters) factors(theta float64, dim int) ([]float32, error) {
	if p.kind() == "llama3" {
		return p.llama3Factors(theta, dim)
	}
	if !(p.Factor > 0) || math.IsInf(p.Factor, 0) {
		return nil, fmt.Errorf("rope_type linear: factor %g, want a positive number", p.Factor)
	}
	return linearFactors(float32(p.Factor), dim), nil
}

// linearFactors is factor for each of RoPE's dim/2 frequencies.
func linearFactors(factor float32, dim int) []float32 {
	f := make([]float32, dim/2)
	for i := range f {
		f[i] = factor
	}
	return f
}

// llama3Factors are the divisors of RoPE's frequencies that Llama 3.1's
// scaling gives heads of dim values (transformers' _compute_llama3_parameters,
// as llama.cpp's converter writes them to rope_freqs.weight): 1 for
// wavelengths under original/high, factor over original/low, and between
// them 1/((1-s)/factor + s) with s = (original/wavelength - low)/(high - low).
func (p *ropeParameters) llama3Factors(theta float64, dim int) ([]float32, error) {
	if !(p.Factor > 0) || !(p.OriginalContext > 0) || !(p.LowFreqFactor > 0) || !(p.HighFreqFactor > p.LowFreqFactor) {
		return nil, fmt.Errorf("rope_type llama3: factor %g, low_freq_factor %g, high_freq_factor %g, original_max_position_embeddings %g: want positive values, high over low",
			p.Factor, p.LowFreqFactor, p.HighFreqFactor, p.OriginalContext)
	}
	lowWave, highWave := p.OriginalContext/p.LowFreqFactor, p.OriginalContext/p.HighFreqFactor
	factors := make([]float32, dim/2)
	for i := range factors {
		wave := 2 * math.Pi * math.Pow(theta, float64(2*i)/float64(dim))
		switch {
		case wave < highWave:
			factors[i] = 1
		case wave > lowWave:
			factors[i] = float32(p.Factor)
		default:
			s := (p.OriginalContext/wave - p.LowFreqFactor) / (p.HighFreqFactor - p.LowFreqFactor)
			factors[i] = float32(1 / ((1-s)/p.Factor + s))
		}
	}
	return factors, nil
}
