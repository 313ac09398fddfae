package builtin

import (
	"context"
	"strings"
	"testing"

	"rustexpert/inference/llama"
)

// The stream holds back only an end of the text that could begin a stop string, so text that
// cannot turn into one reaches the reader at once.
func TestStreamHoldsBackOnlyTheStartOfAStop(t *testing.T) {
	j := newJob(context.Background(), nil, 1, 100, 0, []string{"<|im_end|>", "END"}, llama.Sampling{})
	c := &choice{job: j}
	steps := []struct{ add, want string }{
		{"Hello", "Hello"},
		{" wor<", " wor"},   // "<" may begin <|im_end|>
		{"|", ""},           // so may "<|"
		{"x", "<|x"},        // "<|x" may not
		{" E", " "},         // "E" may begin END
		{"N", ""},           // "EN" too
		{"d", "ENd"},        // stops match exactly
		{" é", " é"},        // whole characters
		{"<|im_end", ""},    // all but the last character of a stop
		{"|", ""},           //
		{"!", "<|im_end|!"}, // broken off
	}
	for _, s := range steps {
		c.text.WriteString(s.add)
		c.flush(false)
		j.mu.Lock()
		var got strings.Builder
		for _, d := range j.deltas {
			got.WriteString(d.Text)
		}
		j.deltas = nil
		j.mu.Unlock()
		if got.String() != s.want {
			t.Errorf("after %q: emitted %q, want %q", s.add, got.String(), s.want)
		}
	}
	c.text.WriteString(" <")
	c.flush(true)
	if last := j.deltas[len(j.deltas)-1].Text; last != " <" {
		t.Errorf("the final flush emitted %q, want all that was left", last)
	}
}
