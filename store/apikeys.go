package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// APIKeyPrefix starts every API key, so a key is recognisable in a config file or a log.
const APIKeyPrefix = "rx-"

// apiKeyShown is how many characters of a key are kept in the clear to tell keys apart.
const apiKeyShown = len(APIKeyPrefix) + 6

// APIKey is a key for the OpenAI-compatible API. The secret itself is never stored.
type APIKey struct {
	ID         int64
	Name       string
	Prefix     string // the key's first characters, to tell keys apart
	UserID     int64  // 0 for a key of no user (made on the command line)
	UserName   string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
	RevokedAt  time.Time // zero while the key works
}

// Revoked reports whether the key no longer works.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

const apiKeyColumns = `k.id, k.name, k.prefix, coalesce(k.user_id, 0), coalesce(u.name, ''), k.created_at, k.last_used_at, k.revoked_at`

const apiKeyFrom = ` FROM api_keys k LEFT JOIN users u ON u.id = k.user_id`

// CreateAPIKey makes a key for the user (0 for none) and returns it with its secret, which is
// the only time the secret is available: the store keeps its SHA-256 alone.
func (s *Store) CreateAPIKey(ctx context.Context, name string, userID int64) (APIKey, string, error) {
	name = strings.TrimSpace(name)
	if err := checkKeyName(name); err != nil {
		return APIKey{}, "", err
	}
	secret := newAPIKeySecret()
	var user any
	if userID != 0 {
		user = userID
	}
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO api_keys (name, prefix, secret_hash, user_id, created_at) VALUES (?, ?, ?, ?, ?)`,
			name, secret[:apiKeyShown], hashToken(secret), user, now())
		if err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
			return fmt.Errorf("%w: API key user: no user with id %d", ErrInvalid, userID)
		}
		if err != nil {
			return fmt.Errorf("insert API key %q: %w", name, err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return audit(ctx, tx, "apikey.add", fmt.Sprintf("API key %d (%s)", id, name), map[string]any{"prefix": secret[:apiKeyShown], "user_id": userID})
	})
	if err != nil {
		return APIKey{}, "", err
	}
	k, err := s.apiKey(ctx, s.write, `k.id = ?`, id)
	return k, secret, err
}

func checkKeyName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: key name must have 1 to 64 characters", ErrInvalid)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("%w: key name may not contain control characters", ErrInvalid)
		}
	}
	return nil
}

// newAPIKeySecret returns "rx-" and 32 random bytes in base64url.
func newAPIKeySecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// APIKeyBySecret returns the working key with this secret; an unknown or revoked key is
// ErrUnauthorized. The lookup is by the secret's SHA-256.
func (s *Store) APIKeyBySecret(ctx context.Context, secret string) (APIKey, error) {
	if !strings.HasPrefix(secret, APIKeyPrefix) {
		return APIKey{}, ErrUnauthorized
	}
	k, err := s.apiKey(ctx, s.read, `k.secret_hash = ?`, hashToken(secret))
	if errors.Is(err, ErrNotFound) {
		return APIKey{}, ErrUnauthorized
	}
	if err != nil {
		return APIKey{}, err
	}
	if k.Revoked() {
		return APIKey{}, ErrUnauthorized
	}
	return k, nil
}

// apiKey reads the one key that where matches.
func (s *Store) apiKey(ctx context.Context, db *sql.DB, where string, arg any) (APIKey, error) {
	row := db.QueryRowContext(ctx, `SELECT `+apiKeyColumns+apiKeyFrom+` WHERE `+where, arg)
	k, err := scanAPIKey(row)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, fmt.Errorf("API key: %w", ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("read API key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns every key, revoked ones included, newest first.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	keys, err := queryAll(ctx, s.read, scanAPIKey, `SELECT `+apiKeyColumns+apiKeyFrom+` ORDER BY k.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// TouchAPIKey records that the key was just used.
func (s *Store) TouchAPIKey(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, now(), id)
		return expectOne(res, err)
	})
	if err != nil {
		return fmt.Errorf("API key %d: record use: %w", id, err)
	}
	return nil
}

// RevokeAPIKey stops a key from working; revoking a revoked key keeps its first revocation time.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, now(), id)
		if err := expectOne(res, err); err != nil {
			return err
		}
		return audit(ctx, tx, "apikey.revoke", fmt.Sprintf("API key %d", id), nil)
	})
	if err != nil {
		return fmt.Errorf("API key %d: %w", id, err)
	}
	return nil
}

func scanAPIKey(row scanner) (APIKey, error) {
	var k APIKey
	var created string
	var used, revoked sql.NullString
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.UserID, &k.UserName, &created, &used, &revoked)
	k.CreatedAt = parseTime(created)
	k.LastUsedAt = parseNullTime(used)
	k.RevokedAt = parseNullTime(revoked)
	return k, err
}
