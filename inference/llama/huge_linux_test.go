package llama

import (
	"testing"
	"unsafe"
)

// An arena of a few huge pages starts at a huge-page boundary and is zeroed and writable to
// its end; a small one is mapped as it is.
func TestArenaOnHugePageBoundary(t *testing.T) {
	for _, size := range []int{4 << 20, 3<<20 + 5, 1000} {
		a, err := newArena(size)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.data) != size {
			t.Fatalf("arena of %d bytes has %d", size, len(a.data))
		}
		if addr := uintptr(unsafe.Pointer(&a.data[0])); size >= hugePage && addr%hugePage != 0 {
			t.Fatalf("arena of %d bytes starts at %#x, not at a huge page", size, addr)
		}
		for i := 0; i < size; i += 4096 {
			if a.data[i] != 0 {
				t.Fatalf("byte %d is %d, want 0", i, a.data[i])
			}
			a.data[i] = 1
		}
		a.data[size-1] = 1
		a.Close()
	}
}
