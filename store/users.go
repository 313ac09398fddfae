package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Roles a user can have.
const (
	RoleAdmin     = "admin"
	RoleAnnotator = "annotator"
	RoleViewer    = "viewer"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

// User is a person who can log in.
type User struct {
	ID        int64
	Name      string
	Role      string
	CreatedAt time.Time
}

// CanEdit reports whether the user may change data (prompts, jobs, labels, datasets).
func (u User) CanEdit() bool { return u.Role == RoleAdmin || u.Role == RoleAnnotator }

// IsAdmin reports whether the user manages users and guidelines.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// Session is a logged-in browser.
type Session struct {
	User      User
	CSRFToken string
	StartedAt time.Time // when the user logged in (the absolute expiry counts from it)
	ExpiresAt time.Time // the idle deadline, moved on by ExtendSession
}

// ValidRole reports whether role is one of the known roles.
func ValidRole(role string) bool {
	return role == RoleAdmin || role == RoleAnnotator || role == RoleViewer
}

// CreateUser adds a user with a bcrypt-hashed password.
func (s *Store) CreateUser(ctx context.Context, name, password, role string) (User, error) {
	name = strings.TrimSpace(name)
	if err := checkUserName(name); err != nil {
		return User{}, err
	}
	if !ValidRole(role) {
		return User{}, fmt.Errorf("%w: role %q (want admin, annotator or viewer)", ErrInvalid, role)
	}
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return User{}, fmt.Errorf("%w: password must have at least %d characters", ErrInvalid, MinPasswordLength)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return User{}, fmt.Errorf("%w: password: %v", ErrInvalid, err)
	}
	u := User{Name: name, Role: role, CreatedAt: time.Now().UTC()}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)`,
			name, string(hash), role, formatTime(u.CreatedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: user %q already exists", ErrConflict, name)
		}
		if err != nil {
			return err
		}
		if u.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		return audit(ctx, tx, "user.create", userTarget(u.ID, name), map[string]any{"role": role})
	})
	return u, err
}

func checkUserName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: user name must have 1 to 64 characters", ErrInvalid)
	}
	for _, r := range name {
		if r < ' ' || r == '<' || r == '>' || r == '"' || r == '\'' || r == '&' {
			return fmt.Errorf("%w: user name may not contain %q", ErrInvalid, r)
		}
	}
	return nil
}

// CountUsers returns how many users exist (0 means the first-run setup is open); anonymous
// visitors' rows do not count.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE id NOT IN (SELECT user_id FROM visitors)`).Scan(&n)
	return n, err
}

// ListUsers returns every user by name, anonymous visitors left out.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, name, role, created_at FROM users
		WHERE id NOT IN (SELECT user_id FROM visitors) ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created string
		if err := rows.Scan(&u.ID, &u.Name, &u.Role, &created); err != nil {
			return nil, err
		}
		u.CreatedAt = parseTime(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetUserRole changes a user's role.
func (s *Store) SetUserRole(ctx context.Context, id int64, role string) error {
	if !ValidRole(role) {
		return fmt.Errorf("%w: role %q", ErrInvalid, role)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, role, id)
		if err := expectOne(res, err); err != nil {
			return err
		}
		return audit(ctx, tx, "user.role", userTarget(id, ""), map[string]any{"role": role})
	})
	// After the commit, so that no read between the two can cache the old role again.
	s.sessions.evictUser(id)
	return err
}

// Authenticate checks a name and password and returns the user.
func (s *Store) Authenticate(ctx context.Context, name, password string) (User, error) {
	var u User
	var hash, created string
	err := s.read.QueryRowContext(ctx, `SELECT id, name, role, password_hash, created_at FROM users WHERE name = ?`,
		strings.TrimSpace(name)).Scan(&u.ID, &u.Name, &u.Role, &hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as a real check so user names cannot be probed by timing.
		bcrypt.CompareHashAndPassword([]byte("$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWX4Z1c8yVf0bl1mO/0d8hDFOTfS"), []byte(password))
		return User{}, ErrUnauthorized
	}
	if err != nil {
		return User{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, ErrUnauthorized
	}
	u.CreatedAt = parseTime(created)
	return u, nil
}

// CreateSession starts a session for the user and returns the secret token for the cookie.
// Only the token's hash is stored.
func (s *Store) CreateSession(ctx context.Context, userID int64, ttl time.Duration) (token string, err error) {
	token = randomToken()
	csrf := randomToken()
	t := time.Now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			hashToken(token), userID, csrf, formatTime(t), formatTime(t.Add(ttl)))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, formatTime(t))
		return err
	})
	return token, err
}

// SessionByToken returns the live session for a cookie token.
func (s *Store) SessionByToken(ctx context.Context, token string) (Session, error) {
	hash, now := hashToken(token), time.Now()
	if sess, ok := s.sessions.get(hash, now); ok {
		return sess, nil
	}
	var sess Session
	var expires, created, started string
	err := s.read.QueryRowContext(ctx, `SELECT u.id, u.name, u.role, u.created_at, s.csrf_token, s.created_at, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, hash).
		Scan(&sess.User.ID, &sess.User.Name, &sess.User.Role, &created, &sess.CSRFToken, &started, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrUnauthorized
	}
	if err != nil {
		return Session{}, err
	}
	sess.User.CreatedAt = parseTime(created)
	sess.StartedAt = parseTime(started)
	sess.ExpiresAt = parseTime(expires)
	if now.After(sess.ExpiresAt) {
		return Session{}, ErrUnauthorized
	}
	s.sessions.put(hash, sess, now)
	return sess, nil
}

// DeleteSession ends the session of a cookie token.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	hash := hashToken(token)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, hash)
		return err
	})
	// After the commit, so that no read between the two can cache the session again.
	s.sessions.evict(hash)
	return err
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// expectOne turns "no row changed" into ErrNotFound.
func expectOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
