package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openAuditStore(t *testing.T) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestAuditRowsFollowAdminChanges(t *testing.T) {
	st := openAuditStore(t)
	ctx := context.Background()
	root, err := st.CreateUser(ctx, "root", "password123", RoleAdmin) // no actor: the server itself
	if err != nil {
		t.Fatal(err)
	}
	admin := WithActor(ctx, Actor{UserID: root.ID, Name: "root"})
	ada, err := st.CreateUser(admin, "ada", "password123", RoleAnnotator)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetUserRole(admin, ada.ID, RoleViewer); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateModel(WithActor(ctx, CLIActor), ModelInput{Name: "m1", Endpoint: "http://localhost:9/v1", ServedName: "x"}); err != nil {
		t.Fatal(err)
	}
	key, _, err := st.CreateAPIKey(admin, "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeAPIKey(admin, key.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveGuidelines(admin, Guidelines{Text: "be kind", Overlap: 2}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSetting(admin, "arena_daily_cap", "5"); err != nil {
		t.Fatal(err)
	}
	rows, err := st.ListAudit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ actor, action, target string }{
		{"root", "setting.set", "setting arena_daily_cap"},
		{"root", "guidelines.save", "guidelines"},
		{"root", "apikey.revoke", "API key 1"},
		{"root", "apikey.add", "API key 1 (ci)"},
		{"cli", "model.add", "(m1)"},
		{"root", "user.role", "user 2"},
		{"root", "user.create", "user 2 (ada)"},
		{"system", "user.create", "user 1 (root)"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d audit rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		if r.Actor != w.actor || r.Action != w.action || !strings.Contains(r.Target, w.target) {
			t.Errorf("row %d: %s %s %q, want %s %s %q", i, r.Actor, r.Action, r.Target, w.actor, w.action, w.target)
		}
		var details map[string]any
		if err := json.Unmarshal([]byte(r.Details), &details); err != nil {
			t.Errorf("row %d details %q: %v", i, r.Details, err)
		}
	}
	if rows[5].ActorID != root.ID || rows[0].At.IsZero() {
		t.Errorf("actor id %d (want %d), time %v", rows[5].ActorID, root.ID, rows[0].At)
	}
	if !strings.Contains(rows[5].Details, `"role":"viewer"`) || !strings.Contains(rows[0].Details, `"value":"5"`) {
		t.Errorf("details %s / %s", rows[5].Details, rows[0].Details)
	}
}

func TestAuditFailedChangeLeavesNoRow(t *testing.T) {
	st := openAuditStore(t)
	ctx := WithActor(context.Background(), Actor{Name: "root"})
	if err := st.SetUserRole(ctx, 99, RoleViewer); err == nil {
		t.Fatal("changed the role of a user who does not exist")
	}
	if _, err := st.CreateUser(ctx, "ada", "password123", RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, "ADA", "password123", RoleAdmin); err == nil {
		t.Fatal("a duplicate user was created")
	}
	rows, err := st.ListAudit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Action != "user.create" {
		t.Fatalf("rows %+v, want only the one user created", rows)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	st := openAuditStore(t)
	ctx := context.Background()
	if err := st.RecordAudit(ctx, "run.cancel", "run 1", map[string]any{"was": "running"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.write.ExecContext(ctx, `UPDATE audit_log SET actor = 'someone else'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("update: %v, want refused as append-only", err)
	}
	if _, err := st.write.ExecContext(ctx, `DELETE FROM audit_log`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("delete: %v, want refused as append-only", err)
	}
}

func TestListAuditFilters(t *testing.T) {
	st := openAuditStore(t)
	ctx := context.Background()
	as := func(name string) context.Context { return WithActor(ctx, Actor{Name: name}) }
	for i, e := range []struct{ actor, action, target string }{
		{"root", "user.create", "user 2 (ada)"}, {"root", "user.role", "user 2"}, {"bob", "apikey.add", "API key 1 (ci)"},
		{"Root", "run.start", "run 7"}, {"bob", "user.role", "user 3"},
	} {
		if err := st.RecordAudit(as(e.actor), e.action, e.target, map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(f AuditFilter) []string {
		rows, err := st.ListAudit(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r.Action+"@"+r.Target)
		}
		return out
	}
	cases := []struct {
		f    AuditFilter
		want string
	}{
		{AuditFilter{Actor: "root"}, "run.start@run 7,user.role@user 2,user.create@user 2 (ada)"},
		{AuditFilter{Action: "user."}, "user.role@user 3,user.role@user 2,user.create@user 2 (ada)"},
		{AuditFilter{Action: "user.role", Actor: "bob"}, "user.role@user 3"},
		{AuditFilter{Target: "user 2"}, "user.role@user 2,user.create@user 2 (ada)"},
		{AuditFilter{Limit: 2}, "user.role@user 3,run.start@run 7"},
		{AuditFilter{BeforeID: 4, Limit: 2}, "apikey.add@API key 1 (ci),user.role@user 2"},
		{AuditFilter{Since: time.Now().Add(time.Hour)}, ""},
		{AuditFilter{Until: time.Now().Add(time.Hour), Action: "run."}, "run.start@run 7"},
	}
	for _, c := range cases {
		if got := strings.Join(count(c.f), ","); got != c.want {
			t.Errorf("%+v: %s, want %s", c.f, got, c.want)
		}
	}
	actions, err := st.AuditActions(ctx)
	if err != nil || strings.Join(actions, ",") != "apikey.add,run.start,user.create,user.role" {
		t.Fatalf("actions %v, %v", actions, err)
	}
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	st := openAuditStore(t)
	ctx := context.Background()
	u, _ := st.CreateUser(ctx, "ada", "password123", RoleAnnotator)
	keep, _ := st.CreateSession(ctx, u.ID, time.Hour)
	other, _ := st.CreateSession(ctx, u.ID, time.Hour)
	if _, err := st.SessionByToken(ctx, other); err != nil {
		t.Fatal(err) // cached now: the change must evict it
	}
	if err := st.ChangePassword(ctx, u.ID, "wrong-password", "new-password-1", keep); err != ErrUnauthorized {
		t.Fatalf("wrong current password: %v", err)
	}
	if err := st.ChangePassword(ctx, u.ID, "password123", "short", keep); err == nil {
		t.Fatal("a short new password was taken")
	}
	if err := st.ChangePassword(ctx, u.ID, "password123", "new-password-1", keep); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SessionByToken(ctx, other); err != ErrUnauthorized {
		t.Fatalf("the other session: %v, want ended", err)
	}
	if _, err := st.SessionByToken(ctx, keep); err != nil {
		t.Fatalf("the changing session: %v, want kept", err)
	}
	if _, err := st.Authenticate(ctx, "ada", "password123"); err != ErrUnauthorized {
		t.Fatal("the old password still works")
	}
	if _, err := st.Authenticate(ctx, "ada", "new-password-1"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	n, err := st.DeleteUserSessions(ctx, u.ID)
	if err != nil || n != 1 {
		t.Fatalf("log out everywhere: %d, %v", n, err)
	}
	if _, err := st.SessionByToken(ctx, keep); err != ErrUnauthorized {
		t.Fatal("a session outlived log out everywhere")
	}
	rows, _ := st.ListAudit(ctx, AuditFilter{Action: "user."})
	if len(rows) != 3 || rows[0].Action != "user.logout_all" || rows[1].Action != "user.password" {
		t.Fatalf("audit rows %+v", rows)
	}
}

func TestExtendSessionMovesTheIdleDeadline(t *testing.T) {
	st := openAuditStore(t)
	ctx := context.Background()
	u, _ := st.CreateUser(ctx, "ada", "password123", RoleAnnotator)
	token, _ := st.CreateSession(ctx, u.ID, time.Hour)
	s1, err := st.SessionByToken(ctx, token)
	if err != nil || s1.StartedAt.IsZero() {
		t.Fatalf("session %+v, %v", s1, err)
	}
	until := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	if err := st.ExtendSession(ctx, token, until); err != nil {
		t.Fatal(err)
	}
	s2, err := st.SessionByToken(ctx, token)
	if err != nil || !s2.ExpiresAt.Equal(until) {
		t.Fatalf("after extending: %v, %v; want expiry %v", s2.ExpiresAt, err, until)
	}
	expired, _ := st.CreateSession(ctx, u.ID, -time.Second)
	if _, err := st.SessionByToken(ctx, expired); err != ErrUnauthorized {
		t.Fatalf("an idle-expired session: %v", err)
	}
	if err := st.ExtendSession(ctx, expired, until); err != ErrUnauthorized {
		t.Fatalf("extending an ended session: %v, want ErrUnauthorized", err)
	}
}
