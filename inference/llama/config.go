// Package llama runs Llama-family decoder models (Llama, Mistral, Qwen2) on the
// CPU: grouped-query attention, optional q/k/v biases, tied or separate output
// embeddings, RoPE with a configurable base, SwiGLU feed-forward and RMSNorm.
// Weights come from a GGUF file or a Hugging Face folder of safetensors and
// stay in their stored format (float or block-quantized); a PEFT LoRA adapter
// adds its low-rank update next to each adapted weight.
package llama

import (
	"fmt"
	"math"
)

// Config is the shape of a model.
type Config struct {
	Arch       string // llama, mistral, qwen2 or qwen3
	Vocab      int
	Hidden     int
	Layers     int
	Heads      int
	KVHeads    int
	HeadDim    int
	FFN        int
	RopeTheta  float64
	NormEps    float32
	ContextLen int
	// RopePairs is true when RoPE rotates adjacent pairs (2i, 2i+1), as GGUF
	// files of the llama architecture store q/k rows for; false means the
	// Hugging Face layout, which rotates element i with element i+HeadDim/2.
	RopePairs bool
	Tied      bool // the output projection is the token embedding
	QKVBias   bool
	// QKNorm is true when each head's queries and keys go through an RMSNorm
	// of their own before RoPE (qwen3).
	QKNorm bool
	// RopeFactors, when set, divide RoPE's HeadDim/2 frequencies (Llama 3.1's
	// scaled RoPE: GGUF's rope_freqs.weight, or rope_type "llama3").
	RopeFactors []float32
}

func (c Config) validate() error {
	positive := []struct {
		name string
		v    int
	}{{"vocab size", c.Vocab}, {"hidden size", c.Hidden}, {"layer count", c.Layers}, {"head count", c.Heads},
		{"key/value head count", c.KVHeads}, {"head size", c.HeadDim}, {"feed-forward size", c.FFN}, {"context length", c.ContextLen}}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("config: %s is %d, want a positive number", p.name, p.v)
		}
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("config: %d attention heads are not a multiple of %d key/value heads", c.Heads, c.KVHeads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("config: head size %d is odd; RoPE needs an even size", c.HeadDim)
	}
	if c.RopeTheta <= 0 {
		return fmt.Errorf("config: RoPE base %g, want a positive number", c.RopeTheta)
	}
	if c.RopeFactors != nil && len(c.RopeFactors) != c.HeadDim/2 {
		return fmt.Errorf("config: %d RoPE frequency factors for heads of %d values, want %d", len(c.RopeFactors), c.HeadDim, c.HeadDim/2)
	}
	for i, f := range c.RopeFactors {
		if !(f > 0) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("config: RoPE frequency factor %d is %g, want a positive number", i, f)
		}
	}
	if c.NormEps <= 0 {
		return fmt.Errorf("config: RMSNorm epsilon %g, want a positive number", c.NormEps)
	}
	return nil
}

// qDim is the width of the query projection, kvDim of each key/value projection.
func (c Config) qDim() int  { return c.Heads * c.HeadDim }
func (c Config) kvDim() int { return c.KVHeads * c.HeadDim }
