package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"rustexpert/store"
)

func TestAuditPageShowsWhoChangedWhat(t *testing.T) {
	app := newTestApp(t)
	root := app.login("root", store.RoleAdmin) // created by the test through the store: the "system" actor
	if res := root.postForm("/users", url.Values{"name": {"carol"}, "password": {"longenough1"}, "role": {"viewer"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add user: status %d", res.StatusCode)
	}
	carol, _ := app.store.Authenticate(t.Context(), "carol", "longenough1")
	if res := root.postForm(fmt.Sprintf("/users/%d/role", carol.ID), url.Values{"role": {"annotator"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("role: status %d", res.StatusCode)
	}
	if res := root.postForm("/guidelines", url.Values{"guidelines": {"Prefer compiling code."}, "overlap": {"2"}}); res.StatusCode >= 400 {
		t.Fatalf("guidelines: status %d", res.StatusCode)
	}
	if res := root.postForm("/settings/keys", url.Values{"name": {"ci"}}); res.StatusCode >= 400 {
		t.Fatalf("key: status %d", res.StatusCode)
	}

	doc := root.page("/audit")
	var got []string
	testid(doc, "audit-row").Each(func(_ int, s *goquery.Selection) {
		cells := s.Find("td")
		got = append(got, cells.Eq(1).Text()+" "+cells.Eq(2).Text()+" "+cells.Eq(3).Text())
	})
	want := []string{"root apikey.add API key 1 (ci)", "root guidelines.save guidelines",
		fmt.Sprintf("root user.role user %d", carol.ID), fmt.Sprintf("root user.create user %d (carol)", carol.ID), "system user.create user 1 (root)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	doc = root.page("/audit?action=user.&actor=ROOT")
	if n := testid(doc, "audit-row").Length(); n != 2 {
		t.Fatalf("filtered by user.* and root: %d rows, want 2", n)
	}
	if opt := doc.Find(`select[name="action"] option[selected]`).AttrOr("value", ""); opt != "user." {
		t.Fatalf("the filter form shows action %q", opt)
	}
	doc = root.page("/audit?target=carol")
	if n := testid(doc, "audit-row").Length(); n != 1 {
		t.Fatalf("filtered by target: %d rows", n)
	}
	res := root.get("/audit?since=yesterday")
	if body := readAll(t, res); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not a date") {
		t.Fatalf("bad date: status %d", res.StatusCode)
	}
	if res := app.login("ann", store.RoleAnnotator).get("/audit"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("an annotator reads the audit log: status %d", res.StatusCode)
	}
}
