package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
)

// Setting keys.
const (
	SettingGuidelines = "guidelines"
	SettingOverlap    = "overlap"
)

// Setting returns a setting's value, or def when it was never set.
func (s *Store) Setting(ctx context.Context, key, def string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	return v, err
}

// SetSetting stores a setting's value.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		if err != nil {
			return err
		}
		return audit(ctx, tx, "setting.set", "setting "+key, map[string]any{"value": value})
	})
}

// Overlap returns how many labels each comparison needs before it leaves every queue (default 1).
func (s *Store) Overlap(ctx context.Context) (int, error) {
	v, err := s.Setting(ctx, SettingOverlap, "1")
	if err != nil {
		return 0, err
	}
	k, err := strconv.Atoi(v)
	if err != nil || k < 1 {
		return 1, nil
	}
	return k, nil
}
