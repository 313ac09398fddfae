package gguf

import (
	"testing"

	"rustexpert/inference/tensor"
)

// FuzzOpen parses arbitrary bytes; whatever parses must also survive every
// accessor.
func FuzzOpen(f *testing.F) {
	data := sampleFile(f)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(tensorFile([]WriteTensor{f32Info("a", 8), f32Info("b", 8)}, []uint64{0, 32}, 64))
	f.Add(tensorFile([]WriteTensor{{Name: "q", Type: tensor.Q4_1, Dims: []uint64{32, 2}}}, []uint64{0}, 40))
	f.Add(tensorFile([]WriteTensor{{Name: "k", Type: tensor.Q4_K, Dims: []uint64{256, 2}}}, []uint64{0}, 288))
	f.Add(tensorFile([]WriteTensor{{Name: "k", Type: tensor.Q6_K, Dims: []uint64{256, 1}}, {Name: "h", Type: tensor.Q5_0, Dims: []uint64{32, 1}}}, []uint64{0, 224}, 256))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Parse(data)
		if err != nil {
			return
		}
		exercise(g)
	})
}

// exercise calls every accessor on every key and small tensor.
func exercise(g *File) {
	for _, k := range g.Keys() {
		g.String(k)
		g.Uint(k)
		g.Int(k)
		g.Float(k)
		g.Bool(k)
		g.Strings(k)
		g.Int32s(k)
		g.Floats(k)
	}
	for _, ti := range g.Tensors {
		if ti.Elements() > 1<<16 || ti.Dims[0] > 1<<16 {
			continue
		}
		g.Vector(ti.Name)
		m, err := g.Matrix(ti.Name)
		if err != nil {
			continue
		}
		m.Float32()
		out := make([]float32, 2*m.Rows)
		m.MulRows(out, make([]float32, 2*m.Cols), 2, 0, m.Rows)
		if f := m.NewInt8Form(); f != nil {
			m.ConvertRows(f, 0, m.Rows)
		}
	}
}
