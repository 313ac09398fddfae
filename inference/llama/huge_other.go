//go:build unix && !linux

package llama

// hugeSlack is 0: huge pages are asked for on Linux only.
func hugeSlack(size int) int { return 0 }

// hugeAligned returns the mapping as it is.
func hugeAligned(b []byte, size int) []byte { return b[:size] }
