package llama

import (
	"fmt"
	"io"

	"rustexpert/inference/tensor"
)

// weights is a store of named tensors: a GGUF file or a safetensors set.
type weights interface {
	Has(name string) bool
	Matrix(name string) (*tensor.Matrix, error)
	Vector(name string) ([]float32, error)
}

// naming maps the model's parts to the tensor names of one file format.
type naming struct {
	embed, norm, output string
	layer               func(l int, part string) string // part: attn_norm, ffn_norm, q, k, v, o, gate, up, down, q_norm, k_norm
	bias                func(l int, part string) string // q, k, v
}

var ggufNames = naming{
	embed: "token_embd.weight", norm: "output_norm.weight", output: "output.weight",
	layer: func(l int, part string) string {
		names := map[string]string{"attn_norm": "attn_norm", "ffn_norm": "ffn_norm", "q": "attn_q", "k": "attn_k",
			"v": "attn_v", "o": "attn_output", "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down",
			"q_norm": "attn_q_norm", "k_norm": "attn_k_norm"}
		return fmt.Sprintf("blk.%d.%s.weight", l, names[part])
	},
	bias: func(l int, part string) string { return fmt.Sprintf("blk.%d.attn_%s.bias", l, part) },
}

// hfModule is the Hugging Face module path of a part, relative to model.layers.N.
var hfModule = map[string]string{"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
	"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.o_proj",
	"gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj",
	"q_norm": "self_attn.q_norm", "k_norm": "self_attn.k_norm"}

var hfNames = naming{
	embed: "model.embed_tokens.weight", norm: "model.norm.weight", output: "lm_head.weight",
	layer: func(l int, part string) string { return fmt.Sprintf("model.layers.%d.%s.weight", l, hfModule[part]) },
	bias:  func(l int, part string) string { return fmt.Sprintf("model.layers.%d.%s.bias", l, hfModule[part]) },
}

// build assembles a model from its config and weights, checking every shape.
func build(cfg Config, w weights, names naming, closer io.Closer) (*Model, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg}
	if closer != nil {
		m.closers = append(m.closers, closer)
	}
	err := m.loadWeights(w, names)
	if err != nil {
		m.Close()
		return nil, err
	}
	m.init()
	if d := DefaultActivations(); d != ActivationsF32 {
		m.int8Forms() // before interleave, which copies them into the model's arena
		if d == ActivationsQ8Prompt {
			m.formsInFloat32()
		}
	}
	m.interleave()
	return m, nil
}

func (m *Model) loadWeights(w weights, names naming) error {
	var err error
	if m.embed, err = matrix(w, names.embed, m.Vocab, m.Hidden); err != nil {
		return err
	}
	m.output = m.embed
	if !m.Tied || w.Has(names.output) {
		if m.output, err = matrix(w, names.output, m.Vocab, m.Hidden); err != nil {
			return err
		}
	}
	if m.norm, err = vector(w, names.norm, m.Hidden); err != nil {
		return err
	}
	m.layers = make([]layer, m.Layers)
	for l := range m.layers {
		if err := m.loadLayer(w, names, l); err != nil {
			return err
		}
	}
	return nil
}

func (m *Model) loadLayer(w weights, names naming, l int) error {
	ly := &m.layers[l]
	h, q, kv, f := m.Hidden, m.qDim(), m.kvDim(), m.FFN
	parts := []struct {
		name       string
		dst        *linear
		rows, cols int
	}{{"q", &ly.q, q, h}, {"k", &ly.k, kv, h}, {"v", &ly.v, kv, h}, {"o", &ly.o, h, q},
		{"gate", &ly.gate, f, h}, {"up", &ly.up, f, h}, {"down", &ly.down, h, f}}
	var err error
	for _, p := range parts {
		if p.dst.w, err = matrix(w, names.layer(l, p.name), p.rows, p.cols); err != nil {
			return err
		}
	}
	if ly.attnNorm, err = vector(w, names.layer(l, "attn_norm"), h); err != nil {
		return err
	}
	if ly.ffnNorm, err = vector(w, names.layer(l, "ffn_norm"), h); err != nil {
		return err
	}
	if m.QKNorm {
		if ly.qNorm, err = vector(w, names.layer(l, "q_norm"), m.HeadDim); err != nil {
			return err
		}
		if ly.kNorm, err = vector(w, names.layer(l, "k_norm"), m.HeadDim); err != nil {
			return err
		}
	}
	return m.loadBiases(w, names, l)
}

// loadBiases reads q/k/v biases: required when the config says so, else
// taken when present.
func (m *Model) loadBiases(w weights, names naming, l int) error {
	ly := &m.layers[l]
	for _, p := range []struct {
		name string
		dst  *linear
		n    int
	}{{"q", &ly.q, m.qDim()}, {"k", &ly.k, m.kvDim()}, {"v", &ly.v, m.kvDim()}} {
		name := names.bias(l, p.name)
		if !m.QKVBias && !w.Has(name) {
			continue
		}
		b, err := vector(w, name, p.n)
		if err != nil {
			return err
		}
		p.dst.bias = b
	}
	return nil
}

func matrix(w weights, name string, rows, cols int) (*tensor.Matrix, error) {
	if !w.Has(name) {
		return nil, fmt.Errorf("tensor %s is missing", name)
	}
	mat, err := w.Matrix(name)
	if err != nil {
		return nil, err
	}
	if mat.Rows != rows || mat.Cols != cols {
		return nil, fmt.Errorf("tensor %s is %d×%d, the config needs %d×%d", name, mat.Rows, mat.Cols, rows, cols)
	}
	return mat, nil
}

func vector(w weights, name string, n int) ([]float32, error) {
	if !w.Has(name) {
		return nil, fmt.Errorf("tensor %s is missing", name)
	}
	v, err := w.Vector(name)
	if err != nil {
		return nil, err
	}
	if len(v) != n {
		return nil, fmt.Errorf("tensor %s has %d values, the config needs %d", name, len(v), n)
	}
	return v, nil
}
