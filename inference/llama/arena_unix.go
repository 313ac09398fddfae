//go:build unix

package llama

import (
	"fmt"
	"syscall"
)

// mapAnon maps size bytes of private anonymous memory (zeroed by the kernel), on huge pages
// where the system gives them when asked (hugeAligned).
func mapAnon(size int) ([]byte, func([]byte), error) {
	b, err := syscall.Mmap(-1, 0, max(size+hugeSlack(size), 1), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping %d bytes for the interleaved weights: %w", size, err)
	}
	return hugeAligned(b, size), func([]byte) { syscall.Munmap(b) }, nil
}
