package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"rustexpert/inference/tensor"
)

// IndexFile is the name of the index that maps tensor names to the shards of
// a model saved in several files.
const IndexFile = "model.safetensors.index.json"

// SingleFile is the name of a model saved in one file.
const SingleFile = "model.safetensors"

// Set is the tensors of one model, spread over one or more files.
type Set struct {
	files []*File
	where map[string]*File
	names []string
}

// OpenDir opens the safetensors files of the model folder dir. It reads
// model.safetensors.index.json when present and opens every shard it names;
// otherwise it opens model.safetensors, or the folder's only *.safetensors
// file (as in a PEFT adapter folder).
func OpenDir(dir string) (*Set, error) {
	index := filepath.Join(dir, IndexFile)
	if _, err := os.Stat(index); err == nil {
		return openIndex(dir, index)
	}
	single := filepath.Join(dir, SingleFile)
	if _, err := os.Stat(single); err == nil {
		return OpenFiles(single)
	}
	found, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		return nil, fmt.Errorf("safetensors: listing %s: %w", dir, err)
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("safetensors: %s has no %s or %s and %d other *.safetensors files (want exactly one)",
			dir, IndexFile, SingleFile, len(found))
	}
	return OpenFiles(found[0])
}

// OpenFiles opens the given safetensors files as one set. A tensor name that
// appears in two files is an error.
func OpenFiles(paths ...string) (*Set, error) {
	if len(paths) == 0 {
		return nil, errors.New("safetensors: no files to open")
	}
	s := &Set{where: map[string]*File{}}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.files = append(s.files, f)
		for _, name := range f.names {
			if prev, dup := s.where[name]; dup {
				s.Close()
				return nil, fmt.Errorf("safetensors: tensor %q is in both %s and %s", name, prev.path, p)
			}
			s.where[name] = f
		}
	}
	s.sortNames()
	return s, nil
}

// index is the part of model.safetensors.index.json this package reads.
type index struct {
	WeightMap map[string]string `json:"weight_map"`
}

// openIndex opens the shards named by the index file at path, inside dir.
func openIndex(dir, path string) (*Set, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var idx index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("safetensors: %s: invalid JSON: %w", path, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors: %s: weight_map is missing or empty", path)
	}
	s := &Set{where: map[string]*File{}}
	if err := s.addShards(dir, path, idx.WeightMap); err != nil {
		s.Close()
		return nil, err
	}
	s.sortNames()
	return s, nil
}

// addShards opens each shard of weightMap once and checks that it holds the
// tensors the index assigns to it.
func (s *Set) addShards(dir, path string, weightMap map[string]string) error {
	shards := map[string]*File{}
	for _, name := range sortedKeys(weightMap) {
		shard := weightMap[name]
		if !filepath.IsLocal(shard) || strings.ContainsRune(shard, '\\') {
			return fmt.Errorf("safetensors: %s: tensor %q: shard %q is not a file inside %s", path, name, shard, dir)
		}
		f, ok := shards[shard]
		if !ok {
			var err error
			if f, err = Open(filepath.Join(dir, shard)); err != nil {
				return fmt.Errorf("%w (shard of %s)", err, path)
			}
			shards[shard] = f
			s.files = append(s.files, f)
		}
		if _, ok := f.tensors[name]; !ok {
			return fmt.Errorf("safetensors: %s lists tensor %q in %s, but that shard does not hold it", path, name, f.path)
		}
		s.where[name] = f
	}
	return nil
}

// sortedKeys returns the keys of m in sorted order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sortNames fills s.names from s.where.
func (s *Set) sortNames() {
	s.names = make([]string, 0, len(s.where))
	for name := range s.where {
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
}

// Close unmaps every file of the set. Matrices taken from it must not be used
// after.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	s.files = nil
	s.where = map[string]*File{}
	s.names = nil
	return errors.Join(errs...)
}

// Names lists the set's tensors in sorted order.
func (s *Set) Names() []string { return append([]string(nil), s.names...) }

// Has reports whether the set holds the named tensor.
func (s *Set) Has(name string) bool {
	_, ok := s.where[name]
	return ok
}

// Tensor returns the named tensor, its data inside its file's mapping.
func (s *Set) Tensor(name string) (Tensor, error) {
	f, ok := s.where[name]
	if !ok {
		return Tensor{}, fmt.Errorf("safetensors: no tensor %q", name)
	}
	return f.tensors[name], nil
}

// Shape returns the named tensor's dimensions, outermost first.
func (s *Set) Shape(name string) ([]int, error) {
	t, err := s.Tensor(name)
	if err != nil {
		return nil, err
	}
	return append([]int(nil), t.Shape...), nil
}

// Matrix returns the named 2-D tensor as a [rows, cols] matrix, row-major as
// stored. Its data is the file's mapping, not a copy. F32, F16 and BF16 are
// supported.
func (s *Set) Matrix(name string) (*tensor.Matrix, error) {
	t, err := s.Tensor(name)
	if err != nil {
		return nil, err
	}
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("safetensors: tensor %q has shape %v, want 2 dimensions", name, t.Shape)
	}
	dt, ok := matrixType(t.DType)
	if !ok {
		return nil, fmt.Errorf("safetensors: tensor %q has dtype %s; matrices must be F32, F16 or BF16", name, t.DType)
	}
	m, err := tensor.NewMatrix(dt, t.Shape[0], t.Shape[1], t.Data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	return m, nil
}

// matrixType maps the dtypes Matrix accepts to the tensor package's types.
func matrixType(dtype string) (tensor.DType, bool) {
	switch dtype {
	case "F32":
		return tensor.F32, true
	case "F16":
		return tensor.F16, true
	case "BF16":
		return tensor.BF16, true
	}
	return 0, false
}

// Vector returns the named 1-D tensor converted to float32. F32, F16, BF16
// and F64 are supported.
func (s *Set) Vector(name string) ([]float32, error) {
	t, err := s.Tensor(name)
	if err != nil {
		return nil, err
	}
	if len(t.Shape) != 1 {
		return nil, fmt.Errorf("safetensors: tensor %q has shape %v, want 1 dimension", name, t.Shape)
	}
	v, err := toFloat32(t)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return v, nil
}

// Floats returns any tensor of the set converted to float32, in storage
// order, whatever its number of dimensions.
func (s *Set) Floats(name string) ([]float32, error) {
	t, err := s.Tensor(name)
	if err != nil {
		return nil, err
	}
	v, err := toFloat32(t)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return v, nil
}
