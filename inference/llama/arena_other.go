//go:build !unix

package llama

// mapAnon allocates size bytes on the Go heap where there is no anonymous mapping.
func mapAnon(size int) ([]byte, func([]byte), error) {
	return make([]byte, size), func([]byte) {}, nil
}
