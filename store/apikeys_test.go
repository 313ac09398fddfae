package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestAPIKeyCreateAndLookUp(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	u, err := st.CreateUser(ctx, "alice", "password123", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := st.CreateAPIKey(ctx, "  editor  ", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, APIKeyPrefix))
	if !strings.HasPrefix(secret, APIKeyPrefix) || err != nil || len(raw) != 32 {
		t.Fatalf("secret %q is not rx- and 32 bytes of base64url (%v)", secret, err)
	}
	if k.Name != "editor" || k.UserID != u.ID || k.UserName != "alice" || !strings.HasPrefix(secret, k.Prefix) ||
		len(k.Prefix) != len(APIKeyPrefix)+6 || k.CreatedAt.IsZero() || !k.LastUsedAt.IsZero() || k.Revoked() {
		t.Fatalf("created %+v", k)
	}

	got, err := st.APIKeyBySecret(ctx, secret)
	if err != nil || got != k {
		t.Fatalf("lookup: %+v, %v; want %+v", got, err, k)
	}
	for _, wrong := range []string{"", "rx-", secret + "x", secret[:len(secret)-1], strings.TrimPrefix(secret, APIKeyPrefix)} {
		if _, err := st.APIKeyBySecret(ctx, wrong); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("lookup %q: %v, want ErrUnauthorized", wrong, err)
		}
	}
}

func TestAPIKeyStoresOnlyTheHash(t *testing.T) {
	st := openTest(t)
	_, secret, err := st.CreateAPIKey(t.Context(), "script", 0)
	if err != nil {
		t.Fatal(err)
	}
	var hash, prefix string
	var user any
	if err := st.read.QueryRow(`SELECT secret_hash, prefix, user_id FROM api_keys`).Scan(&hash, &prefix, &user); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if hash != hex.EncodeToString(sum[:]) || strings.Contains(hash, secret[len(prefix):]) {
		t.Fatalf("stored hash %q is not the secret's SHA-256", hash)
	}
	if user != nil {
		t.Fatalf("a key made without a user has user_id %v", user)
	}
}

func TestAPIKeyRevoke(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	k, secret, err := st.CreateAPIKey(ctx, "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	other, otherSecret, err := st.CreateAPIKey(ctx, "other", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.APIKeyBySecret(ctx, secret); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("revoked key: %v, want ErrUnauthorized", err)
	}
	if _, err := st.APIKeyBySecret(ctx, otherSecret); err != nil {
		t.Fatalf("the other key stopped working: %v", err)
	}
	keys, err := st.ListAPIKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != other.ID || keys[1].ID != k.ID {
		t.Fatalf("list: %+v, %v", keys, err)
	}
	first := keys[1].RevokedAt
	if first.IsZero() || keys[0].Revoked() {
		t.Fatalf("revoked_at: %v and %v", keys[1].RevokedAt, keys[0].RevokedAt)
	}
	if err := st.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatalf("revoking again: %v", err)
	}
	if keys, _ := st.ListAPIKeys(ctx); !keys[1].RevokedAt.Equal(first) {
		t.Fatalf("revoking again moved revoked_at from %v to %v", first, keys[1].RevokedAt)
	}
	if err := st.RevokeAPIKey(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v, want ErrNotFound", err)
	}
}

func TestAPIKeyLastUsed(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	k, secret, err := st.CreateAPIKey(ctx, "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.TouchAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	got, err := st.APIKeyBySecret(ctx, secret)
	if err != nil || got.LastUsedAt.IsZero() || got.LastUsedAt.Before(k.CreatedAt) {
		t.Fatalf("after use: last used %v (created %v), %v", got.LastUsedAt, k.CreatedAt, err)
	}
	if err := st.TouchAPIKey(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v, want ErrNotFound", err)
	}
}

func TestAPIKeyInvalidInput(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	for _, name := range []string{"", "   ", strings.Repeat("k", 65), "tab\there"} {
		if _, _, err := st.CreateAPIKey(ctx, name, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("name %q: %v, want ErrInvalid", name, err)
		}
	}
	if _, _, err := st.CreateAPIKey(ctx, "ghost", 42); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "42") {
		t.Errorf("unknown user: %v, want ErrInvalid naming user 42", err)
	}
	if keys, _ := st.ListAPIKeys(ctx); len(keys) != 0 {
		t.Fatalf("%d keys stored after refused input", len(keys))
	}
}

func TestAPIKeyGoesWithItsUser(t *testing.T) {
	st := openTest(t)
	ctx := t.Context()
	u, err := st.CreateUser(ctx, "bob", "password123", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := st.CreateAPIKey(ctx, "bob's", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.write.Exec(`DELETE FROM users WHERE id = ?`, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.APIKeyBySecret(ctx, secret); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("key of a deleted user: %v, want ErrUnauthorized", err)
	}
}
