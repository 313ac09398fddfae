package suggest

import "testing"

func compiles(lints, warnings int) Check {
	return Check{HasCode: true, Compiles: true, Lints: lints, Warnings: warnings}
}

func fails(errors int, first string) Check {
	return Check{HasCode: true, Errors: errors, Lints: -1, FirstError: first}
}

func answers(checks ...*Check) []Answer {
	out := make([]Answer, len(checks))
	for i, c := range checks {
		out[i] = Answer{ID: int64(10 + i), Name: string(rune('A' + i))}
		if c != nil {
			out[i].Checked, out[i].Check = true, *c
		}
	}
	return out
}

func ptr(c Check) *Check { return &c }

func TestSuggest(t *testing.T) {
	noCode := Check{Lints: -1}
	timedOut := Check{HasCode: true, TimedOut: true, Lints: -1}
	moved := fails(1, "E0382: borrow of moved value: `v` (line 4)")
	tests := []struct {
		name    string
		answers []Answer
		want    Verdict
	}{
		{"compiles beats fails", answers(ptr(moved), ptr(compiles(0, 0))),
			Verdict{Suggested, 11, 10, "B compiles, A fails: E0382: borrow of moved value: `v` (line 4)"}},
		{"fails without a message", answers(ptr(compiles(2, 1)), ptr(fails(3, ""))),
			Verdict{Suggested, 10, 11, "A compiles, B fails"}},
		{"the compiling answer with fewest lints is chosen", answers(ptr(compiles(3, 0)), ptr(moved), ptr(compiles(1, 5))),
			Verdict{Suggested, 12, 11, "C compiles, B fails: " + moved.FirstError}},
		{"fewer lints among compiling answers", answers(ptr(compiles(3, 0)), ptr(compiles(0, 4))),
			Verdict{Suggested, 11, 10, "B and A compile; B has 0 clippy lints, A has 3"}},
		{"one lint", answers(ptr(compiles(1, 0)), ptr(compiles(2, 0))),
			Verdict{Suggested, 10, 11, "A and B compile; A has 1 clippy lint, B has 2"}},
		{"equal lints: fewer warnings", answers(ptr(compiles(1, 2)), ptr(compiles(1, 0))),
			Verdict{Suggested, 11, 10, "B and A compile; B has 0 warnings, A has 2"}},
		{"lints not counted for one: warnings decide", answers(ptr(compiles(-1, 1)), ptr(compiles(0, 3))),
			Verdict{Suggested, 10, 11, "A and B compile; A has 1 warning, B has 3"}},
		{"best and worst of three", answers(ptr(compiles(2, 0)), ptr(compiles(0, 0)), ptr(compiles(5, 0))),
			Verdict{Suggested, 11, 12, "B and C compile; B has 0 clippy lints, C has 5"}},
		{"all compile alike: a tie", answers(ptr(compiles(1, 1)), ptr(compiles(1, 1))), Verdict{}},
		{"all fail: error counts do not rank", answers(ptr(fails(1, "expected `;`")), ptr(fails(4, "E0308"))), Verdict{}},
		{"no code is never chosen over compiling code", answers(ptr(noCode), ptr(compiles(0, 0))), Verdict{}},
		{"no code is not chosen over failing code either", answers(ptr(noCode), ptr(moved)), Verdict{}},
		{"no code takes no part", answers(ptr(noCode), ptr(moved), ptr(compiles(0, 0))),
			Verdict{Suggested, 12, 11, "C compiles, B fails: " + moved.FirstError}},
		{"a timeout takes no part", answers(ptr(timedOut), ptr(compiles(0, 0))), Verdict{}},
		{"an unchecked answer", answers(ptr(compiles(0, 0)), nil), Verdict{Outcome: Unchecked}},
		{"an unchecked answer even where the others separate", answers(ptr(compiles(0, 0)), ptr(moved), nil), Verdict{Outcome: Unchecked}},
		{"one answer", answers(ptr(compiles(0, 0))), Verdict{}},
		{"no answers", nil, Verdict{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Suggest(tc.answers); got != tc.want {
				t.Fatalf("Suggest = %+v\nwant      %+v", got, tc.want)
			}
		})
	}
}

// TestSuggestNeverChoosesTheWorse checks the ordering rule over every pair of a set of checks:
// a suggestion never chooses an answer that fails over one that compiles, nor one without code.
func TestSuggestNeverChoosesTheWorse(t *testing.T) {
	all := []Check{{Lints: -1}, {HasCode: true, TimedOut: true, Lints: -1}, fails(1, "E0382"), fails(2, ""),
		compiles(0, 0), compiles(0, 3), compiles(2, 0), compiles(-1, 1)}
	for i, a := range all {
		for j, b := range all {
			v := Suggest(answers(&a, &b))
			if v.Outcome != Suggested {
				continue
			}
			chosen, rejected := a, b
			if v.Chosen == 11 {
				chosen, rejected = b, a
			}
			if !chosen.HasCode || !chosen.Compiles || chosen.TimedOut || !rejected.HasCode || rejected.TimedOut {
				t.Errorf("checks %d and %d: chose %+v over %+v", i, j, chosen, rejected)
			}
			if v.Chosen == v.Rejected || v.Reason == "" {
				t.Errorf("checks %d and %d: %+v", i, j, v)
			}
		}
	}
}
