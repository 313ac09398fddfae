package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"reflect"
)

// hashingWriter hashes exactly the bytes its writer accepted.
type hashingWriter struct {
	w    io.Writer
	hash hash.Hash
}

func (h hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.hash.Write(p[:n])
	return n, err
}

// WriteJSONL writes rows, a slice or array of JSON-encodable values, one JSON
// object per line. It returns the number of rows written and the hex sha256 of
// exactly the bytes written, also when it stops on an error. HTML characters
// are not escaped, so Rust code such as Vec<T> && x stays readable.
func WriteJSONL(w io.Writer, rows any) (n int, sha256hex string, err error) {
	out := hashingWriter{w: w, hash: sha256.New()}
	list := reflect.ValueOf(rows)
	if list.Kind() != reflect.Slice && list.Kind() != reflect.Array {
		return 0, hex.EncodeToString(out.hash.Sum(nil)), fmt.Errorf("write jsonl: rows must be a slice or array, got %T", rows)
	}
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	for i := range list.Len() {
		line.Reset()
		if err := enc.Encode(list.Index(i).Interface()); err != nil {
			return n, hex.EncodeToString(out.hash.Sum(nil)), fmt.Errorf("write jsonl: encode row %d: %w", i+1, err)
		}
		if _, err := out.Write(line.Bytes()); err != nil {
			return n, hex.EncodeToString(out.hash.Sum(nil)), fmt.Errorf("write jsonl: row %d: %w", i+1, err)
		}
		n++
	}
	return n, hex.EncodeToString(out.hash.Sum(nil)), nil
}
