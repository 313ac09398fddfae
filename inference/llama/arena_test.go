package llama

import (
	"runtime"
	"testing"
)

// heapLive returns the bytes of live heap after a collection.
func heapLive() uint64 {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return s.HeapAlloc
}

// The bundled model's interleaved copies (96 MB) live outside the Go heap, which the server's
// collector lets grow to five times what is live; loading the model adds far less than the
// copies to the live heap, and its results are those of the goldens (the golden tests).
func TestInterleavedCopiesOutsideHeap(t *testing.T) {
	path := bundledGGUF(t)
	before := heapLive()
	m, _, err := LoadGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	copies := 0
	for _, w := range m.matrices() {
		copies += w.InterleavedBytes()
	}
	if copies == 0 {
		t.Skip("no interleaved copies on this CPU or build")
	}
	grown := int64(heapLive()) - int64(before)
	t.Logf("interleaved copies %.1f MB, live heap grew %.1f MB", float64(copies)/1e6, float64(grown)/1e6)
	if grown > int64(copies)/4 {
		t.Fatalf("loading grew the live heap by %d bytes: the %d bytes of interleaved copies are on it", grown, copies)
	}
	runtime.KeepAlive(m)
}

// An arena is zeroed and writable, and closing it twice frees it once.
func TestArenaCloseTwice(t *testing.T) {
	a, err := newArena(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(a.data); i += 4096 {
		if a.data[i] != 0 {
			t.Fatalf("byte %d is %d, want 0", i, a.data[i])
		}
		a.data[i] = 1
	}
	frees := 0
	free := a.free
	a.free = func(b []byte) { frees++; free(b) }
	a.Close()
	a.Close()
	if frees != 1 {
		t.Fatalf("freed %d times", frees)
	}
}
