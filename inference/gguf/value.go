package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// ValueType is the type of a metadata value, as numbered by GGUF.
type ValueType uint32

// Metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var typeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"}

func (t ValueType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// size is the encoded size of a fixed-size type, 0 for string and array,
// -1 for unknown types.
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	case TypeString, TypeArray:
		return 0
	}
	return -1
}

func (t ValueType) isInt() bool {
	switch t {
	case TypeUint8, TypeInt8, TypeUint16, TypeInt16, TypeUint32, TypeInt32, TypeUint64, TypeInt64:
		return true
	}
	return false
}

func (t ValueType) isSigned() bool {
	return t == TypeInt8 || t == TypeInt16 || t == TypeInt32 || t == TypeInt64
}

// value is one parsed metadata value. Arrays of fixed-size elements keep
// their packed little-endian bytes (copied out of the file) and are decoded
// on request.
type value struct {
	typ  ValueType
	raw  []byte // scalar: its encoding; array of fixed-size elements: all of them
	str  string
	elem ValueType // element type of an array
	n    int       // array length
	strs []string  // array of strings
	arrs []value   // array of arrays
}

// intAt decodes the integer at index i of raw, whose elements are of type
// t, both as signed and as unsigned (the same bits).
func intAt(t ValueType, raw []byte, i int) (int64, uint64) {
	switch t {
	case TypeUint8:
		return int64(raw[i]), uint64(raw[i])
	case TypeInt8:
		v := int8(raw[i])
		return int64(v), uint64(v)
	case TypeUint16:
		v := binary.LittleEndian.Uint16(raw[2*i:])
		return int64(v), uint64(v)
	case TypeInt16:
		v := int16(binary.LittleEndian.Uint16(raw[2*i:]))
		return int64(v), uint64(v)
	case TypeUint32:
		v := binary.LittleEndian.Uint32(raw[4*i:])
		return int64(v), uint64(v)
	case TypeInt32:
		v := int32(binary.LittleEndian.Uint32(raw[4*i:]))
		return int64(v), uint64(v)
	case TypeUint64:
		v := binary.LittleEndian.Uint64(raw[8*i:])
		return int64(v), v
	}
	v := int64(binary.LittleEndian.Uint64(raw[8*i:]))
	return v, uint64(v)
}

// floatAt decodes the number at index i of raw as float64; t must be a
// float or integer type.
func floatAt(t ValueType, raw []byte, i int) float64 {
	switch t {
	case TypeFloat32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
	case TypeFloat64:
		return math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	s, u := intAt(t, raw, i)
	if t.isSigned() {
		return float64(s)
	}
	return float64(u)
}

// describe names a value's type for errors, e.g. "array of i32".
func (v *value) describe() string {
	if v.typ == TypeArray {
		return "array of " + v.elem.String()
	}
	return v.typ.String()
}
