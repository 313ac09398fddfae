package gguf

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/inference/tensor"
)

// build writes raw GGUF pieces with the encoder, valid or not.
func build(f func(e *encoder)) []byte {
	var buf bytes.Buffer
	e := &encoder{w: bufio.NewWriter(&buf)}
	f(e)
	e.w.Flush()
	return buf.Bytes()
}

func header(e *encoder, tensors, kvs uint64) {
	e.u32(magic)
	e.u32(3)
	e.u64(tensors)
	e.u64(kvs)
}

// tensorFile writes one key/value and the given tensor infos followed by
// dataLen bytes of tensor data.
func tensorFile(infos []WriteTensor, offsets []uint64, dataLen int) []byte {
	return build(func(e *encoder) {
		header(e, uint64(len(infos)), 1)
		e.str("general.architecture")
		e.u32(uint32(TypeString))
		e.str("llama")
		for i, t := range infos {
			e.tensorInfo(t, offsets[i])
		}
		e.pad(32)
		e.zeros(uint64(dataLen))
	})
}

func f32Info(name string, n uint64) WriteTensor {
	return WriteTensor{Name: name, Type: tensor.F32, Dims: []uint64{n}}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), "not a GGUF file"},
		{"empty", nil, "truncated at offset 0: magic"},
		{"version 1", build(func(e *encoder) { e.u32(magic); e.u32(1); e.u64(0); e.u64(0) }), "unsupported GGUF version 1 (supported: 2, 3)"},
		{"big endian", build(func(e *encoder) { e.u32(magic); e.u32(3 << 24); e.u64(0); e.u64(0) }), "big-endian"},
		{"absurd tensor count", build(func(e *encoder) { header(e, 1<<40, 0) }), "tensor count 1099511627776 at offset 8 does not fit"},
		{"absurd kv count", build(func(e *encoder) { header(e, 0, 1<<62) }), "metadata count"},
		{"absurd key length", build(func(e *encoder) { header(e, 0, 1); e.u64(1 << 62); e.zeros(13) }), "metadata key 0 needs 4611686018427387904 bytes, 13 left"},
		{"unknown value type", build(func(e *encoder) { header(e, 0, 1); e.str("k"); e.u32(13); e.zeros(8) }),
			`metadata entry 0 (key "k") at offset 24: unknown value type 13`},
		{"absurd string", build(func(e *encoder) { header(e, 0, 1); e.str("k"); e.u32(uint32(TypeString)); e.u64(1 << 50) }),
			"k needs 1125899906842624 bytes"},
		{"absurd array", build(func(e *encoder) {
			header(e, 0, 1)
			e.str("k")
			e.u32(uint32(TypeArray))
			e.u32(uint32(TypeUint32))
			e.u64(1 << 60)
			e.zeros(64)
		}), "array length 1152921504606846976"},
		{"absurd string array", build(func(e *encoder) {
			header(e, 0, 1)
			e.str("k")
			e.u32(uint32(TypeArray))
			e.u32(uint32(TypeString))
			e.u64(1 << 40)
		}), "array length 1099511627776"},
		{"negative-looking string array length", build(func(e *encoder) {
			header(e, 0, 1)
			e.str("k")
			e.u32(uint32(TypeArray))
			e.u32(uint32(TypeString))
			e.u64(1 << 63)
		}), "array length 9223372036854775808"},
		{"negative-looking nested array length", build(func(e *encoder) {
			header(e, 0, 1)
			e.str("k")
			e.u32(uint32(TypeArray))
			e.u32(uint32(TypeArray))
			e.u64(^uint64(0))
		}), "array length 18446744073709551615"},
		{"unknown element type", build(func(e *encoder) {
			header(e, 0, 1)
			e.str("k")
			e.u32(uint32(TypeArray))
			e.u32(99)
			e.u64(1)
		}), "unknown array element type 99"},
		{"deep nesting", build(func(e *encoder) {
			header(e, 0, 1)
			e.str("k")
			e.u32(uint32(TypeArray))
			for range 10 {
				e.u32(uint32(TypeArray))
				e.u64(1)
			}
		}), "nested more than 8 deep"},
		{"duplicate key", build(func(e *encoder) {
			header(e, 0, 2)
			for range 2 {
				e.str("k")
				e.u32(uint32(TypeBool))
				e.bytes([]byte{1})
			}
		}), `metadata key "k" at offset 38 appears twice`},
		{"bad alignment", build(func(e *encoder) { header(e, 0, 1); e.str("general.alignment"); e.u32(uint32(TypeUint32)); e.u32(48) }),
			"general.alignment 48 is not a power of two"},
		{"alignment type", build(func(e *encoder) { header(e, 0, 1); e.str("general.alignment"); e.u32(uint32(TypeString)); e.str("x") }),
			`"general.alignment" is string, not an integer`},
		{"unsupported type", tensorFile([]WriteTensor{{Name: "blk.0.attn_q.weight", Type: tensor.DType(34), Dims: []uint64{256, 2}}}, []uint64{0}, 420),
			"blk.0.attn_q.weight: tensor type TQ1_0 (34) is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ4_NL, IQ4_XS)"},
		{"unknown type id", tensorFile([]WriteTensor{{Name: "w", Type: tensor.DType(77), Dims: []uint64{8}}}, []uint64{0}, 32),
			"w: tensor type type(77) (77) is not supported"},
		{"five dims", tensorFile([]WriteTensor{{Name: "w", Type: tensor.F32, Dims: []uint64{1, 1, 1, 1, 1}}}, []uint64{0}, 4),
			"w has 5 dimensions"},
		{"huge shape", tensorFile([]WriteTensor{{Name: "w", Type: tensor.F32, Dims: []uint64{1 << 40, 1 << 40}}}, []uint64{0}, 4),
			"w: shape [1099511627776 1099511627776] has too many elements"},
		{"partial block", tensorFile([]WriteTensor{{Name: "w", Type: tensor.Q4_0, Dims: []uint64{48}}}, []uint64{0}, 64),
			"w: row length 48 is not a multiple of the Q4_0 block size 32"},
		{"misaligned", tensorFile([]WriteTensor{f32Info("a", 8), f32Info("b", 8)}, []uint64{0, 36}, 128),
			"b: data offset 36 is not a multiple of the alignment 32"},
		{"overlap", tensorFile([]WriteTensor{f32Info("a", 16), f32Info("b", 8)}, []uint64{0, 32}, 128),
			"b: data at offset 32 overlaps a (offset 0, 64 bytes)"},
		{"past end", tensorFile([]WriteTensor{f32Info("a", 8), f32Info("b", 8)}, []uint64{0, 32}, 40),
			"b: data [", // ... reaches past the end of the file
		},
		{"duplicate tensor", tensorFile([]WriteTensor{f32Info("a", 8), f32Info("a", 8)}, []uint64{0, 32}, 64),
			`tensor "a" at offset`},
		{"zero dimension", tensorFile([]WriteTensor{{Name: "w", Type: tensor.F32, Dims: []uint64{0, 805306623}}}, []uint64{0}, 4),
			"w: shape [0 805306623] has a zero dimension"},
		{"zero dims", tensorFile([]WriteTensor{{Name: "w", Type: tensor.F32}}, []uint64{0}, 4), "w has 0 dimensions"},
	}
	for _, c := range cases {
		_, err := Parse(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestTruncated cuts a valid file at every length: each prefix must give an
// error, never a panic.
func TestTruncated(t *testing.T) {
	data := sampleFile(t)
	for n := range len(data) {
		if _, err := Parse(data[:n]); err == nil {
			t.Fatalf("file cut to %d of %d bytes parsed without error", n, len(data))
		}
	}
	if _, err := Parse(data); err != nil {
		t.Fatalf("whole file: %v", err)
	}
}

// TestOpenTruncated does the same through the memory-mapped path for a few
// lengths, including an empty file.
func TestOpenTruncated(t *testing.T) {
	data := sampleFile(t)
	dir := t.TempDir()
	for _, n := range []int{0, 3, 4, 23, 24, 100, len(data) / 2, len(data) - 1} {
		path := filepath.Join(dir, "cut.gguf")
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(path)
		if err == nil {
			f.Close()
			t.Fatalf("file cut to %d bytes opened without error", n)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the file", err)
		}
	}
}

func TestClosedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, sampleFile(t), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Matrix("norm"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Matrix after Close: %v", err)
	}
	if s, err := f.String("general.architecture"); s != "llama" || err != nil {
		t.Errorf("metadata after Close: %q, %v", s, err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
