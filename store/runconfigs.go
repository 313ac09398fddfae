package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of saved run configurations.
const (
	maxSavedConfigName = 64
	maxSavedConfigJSON = 64 << 10
)

// SavedConfig is a named run configuration (run_configs): the settings of a new run as JSON,
// which the training package reads and checks (training.SavedConfig).
type SavedConfig struct {
	ID            int64
	Name          string
	Kind          string // sft | dpo
	JSON          string
	CreatedBy     int64
	CreatedByName string
	CreatedAt     time.Time
}

// SavedConfigInput is a configuration to save.
type SavedConfigInput struct {
	Name      string
	Kind      string
	JSON      string
	CreatedBy int64
}

const savedConfigColumns = `c.id, c.name, c.kind, c.json, coalesce(c.created_by, 0), coalesce(u.name, ''), c.created_at`

const savedConfigFrom = ` FROM run_configs c LEFT JOIN users u ON u.id = c.created_by`

// CheckSavedConfigName reports whether name can name a saved configuration (ErrInvalid says why):
// 1 to 64 characters, no control characters, no spaces at either end.
func CheckSavedConfigName(name string) error {
	switch {
	case name == "" || utf8.RuneCountInString(name) > maxSavedConfigName:
		return fmt.Errorf("%w: config name: 1 to %d characters", ErrInvalid, maxSavedConfigName)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%w: config name: %q starts or ends with a space", ErrInvalid, name)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("%w: config name: %q holds control characters", ErrInvalid, name)
	}
	return nil
}

func (in *SavedConfigInput) clean() error {
	in.Name = strings.TrimSpace(in.Name)
	if err := CheckSavedConfigName(in.Name); err != nil {
		return err
	}
	if in.Kind != RunSFT && in.Kind != RunDPO {
		return fmt.Errorf("%w: config %s: kind %q (want sft or dpo)", ErrInvalid, in.Name, in.Kind)
	}
	if len(in.JSON) > maxSavedConfigJSON {
		return fmt.Errorf("%w: config %s: its JSON is %d bytes (at most %d)", ErrInvalid, in.Name, len(in.JSON), maxSavedConfigJSON)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(in.JSON), &obj); err != nil || obj == nil {
		return fmt.Errorf("%w: config %s: its JSON is not an object", ErrInvalid, in.Name)
	}
	return nil
}

// CreateSavedConfig saves a named configuration; a name in use (in any letter case) is
// ErrConflict. The audit row is written in the same transaction.
func (s *Store) CreateSavedConfig(ctx context.Context, in SavedConfigInput) (SavedConfig, error) {
	if err := in.clean(); err != nil {
		return SavedConfig{}, err
	}
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO run_configs (name, kind, json, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
			in.Name, in.Kind, in.JSON, nullID(in.CreatedBy), now())
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: a saved config is already named %q; delete it first or choose another name", ErrConflict, in.Name)
		}
		if err != nil {
			return fmt.Errorf("insert saved config %q: %w", in.Name, err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return audit(ctx, tx, "run_config.save", in.Name, map[string]any{"id": id, "kind": in.Kind})
	})
	if err != nil {
		return SavedConfig{}, err
	}
	return s.SavedConfig(ctx, id)
}

// SavedConfigs lists the saved configurations by name; kind "" lists both kinds.
func (s *Store) SavedConfigs(ctx context.Context, kind string) ([]SavedConfig, error) {
	q := `SELECT ` + savedConfigColumns + savedConfigFrom
	var args []any
	if kind != "" {
		q += ` WHERE c.kind = ?`
		args = append(args, kind)
	}
	out, err := queryAll(ctx, s.read, scanSavedConfig, q+` ORDER BY c.name COLLATE NOCASE, c.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list saved configs: %w", err)
	}
	return out, nil
}

// SavedConfig reads one saved configuration.
func (s *Store) SavedConfig(ctx context.Context, id int64) (SavedConfig, error) {
	return s.savedConfigWhere(ctx, `c.id = ?`, id, fmt.Sprintf("saved config %d", id))
}

// SavedConfigNamed reads the saved configuration of a name (in any letter case).
func (s *Store) SavedConfigNamed(ctx context.Context, name string) (SavedConfig, error) {
	name = strings.TrimSpace(name)
	return s.savedConfigWhere(ctx, `c.name = ?`, name, fmt.Sprintf("saved config %q", name))
}

func (s *Store) savedConfigWhere(ctx context.Context, where string, arg any, what string) (SavedConfig, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+savedConfigColumns+savedConfigFrom+` WHERE `+where, arg)
	c, err := scanSavedConfig(row)
	if errors.Is(err, sql.ErrNoRows) {
		return SavedConfig{}, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return SavedConfig{}, fmt.Errorf("read %s: %w", what, err)
	}
	return c, nil
}

// DeleteSavedConfig removes a saved configuration (ErrNotFound when there is none), with its
// audit row in the same transaction.
func (s *Store) DeleteSavedConfig(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var name, kind string
		err := tx.QueryRowContext(ctx, `DELETE FROM run_configs WHERE id = ? RETURNING name, kind`, id).Scan(&name, &kind)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("saved config %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("delete saved config %d: %w", id, err)
		}
		return audit(ctx, tx, "run_config.delete", name, map[string]any{"id": id, "kind": kind})
	})
}

func scanSavedConfig(sc scanner) (SavedConfig, error) {
	var c SavedConfig
	var created string
	err := sc.Scan(&c.ID, &c.Name, &c.Kind, &c.JSON, &c.CreatedBy, &c.CreatedByName, &created)
	c.CreatedAt = parseTime(created)
	return c, err
}
