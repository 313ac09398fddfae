package handlers

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"rustexpert/store"
)

func TestAPIKeysPageMakesShowsOnceAndRevokes(t *testing.T) {
	a := newAPIApp(t, nil)
	admin := a.login("root", store.RoleAdmin)
	a.login("alice", store.RoleAnnotator)
	aliceID := strconv.FormatInt(reviewUserID(t, a.testApp, "alice"), 10)

	doc := admin.page("/settings/keys")
	if doc.Find(`nav a[href="/settings/keys"]`).Length() != 1 || !strings.HasSuffix(testid(doc, "api-base").Text(), "/v1") {
		t.Fatal("the page lacks its nav link or the API's address")
	}
	if testid(doc, "key-list").Length() != 1 || testid(doc, "key-row").Length() != 1 {
		t.Fatalf("%d key rows, want the test app's one", testid(doc, "key-row").Length())
	}

	res := admin.postForm("/settings/keys", url.Values{"name": {"alice's editor"}, "user": {aliceID}})
	if res.StatusCode != http.StatusCreated || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("make key: status %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	doc = parse(t, res)
	secret := strings.TrimSpace(testid(doc, "new-key-secret").Text())
	if !strings.HasPrefix(secret, store.APIKeyPrefix) {
		t.Fatalf("the new key is not shown: %q", secret)
	}
	if got := a.call(http.MethodGet, "/v1/models", secret, ""); got.StatusCode != http.StatusOK {
		t.Fatalf("the new key does not work: status %d", got.StatusCode)
	}

	list := admin.get("/settings/keys")
	body, _ := io.ReadAll(list.Body)
	if list.StatusCode != http.StatusOK || strings.Contains(string(body), secret) {
		t.Fatalf("status %d; the key's secret is shown again", list.StatusCode)
	}
	doc = admin.page("/settings/keys")
	row := doc.Find(`[data-testid="key-row"]`).First()
	if cells := row.Find("td"); cells.Eq(0).Text() != "alice's editor" || cells.Eq(1).Text() != secret[:9]+"…" || cells.Eq(2).Text() != "alice" {
		t.Fatalf("new key's row: %q", row.Text())
	}

	res = admin.postForm("/settings/keys/"+row.AttrOr("data-id", "")+"/revoke", url.Values{})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/keys" {
		t.Fatalf("revoke: status %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got := a.call(http.MethodGet, "/v1/models", secret, ""); got.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the revoked key still works: status %d", got.StatusCode)
	}
	doc = admin.page("/settings/keys")
	if testid(doc, "key-revoked").Length() != 1 || testid(doc, "key-revoke").Length() != 1 {
		t.Fatalf("%d revoked and %d revocable keys, want 1 and 1", testid(doc, "key-revoked").Length(), testid(doc, "key-revoke").Length())
	}
	if res := admin.postForm("/settings/keys/999/revoke", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("revoke an unknown key: status %d", res.StatusCode)
	}
}

func TestAPIKeysPageRefusesBadInput(t *testing.T) {
	a := newAPIApp(t, nil)
	admin := a.login("root", store.RoleAdmin)
	for _, tc := range []struct{ name, user, want string }{
		{"", "", "key name"},
		{"ok", "abc", "not a user id"},
		{"ok", "999", "no user with id 999"},
	} {
		res := admin.postForm("/settings/keys", url.Values{"name": {tc.name}, "user": {tc.user}})
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%+v: status %d, want 422", tc, res.StatusCode)
			continue
		}
		doc := parse(t, res)
		if msg := testid(doc, "form-errors").Text(); !strings.Contains(msg, tc.want) || testid(doc, "new-key").Length() != 0 {
			t.Errorf("%+v: message %q, want %q and no key", tc, msg, tc.want)
		}
	}
	if keys, _ := a.store.ListAPIKeys(t.Context()); len(keys) != 1 {
		t.Fatalf("%d keys after refused input, want the test app's one", len(keys))
	}
}

func TestAPIKeysPageIsForAdmins(t *testing.T) {
	a := newAPIApp(t, nil)
	a.login("root", store.RoleAdmin)
	for _, role := range []string{store.RoleAnnotator, store.RoleViewer} {
		c := a.login("u-"+role, role)
		if res := c.get("/settings/keys"); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s views keys: status %d", role, res.StatusCode)
		}
		if res := c.postForm("/settings/keys", url.Values{"name": {"mine"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s makes a key: status %d", role, res.StatusCode)
		}
		if doc := c.page("/prompts"); doc.Find(`nav a[href="/settings/keys"]`).Length() != 0 {
			t.Errorf("%s sees the API keys link", role)
		}
	}
	if res := a.newClient().get("/settings/keys"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("logged out: status %d, want a redirect to log in", res.StatusCode)
	}
	// The page is a browser route: a form post without the session's CSRF token is refused.
	admin := a.login("root2", store.RoleAdmin)
	admin.csrf = ""
	if res := admin.postForm("/settings/keys", url.Values{"name": {"x"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("post without CSRF token: status %d", res.StatusCode)
	}
	if keys, _ := a.store.ListAPIKeys(t.Context()); len(keys) != 1 {
		t.Fatalf("%d keys, want the test app's one", len(keys))
	}
}
