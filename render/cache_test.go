package render

import "testing"

func TestHTMLServesRepeatFromCache(t *testing.T) {
	r := New()
	markdown := "```\nfn main() {}\n```\n"
	first := r.HTML(markdown)
	if cached, ok := r.cache.Get(markdown); !ok || cached != first {
		t.Fatalf("render not cached")
	}
	if second := r.HTML(markdown); second != first {
		t.Fatalf("repeat render differs")
	}
}
