package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"rustexpert/sheet"
)

// Splits a prompt can be in. Held-out prompts never enter a training export.
const (
	SplitTrain   = "train"
	SplitHeldout = "heldout"
)

// Prompt is one row of the prompt spreadsheet.
type Prompt struct {
	ID        int64
	Text      string
	Category  string
	Tags      []string
	Split     string
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PromptInput is what a person types into the sheet.
type PromptInput struct {
	Text     string
	Category string
	Tags     []string
	Split    string
	Source   string
}

// PromptFilter narrows the prompt list. Zero values match everything.
type PromptFilter struct {
	Query    string // full-text search
	Category string
	Split    string
	Tag      string
	After    int64 // keyset cursor: only ids greater than this
	Limit    int
}

// PromptPage is one page of the prompt list.
type PromptPage struct {
	Items     []Prompt
	Total     int
	NextAfter int64 // 0 when this is the last page
}

const promptColumns = `p.id, p.text, p.category, p.tags, p.split, p.source, p.created_at, p.updated_at`

func (in *PromptInput) clean() error {
	in.Text = strings.TrimSpace(in.Text)
	in.Category = strings.TrimSpace(in.Category)
	if in.Split == "" {
		in.Split = SplitTrain
	}
	switch {
	case in.Text == "":
		return fmt.Errorf("%w: text: must not be empty", ErrInvalid)
	case len(in.Text) > sheet.MaxCellBytes:
		return fmt.Errorf("%w: text: longer than %d bytes", ErrInvalid, sheet.MaxCellBytes)
	case !utf8.ValidString(in.Text):
		return fmt.Errorf("%w: text: not valid UTF-8", ErrInvalid)
	case len(in.Category) > 200:
		return fmt.Errorf("%w: category: longer than 200 bytes", ErrInvalid)
	case in.Split != SplitTrain && in.Split != SplitHeldout:
		return fmt.Errorf("%w: split: unknown split %q (want train or heldout)", ErrInvalid, in.Split)
	}
	in.Tags = cleanTags(in.Tags)
	return nil
}

func cleanTags(tags []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

// SplitTags parses a tag cell: separated by ";" or ",".
func SplitTags(s string) []string {
	return cleanTags(strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }))
}

func joinTags(tags []string) string { return strings.Join(tags, ";") }

// CreatePrompt adds one prompt. A prompt whose normalized text exists already is a conflict.
func (s *Store) CreatePrompt(ctx context.Context, in PromptInput, userID int64) (Prompt, error) {
	if err := in.clean(); err != nil {
		return Prompt{}, err
	}
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = insertPrompt(ctx, tx, in, userID, now())
		return err
	})
	if err != nil {
		return Prompt{}, err
	}
	return s.Prompt(ctx, id)
}

func insertPrompt(ctx context.Context, tx *sql.Tx, in PromptInput, userID int64, at string) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO prompts (text, norm, category, tags, split, source, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.Text, sheet.Normalize(in.Text), in.Category, joinTags(in.Tags), in.Split, in.Source, nullID(userID), at, at)
	if isUniqueViolation(err) {
		return 0, duplicateError(ctx, tx, in.Text)
	}
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func duplicateError(ctx context.Context, tx *sql.Tx, text string) error {
	var id int64
	tx.QueryRowContext(ctx, `SELECT id FROM prompts WHERE norm = ?`, sheet.Normalize(text)).Scan(&id)
	return fmt.Errorf("%w: duplicate of prompt #%d", ErrConflict, id)
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// ImportPrompts stores every row in one transaction, or none: when any row duplicates an
// existing prompt, it returns a *sheet.Error listing each such row and writes nothing.
func (s *Store) ImportPrompts(ctx context.Context, rows []sheet.Row, source string, userID int64) (int, error) {
	at := now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var lastID int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM prompts`).Scan(&lastID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO fts_bulk (active) VALUES (1)`); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO prompts (text, norm, category, tags, split, source, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (norm) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		var dup []sheet.Problem
		for _, r := range rows {
			res, err := stmt.ExecContext(ctx, r.Text, sheet.Normalize(r.Text), r.Category, joinTags(r.Tags), r.Split, source, nullID(userID), at, at)
			if err != nil {
				return fmt.Errorf("line %d: %w", r.Line, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				dup = append(dup, sheet.Problem{Line: r.Line, Column: "text", Message: duplicateMessage(ctx, tx, r.Text)})
			}
		}
		if len(dup) > 0 {
			return duplicatesError(dup)
		}
		return indexImported(ctx, tx, lastID)
	})
	if err != nil {
		return 0, err
	}
	return len(rows), nil
}

// indexImported adds the rows inserted after lastID to the search index in one statement
// and turns the per-row index trigger back on.
func indexImported(ctx context.Context, tx *sql.Tx, lastID int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO prompts_fts (rowid, text, category, tags)
		SELECT id, text, category, tags FROM prompts WHERE id > ?`, lastID); err != nil {
		return fmt.Errorf("index imported prompts: %w", err)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM fts_bulk`)
	return err
}

// duplicatesError lists the duplicate rows, capped like the sheet reader's own problem lists.
func duplicatesError(dup []sheet.Problem) *sheet.Error {
	const maxListed = 200
	if len(dup) <= maxListed {
		return &sheet.Error{Problems: dup}
	}
	return &sheet.Error{Problems: dup[:maxListed], More: len(dup) - maxListed}
}

func duplicateMessage(ctx context.Context, tx *sql.Tx, text string) string {
	var id int64
	tx.QueryRowContext(ctx, `SELECT id FROM prompts WHERE norm = ?`, sheet.Normalize(text)).Scan(&id)
	return fmt.Sprintf("duplicate of existing prompt #%d", id)
}

// Prompt returns one prompt.
func (s *Store) Prompt(ctx context.Context, id int64) (Prompt, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+promptColumns+` FROM prompts p WHERE p.id = ?`, id)
	p, err := scanPrompt(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Prompt{}, fmt.Errorf("prompt %d: %w", id, ErrNotFound)
	}
	return p, err
}

type scanner interface{ Scan(dest ...any) error }

func scanPrompt(row scanner) (Prompt, error) {
	var p Prompt
	var tags, created, updated string
	if err := row.Scan(&p.ID, &p.Text, &p.Category, &tags, &p.Split, &p.Source, &created, &updated); err != nil {
		return Prompt{}, err
	}
	p.Tags = SplitTags(tags)
	p.CreatedAt = parseTime(created)
	p.UpdatedAt = parseTime(updated)
	return p, nil
}

// PromptFields are the columns that inline editing may change.
var PromptFields = []string{"text", "category", "tags", "split"}

// UpdatePromptField changes one column of one prompt (inline editing in the sheet).
func (s *Store) UpdatePromptField(ctx context.Context, id int64, field, value string) (Prompt, error) {
	p, err := s.Prompt(ctx, id)
	if err != nil {
		return Prompt{}, err
	}
	in := PromptInput{Text: p.Text, Category: p.Category, Tags: p.Tags, Split: p.Split, Source: p.Source}
	switch field {
	case "text":
		in.Text = value
	case "category":
		in.Category = value
	case "tags":
		in.Tags = SplitTags(value)
	case "split":
		in.Split = strings.ToLower(strings.TrimSpace(value))
	default:
		return Prompt{}, fmt.Errorf("%w: field %q cannot be edited", ErrInvalid, field)
	}
	if err := in.clean(); err != nil {
		return Prompt{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE prompts SET text = ?, norm = ?, category = ?, tags = ?, split = ?, updated_at = ? WHERE id = ?`,
			in.Text, sheet.Normalize(in.Text), in.Category, joinTags(in.Tags), in.Split, now(), id)
		if isUniqueViolation(err) {
			return duplicateError(ctx, tx, in.Text)
		}
		return expectOne(res, err)
	})
	if err != nil {
		return Prompt{}, err
	}
	return s.Prompt(ctx, id)
}

// DeletePrompt removes a prompt with its answers and labels.
func (s *Store) DeletePrompt(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM prompts WHERE id = ?`, id)
		return expectOne(res, err)
	})
	s.answerIDs.forgetAll()
	return err
}

// promptQuery is a filter as SQL pieces. With a search, rows come from the full-text index joined
// to prompts and are ordered and paged by the index's rowid, so FTS5 delivers them in order.
type promptQuery struct {
	from      string // FROM clause for selecting prompt columns (alias p)
	countFrom string // FROM clause enough for counting
	where     string
	args      []any
	id        string // the column to order and page by
}

// query builds the SQL of a filter (without the keyset cursor).
func (f PromptFilter) query() promptQuery {
	q := promptQuery{from: "prompts p", countFrom: "prompts p", id: "p.id"}
	var conds []string
	if match := ftsQuery(f.Query); match != "" {
		q.from = "prompts_fts f JOIN prompts p ON p.id = f.rowid"
		q.countFrom = "prompts_fts f"
		q.id = "f.rowid"
		conds = append(conds, `prompts_fts MATCH ?`)
		q.args = append(q.args, match)
	}
	if f.Category != "" {
		conds = append(conds, `p.category = ?`)
		q.args = append(q.args, f.Category)
	}
	if f.Split != "" {
		conds = append(conds, `p.split = ?`)
		q.args = append(q.args, f.Split)
	}
	if f.Tag != "" {
		conds = append(conds, `(';' || p.tags || ';') LIKE ?`)
		q.args = append(q.args, "%;"+strings.ToLower(strings.TrimSpace(f.Tag))+";%")
	}
	if q.id == "f.rowid" && len(conds) > 1 {
		q.countFrom = q.from // the other filters need the prompt columns
	}
	q.where = "1"
	if len(conds) > 0 {
		q.where = strings.Join(conds, " AND ")
	}
	return q
}

// ftsQuery turns user text into an FTS5 query: every word quoted (so any input is valid),
// the last one as a prefix so results appear while typing.
func ftsQuery(q string) string {
	words := strings.Fields(q)
	for i, w := range words {
		words[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	if len(words) > 0 {
		words[len(words)-1] += "*"
	}
	return strings.Join(words, " ")
}

// ListPrompts returns one page of prompts in id order and the total count matching the filter.
func (s *Store) ListPrompts(ctx context.Context, f PromptFilter) (PromptPage, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	q := f.query()
	var page PromptPage
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM `+q.countFrom+` WHERE `+q.where, q.args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count prompts: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+promptColumns+` FROM `+q.from+` WHERE `+q.where+` AND `+q.id+` > ? ORDER BY `+q.id+` LIMIT ?`,
		append(q.args, f.After, f.Limit+1)...)
	if err != nil {
		return page, fmt.Errorf("list prompts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPrompt(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, p)
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		page.NextAfter = page.Items[f.Limit-1].ID
	}
	return page, rows.Err()
}

// PromptCursorBefore returns the cursor that shows the page before the one starting after `after`.
func (s *Store) PromptCursorBefore(ctx context.Context, f PromptFilter, after int64) (int64, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	q := f.query()
	var ids []int64
	rows, err := s.read.QueryContext(ctx, `SELECT p.id FROM `+q.from+` WHERE `+q.where+` AND `+q.id+` <= ? ORDER BY `+q.id+` DESC LIMIT ?`,
		append(q.args, after, f.Limit+1)...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		ids = append(ids, id)
	}
	if len(ids) <= f.Limit {
		return 0, rows.Err()
	}
	return ids[f.Limit], rows.Err()
}

// EachPrompt calls fn for every prompt matching the filter, in id order (for exports).
func (s *Store) EachPrompt(ctx context.Context, f PromptFilter, fn func(Prompt) error) error {
	q := f.query()
	rows, err := s.read.QueryContext(ctx, `SELECT `+promptColumns+` FROM `+q.from+` WHERE `+q.where+` ORDER BY `+q.id, q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPrompt(rows)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PromptCategories returns the distinct categories in use.
func (s *Store) PromptCategories(ctx context.Context) ([]string, error) {
	// One index seek per category instead of reading every row's category.
	return queryAll(ctx, s.read, scanValue[string], `WITH RECURSIVE c (category) AS (
			SELECT min(category) FROM prompts WHERE category > ''
			UNION ALL SELECT (SELECT min(category) FROM prompts WHERE category > c.category) FROM c WHERE c.category IS NOT NULL)
		SELECT category FROM c WHERE category IS NOT NULL`)
}

// HeldoutPromptTexts returns the text of every held-out prompt (for leak checks).
func (s *Store) HeldoutPromptTexts(ctx context.Context) ([]string, error) {
	return queryAll(ctx, s.read, scanValue[string], `SELECT text FROM prompts WHERE split = 'heldout'`)
}

// CountPromptsAfter counts the prompts of the filter whose id is greater than its cursor.
func (s *Store) CountPromptsAfter(ctx context.Context, f PromptFilter) (int, error) {
	q := f.query()
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM `+q.countFrom+` WHERE `+q.where+` AND `+q.id+` > ?`, append(q.args, f.After)...).Scan(&n)
	return n, err
}
