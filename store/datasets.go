package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Dataset is an immutable, versioned export that training runs point to.
type Dataset struct {
	ID          int64
	Kind        string // dpo | sft
	OptionsJSON string
	StatsJSON   string
	SHA256      string
	Rows        int
	Path        string // file path relative to the data directory
	CreatedAt   time.Time
}

const datasetColumns = `id, kind, options_json, stats_json, sha256, rows, path, created_at`

// CreateDataset records a snapshot whose file is already written.
func (s *Store) CreateDataset(ctx context.Context, d Dataset, userID int64) (Dataset, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO datasets (kind, options_json, stats_json, sha256, rows, path, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, d.Kind, d.OptionsJSON, d.StatsJSON, d.SHA256, d.Rows, d.Path, nullID(userID), now())
		if err != nil {
			return err
		}
		d.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return Dataset{}, err
	}
	return s.Dataset(ctx, d.ID)
}

// Dataset returns one snapshot.
func (s *Store) Dataset(ctx context.Context, id int64) (Dataset, error) {
	d, err := scanDataset(s.read.QueryRowContext(ctx, `SELECT `+datasetColumns+` FROM datasets WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Dataset{}, fmt.Errorf("dataset %d: %w", id, ErrNotFound)
	}
	return d, err
}

// ListDatasets returns the newest snapshots first.
func (s *Store) ListDatasets(ctx context.Context) ([]Dataset, error) {
	return queryAll(ctx, s.read, scanDataset, `SELECT `+datasetColumns+` FROM datasets ORDER BY id DESC`)
}

func scanDataset(row scanner) (Dataset, error) {
	var d Dataset
	var created string
	err := row.Scan(&d.ID, &d.Kind, &d.OptionsJSON, &d.StatsJSON, &d.SHA256, &d.Rows, &d.Path, &created)
	d.CreatedAt = parseTime(created)
	return d, err
}
