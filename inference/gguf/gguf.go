// Package gguf reads GGUF model files (versions 2 and 3) by memory-mapping
// them, and writes small ones for tests.
//
// Metadata is parsed and copied at Open; tensor data stays in the mapping
// and is valid until Close.
package gguf

import (
	"fmt"
	"math"
	"os"
	"slices"

	"rustexpert/inference/tensor"
)

// File is an open GGUF file.
type File struct {
	Version uint32
	Tensors []TensorInfo

	name      string // path, for errors
	data      []byte // the whole file
	unmap     func() error
	dataStart uint64 // offset of the tensor data section
	kv        map[string]*value
	keys      []string // in file order
	byName    map[string]int
}

// TensorInfo describes one tensor.
type TensorInfo struct {
	Name string
	Type tensor.DType
	// Dims is in ggml order: Dims[0] is the number of columns (the fastest
	// varying index).
	Dims []uint64
	// Offset is where the data starts, relative to the tensor data section
	// (as stored in the file).
	Offset uint64
}

// Elements is the number of values in the tensor.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Bytes is the size of the tensor's data.
func (t *TensorInfo) Bytes() uint64 {
	return t.Elements() / uint64(t.Type.BlockSize()) * uint64(t.Type.BlockBytes())
}

// Open memory-maps the file at path read-only and parses it.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	data, unmap, err := mapFile(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	f, err := newFile(path, data)
	if err != nil {
		unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Parse parses a GGUF file held in memory. Tensor data refers to data,
// which must not change while the File is in use.
func Parse(data []byte) (*File, error) {
	return newFile("(memory)", data)
}

func newFile(name string, data []byte) (*File, error) {
	f := &File{name: name, data: data}
	if err := parse(f, data); err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", name, err)
	}
	return f, nil
}

// Close unmaps the file. Matrices obtained from it must not be used after.
func (f *File) Close() error {
	f.data = nil
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	return err
}

// Keys returns the metadata keys in file order.
func (f *File) Keys() []string { return slices.Clone(f.keys) }

// Has reports whether the metadata has key.
func (f *File) Has(key string) bool {
	_, ok := f.kv[key]
	return ok
}

// get returns the value of key or an error naming the key and the file.
func (f *File) get(key string) (*value, error) {
	v, ok := f.kv[key]
	if !ok {
		return nil, fmt.Errorf("gguf: %s: metadata key %q not found", f.name, key)
	}
	return v, nil
}

func (f *File) typeError(key string, v *value, want string) error {
	return fmt.Errorf("gguf: %s: metadata key %q is %s, not %s", f.name, key, v.describe(), want)
}

// String returns a string value.
func (f *File) String(key string) (string, error) {
	v, err := f.get(key)
	if err != nil {
		return "", err
	}
	if v.typ != TypeString {
		return "", f.typeError(key, v, "a string")
	}
	return v.str, nil
}

// Uint returns an integer value of any integer type that is not negative.
func (f *File) Uint(key string) (uint64, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	if !v.typ.isInt() {
		return 0, f.typeError(key, v, "an integer")
	}
	s, u := intAt(v.typ, v.raw, 0)
	if v.typ.isSigned() && s < 0 {
		return 0, fmt.Errorf("gguf: %s: metadata key %q is negative (%d)", f.name, key, s)
	}
	return u, nil
}

// Int returns an integer value of any integer type that fits in int64.
func (f *File) Int(key string) (int64, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	if !v.typ.isInt() {
		return 0, f.typeError(key, v, "an integer")
	}
	s, u := intAt(v.typ, v.raw, 0)
	if v.typ == TypeUint64 && u > math.MaxInt64 {
		return 0, fmt.Errorf("gguf: %s: metadata key %q (%d) does not fit in int64", f.name, key, u)
	}
	return s, nil
}

// Float returns a float32 or float64 value, or an integer as a float.
func (f *File) Float(key string) (float64, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	if !v.typ.isInt() && v.typ != TypeFloat32 && v.typ != TypeFloat64 {
		return 0, f.typeError(key, v, "a number")
	}
	return floatAt(v.typ, v.raw, 0), nil
}

// Bool returns a boolean value.
func (f *File) Bool(key string) (bool, error) {
	v, err := f.get(key)
	if err != nil {
		return false, err
	}
	if v.typ != TypeBool {
		return false, f.typeError(key, v, "a bool")
	}
	return v.raw[0] != 0, nil
}

// Strings returns an array of strings.
func (f *File) Strings(key string) ([]string, error) {
	v, err := f.get(key)
	if err != nil {
		return nil, err
	}
	if v.typ != TypeArray || v.elem != TypeString {
		return nil, f.typeError(key, v, "an array of strings")
	}
	return slices.Clone(v.strs), nil
}

// Int32s returns an array of integers (of any integer type) whose values
// all fit in int32.
func (f *File) Int32s(key string) ([]int32, error) {
	v, err := f.get(key)
	if err != nil {
		return nil, err
	}
	if v.typ != TypeArray || !v.elem.isInt() {
		return nil, f.typeError(key, v, "an array of integers")
	}
	out := make([]int32, v.n)
	for i := range out {
		s, u := intAt(v.elem, v.raw, i)
		if (v.elem == TypeUint64 && u > math.MaxInt32) || s < math.MinInt32 || s > math.MaxInt32 {
			return nil, fmt.Errorf("gguf: %s: metadata key %q element %d does not fit in int32", f.name, key, i)
		}
		out[i] = int32(s)
	}
	return out, nil
}

// Floats returns an array of numbers (f32, f64 or integers) as float32.
func (f *File) Floats(key string) ([]float32, error) {
	v, err := f.get(key)
	if err != nil {
		return nil, err
	}
	if v.typ != TypeArray || (!v.elem.isInt() && v.elem != TypeFloat32 && v.elem != TypeFloat64) {
		return nil, f.typeError(key, v, "an array of numbers")
	}
	out := make([]float32, v.n)
	for i := range out {
		out[i] = float32(floatAt(v.elem, v.raw, i))
	}
	return out, nil
}

// alignment returns general.alignment, or the default of 32.
func (f *File) alignment() (uint64, error) {
	if !f.Has("general.alignment") {
		return defaultAlignment, nil
	}
	a, err := f.Uint("general.alignment")
	if err != nil {
		return 0, err
	}
	if a == 0 || a&(a-1) != 0 || a > 1<<30 {
		return 0, fmt.Errorf("general.alignment %d is not a power of two", a)
	}
	return a, nil
}

// Tensor returns the description of the named tensor.
func (f *File) Tensor(name string) (*TensorInfo, error) {
	i, ok := f.byName[name]
	if !ok {
		return nil, fmt.Errorf("gguf: %s: tensor %q not found", f.name, name)
	}
	return &f.Tensors[i], nil
}

// TensorData returns the named tensor's bytes, a slice of the mapping.
func (f *File) TensorData(name string) ([]byte, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	if f.data == nil {
		return nil, fmt.Errorf("gguf: %s: file is closed", f.name)
	}
	start := f.dataStart + t.Offset
	return f.data[start : start+t.Bytes() : start+t.Bytes()], nil
}

// Matrix returns a 2-D tensor as a rows×cols matrix with rows = Dims[1] and
// cols = Dims[0], or a 1-D tensor as 1×Dims[0]; the data is a slice of the
// mapping. Dimensions past the second must be 1.
func (f *File) Matrix(name string) (*tensor.Matrix, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	rows, cols, err := t.shape2D()
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", f.name, err)
	}
	data, err := f.TensorData(name)
	if err != nil {
		return nil, err
	}
	m, err := tensor.NewMatrix(t.Type, rows, cols, data)
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %s: %w", f.name, name, err)
	}
	return m, nil
}

// shape2D returns the matrix shape of the tensor.
func (t *TensorInfo) shape2D() (rows, cols int, err error) {
	if len(t.Dims) == 0 {
		return 1, 1, nil
	}
	for _, d := range t.Dims[min(2, len(t.Dims)):] {
		if d != 1 {
			return 0, 0, fmt.Errorf("%s: shape %v is not a matrix", t.Name, t.Dims)
		}
	}
	rows = 1
	if len(t.Dims) > 1 {
		rows = int(t.Dims[1])
	}
	return rows, int(t.Dims[0]), nil
}

// Vector returns a 1-D tensor (or one whose dimensions past the first are
// all 1) as float32, dequantized into a new slice.
func (f *File) Vector(name string) ([]float32, error) {
	m, err := f.Matrix(name)
	if err != nil {
		return nil, err
	}
	if m.Rows != 1 {
		t, _ := f.Tensor(name)
		return nil, fmt.Errorf("gguf: %s: %s: shape %v is not a vector", f.name, name, t.Dims)
	}
	return m.Float32(), nil
}
