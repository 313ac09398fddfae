package store

import (
	"context"
	"database/sql"
)

// Check is the Rust compiler's verdict on one answer.
type Check struct {
	ResponseID int64
	CodeHash   string
	HasCode    bool // the answer has Rust code at all
	Compiles   bool
	Errors     int
	Warnings   int
	Lints      int // clippy lints; -1 when not counted
	FirstError string
	TimedOut   bool
}

// Unchecked is an answer still waiting for its check.
type Unchecked struct {
	ResponseID int64
	Text       string
}

// UncheckedAnswers returns up to limit answers without a check whose id is greater than after, oldest first.
func (s *Store) UncheckedAnswers(ctx context.Context, after int64, limit int) ([]Unchecked, error) {
	return queryAll(ctx, s.read, func(row scanner) (Unchecked, error) {
		var u Unchecked
		err := row.Scan(&u.ResponseID, &u.Text)
		return u, err
	}, `SELECT r.id, r.text FROM responses r WHERE r.id > ? AND NOT EXISTS (SELECT 1 FROM checks c WHERE c.response_id = r.id)
		ORDER BY r.id LIMIT ?`, after, limit)
}

// SaveCheck stores an answer's check (replacing an earlier one).
func (s *Store) SaveCheck(ctx context.Context, c Check) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO checks (response_id, code_hash, has_code, compiles, errors, warnings, lints, first_error, timed_out, checked_at)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM responses WHERE id = ?)
			ON CONFLICT (response_id) DO UPDATE SET code_hash = excluded.code_hash, has_code = excluded.has_code,
				compiles = excluded.compiles, errors = excluded.errors, warnings = excluded.warnings, lints = excluded.lints,
				first_error = excluded.first_error, timed_out = excluded.timed_out, checked_at = excluded.checked_at`,
			c.ResponseID, c.CodeHash, c.HasCode, c.Compiles, c.Errors, c.Warnings, c.Lints, c.FirstError, c.TimedOut, now(), c.ResponseID)
		return err
	})
}

// ChecksOf returns the checks of the given answers that exist, by answer id.
func (s *Store) ChecksOf(ctx context.Context, ids []int64) (map[int64]Check, error) {
	out := map[int64]Check{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	checks, err := queryAll(ctx, s.read, scanCheck, `SELECT response_id, code_hash, has_code, compiles, errors, warnings, lints, first_error, timed_out
		FROM checks WHERE response_id IN (`+placeholders(len(ids))+`)`, args...)
	for _, c := range checks {
		out[c.ResponseID] = c
	}
	return out, err
}

func scanCheck(row scanner) (Check, error) {
	var c Check
	err := row.Scan(&c.ResponseID, &c.CodeHash, &c.HasCode, &c.Compiles, &c.Errors, &c.Warnings, &c.Lints, &c.FirstError, &c.TimedOut)
	return c, err
}
