// Package safetensors reads tensors from files in the safetensors format: an
// 8-byte little-endian header length, a JSON header naming every tensor's
// dtype, shape and byte range, then the raw little-endian data. Files are
// mapped into memory read-only, and tensors handed out slice that mapping, so
// they stay valid only until the File or Set they came from is closed.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// maxHeader bounds the JSON header, as the reference implementation does, so
// that a corrupt length cannot make the parser chew through a huge file.
const maxHeader = 100 << 20

// Tensor describes one tensor of a file. Data is the tensor's bytes inside the
// file's mapping.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// Elems is the number of elements of the tensor.
func (t Tensor) Elems() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is one open safetensors file.
type File struct {
	path     string
	unmap    func() error
	meta     map[string]string
	tensors  map[string]Tensor
	names    []string
	isClosed bool
}

// headerEntry is one tensor's record in the JSON header.
type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// dtypeBits is the width in bits of one element of every dtype the format
// defines, or 0 for a name the format does not define.
func dtypeBits(dtype string) int {
	switch dtype {
	case "F4":
		return 4
	case "F6_E2M3", "F6_E3M2":
		return 6
	case "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "F8_E8M0":
		return 8
	case "I16", "U16", "F16", "BF16":
		return 16
	case "I32", "U32", "F32":
		return 32
	case "I64", "U64", "F64", "C64":
		return 64
	}
	return 0
}

// Open maps the safetensors file at path and checks its header: every tensor
// must have a known dtype, a byte range inside the file whose length matches
// its dtype and shape, and no two ranges may overlap.
func Open(path string) (*File, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parse(path, data)
	if err != nil {
		unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// parse reads the header of data, the whole content of the file at path.
func parse(path string, data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: %s: file is %d bytes, shorter than the 8-byte header length", path, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: %s: header length %d at offset 0 runs past the end of the %d-byte file", path, n, len(data))
	}
	if n > maxHeader {
		return nil, fmt.Errorf("safetensors: %s: header length %d exceeds the %d-byte limit", path, n, maxHeader)
	}
	header := data[8 : 8+n]
	f := &File{path: path, tensors: map[string]Tensor{}}
	if err := f.readHeader(header, data[8+n:]); err != nil {
		return nil, err
	}
	return f, nil
}

// readHeader decodes the JSON header and records the tensors it lists, whose
// offsets are relative to body, the bytes after the header.
func (f *File) readHeader(header, body []byte) error {
	if !bytes.HasPrefix(header, []byte("{")) {
		return fmt.Errorf("safetensors: %s: header at offset 8 is not a JSON object", f.path)
	}
	var raw map[string]json.RawMessage
	var spans []span
	if err := json.Unmarshal(header, &raw); err != nil {
		return fmt.Errorf("safetensors: %s: header at offset 8: invalid JSON: %w", f.path, err)
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		msg := raw[name]
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.meta); err != nil {
				return fmt.Errorf("safetensors: %s: __metadata__ must map strings to strings: %w", f.path, err)
			}
			continue
		}
		t, begin, err := tensorOf(name, msg, body)
		if err != nil {
			return fmt.Errorf("safetensors: %s: %w", f.path, err)
		}
		f.tensors[name] = t
		f.names = append(f.names, name)
		spans = append(spans, span{name, begin, begin + len(t.Data)})
	}
	if err := checkOverlap(spans); err != nil {
		return fmt.Errorf("safetensors: %s: %w", f.path, err)
	}
	return nil
}

// tensorOf checks one header entry against body and returns the tensor it
// describes with the offset of its first byte in body.
func tensorOf(name string, msg json.RawMessage, body []byte) (Tensor, int, error) {
	var e headerEntry
	if err := json.Unmarshal(msg, &e); err != nil {
		return Tensor{}, 0, fmt.Errorf("tensor %q: invalid header entry: %w", name, err)
	}
	bits := dtypeBits(e.DType)
	if bits == 0 {
		return Tensor{}, 0, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
	}
	shape, size, err := byteSize(e.Shape, bits)
	if err != nil {
		return Tensor{}, 0, fmt.Errorf("tensor %q: %w", name, err)
	}
	if len(e.DataOffsets) != 2 {
		return Tensor{}, 0, fmt.Errorf("tensor %q: data_offsets has %d values, want 2", name, len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin > end || end > uint64(len(body)) {
		return Tensor{}, 0, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d data bytes", name, begin, end, len(body))
	}
	if end-begin != size {
		return Tensor{}, 0, fmt.Errorf("tensor %q: data_offsets [%d, %d] span %d bytes, but %s %v needs %d",
			name, begin, end, end-begin, e.DType, shape, size)
	}
	return Tensor{Name: name, DType: e.DType, Shape: shape, Data: body[begin:end:end]}, int(begin), nil
}

// byteSize checks a shape and returns it as ints with the number of bytes its
// elements take at the given width in bits.
func byteSize(dims []int64, bits int) ([]int, uint64, error) {
	if dims == nil {
		return nil, 0, fmt.Errorf("missing shape")
	}
	shape := make([]int, len(dims))
	elems := uint64(1)
	for i, d := range dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("shape %v has a negative dimension", dims)
		}
		shape[i] = int(d)
		if d != 0 && elems > math.MaxInt64/8/uint64(d) {
			return nil, 0, fmt.Errorf("shape %v is too large", dims)
		}
		elems *= uint64(d)
	}
	total := elems * uint64(bits)
	if total%8 != 0 {
		return nil, 0, fmt.Errorf("shape %v of %d-bit elements is not a whole number of bytes", dims, bits)
	}
	return shape, total / 8, nil
}

// span is the byte range a tensor takes in the data after the header.
type span struct {
	name       string
	begin, end int
}

// checkOverlap reports two tensors whose byte ranges share a byte.
func checkOverlap(spans []span) error {
	sort.Slice(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	prev := -1
	for i, b := range spans {
		if b.begin == b.end {
			continue
		}
		if prev >= 0 && b.begin < spans[prev].end {
			a := spans[prev]
			return fmt.Errorf("tensors %q [%d, %d] and %q [%d, %d] overlap", a.name, a.begin, a.end, b.name, b.begin, b.end)
		}
		if prev < 0 || b.end > spans[prev].end {
			prev = i
		}
	}
	return nil
}

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Metadata is the header's __metadata__ map; nil when the file has none.
func (f *File) Metadata() map[string]string { return f.meta }

// Names lists the file's tensors in sorted order.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Tensor returns the named tensor and whether the file holds it.
func (f *File) Tensor(name string) (Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Close unmaps the file. Tensor data taken from it must not be used after.
func (f *File) Close() error {
	if f.isClosed {
		return nil
	}
	f.isClosed = true
	f.tensors = nil
	if f.unmap == nil {
		return nil
	}
	if err := f.unmap(); err != nil {
		return fmt.Errorf("safetensors: closing %s: %w", f.path, err)
	}
	return nil
}
