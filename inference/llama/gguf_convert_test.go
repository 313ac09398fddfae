package llama

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"rustexpert/inference/gguf"
	"rustexpert/inference/safetensors"
	"rustexpert/inference/tensor"
)

// toGGUF writes a Hugging Face test model as a GGUF file the way llama.cpp's
// converter does: GGUF tensor names, metadata under the architecture, and for
// the llama architecture the q/k rows of each head reordered so that RoPE
// rotates adjacent pairs. Matrices are stored as typ; with roundTrip they are
// stored as float32 holding what typ's quantization gives back.
func toGGUF(t *testing.T, dir, arch string, typ tensor.DType, roundTrip bool) string {
	t.Helper()
	cfg, err := readHFConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	p := arch + "."
	kv := []gguf.KV{{Key: "general.architecture", Value: arch}, {Key: p + "vocab_size", Value: uint32(cfg.Vocab)},
		{Key: p + "embedding_length", Value: uint32(cfg.Hidden)}, {Key: p + "block_count", Value: uint32(cfg.Layers)},
		{Key: p + "feed_forward_length", Value: uint32(cfg.FFN)}, {Key: p + "attention.head_count", Value: uint32(cfg.Heads)},
		{Key: p + "attention.head_count_kv", Value: uint32(cfg.KVHeads)}, {Key: p + "context_length", Value: uint32(cfg.ContextLen)},
		{Key: p + "rope.freq_base", Value: float32(cfg.RopeTheta)}, {Key: p + "attention.layer_norm_rms_epsilon", Value: cfg.NormEps},
		{Key: p + "attention.key_length", Value: uint32(cfg.HeadDim)}, {Key: p + "attention.value_length", Value: uint32(cfg.HeadDim)}}
	var tensors []gguf.WriteTensor
	add := func(hfName, name string, permuteHeads int) {
		if !set.Has(hfName) {
			return
		}
		shape, _ := set.Shape(hfName)
		values, err := set.Floats(hfName)
		if err != nil {
			t.Fatal(err)
		}
		dt := typ
		if len(shape) == 1 {
			dt = tensor.F32
		}
		if permuteHeads > 0 && arch == "llama" {
			values = pairRows(values, permuteHeads, cfg.HeadDim)
		}
		if roundTrip && dt != tensor.F32 {
			values = quantizedValues(t, dt, values)
			dt = tensor.F32
		}
		dims := make([]uint64, len(shape))
		for i, d := range shape {
			dims[len(shape)-1-i] = uint64(d)
		}
		wt, err := gguf.NewWriteTensor(name, dt, dims, values)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, wt)
	}
	if f := cfg.RopeFactors; f != nil && !slices.ContainsFunc(f, func(v float32) bool { return v != f[0] }) { // linear
		kv = append(kv, gguf.KV{Key: p + "rope.scaling.type", Value: "linear"}, gguf.KV{Key: p + "rope.scaling.factor", Value: f[0]})
	} else if f != nil { // as llama.cpp's converter writes Llama 3.1's scaled RoPE
		wt, err := gguf.NewWriteTensor("rope_freqs.weight", tensor.F32, []uint64{uint64(len(cfg.RopeFactors))}, cfg.RopeFactors)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, wt)
	}
	add(hfNames.embed, ggufNames.embed, 0)
	add(hfNames.norm, ggufNames.norm, 0)
	add(hfNames.output, ggufNames.output, 0)
	for l := range cfg.Layers {
		for _, part := range []string{"attn_norm", "ffn_norm", "q", "k", "v", "o", "gate", "up", "down", "q_norm", "k_norm"} {
			heads := map[string]int{"q": cfg.Heads, "k": cfg.KVHeads}[part]
			add(hfNames.layer(l, part), ggufNames.layer(l, part), heads)
		}
		for _, part := range []string{"q", "k", "v"} {
			add(hfNames.bias(l, part), ggufNames.bias(l, part), 0) // qwen2 only: not reordered
		}
	}
	path := filepath.Join(t.TempDir(), "model.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := gguf.Write(f, kv, tensors); err != nil {
		t.Fatal(err)
	}
	return path
}

// The tiny Hugging Face models, written as GGUF, give transformers' goldens: the llama file with
// reordered q/k rows and pairwise RoPE, the qwen2 file with biases and half-split RoPE, and a LoRA
// adapter (trained on the Hugging Face layout) applied to the GGUF llama base.
func TestGGUFFilesOfTheTinyModels(t *testing.T) {
	cases := []struct {
		model, arch, adapter string
		typ                  tensor.DType
	}{
		{"tiny-llama", "llama", "", tensor.F32},
		{"tiny-llama", "llama", "tiny-llama-lora", tensor.F32},
		{"tiny-mistral", "llama", "", tensor.F16},
		{"tiny-qwen2", "qwen2", "", tensor.F32},
		{"tiny-qwen3", "qwen3", "", tensor.F32},
		{"tiny-qwen3", "qwen3", "", tensor.F16},
		{"tiny-llama3", "llama", "", tensor.F32},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s+%s/%v", c.model, c.adapter, c.typ), func(t *testing.T) {
			m, _, err := LoadGGUF(toGGUF(t, filepath.Join("testdata", c.model), c.arch, c.typ, false))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			goldens := c.model
			if c.adapter != "" {
				if err := m.ApplyAdapter(filepath.Join("testdata", c.adapter)); err != nil {
					t.Fatal(err)
				}
				goldens = c.adapter
			}
			checkGoldens(t, m, filepath.Join("testdata", goldens), 1e-3)
		})
	}
}

func quantizedValues(t *testing.T, typ tensor.DType, values []float32) []float32 {
	t.Helper()
	data, err := tensor.Quantize(typ, values)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(values))
	if err := tensor.Dequantize(typ, data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// promptLogits runs a golden case's prompt and returns the last position's logits; amx turns
// the AMX tiles on or off for the prompt (see SetAMX).
func promptLogits(t *testing.T, path string, prompt []int, amx bool) []float32 {
	t.Helper()
	m, _, err := LoadGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.SetAMX(amx)
	seq := m.NewSequence()
	steps := make([]Step, len(prompt))
	for i, tok := range prompt {
		steps[i] = Step{Seq: seq, Token: tok, Logits: i == len(steps)-1}
	}
	out, err := m.Prompt(steps)
	if err != nil {
		t.Fatal(err)
	}
	return out[len(out)-1]
}

// A quantized GGUF file computes what float32 weights holding its dequantized values compute: the
// only error is the quantization's own, and with the AMX tiles (Q4_0, Q4_1 prompts) their
// products' (2.5·10⁻⁵ of a dot product's scale, see tensor.MulMatAMX, grown through the layers).
func TestGGUFQuantizedTinyModel(t *testing.T) {
	prompt := readCases(t, filepath.Join("testdata", "tiny-llama"))[3].Prompt
	float := readF32(t, filepath.Join("testdata", "tiny-llama", "logits_3.f32"))
	for _, typ := range []tensor.DType{tensor.Q8_0, tensor.Q4_0, tensor.Q4_1} {
		dir := filepath.Join("testdata", "tiny-llama")
		quantized, dequantized := toGGUF(t, dir, "llama", typ, false), toGGUF(t, dir, "llama", typ, true)
		want := promptLogits(t, dequantized, prompt, false)
		got := promptLogits(t, quantized, prompt, false)
		if e := relErr(got, want); e > 1e-5 {
			t.Errorf("%v: logits differ from the dequantized float model's by %.2e of their scale", typ, e)
		}
		if e := relErr(promptLogits(t, quantized, prompt, true), want); e > 1e-4 {
			t.Errorf("%v with AMX tiles: logits differ from the dequantized float model's by %.2e of their scale", typ, e)
		}
		if e := relErr(got, float); e == 0 || e > 1 {
			t.Errorf("%v: the quantized model's logits differ from the float model's by %.2e", typ, e)
		}
	}
}
