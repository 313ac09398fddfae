package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"rustexpert/store"
)

func TestUsersAdminAddsUserAndChangesRoles(t *testing.T) {
	app := newTestApp(t)
	admin := app.login("root", store.RoleAdmin)

	res := admin.postForm("/users", url.Values{"name": {"carol"}, "password": {"longenough1"}, "role": {"viewer"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: status %d", res.StatusCode)
	}
	doc := admin.page(res.Header.Get("Location"))
	if got := testid(doc, "user-added").Text(); !strings.Contains(got, "carol") {
		t.Fatalf("notice %q", got)
	}
	carol := doc.Find(`[data-testid="user-row"][data-name="carol"]`)
	if got := carol.Find(`select[name="role"] option[selected]`).AttrOr("value", ""); got != "viewer" {
		t.Fatalf("carol's role shows %q", got)
	}
	if _, err := app.store.Authenticate(t.Context(), "carol", "longenough1"); err != nil {
		t.Fatalf("carol cannot log in: %v", err)
	}

	for _, tc := range []struct {
		name, password, want string
	}{
		{"Carol", "longenough1", "already exists"},
		{"dave", "short", "at least 8"},
		{"", "longenough1", "user name"},
	} {
		res := admin.postForm("/users", url.Values{"name": {tc.name}, "password": {tc.password}, "role": {"annotator"}})
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("add %q: status %d, want 422", tc.name, res.StatusCode)
			continue
		}
		doc := parse(t, res)
		if msg := testid(doc, "form-errors").Text(); !strings.Contains(msg, tc.want) {
			t.Errorf("add %q: message %q, want %q", tc.name, msg, tc.want)
		}
		if got := doc.Find(`[data-testid="add-user"] input[name="name"]`).AttrOr("value", ""); got != tc.name {
			t.Errorf("add %q: name field kept %q", tc.name, got)
		}
	}

	carolID := strconv.FormatInt(reviewUserID(t, app, "carol"), 10)
	if res := admin.postForm("/users/"+carolID+"/role", url.Values{"role": {"annotator"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("role change: status %d", res.StatusCode)
	}
	if u, _ := app.store.Authenticate(t.Context(), "carol", "longenough1"); u.Role != store.RoleAnnotator {
		t.Fatalf("carol is %q, want annotator", u.Role)
	}
	if res := admin.postForm("/users/"+carolID+"/role", url.Values{"role": {"owner"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown role: status %d, want 422", res.StatusCode)
	}
	rootID := strconv.FormatInt(reviewUserID(t, app, "root"), 10)
	res = admin.postForm("/users/"+rootID+"/role", url.Values{"role": {"viewer"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("demoting the last admin: status %d, want 422", res.StatusCode)
	}
	if msg := testid(parse(t, res), "form-errors").Text(); !strings.Contains(msg, "last admin") {
		t.Fatalf("message %q", msg)
	}
	if res := admin.postForm("/users/999/role", url.Values{"role": {"viewer"}}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown user: status %d, want 404", res.StatusCode)
	}
}

func TestUsersNeedAdmin(t *testing.T) {
	app := newTestApp(t)
	app.login("root", store.RoleAdmin)
	for _, role := range []string{store.RoleAnnotator, store.RoleViewer} {
		c := app.login("not-admin-"+role, role)
		if res := c.get("/users"); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s GET /users: status %d, want 403", role, res.StatusCode)
		}
		if res := c.postForm("/users", url.Values{"name": {"mallory"}, "password": {"longenough1"}, "role": {"admin"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s POST /users: status %d, want 403", role, res.StatusCode)
		}
		self := strconv.FormatInt(reviewUserID(t, app, "not-admin-"+role), 10)
		if res := c.postForm("/users/"+self+"/role", url.Values{"role": {"admin"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s promoting self: status %d, want 403", role, res.StatusCode)
		}
	}
	users, _ := app.store.ListUsers(t.Context())
	for _, u := range users {
		if u.Name == "mallory" || (u.Name != "root" && u.IsAdmin()) {
			t.Fatalf("a non-admin changed users: %+v", u)
		}
	}
}
