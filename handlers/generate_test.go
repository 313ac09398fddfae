package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gorilla/websocket"

	"rustexpert/generation"
	"rustexpert/inference/openaitest"
	"rustexpert/store"
)

// The model in these tests is openaitest, the in-process OpenAI-protocol TEST SERVER: a stand-in
// that answers with canned text, so the tests exercise the real client, runner, store and HTTP app.

// genSeed registers a model at endpoint and stores the prompts; it returns the model.
func genSeed(t *testing.T, app *testApp, endpoint string, prompts ...string) store.Model {
	t.Helper()
	ctx := context.Background()
	m, err := app.store.CreateModel(ctx, store.ModelInput{Name: "test-model", Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prompts {
		if _, err := app.store.CreatePrompt(ctx, store.PromptInput{Text: p, Category: "borrowck"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// slowModelServer is the openaitest TEST SERVER behind a pause before every request, so that a
// job is still running when a test acts on it. (The runner asks for whole, unstreamed answers,
// which openaitest's TokenDelay does not slow down.) It returns the API base URL.
func slowModelServer(t *testing.T, pause time.Duration) string {
	t.Helper()
	model := openaitest.Handler(openaitest.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(pause):
			model.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// jobForm is a valid new-job form for the model with n answers per prompt.
func jobForm(modelID int64, n int) url.Values {
	f := url.Values{"model": {strconv.FormatInt(modelID, 10)}, "n": {strconv.Itoa(n)}}
	for i := 1; i <= 4; i++ {
		k := strconv.Itoa(i)
		f.Set("temperature_"+k, "0.7")
		f.Set("top_p_"+k, "0.95")
		f.Set("max_tokens_"+k, "256")
	}
	f.Set("seed_1", "42")
	return f
}

// startJob posts the form and returns the id of the job it redirected to.
func startJob(t *testing.T, c *client, form url.Values) int64 {
	t.Helper()
	res := c.postForm("/generate", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /generate: status %d", res.StatusCode)
	}
	loc := res.Header.Get("Location")
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, "/generate/jobs/"), 10, 64)
	if err != nil {
		t.Fatalf("POST /generate redirected to %q", loc)
	}
	return id
}

// runJobs runs the app's job runner until the test ends.
func runJobs(t *testing.T, app *testApp) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		app.runner.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
}

// waitForJob polls the job until ok accepts it.
func waitForJob(t *testing.T, app *testApp, id int64, what string, ok func(store.Job) bool) store.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		job, err := app.store.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(job) {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d: waited in vain for %s; it is %s with %d/%d answers", id, what, job.Status, job.Done, job.Total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jobFinished(j store.Job) bool { return j.Finished() }

func jobPage(id int64) string { return "/generate/jobs/" + strconv.FormatInt(id, 10) }

func TestGenerateJobRunsToTheEnd(t *testing.T) {
	app := newTestApp(t)
	model := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(model.Close)
	// The test server quotes the prompt in its answers, so this one puts markup into untrusted answer text.
	m := genSeed(t, app, model.URL(), "<img src=x onerror=alert(1)> why does this borrow fail?", "Explain lifetimes in structs.")
	c := app.login("ada", store.RoleAdmin)

	doc := c.page("/generate")
	if got := testid(doc, "match-count").Text(); got != "2" {
		t.Errorf("form says %q prompts match, want 2", got)
	}
	if testid(doc, "model-select").Find(`option[value="`+strconv.FormatInt(m.ID, 10)+`"]`).Length() != 1 {
		t.Error("the registered model is not offered")
	}
	res := c.htmx(http.MethodGet, "/generate/count?split=heldout", nil)
	if got := strings.TrimSpace(parse(t, res).Find("#match-count").Text()); got != "0" {
		t.Errorf("held-out count = %q, want 0", got)
	}

	id := startJob(t, c, jobForm(m.ID, 3))
	doc = c.page(jobPage(id))
	if got := testid(doc, "job-count").Text(); got != "0/6 (0%)" {
		t.Errorf("queued job shows %q, want 0/6 (0%%)", got)
	}
	if _, live := testid(doc, "job-progress").Parent().Attr("data-job-progress"); !live {
		t.Error("an unfinished job's page does not follow its progress")
	}

	runJobs(t, app)
	job := waitForJob(t, app, id, "the end", jobFinished)
	if job.Status != store.JobSucceeded || job.Done != 6 {
		t.Fatalf("job ended %s with %d answers, want succeeded with 6", job.Status, job.Done)
	}
	doc = c.page(jobPage(id))
	if got := testid(doc, "job-count").Text(); got != "6/6 (100%)" {
		t.Errorf("finished job shows %q, want 6/6 (100%%)", got)
	}
	if got := testid(doc, "job-status").Text(); got != "succeeded" {
		t.Errorf("status badge says %q", got)
	}
	if _, hidden := testid(doc, "job-done").Attr("hidden"); hidden {
		t.Error("the link to label the answers is hidden")
	}
	if n := testid(doc, "job-answer").Length(); n != 6 {
		t.Errorf("job page lists %d answers, want 6", n)
	}
	if testid(doc, "job-answers").Find("pre").Length() == 0 {
		t.Error("answers are not rendered as Markdown (no code block)")
	}
	if !strings.Contains(testid(doc, "job-answers").Text(), "<img src=x onerror=alert(1)>") || doc.Find("[onerror]").Length() != 0 {
		t.Error("markup of a prompt or answer was not shown as inert text")
	}
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src := s.AttrOr("src", ""); !strings.HasPrefix(src, "/static/") {
			t.Errorf("unexpected script element %q", src)
		}
	})
	if testid(doc, "job-cancel").Length() != 0 || testid(doc, "job-resume").Length() != 0 {
		t.Error("a succeeded job offers cancel or resume")
	}
	if got := testid(doc, "job-settings").Text(); !strings.Contains(got, "all prompts") {
		t.Errorf("settings summary %q does not name the prompts", got)
	}
	list := c.page("/generate")
	row := testid(list, "job-row")
	if row.Length() != 1 || testid(list, "job-count").Text() != "6/6" || row.Find("progress").AttrOr("value", "") != "6" {
		t.Errorf("job list row: %q", row.Text())
	}
}

func wsURL(app *testApp, path string) string {
	return "ws" + strings.TrimPrefix(app.srv.URL, "http") + path
}

func dialJob(c *client, id int64, header http.Header) (*websocket.Conn, *http.Response, error) {
	dialer := websocket.Dialer{Jar: c.http.Jar, HandshakeTimeout: 5 * time.Second}
	return dialer.Dial(wsURL(c.app, "/ws/jobs/"+strconv.FormatInt(id, 10)), header)
}

// readProgress reads messages until the server closes the connection; it returns them and the close code.
func readProgress(t *testing.T, conn *websocket.Conn) ([]generation.Progress, int) {
	t.Helper()
	var got []generation.Progress
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, msg, err := conn.ReadMessage()
		var closed *websocket.CloseError
		if errors.As(err, &closed) {
			return got, closed.Code
		}
		if err != nil {
			t.Fatalf("reading progress: %v (after %d messages)", err, len(got))
		}
		var p generation.Progress
		if err := json.Unmarshal(msg, &p); err != nil {
			t.Fatalf("progress message %q: %v", msg, err)
		}
		got = append(got, p)
	}
}

func TestJobWebsocketStreamsProgressUntilDone(t *testing.T) {
	app := newTestApp(t)
	model := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(model.Close)
	m := genSeed(t, app, model.URL(), "What is a trait object?", "When is Box<dyn Error> right?")
	c := app.login("ada", store.RoleAdmin)
	id := startJob(t, c, jobForm(m.ID, 3))

	conn, _, err := dialJob(c, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, first, err := conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var snap generation.Progress
	json.Unmarshal(first, &snap)
	if snap.JobID != id || snap.Status != store.JobQueued || snap.Done != 0 || snap.Total != 6 {
		t.Fatalf("snapshot = %+v, want job %d queued at 0/6", snap, id)
	}

	runJobs(t, app)
	updates, code := readProgress(t, conn)
	if code != websocket.CloseNormalClosure {
		t.Errorf("close code %d, want %d", code, websocket.CloseNormalClosure)
	}
	if len(updates) == 0 {
		t.Fatal("no progress after the snapshot")
	}
	last := updates[len(updates)-1]
	if last.Status != store.JobSucceeded || last.Done != 6 || last.Total != 6 {
		t.Errorf("last message = %+v, want succeeded at 6/6", last)
	}
	for _, p := range updates[:len(updates)-1] {
		if p.Status != store.JobRunning || p.Done < 1 || p.Done > 6 {
			t.Errorf("progress message %+v is not a running job's", p)
		}
	}

	// A finished job's socket sends the final state and closes.
	again, _, err := dialJob(c, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	final, code := readProgress(t, again)
	if len(final) != 1 || final[0].Status != store.JobSucceeded || final[0].Done != 6 || code != websocket.CloseNormalClosure {
		t.Errorf("finished job's socket sent %+v and closed with %d", final, code)
	}
}

func TestJobWebsocketAsksASlowClientToReconnect(t *testing.T) {
	app := newTestApp(t)
	model := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(model.Close)
	m := genSeed(t, app, model.URL(), "What is a lifetime bound?")
	c := app.login("ada", store.RoleAdmin)
	id := startJob(t, c, jobForm(m.ID, 1))
	conn, _, err := dialJob(c, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}

	// Large messages that the client does not read fill the socket, then the hub's buffer:
	// the hub drops the subscriber, and the server tells the client to come back.
	big, _ := json.Marshal(generation.Progress{JobID: id, Status: store.JobRunning, Total: 1, LastError: strings.Repeat("x", 64<<10)})
	for range 1000 {
		app.hub.Publish(generation.Topic(id), big)
	}
	_, code := readProgress(t, conn)
	if code != websocket.CloseTryAgainLater {
		t.Errorf("close code %d, want %d (try again later)", code, websocket.CloseTryAgainLater)
	}
}

func TestJobWebsocketRefusesStrangers(t *testing.T) {
	app := newTestApp(t)
	model := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(model.Close)
	m := genSeed(t, app, model.URL(), "What does Pin guarantee?")
	c := app.login("ada", store.RoleAdmin)
	id := startJob(t, c, jobForm(m.ID, 1))

	stranger := app.newClient()
	if _, res, err := dialJob(stranger, id, nil); err == nil || res == nil || res.StatusCode == http.StatusSwitchingProtocols {
		t.Errorf("a client without a session got a socket (err %v)", err)
	}
	_, res, err := dialJob(c, id, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site page got a socket (err %v)", err)
	}
	_, res, err = dialJob(c, id+100, nil)
	if err == nil || res == nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("a missing job: err %v", err)
	}
}

func TestCancelStopsARunningJob(t *testing.T) {
	app := newTestApp(t)
	const pause = 150 * time.Millisecond
	m := genSeed(t, app, slowModelServer(t, pause), "Explain Send.", "Explain Sync.", "Explain Unpin.", "Explain Drop order.")
	c := app.login("ada", store.RoleAdmin)
	id := startJob(t, c, jobForm(m.ID, 3))
	runJobs(t, app)
	waitForJob(t, app, id, "two answers", func(j store.Job) bool { return j.Done >= 2 })

	res := c.postForm(jobPage(id)+"/cancel", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: status %d", res.StatusCode)
	}
	// Let answers already being saved land, then check that nothing more is written.
	time.Sleep(3 * pause)
	settled, _ := app.store.Job(context.Background(), id)
	time.Sleep(4 * pause)
	later, _ := app.store.Job(context.Background(), id)
	if later.Status != store.JobCancelled {
		t.Errorf("status %s, want cancelled", later.Status)
	}
	if later.Done != settled.Done || later.Done >= later.Total {
		t.Errorf("answers went from %d to %d of %d after the cancel", settled.Done, later.Done, later.Total)
	}
	doc := c.page(jobPage(id))
	if testid(doc, "job-resume").Length() != 1 || testid(doc, "job-cancel").Length() != 0 {
		t.Error("a cancelled job should offer resume and not cancel")
	}
	if res := c.postForm(jobPage(id)+"/cancel", url.Values{}); res.StatusCode != http.StatusConflict {
		t.Errorf("cancelling twice: status %d, want 409", res.StatusCode)
	}
}

func TestResumeAfterFailureKeepsStoredAnswers(t *testing.T) {
	app := newTestApp(t)
	// Each answer is tried four times (the client retries three times); eight refused requests
	// make at least one answer fail for good.
	model := openaitest.NewServer(openaitest.Options{FailFirst: 8})
	t.Cleanup(model.Close)
	m := genSeed(t, app, model.URL(), "Why is String not Copy?", "What is a fat pointer?")
	c := app.login("ada", store.RoleAdmin)
	id := startJob(t, c, jobForm(m.ID, 3))
	runJobs(t, app)
	failed := waitForJob(t, app, id, "the end", jobFinished)
	if failed.Status != store.JobFailed || failed.Done >= 6 || failed.Errors == 0 {
		t.Fatalf("job ended %s with %d answers and %d errors, want failed with some missing", failed.Status, failed.Done, failed.Errors)
	}
	doc := c.page(jobPage(id))
	if testid(doc, "job-resume").Length() != 1 {
		t.Error("a failed job does not offer resume")
	}
	if got := testid(doc, "job-last-error").Text(); !strings.Contains(got, "resume") {
		t.Errorf("last error %q", got)
	}
	before, err := app.store.LatestJobAnswers(context.Background(), id, 100)
	if err != nil {
		t.Fatal(err)
	}
	requests := model.Requests()

	if res := c.postForm(jobPage(id)+"/resume", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume: status %d", res.StatusCode)
	}
	done := waitForJob(t, app, id, "the end after resuming", jobFinished)
	if done.Status != store.JobSucceeded || done.Done != 6 {
		t.Fatalf("resumed job ended %s with %d answers", done.Status, done.Done)
	}
	if asked := model.Requests() - requests; asked != 6-len(before) {
		t.Errorf("resuming asked the model %d times, want %d (only the missing answers)", asked, 6-len(before))
	}
	after, err := app.store.LatestJobAnswers(context.Background(), id, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 6 {
		t.Errorf("%d responses stored, want 6", len(after))
	}
	kept := map[int64]bool{}
	for _, a := range after {
		kept[a.ID] = true
	}
	for _, b := range before {
		if !kept[b.ID] {
			t.Errorf("answer %d (prompt %d, slot %d) was replaced", b.ID, b.PromptID, b.Slot)
		}
	}
}

func TestGenerateFormShowsEveryProblem(t *testing.T) {
	app := newTestApp(t)
	model := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(model.Close)
	m := genSeed(t, app, model.URL(), "Explain the orphan rule.")
	c := app.login("ada", store.RoleAdmin)

	form := jobForm(m.ID, 1)
	form.Set("model", "")
	form.Set("n", "5")
	form.Set("temperature_1", "3")
	form.Set("seed_2", "lucky")
	res := c.postForm("/generate", form)
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", res.StatusCode)
	}
	doc := parse(t, res)
	msg := testid(doc, "form-errors").Text()
	for _, want := range []string{"model", "choose a model", "answers per prompt", `"5"`, "answer 1 temperature", `"3"`, "answer 2 seed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors %q do not mention %q", msg, want)
		}
	}
	if got := testid(doc, "new-job").Find(`input[name="temperature_1"]`).AttrOr("value", ""); got != "3" {
		t.Errorf("the form lost what was typed: temperature %q", got)
	}

	form = jobForm(m.ID, 2)
	form.Set("tag", "no-such-tag")
	res = c.postForm("/generate", form)
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("empty filter: status %d, want 422", res.StatusCode)
	}
	if msg := testid(parse(t, res), "form-errors").Text(); !strings.Contains(msg, "no prompt matches") {
		t.Errorf("empty filter error %q", msg)
	}
	if jobs, _ := app.store.ListJobs(context.Background(), 10); len(jobs) != 0 {
		t.Errorf("%d jobs were created from invalid forms", len(jobs))
	}
}

func TestGeneratePageWithoutModelsPointsToModels(t *testing.T) {
	app := newTestApp(t)
	c := app.login("ada", store.RoleAdmin)
	doc := c.page("/generate")
	if testid(doc, "no-models").Find(`a[href="/models"]`).Length() != 1 {
		t.Error("no link to /models when no model is registered")
	}
	if testid(doc, "new-job").Length() != 0 {
		t.Error("the job form is shown without any model")
	}
}

func TestGenerateFormPreselectsTheOnlyModel(t *testing.T) {
	app := newTestApp(t)
	c := app.login("ada", store.RoleAdmin)
	ctx := t.Context()
	one, err := app.store.CreateModel(ctx, store.ModelInput{Name: "only", Endpoint: "http://127.0.0.1:9/v1"})
	if err != nil {
		t.Fatal(err)
	}
	selected := func() string {
		return testid(c.page("/generate"), "model-select").Find("option[selected]").AttrOr("value", "")
	}
	if got := selected(); got != strconv.FormatInt(one.ID, 10) {
		t.Fatalf("selected model %q, want the only one (%d)", got, one.ID)
	}
	if _, err := app.store.CreateModel(ctx, store.ModelInput{Name: "second", Endpoint: "http://127.0.0.1:9/v1"}); err != nil {
		t.Fatal(err)
	}
	if got := selected(); got != "" {
		t.Fatalf("with two models, %q is preselected", got)
	}
}

func TestViewerCannotStartOrChangeJobs(t *testing.T) {
	app := newTestApp(t)
	model := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(model.Close)
	m := genSeed(t, app, model.URL(), "Explain interior mutability.")
	admin := app.login("ada", store.RoleAdmin)
	id := startJob(t, admin, jobForm(m.ID, 1))

	viewer := app.login("vic", store.RoleViewer)
	if testid(viewer.page("/generate"), "new-job").Length() != 0 {
		t.Error("a viewer sees the new-job form")
	}
	for _, path := range []string{"/generate", jobPage(id) + "/cancel", jobPage(id) + "/resume", "/models", "/models/1/check"} {
		form := jobForm(m.ID, 1)
		form.Set("name", "other")
		form.Set("endpoint", model.URL())
		if res := viewer.postForm(path, form); res.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: status %d, want 403", path, res.StatusCode)
		}
	}
	annotator := app.login("ann", store.RoleAnnotator)
	if res := annotator.postForm("/models", url.Values{"name": {"other"}, "endpoint": {model.URL()}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("annotator POST /models: status %d, want 403", res.StatusCode)
	}
	if job, _ := app.store.Job(context.Background(), id); job.Status != store.JobQueued {
		t.Errorf("job is %s after refused requests", job.Status)
	}
}

func TestModelsAddDuplicateAndCheck(t *testing.T) {
	app := newTestApp(t)
	model := openaitest.NewServer(openaitest.Options{Models: []string{"qwen-test"}})
	t.Cleanup(model.Close)
	c := app.login("ada", store.RoleAdmin)

	add := url.Values{"name": {"qwen"}, "endpoint": {model.URL()}, "served_name": {"qwen-test"}, "api_key_env": {"QWEN_API_KEY"}}
	if res := c.postForm("/models", add); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add model: status %d", res.StatusCode)
	}
	doc := c.page("/models")
	row := testid(doc, "model-row")
	if row.Length() != 1 || !strings.Contains(row.Text(), model.URL()) || !strings.Contains(row.Text(), "QWEN_API_KEY") {
		t.Fatalf("model list: %q", row.Text())
	}
	if href, _ := row.Find("[data-testid=model-name]").Attr("href"); href != "/models/qwen/card" {
		t.Errorf("model name links to %q, want its card", href)
	}
	if card := c.page("/models/qwen/card"); !strings.Contains(card.Find("h1").Text(), "qwen") {
		t.Errorf("model card heading %q", card.Find("h1").Text())
	}

	res := c.postForm("/models", add)
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("duplicate: status %d, want 422", res.StatusCode)
	}
	if msg := testid(parse(t, res), "form-errors").Text(); !strings.Contains(msg, "exists already") {
		t.Errorf("duplicate error %q", msg)
	}
	key := url.Values{"name": {"other"}, "endpoint": {model.URL()}, "api_key_env": {"sk-live-0123456789"}}
	if res := c.postForm("/models", key); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("an API key pasted as the variable name: status %d, want 422", res.StatusCode)
	}

	qwen, err := app.store.ModelByName(context.Background(), "qwen")
	if err != nil {
		t.Fatal(err)
	}
	res = c.htmx(http.MethodPost, "/models/"+strconv.FormatInt(qwen.ID, 10)+"/check", nil)
	result := testid(parse(t, res), "model-check-result")
	if res.StatusCode != http.StatusOK || !strings.Contains(result.Text(), "qwen-test") || result.Find(".error").Length() != 0 {
		t.Errorf("check against the test server: status %d, %q", res.StatusCode, result.Text())
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/v1"
	dead.Close()
	gone, err := app.store.CreateModel(context.Background(), store.ModelInput{Name: "gone", Endpoint: deadURL})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res = c.postForm("/models/"+strconv.FormatInt(gone.ID, 10)+"/check", url.Values{})
	doc = parse(t, res)
	if res.StatusCode != http.StatusOK || testid(doc, "model-check-result").Find(".error").Length() != 1 {
		t.Errorf("check against a dead URL: status %d, %q", res.StatusCode, testid(doc, "model-check-result").Text())
	}
	if took := time.Since(began); took > 6*time.Second {
		t.Errorf("checking a dead URL took %v", took)
	}
}

func TestJobPageShowsCompileBadges(t *testing.T) {
	app := newTestApp(t)
	_, items := seedComparisons(t, app, []string{"Write a function that sums a slice."}, 2)
	answers, err := app.store.ItemResponses(t.Context(), items[0].JobID, items[0].PromptID)
	if err != nil {
		t.Fatal(err)
	}
	app.store.SaveCheck(t.Context(), store.Check{ResponseID: answers[0].ID, HasCode: true, FirstError: "E0308: mismatched types", Lints: -1})
	c := app.login("ada", store.RoleAdmin)
	doc := c.page(fmt.Sprintf("/generate/jobs/%d", items[0].JobID))
	states := testid(doc, "job-answer").Map(func(_ int, s *goquery.Selection) string {
		return testid(goquery.NewDocumentFromNode(s.Nodes[0]), "check").AttrOr("data-state", "")
	})
	slices.Sort(states)
	if !slices.Equal(states, []string{"fails", "pending"}) {
		t.Fatalf("badges %v, want one failing and one pending", states)
	}
	if !strings.Contains(testid(doc, "check-error").Text(), "E0308") {
		t.Fatal("the first error is not shown")
	}
}

func TestGenerateWithRetrievedDocs(t *testing.T) {
	app := newTestApp(t)
	model := openaitest.NewServer(openaitest.Options{})
	t.Cleanup(model.Close)
	m := genSeed(t, app, model.URL(), "Why can't I push to a Vec while I hold a reference into it?")
	c := app.login("ada", store.RoleAdmin)

	form := jobForm(m.ID, 1)
	form.Set("rag", "on")
	res := c.postForm("/generate", form)
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("+rag without an index: status %d, want 422", res.StatusCode)
	}
	if msg := testid(parse(t, res), "form-errors").Text(); !strings.Contains(msg, "no documentation is indexed") {
		t.Errorf("+rag without an index: errors %q", msg)
	}

	ingestRAGTestdata(t, app)
	id := startJob(t, c, form)
	job, err := app.store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !job.RAG {
		t.Fatal("the job does not answer with retrieved docs")
	}
	res = c.get(jobPage(id))
	if title := parse(t, res).Find("h1").Text(); !strings.Contains(title, m.Name+"+rag") {
		t.Errorf("job page title %q does not name %s+rag", title, m.Name)
	}
}
