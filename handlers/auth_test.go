package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestFirstRunSetupCreatesAdminOnce(t *testing.T) {
	app := newTestApp(t)
	c := app.newClient()
	if res := c.get("/prompts"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/setup" {
		t.Fatalf("fresh app: got %d → %q, want redirect to /setup", res.StatusCode, res.Header.Get("Location"))
	}
	if res := c.postForm("/setup", url.Values{"name": {"root"}, "password": {"short"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("short password: status %d, want 422", res.StatusCode)
	}
	if res := c.postForm("/setup", url.Values{"name": {"root"}, "password": {"longenough1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: status %d", res.StatusCode)
	}
	doc := c.page("/prompts")
	if got := testid(doc, "whoami").Text(); got != "root (admin)" {
		t.Fatalf("whoami = %q", got)
	}
	other := app.newClient()
	if res := other.postForm("/setup", url.Values{"name": {"evil"}, "password": {"longenough1"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("second setup: status %d, want 403", res.StatusCode)
	}
}

func TestLoginRejectsWrongPassword(t *testing.T) {
	app := newTestApp(t)
	app.login("ann", "annotator")
	c := app.newClient()
	res := c.postForm("/login", url.Values{"name": {"ann"}, "password": {"wrong-password"}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", res.StatusCode)
	}
	if len(res.Cookies()) != 0 {
		t.Fatal("a failed login set a cookie")
	}
}

func TestSessionCookieIsHttpOnly(t *testing.T) {
	app := newTestApp(t)
	app.store.CreateUser(t.Context(), "ann", "password123", "annotator")
	res := app.newClient().postForm("/login", url.Values{"name": {"ann"}, "password": {"password123"}})
	var found bool
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Fatalf("cookie flags: HttpOnly=%v SameSite=%v", c.HttpOnly, c.SameSite)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie")
	}
}

func TestStateChangesNeedTheCSRFToken(t *testing.T) {
	app := newTestApp(t)
	c := app.login("ann", "admin")
	form := url.Values{"text": {"What is a lifetime?"}, "csrf": {"not-the-token"}}
	if res := c.postForm("/prompts", form); res.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong token: status %d, want 403", res.StatusCode)
	}
	// Even with the right token, a cross-site browser request is refused.
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"cross-site"}}
	form.Set("csrf", c.csrf)
	if res := c.do(http.MethodPost, "/prompts", strings.NewReader(form.Encode()), h); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site request: status %d, want 403", res.StatusCode)
	}
	if res := c.postForm("/prompts", url.Values{"text": {"What is a lifetime?"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("right token: status %d, want 303", res.StatusCode)
	}
}

func TestViewerCannotChangeData(t *testing.T) {
	app := newTestApp(t)
	v := app.login("vic", "viewer")
	if res := v.postForm("/prompts", url.Values{"text": {"Explain Pin"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer add: status %d, want 403", res.StatusCode)
	}
	if res := v.get("/prompts"); res.StatusCode != http.StatusOK {
		t.Fatalf("viewer read: status %d", res.StatusCode)
	}
}

func TestLogoutEndsTheSession(t *testing.T) {
	app := newTestApp(t)
	c := app.login("ann", "annotator")
	if res := c.postForm("/logout", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res := c.get("/prompts"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout: status %d, want redirect to login", res.StatusCode)
	}
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	for in, want := range map[string]string{"/prompts?q=x": "/prompts?q=x", "//evil.example/": "/", "https://evil.example/": "/", "": "/"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
