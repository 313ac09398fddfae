package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"rustexpert/store"
)

// runIn runs a subcommand in-process on the data directory dir.
func runIn(t *testing.T, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut strings.Builder
	env := map[string]string{"RUSTEXPERT_DATA": dir, "RUSTEXPERT_PASSWORD": "password123"}
	err = run(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func openData(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(dir, "rustexpert.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestKeysAddListRevoke(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runIn(t, dir, "users", "add", "alice", "--admin"); err != nil {
		t.Fatal(err)
	}
	ciKey, msg, err := runIn(t, dir, "keys", "add", "ci")
	if err != nil || !strings.Contains(msg, "no user") || !strings.Contains(msg, "not shown again") {
		t.Fatalf("keys add ci: %v, stderr %q", err, msg)
	}
	editorKey, msg, err := runIn(t, dir, "keys", "add", "editor", "--user", "ALICE")
	if err != nil || !strings.Contains(msg, "user alice") {
		t.Fatalf("keys add editor: %v, stderr %q", err, msg)
	}
	ciKey, editorKey = strings.TrimSuffix(ciKey, "\n"), strings.TrimSuffix(editorKey, "\n")
	for _, key := range []string{ciKey, editorKey} {
		if !strings.HasPrefix(key, store.APIKeyPrefix) || strings.ContainsAny(key, " \n") {
			t.Fatalf("stdout %q is not the key alone", key)
		}
	}

	list, _, err := runIn(t, dir, "keys", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if err != nil || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(lines[1], "editor") || !strings.Contains(lines[1], editorKey[:9]+"…") || !strings.Contains(lines[1], "alice") ||
		!strings.Contains(lines[2], "ci") || strings.Contains(list, ciKey) || strings.Contains(list, editorKey) {
		t.Fatalf("keys list: %v\n%s", err, list)
	}

	st := openData(t, dir)
	ci, err := st.APIKeyBySecret(t.Context(), ciKey)
	if err != nil || ci.Name != "ci" || ci.UserID != 0 {
		t.Fatalf("ci key: %+v, %v", ci, err)
	}
	out, _, err := runIn(t, dir, "keys", "revoke", "1")
	if err != nil || out != "revoked API key 1\n" {
		t.Fatalf("keys revoke 1: %q, %v", out, err)
	}
	if _, err := st.APIKeyBySecret(t.Context(), ciKey); !errors.Is(err, store.ErrUnauthorized) {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := st.APIKeyBySecret(t.Context(), editorKey); err != nil {
		t.Fatalf("the other key: %v", err)
	}
	list, _, _ = runIn(t, dir, "keys", "list")
	ciLine := strings.Split(strings.TrimSpace(list), "\n")[2]
	if strings.HasSuffix(strings.TrimSpace(ciLine), "-") {
		t.Fatalf("the revoked key shows no revocation: %q", ciLine)
	}
}

func TestKeysRefusals(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"keys"}, true, "keys add NAME"},
		{[]string{"keys", "rotate"}, true, "unknown keys command"},
		{[]string{"keys", "add"}, true, "keys add NAME"},
		{[]string{"keys", "add", "a", "b"}, true, "keys add NAME"},
		{[]string{"keys", "revoke"}, true, "keys revoke ID"},
		{[]string{"keys", "revoke", "abc"}, true, `"abc" is not a key id`},
		{[]string{"keys", "list", "extra"}, true, "unexpected argument"},
		{[]string{"keys", "add", "x", "--user", "nobody"}, false, `no user named "nobody"`},
		{[]string{"keys", "add", ""}, false, "key name"},
		{[]string{"keys", "revoke", "99"}, false, "API key 99: not found"},
	} {
		_, _, err := runIn(t, dir, tc.args...)
		var usage usageError
		if err == nil || errors.As(err, &usage) != tc.usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (usage error: %v), want %q", tc.args, err, errors.As(err, &usage), tc.want)
		}
	}
	if keys, err := openData(t, dir).ListAPIKeys(t.Context()); err != nil || len(keys) != 0 {
		t.Fatalf("%d keys after refused commands, %v", len(keys), err)
	}
}
