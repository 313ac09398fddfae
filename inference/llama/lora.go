package llama

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"rustexpert/inference/safetensors"
	"rustexpert/inference/tensor"
)

// adapterConfig is the part of a PEFT adapter_config.json the engine reads.
type adapterConfig struct {
	PeftType    string  `json:"peft_type"`
	R           int     `json:"r"`
	Alpha       float64 `json:"lora_alpha"`
	UseRSLoRA   bool    `json:"use_rslora"`
	UseDoRA     bool    `json:"use_dora"`
	FanInFanOut bool    `json:"fan_in_fan_out"`
	Bias        string  `json:"bias"`
	BaseModel   string  `json:"base_model_name_or_path"`
}

func (c adapterConfig) scale() float32 {
	if c.UseRSLoRA {
		return float32(c.Alpha / math.Sqrt(float64(c.R)))
	}
	return float32(c.Alpha / float64(c.R))
}

// loraKey matches PEFT's tensor names, e.g.
// base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight.
var loraKey = regexp.MustCompile(`^base_model\.model\.model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])(?:\.[^.]+)?\.weight$`)

// ApplyAdapter adds a PEFT LoRA adapter from dir to the model (AddAdapter) and
// makes it the one of every sequence NewSequence makes from then on.
func (m *Model) ApplyAdapter(dir string) error {
	id, err := m.AddAdapter(dir)
	if err != nil {
		return err
	}
	m.defaultAdapter = id
	return nil
}

// Adapters is how many adapters AddAdapter has added.
func (m *Model) Adapters() int {
	if list := m.adapters.Load(); list != nil {
		return len(*list)
	}
	return 0
}

// adapterOf returns adapter id (nil for 0 or one not added).
func (m *Model) adapterOf(id int) *adapter {
	list := m.adapters.Load()
	if id <= 0 || list == nil || id > len(*list) {
		return nil
	}
	return (*list)[id-1]
}

// AddAdapter reads a PEFT LoRA adapter from dir and returns its id, for
// NewSequenceWith: an adapted projection of such a sequence's steps computes
// W·x + (α/r)·B·(A·x), which equals merging W + (α/r)·B·A while quantized
// weights stay compact and shared with the base model and other adapters.
// It may be called while the model computes (adapters is replaced whole);
// calls to it must not overlap.
func (m *Model) AddAdapter(dir string) (int, error) {
	a, err := m.readAdapter(dir)
	if err != nil {
		return 0, err
	}
	var list []*adapter
	if old := m.adapters.Load(); old != nil {
		list = slices.Clone(*old)
	}
	list = append(list, a)
	m.adapters.Store(&list)
	return len(list), nil
}

func (m *Model) readAdapter(dir string) (*adapter, error) {
	cfg, err := readAdapterConfig(filepath.Join(dir, "adapter_config.json"))
	if err != nil {
		return nil, err
	}
	set, err := safetensors.OpenFiles(filepath.Join(dir, "adapter_model.safetensors"))
	if err != nil {
		return nil, err
	}
	defer set.Close()
	pairs, err := m.adapterPairs(set)
	if err != nil {
		return nil, fmt.Errorf("adapter %s: %w", dir, err)
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("adapter %s: no LoRA weights for the attention or feed-forward projections", dir)
	}
	a := &adapter{dir: dir, updates: map[*linear]*lowRank{}}
	for target, p := range pairs {
		u, err := m.lowRank(set, target, p, cfg)
		if err != nil {
			return nil, fmt.Errorf("adapter %s: %w", dir, err)
		}
		a.updates[target.dst] = u
	}
	return a, nil
}

func readAdapterConfig(path string) (adapterConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return adapterConfig{}, fmt.Errorf("adapter config: %w", err)
	}
	var c adapterConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return adapterConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case c.PeftType != "" && c.PeftType != "LORA":
		return c, fmt.Errorf("%s: peft_type %q is not supported (only LORA)", path, c.PeftType)
	case c.UseDoRA:
		return c, fmt.Errorf("%s: DoRA adapters are not supported", path)
	case c.FanInFanOut:
		return c, fmt.Errorf("%s: fan_in_fan_out adapters are not supported", path)
	case c.Bias != "" && c.Bias != "none":
		return c, fmt.Errorf("%s: bias %q is not supported (only none)", path, c.Bias)
	case c.R <= 0:
		return c, fmt.Errorf("%s: r is %d, want a positive rank", path, c.R)
	}
	return c, nil
}

// adapterTarget is one adapted projection.
type adapterTarget struct {
	name  string // e.g. layers.3.q
	part  string
	dst   *linear
	rows  int
	cols  int
	heads int // for q and k: the heads whose rows a GGUF llama file permutes
}

type adapterPair struct{ a, b string }

// adapterPairs finds the A and B tensors of every adapted projection.
func (m *Model) adapterPairs(set *safetensors.Set) (map[adapterTarget]adapterPair, error) {
	pairs := map[adapterTarget]adapterPair{}
	for _, name := range set.Names() {
		match := loraKey.FindStringSubmatch(name)
		if match == nil {
			return nil, fmt.Errorf("tensor %s: not a LoRA weight of an attention or feed-forward projection", name)
		}
		l, _ := strconv.Atoi(match[1])
		if l >= m.Layers {
			return nil, fmt.Errorf("tensor %s: layer %d, the model has %d layers (adapter for another base model?)", name, l, m.Layers)
		}
		t := m.target(l, match[2])
		p := pairs[t]
		if match[3] == "A" {
			p.a = name
		} else {
			p.b = name
		}
		pairs[t] = p
	}
	for t, p := range pairs {
		if p.a == "" || p.b == "" {
			return nil, fmt.Errorf("%s: lora_A and lora_B must both be present", t.name)
		}
	}
	return pairs, nil
}

func (m *Model) target(l int, module string) adapterTarget {
	ly := &m.layers[l]
	h, q, kv, f := m.Hidden, m.qDim(), m.kvDim(), m.FFN
	t := map[string]adapterTarget{
		"self_attn.q_proj": {part: "q", dst: &ly.q, rows: q, cols: h, heads: m.Heads},
		"self_attn.k_proj": {part: "k", dst: &ly.k, rows: kv, cols: h, heads: m.KVHeads},
		"self_attn.v_proj": {part: "v", dst: &ly.v, rows: kv, cols: h},
		"self_attn.o_proj": {part: "o", dst: &ly.o, rows: h, cols: q},
		"mlp.gate_proj":    {part: "gate", dst: &ly.gate, rows: f, cols: h},
		"mlp.up_proj":      {part: "up", dst: &ly.up, rows: f, cols: h},
		"mlp.down_proj":    {part: "down", dst: &ly.down, rows: h, cols: f},
	}[module]
	t.name = fmt.Sprintf("layers.%d.%s", l, module)
	return t
}

// lowRank reads one projection's A (r×in) and B (out×r) as float32 and checks
// them against the base model's shapes.
func (m *Model) lowRank(set *safetensors.Set, t adapterTarget, p adapterPair, cfg adapterConfig) (*lowRank, error) {
	a, err := adapterMatrix(set, p.a, cfg.R, t.cols)
	if err != nil {
		return nil, err
	}
	b, err := adapterMatrix(set, p.b, t.rows, cfg.R)
	if err != nil {
		return nil, err
	}
	if m.RopePairs && t.heads > 0 {
		b = pairRows(b, t.heads, m.HeadDim)
	}
	return newLowRank(tensor.F32Matrix(cfg.R, t.cols, a), tensor.F32Matrix(t.rows, cfg.R, b), b, cfg.scale()), nil
}

// adapterMatrix reads a LoRA weight as float32 and checks its shape.
func adapterMatrix(set *safetensors.Set, name string, rows, cols int) ([]float32, error) {
	w, err := set.Matrix(name)
	if err != nil {
		return nil, err
	}
	if w.Rows != rows || w.Cols != cols {
		return nil, fmt.Errorf("tensor %s is %d×%d, the base model needs %d×%d (adapter for another base model?)", name, w.Rows, w.Cols, rows, cols)
	}
	// A copy: the adapter file is unmapped once loaded.
	return slices.Clone(w.Float32()), nil
}

// pairRows reorders the output rows of a q or k update into the layout of GGUF
// llama files, whose heads store the two rotated halves interleaved: row
// h·D + j·D/2 + i moves to h·D + 2i + j.
func pairRows(b []float32, heads, d int) []float32 {
	cols := len(b) / (heads * d)
	out := make([]float32, len(b))
	for h := range heads {
		for j := range 2 {
			for i := range d / 2 {
				from, to := h*d+j*d/2+i, h*d+2*i+j
				copy(out[to*cols:(to+1)*cols], b[from*cols:(from+1)*cols])
			}
		}
	}
	return out
}
