package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Providers a model can be reached through.
const (
	ProviderOpenAI  = "openai"
	ProviderBuiltin = "builtin"
)

// Model is a model the app can generate with.
type Model struct {
	ID         int64
	Name       string
	Provider   string
	Endpoint   string // base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1
	ServedName string // the model name the endpoint expects
	APIKeyEnv  string // name of the environment variable holding the API key
	// Built-in models: Base is a GGUF file or a Hugging Face folder, Adapter an
	// optional PEFT LoRA folder, ChatTemplate a template name overriding the
	// model's own, ContextLength a limit below the model's (0: the model's).
	Base          string
	Adapter       string
	ChatTemplate  string
	ContextLength int
	// Lineage: the model this one was trained from and the dataset it used.
	ParentID  int64
	DatasetID int64
	Notes     string
	CreatedAt time.Time
}

const modelColumns = `id, name, provider, endpoint, served_name, api_key_env, base, adapter, chat_template, context_length,
	coalesce(parent_id, 0), coalesce(dataset_id, 0), notes, created_at`

// ModelInput is what registering a model takes.
type ModelInput struct {
	Name, Provider, Endpoint, ServedName, APIKeyEnv, Notes string
	Base, Adapter, ChatTemplate                            string
	ContextLength                                          int
	ParentID, DatasetID                                    int64
}

func (in *ModelInput) clean() error {
	in.Name = strings.TrimSpace(in.Name)
	in.Endpoint = strings.TrimRight(strings.TrimSpace(in.Endpoint), "/")
	in.ServedName = strings.TrimSpace(in.ServedName)
	in.Base, in.Adapter = strings.TrimSpace(in.Base), strings.TrimSpace(in.Adapter)
	if in.Provider == "" {
		in.Provider = ProviderOpenAI
	}
	if in.Name == "" || len(in.Name) > 64 || strings.ContainsAny(in.Name, " \t\n/<>\"'") {
		return fmt.Errorf("%w: name: 1 to 64 characters without spaces, slashes or quotes", ErrInvalid)
	}
	if in.ContextLength < 0 {
		return fmt.Errorf("%w: context length: %d is negative", ErrInvalid, in.ContextLength)
	}
	switch in.Provider {
	case ProviderOpenAI:
		return in.cleanEndpoint()
	case ProviderBuiltin:
		if in.Base == "" {
			return fmt.Errorf("%w: base: a built-in model needs a GGUF file or a Hugging Face folder", ErrInvalid)
		}
		return nil
	default:
		return fmt.Errorf("%w: provider: %q is unknown (want openai or builtin)", ErrInvalid, in.Provider)
	}
}

func (in *ModelInput) cleanEndpoint() error {
	u, err := url.Parse(in.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: endpoint: %q is not an http(s) URL", ErrInvalid, in.Endpoint)
	}
	if in.ServedName == "" {
		in.ServedName = in.Name
	}
	return nil
}

// CreateModel registers a model.
func (s *Store) CreateModel(ctx context.Context, in ModelInput) (Model, error) {
	if err := in.clean(); err != nil {
		return Model{}, err
	}
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO models (name, provider, endpoint, served_name, api_key_env, base, adapter,
			chat_template, context_length, parent_id, dataset_id, notes, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, 0), nullif(?, 0), ?, ?)`, in.Name, in.Provider, in.Endpoint, in.ServedName,
			in.APIKeyEnv, in.Base, in.Adapter, in.ChatTemplate, in.ContextLength, in.ParentID, in.DatasetID, in.Notes, now())
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: a model named %q exists already", ErrConflict, in.Name)
		}
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return audit(ctx, tx, "model.add", fmt.Sprintf("model %d (%s)", id, in.Name), map[string]any{"provider": in.Provider,
			"endpoint": in.Endpoint, "served_name": in.ServedName, "base": in.Base, "adapter": in.Adapter})
	})
	if err != nil {
		return Model{}, err
	}
	return s.Model(ctx, id)
}

// Model returns one model by id.
func (s *Store) Model(ctx context.Context, id int64) (Model, error) {
	m, err := scanModel(s.read.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM models WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Model{}, fmt.Errorf("model %d: %w", id, ErrNotFound)
	}
	return m, err
}

// ModelByName returns one model by name.
func (s *Store) ModelByName(ctx context.Context, name string) (Model, error) {
	m, err := scanModel(s.read.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM models WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Model{}, fmt.Errorf("model %q: %w", name, ErrNotFound)
	}
	return m, err
}

// ListModels returns every model by name.
func (s *Store) ListModels(ctx context.Context) ([]Model, error) {
	return queryAll(ctx, s.read, scanModel, `SELECT `+modelColumns+` FROM models ORDER BY name`)
}

func scanModel(row scanner) (Model, error) {
	var m Model
	var created string
	err := row.Scan(&m.ID, &m.Name, &m.Provider, &m.Endpoint, &m.ServedName, &m.APIKeyEnv, &m.Base, &m.Adapter,
		&m.ChatTemplate, &m.ContextLength, &m.ParentID, &m.DatasetID, &m.Notes, &created)
	m.CreatedAt = parseTime(created)
	return m, err
}
