package llama

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of the x86-64 and arm64 Linux huge pages that transparent huge pages
// use.
const hugePage = 2 << 20

// hugeSlack is how many bytes more than size to map so that hugeAligned can start the memory
// at a huge page.
func hugeSlack(size int) int {
	if size < hugePage {
		return 0
	}
	return hugePage
}

// hugeAligned returns size bytes of the mapping b from its first huge-page boundary on,
// advised to the kernel as wanting huge pages (Linux's transparent huge pages, which
// distributions often enable only for memory so advised). Decoding reads every weight of the
// interleaved copies once a token: on 4 KiB pages that is a page-table walk every 4 KiB and
// the hardware prefetchers stopping at every page's end. The advice is only that: without
// huge pages the memory works the same.
func hugeAligned(b []byte, size int) []byte {
	if len(b) < size+hugePage {
		return b[:size]
	}
	off := int((hugePage - uintptr(unsafe.Pointer(&b[0]))%hugePage) % hugePage)
	a := b[off : off+size]
	syscall.Madvise(a, syscall.MADV_HUGEPAGE)
	return a
}
