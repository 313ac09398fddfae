package llama

import (
	"fmt"
	"math"

	"rustexpert/inference/gguf"
)

// LoadGGUF loads a model from a GGUF file. The file stays memory-mapped until
// the model is closed.
func LoadGGUF(path string) (*Model, *gguf.File, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := ggufConfig(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := build(cfg, newGGUFWeights(f), ggufNames, f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, f, nil
}

// ggufArchs are the architectures the engine runs, with their RoPE layout:
// llama files store q/k rows for rotating adjacent pairs, qwen2 and qwen3
// files do not.
var ggufArchs = map[string]bool{"llama": true, "qwen2": false, "qwen3": false}

func ggufConfig(f *gguf.File) (Config, error) {
	arch, err := f.String("general.architecture")
	if err != nil {
		return Config{}, err
	}
	pairs, ok := ggufArchs[arch]
	if !ok {
		return Config{}, fmt.Errorf("architecture %q is not supported (supported: llama, mistral, qwen2, qwen3)", arch)
	}
	cfg := Config{Arch: arch, RopePairs: pairs, QKVBias: arch == "qwen2", QKNorm: arch == "qwen3", RopeTheta: 10000}
	r := ggufReader{f: f, prefix: arch + "."}
	cfg.Hidden = r.int("embedding_length")
	cfg.Layers = r.int("block_count")
	cfg.FFN = r.int("feed_forward_length")
	cfg.Heads = r.int("attention.head_count")
	cfg.KVHeads = cfg.Heads
	cfg.ContextLen = r.int("context_length")
	cfg.NormEps = float32(r.float("attention.layer_norm_rms_epsilon"))
	if f.Has(r.prefix + "attention.head_count_kv") {
		cfg.KVHeads = r.int("attention.head_count_kv")
	}
	if f.Has(r.prefix + "rope.freq_base") {
		cfg.RopeTheta = r.float("rope.freq_base")
	}
	if r.err != nil {
		return Config{}, r.err
	}
	if cfg.Heads > 0 {
		cfg.HeadDim = cfg.Hidden / cfg.Heads
	}
	if err := ggufHeadDim(f, r.prefix, &cfg); err != nil {
		return Config{}, err
	}
	cfg.Vocab, err = ggufVocab(f, r.prefix)
	if err != nil {
		return Config{}, err
	}
	cfg.Tied = !newGGUFWeights(f).Has("output.weight")
	return cfg, nil
}

// ggufHeadDim takes an explicit head size and RoPE's frequency factors, and
// refuses RoPE variants the engine does not implement.
func ggufHeadDim(f *gguf.File, prefix string, cfg *Config) error {
	if f.Has(prefix + "attention.key_length") {
		n, err := f.Uint(prefix + "attention.key_length")
		if err != nil {
			return err
		}
		cfg.HeadDim = int(n)
	}
	if f.Has(prefix + "rope.dimension_count") {
		n, err := f.Uint(prefix + "rope.dimension_count")
		if err != nil {
			return err
		}
		if int(n) != cfg.HeadDim {
			return fmt.Errorf("%srope.dimension_count is %d but heads have %d values: partial rotary embeddings are not supported", prefix, n, cfg.HeadDim)
		}
	}
	if f.Has(prefix + "rope.scaling.type") {
		if err := ggufLinearRope(f, prefix, cfg); err != nil {
			return err
		}
	}
	if w := newGGUFWeights(f); w.Has("rope_freqs.weight") { // Llama 3.1's scaled RoPE
		factors, err := vector(w, "rope_freqs.weight", cfg.HeadDim/2)
		if err != nil {
			return err
		}
		cfg.RopeFactors = factors
	}
	return nil
}

// ggufLinearRope takes rope.scaling.type linear (positions divided by
// rope.scaling.factor) and refuses the other scalings.
func ggufLinearRope(f *gguf.File, prefix string, cfg *Config) error {
	kind, _ := f.String(prefix + "rope.scaling.type")
	switch kind {
	case "", "none":
		return nil
	case "linear":
	default:
		return fmt.Errorf("%srope.scaling.type %q is not supported (supported: none, linear)", prefix, kind)
	}
	factor, err := f.Float(prefix + "rope.scaling.factor")
	if err != nil {
		return err
	}
	if !(factor > 0) || math.IsInf(factor, 0) {
		return fmt.Errorf("%srope.scaling.factor is %g, want a positive number", prefix, factor)
	}
	cfg.RopeFactors = linearFactors(float32(factor), cfg.HeadDim)
	return nil
}

func ggufVocab(f *gguf.File, prefix string) (int, error) {
	if f.Has(prefix + "vocab_size") {
		n, err := f.Uint(prefix + "vocab_size")
		return int(n), err
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		return 0, fmt.Errorf("no %svocab_size and no tokenizer.ggml.tokens: %w", prefix, err)
	}
	return len(tokens), nil
}

// ggufWeights serves a GGUF file's tensors by name.
type ggufWeights struct {
	*gguf.File
	names map[string]bool
}

func newGGUFWeights(f *gguf.File) ggufWeights {
	names := make(map[string]bool, len(f.Tensors))
	for _, t := range f.Tensors {
		names[t.Name] = true
	}
	return ggufWeights{File: f, names: names}
}

// Has reports whether the file holds a tensor of that name.
func (w ggufWeights) Has(name string) bool { return w.names[name] }

// ggufReader reads required numbers under one prefix, keeping the first error.
type ggufReader struct {
	f      *gguf.File
	prefix string
	err    error
}

func (r *ggufReader) int(key string) int {
	if r.err != nil {
		return 0
	}
	v, err := r.f.Uint(r.prefix + key)
	r.err = err
	return int(v)
}

func (r *ggufReader) float(key string) float64 {
	if r.err != nil {
		return 0
	}
	v, err := r.f.Float(r.prefix + key)
	r.err = err
	return v
}
