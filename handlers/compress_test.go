package handlers

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"rustexpert/static"
)

// getEncoded fetches path through the app asking for the encoding (the client's own
// decompression off) and returns the response and its body as sent.
func getEncoded(t *testing.T, a *testApp, path, encoding string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", encoding)
	res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Pages and static files go out compressed to a browser that accepts gzip, the same bytes once
// decompressed; small responses and clients that do not accept it get them as they are.
func TestResponsesCompressed(t *testing.T) {
	a := newTestApp(t)
	want, err := static.FS.ReadFile("vendor/htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	res, body := getEncoded(t, a, "/static/vendor/htmx.min.js", "gzip")
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("htmx.min.js: Content-Encoding %q, Vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	if got := gunzip(t, body); string(got) != string(want) {
		t.Fatalf("htmx.min.js decompressed to %d bytes, the file has %d", len(got), len(want))
	}
	if len(body) > len(want)/2 {
		t.Errorf("htmx.min.js: %d bytes compressed of %d", len(body), len(want))
	}
	if res, _ := getEncoded(t, a, "/login", "gzip"); res.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("/login page: Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	res, body = getEncoded(t, a, "/static/vendor/htmx.min.js", "identity")
	if res.Header.Get("Content-Encoding") != "" || string(body) != string(want) {
		t.Errorf("without gzip: Content-Encoding %q, %d bytes", res.Header.Get("Content-Encoding"), len(body))
	}
	if res, _ := getEncoded(t, a, "/healthz", "gzip"); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("/healthz (a few bytes): Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
}

// An event stream is neither compressed nor held back: its first event reaches the client while
// the handler still runs.
func TestEventStreamsNotCompressed(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(compressResponses(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: "+strings.Repeat("x", 4000)+"\n\n")
		http.NewResponseController(w).Flush()
		<-release
	})))
	defer srv.Close()
	defer close(release)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ce := res.Header.Get("Content-Encoding"); ce != "" {
		t.Fatalf("event stream sent with Content-Encoding %q", ce)
	}
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: xxx") {
		t.Fatalf("first event: %q, %v", line[:min(len(line), 20)], err)
	}
}
