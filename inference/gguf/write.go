package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"reflect"

	"rustexpert/inference/tensor"
)

// KV is one metadata entry for Write. Value must be one of uint8, int8,
// uint16, int16, uint32, int32, float32, bool, string, uint64, int64,
// float64, or a slice of one of them, or a slice of such slices (nested
// arrays). Plain int is refused: GGUF needs a sized type.
type KV struct {
	Key   string
	Value any
}

// WriteTensor is one tensor for Write. Data must hold exactly the storage
// of Dims (in ggml order, Dims[0] = columns) in format Type.
type WriteTensor struct {
	Name string
	Type tensor.DType
	Dims []uint64
	Data []byte
}

// NewWriteTensor quantizes values (ggml reference quantizers) into a
// tensor of the given type and shape.
func NewWriteTensor(name string, t tensor.DType, dims []uint64, values []float32) (WriteTensor, error) {
	info := TensorInfo{Name: name, Type: t, Dims: dims}
	if info.Elements() != uint64(len(values)) {
		return WriteTensor{}, fmt.Errorf("gguf: tensor %s: shape %v needs %d values, got %d", name, dims, info.Elements(), len(values))
	}
	data, err := tensor.Quantize(t, values)
	if err != nil {
		return WriteTensor{}, fmt.Errorf("gguf: tensor %s: %w", name, err)
	}
	return WriteTensor{Name: name, Type: t, Dims: dims, Data: data}, nil
}

// Write writes a GGUF version 3 file with the given metadata and tensors,
// laid out in order with the alignment from general.alignment (a uint32
// entry in kv) or 32.
func Write(w io.Writer, kv []KV, tensors []WriteTensor) error {
	align := uint64(defaultAlignment)
	for _, e := range kv {
		if e.Key == "general.alignment" {
			a, ok := e.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("gguf: general.alignment must be a uint32 power of two, got %v", e.Value)
			}
			align = uint64(a)
		}
	}
	offsets, err := layout(tensors, align)
	if err != nil {
		return err
	}
	e := &encoder{w: bufio.NewWriter(w)}
	e.u32(magic)
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kv)))
	for _, m := range kv {
		if err := e.kv(m); err != nil {
			return err
		}
	}
	for i, t := range tensors {
		e.tensorInfo(t, offsets[i])
	}
	e.pad(align)
	for i, t := range tensors {
		e.zeros(offsets[i] - (e.n - e.dataStart))
		e.bytes(t.Data)
	}
	if e.err != nil {
		return fmt.Errorf("gguf: write: %w", e.err)
	}
	return e.w.Flush()
}

// layout checks each tensor and returns its offset in the data section.
func layout(tensors []WriteTensor, align uint64) ([]uint64, error) {
	offsets := make([]uint64, len(tensors))
	seen := make(map[string]bool, len(tensors))
	var off uint64
	for i, t := range tensors {
		if seen[t.Name] {
			return nil, fmt.Errorf("gguf: tensor %s appears twice", t.Name)
		}
		seen[t.Name] = true
		info := TensorInfo{Name: t.Name, Type: t.Type, Dims: t.Dims}
		if len(t.Dims) == 0 || len(t.Dims) > maxDims {
			return nil, fmt.Errorf("gguf: tensor %s: %d dimensions (want 1 to %d)", t.Name, len(t.Dims), maxDims)
		}
		if err := checkTensorInfo(&info); err != nil {
			return nil, fmt.Errorf("gguf: tensor %w", err)
		}
		if uint64(len(t.Data)) != info.Bytes() {
			return nil, fmt.Errorf("gguf: tensor %s: %s %v needs %d bytes, got %d", t.Name, t.Type, t.Dims, info.Bytes(), len(t.Data))
		}
		off = (off + align - 1) / align * align
		offsets[i] = off
		off += info.Bytes()
	}
	return offsets, nil
}

// encoder writes little-endian fields with a sticky error and counts bytes.
type encoder struct {
	w         *bufio.Writer
	n         uint64
	dataStart uint64
	err       error
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
		e.n += uint64(len(b))
	}
}

func (e *encoder) u32(v uint32) { e.bytes(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *encoder) u64(v uint64) { e.bytes(binary.LittleEndian.AppendUint64(nil, v)) }

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.bytes([]byte(s))
}

func (e *encoder) zeros(n uint64) { e.bytes(make([]byte, n)) }

// pad writes zeros up to the next multiple of align and marks the start of
// the data section.
func (e *encoder) pad(align uint64) {
	e.zeros((align - e.n%align) % align)
	e.dataStart = e.n
}

func (e *encoder) tensorInfo(t WriteTensor, off uint64) {
	e.str(t.Name)
	e.u32(uint32(len(t.Dims)))
	for _, d := range t.Dims {
		e.u64(d)
	}
	e.u32(uint32(t.Type))
	e.u64(off)
}

func (e *encoder) kv(m KV) error {
	t, err := typeOf(reflect.TypeOf(m.Value), 0)
	if err != nil {
		return fmt.Errorf("gguf: metadata %q: %w", m.Key, err)
	}
	e.str(m.Key)
	e.u32(uint32(t))
	e.value(reflect.ValueOf(m.Value))
	return nil
}

// typeOf maps a Go type to a GGUF value type.
func typeOf(t reflect.Type, depth int) (ValueType, error) {
	if t == nil {
		return 0, fmt.Errorf("nil value")
	}
	switch t.Kind() {
	case reflect.Uint8:
		return TypeUint8, nil
	case reflect.Int8:
		return TypeInt8, nil
	case reflect.Uint16:
		return TypeUint16, nil
	case reflect.Int16:
		return TypeInt16, nil
	case reflect.Uint32:
		return TypeUint32, nil
	case reflect.Int32:
		return TypeInt32, nil
	case reflect.Float32:
		return TypeFloat32, nil
	case reflect.Bool:
		return TypeBool, nil
	case reflect.String:
		return TypeString, nil
	case reflect.Uint64:
		return TypeUint64, nil
	case reflect.Int64:
		return TypeInt64, nil
	case reflect.Float64:
		return TypeFloat64, nil
	case reflect.Slice:
		if depth >= maxNesting {
			return 0, fmt.Errorf("arrays nested more than %d deep", maxNesting)
		}
		if _, err := typeOf(t.Elem(), depth+1); err != nil {
			return 0, err
		}
		return TypeArray, nil
	}
	return 0, fmt.Errorf("unsupported value type %s", t)
}

func (e *encoder) value(v reflect.Value) {
	switch v.Kind() {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		e.uint(v.Uint(), v.Type().Size())
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.uint(uint64(v.Int()), v.Type().Size())
	case reflect.Float32:
		e.u32(math.Float32bits(float32(v.Float())))
	case reflect.Float64:
		e.u64(math.Float64bits(v.Float()))
	case reflect.Bool:
		b := uint64(0)
		if v.Bool() {
			b = 1
		}
		e.uint(b, 1)
	case reflect.String:
		e.str(v.String())
	case reflect.Slice:
		t, _ := typeOf(v.Type().Elem(), 0)
		e.u32(uint32(t))
		e.u64(uint64(v.Len()))
		for i := range v.Len() {
			e.value(v.Index(i))
		}
	}
}

// uint writes the low size bytes of v.
func (e *encoder) uint(v uint64, size uintptr) {
	e.bytes(binary.LittleEndian.AppendUint64(nil, v)[:size])
}
