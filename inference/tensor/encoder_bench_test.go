package tensor

import "testing"

// The element-wise encoder kernels on the all-MiniLM-L6-v2 shapes of 8
// chunks of 256 tokens: the GELU over the feed-forward activations of a
// block of 112 tokens, the layer norm of 112 tokens and the softmax of one
// head's 256×256 scores.

func BenchmarkGELU(b *testing.B) {
	src := randFloats(1, 112*1536, 2)
	v := make([]float32, len(src))
	for b.Loop() {
		copy(v, src) // GELU again would reach subnormals
		GELU(v)
	}
}

func BenchmarkAddLayerNorm(b *testing.B) {
	x, y := randFloats(1, 112*384, 2), randFloats(2, 112*384, 1)
	w, bias := randFloats(3, 384, 1), randFloats(4, 384, 1)
	for b.Loop() {
		AddLayerNorm(x, y, w, bias, 1e-12)
	}
}

func BenchmarkScaledSoftmax(b *testing.B) {
	v := randFloats(1, 256*256, 2)
	for b.Loop() {
		ScaledSoftmax(v, 256, 0.18)
	}
}

// The softmax of one head's scores for a prompt of 200 tokens: one call per
// row, as attention computed it before CausalSoftmax, against one call.

func BenchmarkCausalSoftmaxPerRow(b *testing.B) {
	const keys = 200
	v := randFloats(1, keys*keys, 2)
	for b.Loop() {
		for t := range keys {
			row := v[t*keys : (t+1)*keys]
			ScaledSoftmax(row[:t+1], t+1, 0.125)
			clear(row[t+1:])
		}
	}
}

func BenchmarkCausalSoftmax(b *testing.B) {
	const keys = 200
	v := randFloats(1, keys*keys, 2)
	for b.Loop() {
		CausalSoftmax(v, keys, 0, 0.125)
	}
}
