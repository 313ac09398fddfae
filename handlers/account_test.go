package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"rustexpert/store"
)

// newThrottledApp serves the test app with login throttling on a fake clock.
func newThrottledApp(t *testing.T, clock *fakeClock) *testApp {
	t.Helper()
	app := newTestApp(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(New(log, app.store, app.runner, app.hub, app.md, Config{DataDir: app.dataDir,
		Limits: Limits{LoginFailures: 2, LoginLockout: 30 * time.Second, Clock: clock.now}}))
	t.Cleanup(srv.Close)
	app.srv = srv
	return app
}

func TestLoginThrottleLocksOutAndSaysWhen(t *testing.T) {
	clock := newFakeClock()
	app := newThrottledApp(t, clock)
	app.store.CreateUser(t.Context(), "ada", "password123", store.RoleAnnotator)
	try := func(password string) *http.Response {
		return app.newClient().postForm("/login", url.Values{"name": {"ada"}, "password": {password}})
	}
	for range 3 {
		if res := try("wrong-password"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: status %d", res.StatusCode)
		}
	}
	res := try("password123") // right, but within the lockout
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "30" {
		t.Fatalf("locked out: status %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if body := readAll(t, res); !strings.Contains(body, "too many failed logins; try again in 30 seconds") {
		t.Fatalf("the lockout does not say when to retry: %s", body)
	}
	clock.add(30 * time.Second)
	try("wrong-password") // the fourth failure: twice as long
	if res := try("password123"); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "60" {
		t.Fatalf("second lockout: status %d, Retry-After %q; want 429, 60", res.StatusCode, res.Header.Get("Retry-After"))
	}
	clock.add(time.Minute)
	if res := try("password123"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the lockout: status %d, want a login", res.StatusCode)
	}
	// The success forgets the name's failures, but the IP's stay counted.
	if res := try("wrong-password"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func accountForm(c *client, current, next, again string) *http.Response {
	return c.postForm("/account/password", url.Values{"current": {current}, "new": {next}, "again": {again}})
}

func TestPasswordChangeLogsOutOtherSessions(t *testing.T) {
	app := newTestApp(t)
	ada := app.login("ada", store.RoleAnnotator)
	laptop := app.newClient()
	if res := laptop.postForm("/login", url.Values{"name": {"ada"}, "password": {"password123"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatal("second login failed")
	}
	doc := ada.page("/account")
	if got := testid(doc, "session-count").Text(); !strings.Contains(got, "in 2 sessions") {
		t.Fatalf("session count %q", got)
	}
	for _, c := range []struct{ current, next, again, want string }{
		{"wrong-password", "new-password-1", "new-password-1", "wrong password"},
		{"password123", "new-password-1", "new-password-2", "the two new passwords differ"},
		{"password123", "short", "short", "at least 8 characters"},
	} {
		res := accountForm(ada, c.current, c.next, c.again)
		if body := readAll(t, res); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, c.want) {
			t.Fatalf("%+v: status %d, body lacks %q", c, res.StatusCode, c.want)
		}
	}
	if res := laptop.get("/prompts"); res.StatusCode != http.StatusOK {
		t.Fatalf("failed changes ended the other session: %d", res.StatusCode)
	}
	res := accountForm(ada, "password123", "new-password-1", "new-password-1")
	if body := readAll(t, res); res.StatusCode != http.StatusOK || !strings.Contains(body, "other sessions are logged out") {
		t.Fatalf("change: status %d", res.StatusCode)
	}
	if res := laptop.get("/prompts"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("the other session after the change: status %d, want sent to log in", res.StatusCode)
	}
	ada.page("/prompts") // this session stays
	if _, err := app.store.Authenticate(t.Context(), "ada", "new-password-1"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	rows, _ := app.store.ListAudit(t.Context(), store.AuditFilter{Action: "user.password"})
	if len(rows) != 1 || rows[0].Actor != "ada" {
		t.Fatalf("audit %+v", rows)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	app := newTestApp(t)
	ada := app.login("ada", store.RoleViewer)
	laptop := app.newClient()
	laptop.postForm("/login", url.Values{"name": {"ada"}, "password": {"password123"}})
	res := ada.postForm("/account/logout-all", url.Values{})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("logout everywhere: status %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	for name, c := range map[string]*client{"this browser": ada, "the other": laptop} {
		if res := c.get("/prompts"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s after logout everywhere: status %d", name, res.StatusCode)
		}
	}
	if res := app.newClient().postForm("/account/logout-all", url.Values{}); res.StatusCode == http.StatusSeeOther {
		t.Fatal("logout everywhere without a session did something")
	}
}

func TestIdleDeadlineMovesOnUse(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	app := newThrottledApp(t, clock)
	ada := app.login("ada", store.RoleViewer)
	sessionOf := func() store.Session {
		u, _ := url.Parse(app.srv.URL)
		for _, c := range ada.http.Jar.Cookies(u) {
			if c.Name == sessionCookie {
				s, err := app.store.SessionByToken(t.Context(), c.Value)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}
		t.Fatal("no session cookie")
		return store.Session{}
	}
	first := sessionOf()
	if d := first.ExpiresAt.Sub(first.StartedAt); d < sessionIdle-time.Minute || d > sessionIdle+time.Minute {
		t.Fatalf("a new session lasts %v idle, want %v", d, sessionIdle)
	}
	ada.page("/prompts") // within sessionTouch: no write
	if s := sessionOf(); !s.ExpiresAt.Equal(first.ExpiresAt) {
		t.Fatalf("a request right after login moved the deadline to %v", s.ExpiresAt)
	}
	clock.add(2 * 24 * time.Hour)
	ada.page("/prompts")
	s := sessionOf()
	if want := clock.now().Add(sessionIdle); s.ExpiresAt.Sub(want).Abs() > time.Second {
		t.Fatalf("deadline %v after a use two days on, want %v", s.ExpiresAt, want)
	}
	clock.add(sessionTTL) // past the absolute end: the deadline stops there
	ada.get("/prompts")
	if s := sessionOf(); s.ExpiresAt.After(s.StartedAt.Add(sessionTTL)) {
		t.Fatalf("deadline %v past the absolute end %v", s.ExpiresAt, s.StartedAt.Add(sessionTTL))
	}
}
