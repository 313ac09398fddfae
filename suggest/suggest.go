// Package suggest turns the Rust compiler's checks of a comparison's answers into a suggested
// label: which answer to choose over which, and why in plain words. It is pure: the checks come
// from the caller, and no suggestion is made unless the checks clearly separate the answers.
//
// The rules, in order:
//   - An answer still unchecked means no suggestion yet (Unchecked).
//   - Only answers with Rust code that the compiler judged (not timed out) take part; an answer
//     without code is never chosen, nor rejected, since the compiler says nothing about prose.
//   - An answer that compiles beats one that does not. Error counts do not rank failing answers:
//     rustc stops after the first failing phase, so a syntax error counts one error while
//     nearly right code that reaches the borrow checker may count several.
//   - Among answers that all compile, fewer clippy lints win (when clippy counted every one),
//     then fewer warnings.
//   - When the best and the worst answer tie on every rule, there is no suggestion.
package suggest

import (
	"fmt"
	"strings"
)

// Check is the compiler's verdict on one answer.
type Check struct {
	HasCode    bool // the answer has Rust code at all
	Compiles   bool
	TimedOut   bool
	Errors     int
	Warnings   int
	Lints      int // clippy lints; negative when not counted
	FirstError string
}

// Answer is one answer of a comparison with its check.
type Answer struct {
	ID      int64
	Name    string // how the reason calls it, e.g. "A"
	Checked bool   // false while the answer waits for its check
	Check   Check
}

// Outcome says whether a comparison got a suggestion.
type Outcome int

// Outcomes of Suggest.
const (
	None      Outcome = iota // the checks do not separate the answers
	Suggested                // Chosen over Rejected, because of Reason
	Unchecked                // an answer has no check yet
)

// Verdict is a suggested label: Chosen over Rejected, with the reason in plain words.
type Verdict struct {
	Outcome  Outcome
	Chosen   int64
	Rejected int64
	Reason   string
}

// Suggest returns the suggested label of one comparison's answers.
func Suggest(answers []Answer) Verdict {
	if len(answers) < 2 {
		return Verdict{}
	}
	var compiling, failing []Answer
	for _, a := range answers {
		switch {
		case !a.Checked:
			return Verdict{Outcome: Unchecked}
		case !a.Check.HasCode || a.Check.TimedOut:
			// The compiler has no verdict on it: it takes no part.
		case a.Check.Compiles:
			compiling = append(compiling, a)
		default:
			failing = append(failing, a)
		}
	}
	switch {
	case len(compiling) > 0 && len(failing) > 0:
		return compilesOverFails(compiling, failing[0])
	case len(compiling) >= 2:
		return cleanerCode(compiling)
	default:
		return Verdict{}
	}
}

// compilesOverFails chooses the best compiling answer over the first failing one.
func compilesOverFails(compiling []Answer, failed Answer) Verdict {
	useLints := lintsCounted(compiling)
	best := compiling[0]
	for _, a := range compiling[1:] {
		if compare(a.Check, best.Check, useLints) < 0 {
			best = a
		}
	}
	reason := fmt.Sprintf("%s compiles, %s fails", best.Name, failed.Name)
	if e := strings.TrimSpace(failed.Check.FirstError); e != "" {
		reason += ": " + e
	}
	return Verdict{Outcome: Suggested, Chosen: best.ID, Rejected: failed.ID, Reason: reason}
}

// cleanerCode separates answers that all compile by clippy lints, then warnings.
func cleanerCode(compiling []Answer) Verdict {
	useLints := lintsCounted(compiling)
	best, worst := compiling[0], compiling[0]
	for _, a := range compiling[1:] {
		if compare(a.Check, best.Check, useLints) < 0 {
			best = a
		}
		if compare(a.Check, worst.Check, useLints) > 0 {
			worst = a
		}
	}
	if compare(best.Check, worst.Check, useLints) == 0 {
		return Verdict{}
	}
	var why string
	if useLints && best.Check.Lints != worst.Check.Lints {
		why = fmt.Sprintf("%s has %s, %s has %d", best.Name, count(best.Check.Lints, "clippy lint"), worst.Name, worst.Check.Lints)
	} else {
		why = fmt.Sprintf("%s has %s, %s has %d", best.Name, count(best.Check.Warnings, "warning"), worst.Name, worst.Check.Warnings)
	}
	reason := fmt.Sprintf("%s and %s compile; %s", best.Name, worst.Name, why)
	return Verdict{Outcome: Suggested, Chosen: best.ID, Rejected: worst.ID, Reason: reason}
}

// compare orders two compiling answers' checks: negative when a is better than b.
func compare(a, b Check, useLints bool) int {
	if useLints && a.Lints != b.Lints {
		return a.Lints - b.Lints
	}
	return a.Warnings - b.Warnings
}

// lintsCounted reports whether clippy counted the lints of every answer.
func lintsCounted(answers []Answer) bool {
	for _, a := range answers {
		if a.Check.Lints < 0 {
			return false
		}
	}
	return true
}

// count says "1 warning" or "3 warnings".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
