package builtin

import "testing"

// BenchmarkLoadBundled is the cost of loading the bundled model (memory map, tokenizer, template).
func BenchmarkLoadBundled(b *testing.B) {
	path := bundledPath()
	for b.Loop() {
		e, err := Load(Spec{Base: path})
		if err != nil {
			b.Skip(err)
		}
		e.Close()
	}
}
