package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// ChangePassword sets a user's new password after checking the current one, and ends every other
// session of the user (keepToken is the cookie token of the session that changed it, "" for none).
// A wrong current password is ErrUnauthorized.
func (s *Store) ChangePassword(ctx context.Context, userID int64, current, next, keepToken string) error {
	if utf8.RuneCountInString(next) < MinPasswordLength {
		return fmt.Errorf("%w: new password: must have at least %d characters", ErrInvalid, MinPasswordLength)
	}
	var hash string
	err := s.read.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(current)) != nil {
		return ErrUnauthorized
	}
	newHash, err := bcrypt.GenerateFromPassword([]byte(next), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("%w: new password: %v", ErrInvalid, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// The hash read above must still be the stored one: two changes at once do not both pass.
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`, string(newHash), userID, hash)
		if err := expectOne(res, err); err != nil {
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w: the password was changed meanwhile; try again", ErrConflict)
			}
			return err
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, userID, hashToken(keepToken)); err != nil {
			return err
		}
		return audit(ctx, tx, "user.password", userTarget(userID, ""), nil)
	})
	// After the commit, so that no read between the two can cache an ended session again.
	s.sessions.evictUser(userID)
	return err
}

// DeleteUserSessions ends every session of a user ("log out everywhere") and returns how many.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		return audit(ctx, tx, "user.logout_all", userTarget(userID, ""), map[string]any{"sessions": n})
	})
	s.sessions.evictUser(userID)
	return n, err
}

// CountUserSessions returns how many live sessions a user has.
func (s *Store) CountUserSessions(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE user_id = ? AND expires_at >= ?`,
		userID, formatTime(time.Now())).Scan(&n)
	return n, err
}

// ExtendSession moves a session's expiry to until (its idle deadline); a session already ended is
// ErrUnauthorized.
func (s *Store) ExtendSession(ctx context.Context, token string, until time.Time) error {
	hash := hashToken(token)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET expires_at = ? WHERE token_hash = ? AND expires_at >= ?`,
			formatTime(until), hash, formatTime(time.Now()))
		if err := expectOne(res, err); errors.Is(err, ErrNotFound) {
			return ErrUnauthorized
		} else if err != nil {
			return err
		}
		return nil
	})
	s.sessions.evict(hash)
	return err
}

// userTarget names a user in the audit log: "user 3 (ada)", or "user 3" when the name is not at hand.
func userTarget(id int64, name string) string {
	if name == "" {
		return fmt.Sprintf("user %d", id)
	}
	return fmt.Sprintf("user %d (%s)", id, name)
}
