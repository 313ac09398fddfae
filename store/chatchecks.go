package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// checkFields are a check's stored fields after its key, in the order of the tables' columns.
const checkFields = `code_hash, has_code, compiles, errors, warnings, lints, first_error, timed_out`

// SaveChatCheck stores the compiler's verdict on a chat answer, replacing an earlier one. The answer
// is the turn seq of the chat, and content the text that was checked: when the turn is no longer
// an answer with that text (regenerated meanwhile), nothing is stored and the error is ErrConflict.
func (s *Store) SaveChatCheck(ctx context.Context, chatID, seq int64, content string, c Check) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO chat_checks (chat_id, seq, `+checkFields+`, checked_at)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (
				SELECT 1 FROM chat_turns WHERE chat_id = ? AND seq = ? AND role = 'assistant' AND content = ?)
			ON CONFLICT (chat_id, seq) DO UPDATE SET code_hash = excluded.code_hash, has_code = excluded.has_code,
				compiles = excluded.compiles, errors = excluded.errors, warnings = excluded.warnings, lints = excluded.lints,
				first_error = excluded.first_error, timed_out = excluded.timed_out, checked_at = excluded.checked_at`,
			chatID, seq, c.CodeHash, c.HasCode, c.Compiles, c.Errors, c.Warnings, c.Lints, c.FirstError, c.TimedOut, now(),
			chatID, seq, content)
		if err != nil {
			return fmt.Errorf("store check of chat %d turn %d: %w", chatID, seq, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: chat %d turn %d is no longer the answer that was checked", ErrConflict, chatID, seq)
		}
		return nil
	})
}

// SaveArenaCheck stores the compiler's verdict on one side (0 is A, 1 is B) of an arena battle,
// replacing an earlier one. A battle that does not exist is ErrNotFound.
func (s *Store) SaveArenaCheck(ctx context.Context, battleID int64, side int, c Check) error {
	if side != 0 && side != 1 {
		return fmt.Errorf("%w: arena battle %d: side %d is neither 0 (A) nor 1 (B)", ErrInvalid, battleID, side)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO arena_checks (battle_id, side, `+checkFields+`, checked_at)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM arena_battles WHERE id = ?)
			ON CONFLICT (battle_id, side) DO UPDATE SET code_hash = excluded.code_hash, has_code = excluded.has_code,
				compiles = excluded.compiles, errors = excluded.errors, warnings = excluded.warnings, lints = excluded.lints,
				first_error = excluded.first_error, timed_out = excluded.timed_out, checked_at = excluded.checked_at`,
			battleID, side, c.CodeHash, c.HasCode, c.Compiles, c.Errors, c.Warnings, c.Lints, c.FirstError, c.TimedOut, now(), battleID)
		if err != nil {
			return fmt.Errorf("store check of arena battle %d side %d: %w", battleID, side, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("arena battle %d: %w", battleID, ErrNotFound)
		}
		return nil
	})
}

// ArenaChecks returns the stored checks of a battle's answers by side (0 is A, 1 is B).
func (s *Store) ArenaChecks(ctx context.Context, battleID int64) (map[int]Check, error) {
	type sideCheck struct {
		side  int
		check Check
	}
	rows, err := queryAll(ctx, s.read, func(row scanner) (sideCheck, error) {
		var sc sideCheck
		c := &sc.check
		err := row.Scan(&sc.side, &c.CodeHash, &c.HasCode, &c.Compiles, &c.Errors, &c.Warnings, &c.Lints, &c.FirstError, &c.TimedOut)
		return sc, err
	}, `SELECT side, `+checkFields+` FROM arena_checks WHERE battle_id = ?`, battleID)
	if err != nil {
		return nil, fmt.Errorf("checks of arena battle %d: %w", battleID, err)
	}
	out := make(map[int]Check, len(rows))
	for _, sc := range rows {
		out[sc.side] = sc.check
	}
	return out, nil
}

// CheckByCodeHash returns a stored verdict on code with the given hash (see eval.Checker.Hash) from
// any answer — a job's, a chat's or an arena's — so the same code is not compiled again. Timed-out
// checks are left out (another try may finish). None is ErrNotFound.
func (s *Store) CheckByCodeHash(ctx context.Context, hash string) (Check, error) {
	if hash == "" {
		return Check{}, fmt.Errorf("check of code hash %q: %w", hash, ErrNotFound)
	}
	var c Check
	err := s.read.QueryRowContext(ctx, `SELECT `+checkFields+` FROM (
			SELECT `+checkFields+` FROM checks WHERE code_hash = ? AND timed_out = 0 AND has_code
			UNION ALL SELECT `+checkFields+` FROM chat_checks WHERE code_hash = ? AND timed_out = 0 AND has_code
			UNION ALL SELECT `+checkFields+` FROM arena_checks WHERE code_hash = ? AND timed_out = 0 AND has_code)
		LIMIT 1`, hash, hash, hash).
		Scan(&c.CodeHash, &c.HasCode, &c.Compiles, &c.Errors, &c.Warnings, &c.Lints, &c.FirstError, &c.TimedOut)
	if errors.Is(err, sql.ErrNoRows) {
		return Check{}, fmt.Errorf("check of code hash %.12s: %w", hash, ErrNotFound)
	}
	if err != nil {
		return Check{}, fmt.Errorf("read check of code hash %.12s: %w", hash, err)
	}
	return c, nil
}
