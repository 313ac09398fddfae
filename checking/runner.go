// Package checking runs the Rust compiler over every stored answer in the background and records
// its verdict, so the labelling pages can show whether each answer's code compiles.
package checking

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"rustexpert/eval"
	"rustexpert/store"
)

// batch is how many answers one pass takes from the database.
const batch = 32

// Runner checks answers that have no check yet until its context ends. Which answers are left is
// found by a query, so a restart goes on where the last run stopped.
type Runner struct {
	store   *store.Store
	checker *eval.Checker
	log     *slog.Logger
	wake    chan struct{}
	idle    time.Duration
	// after is the last answer a pass tried: an answer the checker fails on is passed over until
	// the next round, so it cannot hold up the answers behind it.
	after int64
}

// New returns a runner; idle is how long it waits before looking again when nothing is left.
func New(st *store.Store, checker *eval.Checker, log *slog.Logger, idle time.Duration) *Runner {
	return &Runner{store: st, checker: checker, log: log, wake: make(chan struct{}, 1), idle: idle}
}

// Wake tells the runner that answers were added.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run checks answers until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	for {
		n, err := r.CheckPending(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Error("check answers", slog.Any("error", err))
		}
		if n > 0 {
			continue
		}
		r.after = 0 // next round: start over, retrying answers a pass could not check
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-time.After(r.idle):
		}
	}
}

// CheckPending checks the next batch of unchecked answers and returns how many it tried. An answer
// the checker fails on is logged and passed over until the next round.
func (r *Runner) CheckPending(ctx context.Context) (int, error) {
	pending, err := r.store.UncheckedAnswers(ctx, r.after, batch)
	if err != nil {
		return 0, err
	}
	for _, u := range pending {
		r.after = u.ResponseID
		c, err := r.check(ctx, u)
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err != nil {
			r.log.Warn("could not check answer", slog.Int64("response_id", u.ResponseID), slog.Any("error", err))
			continue
		}
		if err := r.store.SaveCheck(ctx, c); err != nil {
			return 0, err
		}
	}
	return len(pending), nil
}

func (r *Runner) check(ctx context.Context, u store.Unchecked) (store.Check, error) {
	p, ok := eval.NewProgram(eval.Extract(u.Text))
	if !ok {
		return store.Check{ResponseID: u.ResponseID, Lints: -1}, nil
	}
	res, err := r.checker.Check(ctx, p)
	if err != nil {
		return store.Check{}, err
	}
	c := store.Check{ResponseID: u.ResponseID, CodeHash: res.CodeHash, HasCode: true, Compiles: res.Compiles,
		Errors: res.Errors, Warnings: res.Warnings, Lints: res.Lints, TimedOut: res.TimedOut}
	if res.First != nil {
		c.FirstError = firstError(*res.First)
	}
	return c, nil
}

// firstError is an error as one line: "E0382: borrow of moved value: `v` (line 4)".
func firstError(d eval.Diagnostic) string {
	s := d.Message
	if d.Code != "" {
		s = d.Code + ": " + s
	}
	if d.Line > 0 {
		s += fmt.Sprintf(" (line %d)", d.Line)
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
