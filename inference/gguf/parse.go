package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"

	"rustexpert/inference/tensor"
)

const (
	magic = 0x46554747 // "GGUF" little endian
	// maxDims is GGML_MAX_DIMS.
	maxDims = 4
	// maxNesting bounds arrays of arrays, so a corrupt file cannot recurse
	// deeply.
	maxNesting = 8
	// defaultAlignment is used when general.alignment is absent.
	defaultAlignment = 32
	// minTensorInfo is the smallest encoding of a tensor info (empty name,
	// one dimension).
	minTensorInfo = 8 + 4 + 8 + 4 + 8
	// minKV is the smallest encoding of a key/value pair.
	minKV = 8 + 4 + 1
	// maxElements bounds a tensor's dimensions and element count, keeping
	// sizes far from overflow.
	maxElements = 1 << 56
)

// reader decodes little-endian fields from b with a sticky error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// take returns the next n bytes, or nil after recording a truncation error.
func (r *reader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(r.left()) {
		r.fail("truncated at offset %d: %s needs %d bytes, %d left", r.off, what, n, r.left())
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

func (r *reader) u32(what string) uint32 {
	if b := r.take(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if b := r.take(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) str(what string) string {
	n := r.u64(what + " length")
	return string(r.take(n, what))
}

// count reads an element count and checks that count elements of at least
// minSize bytes each fit in the rest of the data.
func (r *reader) count(what string, minSize int) int {
	at := r.off
	n := r.u64(what)
	if r.err == nil && n > uint64(r.left()/minSize) {
		r.fail("%s %d at offset %d does not fit in the %d bytes left (truncated or corrupt file)", what, n, at, r.left())
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

// parse decodes a whole GGUF file held in data.
func parse(f *File, data []byte) error {
	r := &reader{b: data}
	if m := r.u32("magic"); r.err == nil && m != magic {
		return fmt.Errorf("not a GGUF file (magic %q)", data[:4])
	}
	f.Version = r.u32("version")
	if r.err == nil && f.Version != 2 && f.Version != 3 {
		if f.Version&0xffff == 0 {
			return fmt.Errorf("big-endian GGUF files are not supported")
		}
		return fmt.Errorf("unsupported GGUF version %d (supported: 2, 3)", f.Version)
	}
	nt := r.count("tensor count", minTensorInfo)
	nkv := r.count("metadata count", minKV)
	if r.err != nil {
		return r.err
	}
	if err := parseMetadata(f, r, nkv); err != nil {
		return err
	}
	align, err := f.alignment()
	if err != nil {
		return err
	}
	if err := parseTensorInfos(f, r, nt); err != nil {
		return err
	}
	f.dataStart = (uint64(r.off) + align - 1) / align * align
	return checkTensors(f, uint64(len(data)), align)
}

func parseMetadata(f *File, r *reader, n int) error {
	f.kv = make(map[string]*value, min(n, 1024))
	for i := range n {
		at := r.off
		key := r.str(fmt.Sprintf("metadata key %d", i))
		v := parseValue(r, ValueType(r.u32("value type")), 0, key)
		if r.err != nil {
			return fmt.Errorf("metadata entry %d (key %q) at offset %d: %w", i, key, at, r.err)
		}
		if _, dup := f.kv[key]; dup {
			return fmt.Errorf("metadata key %q at offset %d appears twice", key, at)
		}
		f.kv[key] = v
		f.keys = append(f.keys, key)
	}
	return nil
}

func parseValue(r *reader, t ValueType, depth int, what string) *value {
	v := &value{typ: t}
	switch size := t.size(); {
	case size > 0:
		v.raw = bytes.Clone(r.take(uint64(size), what))
	case t == TypeString:
		v.str = r.str(what)
	case t == TypeArray:
		parseArray(r, v, depth, what)
	default:
		r.fail("unknown value type %d", uint32(t))
	}
	return v
}

func parseArray(r *reader, v *value, depth int, what string) {
	if depth >= maxNesting {
		r.fail("arrays nested more than %d deep", maxNesting)
		return
	}
	v.elem = ValueType(r.u32("array element type"))
	size := v.elem.size()
	switch {
	case r.err != nil:
		return
	case size < 0:
		r.fail("unknown array element type %d", uint32(v.elem))
	case size > 0:
		v.n = r.count("array length", size)
		v.raw = bytes.Clone(r.take(uint64(v.n)*uint64(size), what))
	case v.elem == TypeString:
		v.n = r.count("array length", 8)
		v.strs = make([]string, 0, min(v.n, 1<<16))
		for i := 0; i < v.n && r.err == nil; i++ {
			v.strs = append(v.strs, r.str(what))
		}
	default:
		v.n = r.count("array length", 12)
		v.arrs = make([]value, 0, min(v.n, 1<<16))
		for i := 0; i < v.n && r.err == nil; i++ {
			v.arrs = append(v.arrs, *parseValue(r, TypeArray, depth+1, what))
		}
	}
}

func parseTensorInfos(f *File, r *reader, n int) error {
	f.Tensors = make([]TensorInfo, 0, min(n, 1<<16))
	f.byName = make(map[string]int, min(n, 1<<16))
	for i := range n {
		at := r.off
		t := parseTensorInfo(r, i)
		if r.err != nil {
			return fmt.Errorf("tensor %d at offset %d: %w", i, at, r.err)
		}
		if err := checkTensorInfo(&t); err != nil {
			return err
		}
		if _, dup := f.byName[t.Name]; dup {
			return fmt.Errorf("tensor %q at offset %d appears twice", t.Name, at)
		}
		f.byName[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	return nil
}

func parseTensorInfo(r *reader, i int) TensorInfo {
	var t TensorInfo
	t.Name = r.str(fmt.Sprintf("tensor %d name", i))
	nd := r.u32("dimension count")
	if r.err == nil && (nd == 0 || nd > maxDims) {
		r.fail("%s has %d dimensions (want 1 to %d)", t.Name, nd, maxDims)
	}
	if r.err != nil {
		return t
	}
	t.Dims = make([]uint64, nd)
	for d := range t.Dims {
		t.Dims[d] = r.u64("dimension")
	}
	t.Type = tensor.DType(r.u32("tensor type"))
	t.Offset = r.u64("tensor offset")
	return t
}

// checkTensorInfo validates the type and shape of one tensor.
func checkTensorInfo(t *TensorInfo) error {
	if !t.Type.Supported() {
		return fmt.Errorf("%s: %w", t.Name, &tensor.UnsupportedError{Type: t.Type})
	}
	n := uint64(1)
	for _, d := range t.Dims {
		if d == 0 {
			// Legal in ggml but never useful; refusing it means every
			// dimension is bounded by the data actually in the file.
			return fmt.Errorf("%s: shape %v has a zero dimension", t.Name, t.Dims)
		}
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > maxElements || d > maxElements {
			return fmt.Errorf("%s: shape %v has too many elements", t.Name, t.Dims)
		}
		n = lo
	}
	if len(t.Dims) > 0 && t.Dims[0]%uint64(t.Type.BlockSize()) != 0 {
		return fmt.Errorf("%s: row length %d is not a multiple of the %s block size %d",
			t.Name, t.Dims[0], t.Type, t.Type.BlockSize())
	}
	return nil
}

// checkTensors checks that every tensor's data is aligned, inside the file
// and disjoint from the others.
func checkTensors(f *File, size, align uint64) error {
	if len(f.Tensors) > 0 && f.dataStart > size {
		return fmt.Errorf("truncated: tensor data would start at offset %d, file has %d bytes", f.dataStart, size)
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	var prev *TensorInfo
	for _, i := range order {
		t := &f.Tensors[i]
		if t.Offset%align != 0 {
			return fmt.Errorf("%s: data offset %d is not a multiple of the alignment %d", t.Name, t.Offset, align)
		}
		if t.Offset > size-f.dataStart || t.Bytes() > size-f.dataStart-t.Offset {
			return fmt.Errorf("%s: data [%d, +%d) reaches past the end of the file (%d bytes; truncated?)",
				t.Name, f.dataStart+t.Offset, t.Bytes(), size)
		}
		if prev != nil && t.Offset < prev.Offset+prev.Bytes() {
			return fmt.Errorf("%s: data at offset %d overlaps %s (offset %d, %d bytes)",
				t.Name, t.Offset, prev.Name, prev.Offset, prev.Bytes())
		}
		prev = t
	}
	return nil
}
