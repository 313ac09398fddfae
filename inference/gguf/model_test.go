package gguf

import (
	"math"
	"os"
	"strings"
	"testing"

	"rustexpert/inference/tensor"
)

// bundledModel finds SmolLM2-135M-Instruct.Q4_1.gguf through
// RUSTEXPERT_TEST_GGUF or the repository's models/base directory.
func bundledModel(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("RUSTEXPERT_TEST_GGUF"), "../../models/base/SmolLM2-135M-Instruct.Q4_1.gguf"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("bundled model not found: set RUSTEXPERT_TEST_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf or put it in models/base")
	return ""
}

// Reference rows from the gguf Python package, printed by
// testdata/model_reference.py: the first six and last two values (float32
// bits) and the float64 sum of each row.
var modelRows = []struct {
	tensor      string
	row         int
	first, last []uint32
	sum         float64
}{
	{"token_embd.weight", 0, []uint32{0xbdda3400, 0x3d071400, 0x3d456c00, 0xbcbb0800, 0xbd8c4600, 0xbd3b0800}, []uint32{0xbe80fc00, 0x3cf3c000}, -2.2541093826293945},
	{"token_embd.weight", 1, []uint32{0xbcc30000, 0xbc820000, 0xbd228000, 0x3c820000, 0xbde38000, 0xbc020000}, []uint32{0xbb912000, 0xbe038500}, 0.35922718048095703},
	{"token_embd.weight", 1234, []uint32{0xbc8ca000, 0xbdafc800, 0xbd3b8000, 0x3c3b8000, 0xbd0ca000, 0xbdc73800}, []uint32{0xbd43b600, 0x3d1e1300}, 2.843038558959961},
	{"token_embd.weight", 49151, []uint32{0x3c3c8000, 0x3bbc8000, 0x3dc84800, 0xbdc84800, 0x3db0b800, 0xbd3c8000}, []uint32{0xbdf58b00, 0xbd2ad000}, -0.4662208557128906},
	{"blk.0.attn_q.weight", 5, []uint32{0x3d9c0000, 0xbe8ca000, 0xbd270000, 0x3f651000, 0xbf5c0000, 0x3edaa000}, []uint32{0xbefb0000, 0xbd9aa000}, -3.731201171875},
}

func TestBundledModel(t *testing.T) {
	f, err := Open(bundledModel(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkModelMetadata(t, f)
	checkModelTensors(t, f)
	for _, c := range modelRows {
		m, err := f.Matrix(c.tensor)
		if err != nil {
			t.Fatal(err)
		}
		row := make([]float32, m.Cols)
		m.Row(c.row, row)
		for i, want := range c.first {
			if got := math.Float32bits(row[i]); got != want {
				t.Errorf("%s row %d [%d] = %#08x, gguf-py %#08x", c.tensor, c.row, i, got, want)
			}
		}
		for i, want := range c.last {
			if got := math.Float32bits(row[m.Cols-2+i]); got != want {
				t.Errorf("%s row %d [%d] = %#08x, gguf-py %#08x", c.tensor, c.row, m.Cols-2+i, got, want)
			}
		}
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		if math.Abs(sum-c.sum) > 1e-9 {
			t.Errorf("%s row %d sums to %.17g, gguf-py %.17g", c.tensor, c.row, sum, c.sum)
		}
	}
}

func checkModelMetadata(t *testing.T, f *File) {
	t.Helper()
	if arch, err := f.String("general.architecture"); arch != "llama" || err != nil {
		t.Errorf("general.architecture = %q, %v", arch, err)
	}
	ints := map[string]uint64{
		"llama.block_count": 30, "llama.embedding_length": 576, "llama.feed_forward_length": 1536,
		"llama.attention.head_count": 9, "llama.attention.head_count_kv": 3, "llama.context_length": 8192,
		"tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2, "general.file_type": 3,
	}
	for k, want := range ints {
		if got, err := f.Uint(k); got != want || err != nil {
			t.Errorf("%s = %d, %v; want %d", k, got, err, want)
		}
	}
	if v, err := f.Float("llama.rope.freq_base"); v != 100000 || err != nil {
		t.Errorf("llama.rope.freq_base = %g, %v", v, err)
	}
	if v, err := f.Float("llama.attention.layer_norm_rms_epsilon"); float32(v) != 1e-5 || err != nil {
		t.Errorf("layer_norm_rms_epsilon = %g, %v", v, err)
	}
	if v, err := f.Bool("tokenizer.ggml.add_bos_token"); v || err != nil {
		t.Errorf("tokenizer.ggml.add_bos_token = %v, %v", v, err)
	}
	toks, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil || len(toks) != 49152 || toks[0] != "<|endoftext|>" || toks[2] != "<|im_end|>" || toks[49151] != "ectable" {
		t.Errorf("tokens: %d, %v", len(toks), err)
	}
	types, err := f.Int32s("tokenizer.ggml.token_type")
	if err != nil || len(types) != 49152 || types[0] != 3 || types[17] != 1 {
		t.Errorf("token types: %d, %v", len(types), err)
	}
	merges, err := f.Strings("tokenizer.ggml.merges")
	if err != nil || len(merges) != 48900 || merges[0] != "Ġ t" {
		t.Errorf("merges: %d, %v", len(merges), err)
	}
	if n := len(f.Keys()); n != 33 {
		t.Errorf("%d metadata keys, want 33", n)
	}
}

func checkModelTensors(t *testing.T, f *File) {
	t.Helper()
	if len(f.Tensors) != 272 {
		t.Errorf("%d tensors, want 272", len(f.Tensors))
	}
	blocks := map[string]bool{}
	for _, ti := range f.Tensors {
		if rest, ok := strings.CutPrefix(ti.Name, "blk."); ok {
			blocks[rest[:strings.IndexByte(rest, '.')]] = true
		}
	}
	if len(blocks) != 30 {
		t.Errorf("%d blocks, want 30", len(blocks))
	}
	emb, err := f.Tensor("token_embd.weight")
	if err != nil || emb.Type != tensor.Q8_0 || len(emb.Dims) != 2 || emb.Dims[0] != 576 || emb.Dims[1] != 49152 {
		t.Fatalf("token_embd.weight = %+v, %v", emb, err)
	}
	norm, err := f.Vector("blk.0.attn_norm.weight")
	if err != nil || len(norm) != 576 {
		t.Fatalf("blk.0.attn_norm.weight: %d values, %v", len(norm), err)
	}
	// MulRows with a unit vector picks out a column.
	m, err := f.Matrix("blk.0.ffn_down.weight")
	if err != nil || m.Rows != 576 || m.Cols != 1536 || m.Type != tensor.Q4_1 {
		t.Fatalf("blk.0.ffn_down.weight: %+v, %v", m, err)
	}
	x := make([]float32, m.Cols)
	x[700] = 1
	out := make([]float32, m.Rows)
	m.MulRows(out, x, 1, 0, m.Rows)
	row := make([]float32, m.Cols)
	for r := 0; r < m.Rows; r += 37 {
		m.Row(r, row)
		if out[r] != row[700] {
			t.Fatalf("ffn_down row %d: MulRows with e_700 = %g, Row = %g", r, out[r], row[700])
		}
	}
}
