package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the labelling rules an admin sets.
const (
	MaxOverlap         = 10
	MaxGuidelinesBytes = 64 << 10
)

// Guidelines are the labelling rules: the Markdown guide annotators follow and how many labels
// each comparison needs before it leaves every queue.
type Guidelines struct {
	Text    string
	Overlap int
}

// Guidelines returns the labelling guide and the overlap.
func (s *Store) Guidelines(ctx context.Context) (Guidelines, error) {
	text, err := s.Setting(ctx, SettingGuidelines, "")
	if err != nil {
		return Guidelines{}, fmt.Errorf("read guidelines: %w", err)
	}
	overlap, err := s.Overlap(ctx)
	if err != nil {
		return Guidelines{}, fmt.Errorf("read overlap: %w", err)
	}
	return Guidelines{Text: text, Overlap: overlap}, nil
}

// SaveGuidelines stores the labelling guide and the overlap together, so that annotators never
// see one without the other.
func (s *Store) SaveGuidelines(ctx context.Context, g Guidelines) error {
	// Browsers send textarea line breaks as CRLF; the guide is stored with plain newlines.
	g.Text = strings.TrimSpace(strings.ReplaceAll(g.Text, "\r\n", "\n"))
	switch {
	case g.Overlap < 1 || g.Overlap > MaxOverlap:
		return fmt.Errorf("%w: labels per comparison: %d (want 1 to %d)", ErrInvalid, g.Overlap, MaxOverlap)
	case len(g.Text) > MaxGuidelinesBytes || !utf8.ValidString(g.Text):
		return fmt.Errorf("%w: guidelines: at most %d KB of UTF-8 text", ErrInvalid, MaxGuidelinesBytes>>10)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for key, value := range map[string]string{SettingGuidelines: g.Text, SettingOverlap: strconv.Itoa(g.Overlap)} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
				return fmt.Errorf("save setting %s: %w", key, err)
			}
		}
		return audit(ctx, tx, "guidelines.save", "guidelines", map[string]any{"overlap": g.Overlap, "bytes": len(g.Text)})
	})
}
