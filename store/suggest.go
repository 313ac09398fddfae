package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"rustexpert/suggest"
)

// The compiler's labels: attributed to a system user of this name, marked suggested_by = "compiler".
const (
	CompilerAnnotator   = "compiler"
	SuggestedByCompiler = "compiler"
)

// systemPasswordHash is the stored password of system users. It is not a bcrypt hash, so no
// password matches it and nobody can log in as them.
const systemPasswordHash = "!system user: no password"

// CompilerLabelCounts is what one bulk "label by compiler" did with the ready comparisons it saw.
type CompilerLabelCounts struct {
	Created      int // new compiler labels
	Existing     int // comparisons that already had a compiler label (left as they were)
	NoSuggestion int // the checks do not separate the answers
	Unchecked    int // some answer has no check yet
}

// SuggestionCheck is a stored check as the suggestion rules read it.
func (c Check) SuggestionCheck() suggest.Check {
	return suggest.Check{HasCode: c.HasCode, Compiles: c.Compiles, TimedOut: c.TimedOut, Errors: c.Errors,
		Warnings: c.Warnings, Lints: c.Lints, FirstError: c.FirstError}
}

// LabelByCompiler stores a compiler label for every ready comparison of a job (jobID 0: of every
// job) whose checks separate its answers and that has no compiler label yet, in one transaction.
// The labels belong to the system user "compiler" (created on demand, role viewer, no usable
// password), carry suggested_by = "compiler" and the reason as rationale; answers are named by
// slot (A is the first). People's labels are separate rows and never touched; a comparison with
// a compiler label is left as it is, so running it again creates nothing new.
func (s *Store) LabelByCompiler(ctx context.Context, jobID int64) (CompilerLabelCounts, error) {
	var counts CompilerLabelCounts
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := jobExists(ctx, tx, jobID); err != nil {
			return err
		}
		compilerID, err := compilerUser(ctx, tx)
		if err != nil {
			return err
		}
		items, err := comparisonsToSuggest(ctx, tx, jobID)
		if err != nil {
			return err
		}
		labelled, err := compilerLabelled(ctx, tx, compilerID, jobID)
		if err != nil {
			return err
		}
		counts, err = insertCompilerLabels(ctx, tx, compilerID, items, labelled)
		return err
	})
	return counts, err
}

func jobExists(ctx context.Context, tx *sql.Tx, jobID int64) error {
	if jobID == 0 {
		return nil
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM generation_jobs WHERE id = ?`, jobID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("job %d: %w", jobID, ErrNotFound)
	}
	return err
}

// compilerUser returns the id of the system user "compiler", creating it when missing. A person's
// account of that name is refused rather than given the compiler's labels.
func compilerUser(ctx context.Context, tx *sql.Tx) (int64, error) {
	var id int64
	var hash string
	err := tx.QueryRowContext(ctx, `SELECT id, password_hash FROM users WHERE name = ?`, CompilerAnnotator).Scan(&id, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)`,
			CompilerAnnotator, systemPasswordHash, RoleViewer, now())
		if err != nil {
			return 0, fmt.Errorf("create user %s: %w", CompilerAnnotator, err)
		}
		return res.LastInsertId()
	case err != nil:
		return 0, fmt.Errorf("find user %s: %w", CompilerAnnotator, err)
	case hash != systemPasswordHash:
		return 0, fmt.Errorf("%w: the user %q is a person's account; rename it so the compiler can label", ErrConflict, CompilerAnnotator)
	}
	return id, nil
}

// suggestItem is one ready comparison with its answers, in slot order.
type suggestItem struct {
	item    Item
	answers []suggest.Answer
}

// comparisonsToSuggest returns the ready comparisons of a job (0: all) with their answers' checks.
func comparisonsToSuggest(ctx context.Context, tx *sql.Tx, jobID int64) ([]suggestItem, error) {
	rows, err := tx.QueryContext(ctx, `SELECT r.job_id, r.prompt_id, r.id, c.response_id IS NOT NULL,
			coalesce(c.has_code, 0), coalesce(c.compiles, 0), coalesce(c.timed_out, 0), coalesce(c.errors, 0),
			coalesce(c.warnings, 0), coalesce(c.lints, -1), coalesce(c.first_error, '')
		FROM comparisons cmp JOIN responses r ON r.job_id = cmp.job_id AND r.prompt_id = cmp.prompt_id
		LEFT JOIN checks c ON c.response_id = r.id
		WHERE cmp.ready = 1 AND (?1 = 0 OR cmp.job_id = ?1)
		ORDER BY r.job_id, r.prompt_id, r.slot`, jobID)
	if err != nil {
		return nil, fmt.Errorf("read comparisons to suggest: %w", err)
	}
	defer rows.Close()
	var items []suggestItem
	for rows.Next() {
		var it Item
		var a suggest.Answer
		c := &a.Check
		if err := rows.Scan(&it.JobID, &it.PromptID, &a.ID, &a.Checked, &c.HasCode, &c.Compiles, &c.TimedOut, &c.Errors,
			&c.Warnings, &c.Lints, &c.FirstError); err != nil {
			return nil, fmt.Errorf("read comparisons to suggest: %w", err)
		}
		if len(items) == 0 || items[len(items)-1].item != it {
			items = append(items, suggestItem{item: it})
		}
		last := &items[len(items)-1]
		a.Name = slotLetter(len(last.answers))
		last.answers = append(last.answers, a)
	}
	return items, rows.Err()
}

// slotLetter names an answer by its position in slot order: A, B, …
func slotLetter(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return fmt.Sprintf("#%d", i+1)
}

// compilerLabelled returns the comparisons that already have a compiler label.
func compilerLabelled(ctx context.Context, tx *sql.Tx, compilerID, jobID int64) (map[Item]bool, error) {
	items, err := queryAll(ctx, tx, func(row scanner) (Item, error) {
		var it Item
		err := row.Scan(&it.JobID, &it.PromptID)
		return it, err
	}, `SELECT job_id, prompt_id FROM labels WHERE annotator_id = ?1 AND (?2 = 0 OR job_id = ?2)`, compilerID, jobID)
	if err != nil {
		return nil, fmt.Errorf("read compiler labels: %w", err)
	}
	out := make(map[Item]bool, len(items))
	for _, it := range items {
		out[it] = true
	}
	return out, nil
}

func insertCompilerLabels(ctx context.Context, tx *sql.Tx, compilerID int64, items []suggestItem, labelled map[Item]bool) (CompilerLabelCounts, error) {
	var counts CompilerLabelCounts
	insert, err := tx.PrepareContext(ctx, `INSERT INTO labels (prompt_id, job_id, annotator_id, verdict, chosen_id, rejected_id,
			ranking_json, rationale, suggested_by, ms_spent, created_at, updated_at)
		VALUES (?1, ?2, ?3, 'pair', ?4, ?5, '[]', ?6, ?7, 0, ?8, ?8) ON CONFLICT (prompt_id, job_id, annotator_id) DO NOTHING`)
	if err != nil {
		return counts, err
	}
	defer insert.Close()
	t := now()
	for _, si := range items {
		if labelled[si.item] {
			counts.Existing++
			continue
		}
		v := suggest.Suggest(si.answers)
		switch v.Outcome {
		case suggest.Unchecked:
			counts.Unchecked++
		case suggest.None:
			counts.NoSuggestion++
		case suggest.Suggested:
			if _, err := insert.ExecContext(ctx, si.item.PromptID, si.item.JobID, compilerID, v.Chosen, v.Rejected,
				v.Reason, SuggestedByCompiler, t); err != nil {
				return counts, fmt.Errorf("store compiler label of job %d prompt %d: %w", si.item.JobID, si.item.PromptID, err)
			}
			counts.Created++
		}
	}
	return counts, nil
}
