package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"rustexpert/inference/openaitest"
)

func TestRunAnnouncesAndServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reader, writer := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", openaitest.Handler(openaitest.Options{}), writer)
		writer.Close()
	}()

	lines := bufio.NewScanner(reader)
	if !lines.Scan() {
		t.Fatalf("no announcement: %v", <-done)
	}
	match := regexp.MustCompile(`^listening on (http://127\.0\.0\.1:\d+/v1)$`).FindStringSubmatch(lines.Text())
	if match == nil {
		t.Fatalf("announcement %q does not match", lines.Text())
	}
	resp, err := http.Get(match[1] + "/models")
	if err != nil {
		t.Fatalf("GET models: %v", err)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || len(list.Data) == 0 {
		t.Fatalf("model list %+v, err %v", list, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if lines.Scan() {
		t.Errorf("unexpected extra output %q", lines.Text())
	}
}
