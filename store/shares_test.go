package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"
)

// shareFixture is a store with an admin (root), two viewers (ada, bob) and a chat of ada.
type shareFixture struct {
	st             *Store
	root, ada, bob User
	chat           Chat
}

func newShareFixture(t *testing.T) shareFixture {
	t.Helper()
	st, ada, models := chatFixture(t)
	ctx := t.Context()
	root, err := st.CreateUser(ctx, "root", "password123", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := st.CreateUser(ctx, "bob", "password123", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := st.CreateChat(ctx, ada.ID, "How do I borrow twice?", []int64{models[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	return shareFixture{st: st, root: root, ada: ada, bob: bob, chat: chat}
}

// as is a context whose changes the audit log puts on u.
func as(t *testing.T, u User) context.Context {
	return WithActor(t.Context(), Actor{UserID: u.ID, Name: u.Name})
}

func auditRows(t *testing.T, st *Store, action string) []AuditEntry {
	t.Helper()
	rows, err := st.ListAudit(t.Context(), AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestShareCreateLookUpAndRevoke(t *testing.T) {
	f := newShareFixture(t)
	ctx := t.Context()
	before := time.Now()
	sh, err := f.st.CreateShare(as(t, f.ada), ShareInput{Kind: ShareRun, Target: " 7 ", Title: "Run 7 · sft", CreatedBy: f.ada.ID})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sh.Token)
	if err != nil || len(raw) != 24 || len(sh.Token) != 32 {
		t.Fatalf("token %q is not 24 bytes of base64url (%v)", sh.Token, err)
	}
	if sh.Kind != ShareRun || sh.Target != "7" || sh.Title != "Run 7 · sft" || sh.CreatedBy != f.ada.ID || sh.CreatedByName != "ada" ||
		sh.CreatedAt.Before(before.Add(-time.Second)) || !sh.ExpiresAt.IsZero() || !sh.RevokedAt.IsZero() || sh.Views != 0 {
		t.Fatalf("created %+v", sh)
	}
	other, err := f.st.CreateShare(ctx, ShareInput{Kind: ShareRun, Target: "7", CreatedBy: f.ada.ID})
	if err != nil || other.Token == sh.Token {
		t.Fatalf("a second link of the same run: %+v, %v (tokens must differ)", other, err)
	}

	got, err := f.st.ShareByToken(ctx, sh.Token)
	if err != nil || got != sh {
		t.Fatalf("by token: %+v, %v; want %+v", got, err, sh)
	}
	for _, wrong := range []string{"", sh.Token + "x", sh.Token[:31], "../" + sh.Token} {
		if _, err := f.st.ShareByToken(ctx, wrong); !errors.Is(err, ErrNotFound) {
			t.Errorf("token %q: %v, want ErrNotFound", wrong, err)
		}
	}
	created := auditRows(t, f.st, "share.create")
	if len(created) != 2 || created[1].Actor != "ada" || created[1].ActorID != f.ada.ID || created[1].Target != "share "+strconv.FormatInt(sh.ID, 10)+" (run 7)" {
		t.Fatalf("audit rows of creation: %+v", created)
	}

	// bob may not revoke ada's link: it is not found for him, and stays live.
	if _, err := f.st.RevokeShare(as(t, f.bob), sh.ID, f.bob); !errors.Is(err, ErrNotFound) {
		t.Errorf("another viewer revokes: %v, want ErrNotFound", err)
	}
	if _, err := f.st.ShareByToken(ctx, sh.Token); err != nil {
		t.Fatalf("after a refused revoke: %v", err)
	}
	revoked, err := f.st.RevokeShare(as(t, f.root), sh.ID, f.root)
	if err != nil || revoked.RevokedAt.IsZero() || revoked.RevokedBy != f.root.ID || revoked.RevokedByName != "root" {
		t.Fatalf("admin revokes: %+v, %v", revoked, err)
	}
	gone, err := f.st.ShareByToken(ctx, sh.Token)
	if !errors.Is(err, ErrGone) || errors.Is(err, ErrNotFound) || gone.ID != sh.ID || gone.State(time.Now()) != ShareRevoked {
		t.Fatalf("revoked link: %+v, %v; want the share with ErrGone", gone, err)
	}
	// Revoking again changes nothing and writes no second audit row.
	again, err := f.st.RevokeShare(as(t, f.ada), sh.ID, f.ada)
	if err != nil || !again.RevokedAt.Equal(revoked.RevokedAt) || again.RevokedBy != f.root.ID {
		t.Fatalf("revoke again: %+v, %v", again, err)
	}
	rows := auditRows(t, f.st, "share.revoke")
	if len(rows) != 1 || rows[0].Actor != "root" {
		t.Fatalf("audit rows of revocation: %+v", rows)
	}
	var details map[string]any
	if err := json.Unmarshal([]byte(rows[0].Details), &details); err != nil || details["kind"] != "run" || details["state_before"] != "live" {
		t.Errorf("revocation details %s (%v)", rows[0].Details, err)
	}
	if _, err := f.st.RevokeShare(ctx, 999, f.root); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke a missing link: %v, want ErrNotFound", err)
	}
	if _, err := f.st.ShareByToken(ctx, other.Token); err != nil {
		t.Errorf("the other link of the run went with the revoked one: %v", err)
	}
}

func TestShareExpiry(t *testing.T) {
	f := newShareFixture(t)
	ctx := t.Context()
	past := time.Now().Add(-time.Minute)
	expired, err := f.st.CreateShare(ctx, ShareInput{Kind: ShareLeaderboard, CreatedBy: f.ada.ID, ExpiresAt: past})
	if err != nil {
		t.Fatal(err)
	}
	if !expired.ExpiresAt.Equal(past) || expired.Target != "" {
		t.Fatalf("expiry %v, target %q; want %v and the empty category", expired.ExpiresAt, expired.Target, past)
	}
	got, err := f.st.ShareByToken(ctx, expired.Token)
	if !errors.Is(err, ErrGone) || got.State(time.Now()) != ShareExpired {
		t.Fatalf("expired link: state %q, %v; want expired, ErrGone", got.State(time.Now()), err)
	}
	future := time.Now().Add(24 * time.Hour)
	live, err := f.st.CreateShare(ctx, ShareInput{Kind: ShareLeaderboard, Target: "errors", CreatedBy: f.ada.ID, ExpiresAt: future})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.ShareByToken(ctx, live.Token); err != nil {
		t.Fatalf("a link that expires tomorrow: %v", err)
	}
	for at, want := range map[time.Time]string{future.Add(-time.Nanosecond): ShareLive, future: ShareExpired, future.Add(time.Hour): ShareExpired} {
		if got := live.State(at); got != want {
			t.Errorf("state at %v: %s, want %s", at, got, want)
		}
	}
	// Revocation outranks expiry.
	revoked, err := f.st.RevokeShare(ctx, expired.ID, f.ada)
	if err != nil || revoked.State(time.Now()) != ShareRevoked {
		t.Fatalf("revoke an expired link: %+v, %v", revoked, err)
	}
}

func TestShareListAndViews(t *testing.T) {
	f := newShareFixture(t)
	ctx := t.Context()
	a1, _ := f.st.CreateShare(ctx, ShareInput{Kind: ShareRun, Target: "1", CreatedBy: f.ada.ID})
	b1, _ := f.st.CreateShare(ctx, ShareInput{Kind: ShareEvalReport, Target: "run=1&run=2", CreatedBy: f.bob.ID})
	a2, err := f.st.CreateShare(ctx, ShareInput{Kind: ShareRun, Target: "2", CreatedBy: f.ada.ID})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(list []Share) []int64 {
		var out []int64
		for _, sh := range list {
			out = append(out, sh.ID)
		}
		return out
	}
	for name, c := range map[string]struct {
		filter ShareFilter
		want   []int64
	}{
		"all":         {ShareFilter{}, []int64{a2.ID, b1.ID, a1.ID}},
		"ada's":       {ShareFilter{CreatedBy: f.ada.ID}, []int64{a2.ID, a1.ID}},
		"run 1":       {ShareFilter{Kind: ShareRun, Target: "1"}, []int64{a1.ID}},
		"bob's run 1": {ShareFilter{CreatedBy: f.bob.ID, Kind: ShareRun, Target: "1"}, nil},
		"limit":       {ShareFilter{Limit: 1}, []int64{a2.ID}},
	} {
		list, err := f.st.ListShares(ctx, c.filter)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := ids(list); !equalIDs(got, c.want) {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}

	for range 2 {
		if err := f.st.RecordShareView(ctx, b1.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.st.Share(ctx, b1.ID)
	if err != nil || got.Views != 2 || got.LastViewedAt.IsZero() || got.Target != "run=1&run=2" {
		t.Fatalf("after two views: %+v, %v", got, err)
	}
	if other, _ := f.st.Share(ctx, a1.ID); other.Views != 0 || !other.LastViewedAt.IsZero() {
		t.Errorf("views counted on another link: %+v", other)
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestShareRefusesBadInput(t *testing.T) {
	f := newShareFixture(t)
	ctx := t.Context()
	for name, in := range map[string]ShareInput{
		"kind":         {Kind: "prompt", Target: "1", CreatedBy: f.ada.ID},
		"empty target": {Kind: ShareRun, Target: "  ", CreatedBy: f.ada.ID},
		"long target":  {Kind: ShareEvalReport, Target: string(make([]byte, 2000)), CreatedBy: f.ada.ID},
		"no user":      {Kind: ShareRun, Target: "1"},
		"unknown user": {Kind: ShareRun, Target: "1", CreatedBy: 999},
		"chat id":      {Kind: ShareChat, Target: "first", CreatedBy: f.ada.ID},
	} {
		if _, err := f.st.CreateShare(ctx, in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := f.st.CreateShare(ctx, ShareInput{Kind: ShareChat, Target: "999", CreatedBy: f.ada.ID}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing chat: %v, want ErrNotFound", err)
	}
	if list, _ := f.st.ListShares(ctx, ShareFilter{}); len(list) != 0 {
		t.Errorf("%d links after refused input, want none", len(list))
	}
	if rows := auditRows(t, f.st, "share."); len(rows) != 0 {
		t.Errorf("%d audit rows after refused input, want none", len(rows))
	}
}

// A chat's current link (shown on the chat page) is its newest live link.
func TestShareChatKeepsTheChatsLink(t *testing.T) {
	f := newShareFixture(t)
	ctx := t.Context()
	target := strconv.FormatInt(f.chat.ID, 10)
	link := func() string {
		t.Helper()
		c, err := f.st.UserChat(ctx, f.ada.ID, f.chat.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c.ShareToken
	}
	first, err := f.st.CreateShare(ctx, ShareInput{Kind: ShareChat, Target: target, Title: f.chat.Title, CreatedBy: f.ada.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := link(); got != first.Token {
		t.Fatalf("chat link %q, want %q", got, first.Token)
	}
	second, err := f.st.CreateShare(ctx, ShareInput{Kind: ShareChat, Target: target, CreatedBy: f.ada.ID, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := link(); got != second.Token {
		t.Fatalf("chat link %q, want the newer %q", got, second.Token)
	}
	if _, err := f.st.RevokeShare(ctx, second.ID, f.ada); err != nil {
		t.Fatal(err)
	}
	if got := link(); got != first.Token {
		t.Fatalf("after revoking the newer link the chat's link is %q, want %q", got, first.Token)
	}
	if _, err := f.st.RevokeShare(ctx, first.ID, f.root); err != nil {
		t.Fatal(err)
	}
	if got := link(); got != "" {
		t.Fatalf("after revoking every link the chat's link is %q", got)
	}
}

// Links made before the shares table (chats.share_token) move into it and keep working.
func TestMigrationMovesChatShareTokens(t *testing.T) {
	f := newShareFixture(t)
	ctx := t.Context()
	token, err := f.st.ShareChat(ctx, f.chat.ID) // the old way: the token on the chat alone
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.ShareByToken(ctx, token); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before the migration runs again: %v, want ErrNotFound", err)
	}
	for _, q := range []string{`DROP TABLE shares`, `DELETE FROM schema_migrations WHERE name = '0018_shares.sql'`} {
		if _, err := f.st.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sh, err := f.st.ShareByToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if sh.Kind != ShareChat || sh.Target != strconv.FormatInt(f.chat.ID, 10) || sh.Title != f.chat.Title || sh.CreatedBy != f.ada.ID ||
		!sh.CreatedAt.Equal(f.chat.CreatedAt) || !sh.ExpiresAt.IsZero() {
		t.Fatalf("moved link %+v", sh)
	}
	if _, err := f.st.RevokeShare(ctx, sh.ID, f.ada); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.st.UserChat(ctx, f.ada.ID, f.chat.ID); c.ShareToken != "" {
		t.Errorf("a revoked moved link stays the chat's link %q", c.ShareToken)
	}
}
