// Command focusview measures the server time of the labelling focus view for comparisons of three
// long answers (~1,500 tokens each, with Rust code), read from the page's Server-Timing header.
// "cold" visits comparisons in reverse queue order, so no page was prepared by the visit before it;
// "in queue order" visits them as an annotator does, where each page renders the next comparison's
// answers after it is sent (with a short pause between pages, as a person reading would make).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"rustexpert/generation"
	"rustexpert/handlers"
	"rustexpert/live"
	"rustexpert/render"
	"rustexpert/store"
)

func main() {
	answer := flag.String("answer", filepath.Join("render", "testdata", "long_answer.md"), "a long Markdown answer to vary")
	items := flag.Int("items", 30, "comparisons per phase")
	flag.Parse()
	if err := run(*answer, *items); err != nil {
		log.Fatal(err)
	}
}

func run(answerPath string, items int) error {
	long, err := os.ReadFile(answerPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bench-focusview-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Printf("answer: %d bytes of Markdown, 3 answers per comparison, %d comparisons per phase\n", len(long), items)
	for _, phase := range []string{"cold", "in queue order"} {
		paths, err := seed(ctx, st, string(long), phase, items)
		if err != nil {
			return err
		}
		if phase == "cold" {
			slices.Reverse(paths)
		}
		times, err := visit(st, dir, paths)
		if err != nil {
			return err
		}
		report(phase, times)
	}
	return nil
}

// seed stores one job of three answers for each of n new prompts and returns their page paths in
// queue order. Every answer differs, so no page is served from another page's cache entries.
func seed(ctx context.Context, st *store.Store, long, phase string, n int) ([]string, error) {
	m, err := st.CreateModel(ctx, store.ModelInput{Name: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Endpoint: "http://127.0.0.1:9/v1"})
	if err != nil {
		return nil, err
	}
	tag := fmt.Sprintf("phase%d", time.Now().UnixNano())
	for i := range n {
		in := store.PromptInput{Text: fmt.Sprintf("Prompt %d (%s): why does this `Arc<Mutex<T>>` deadlock?", i, phase), Tags: []string{tag}}
		if _, err := st.CreatePrompt(ctx, in, 0); err != nil {
			return nil, err
		}
	}
	params := []store.Sampling{{Temperature: 0.2, TopP: 1, MaxTokens: 2048}, {Temperature: 0.7, TopP: 1, MaxTokens: 2048}, {Temperature: 1, TopP: 1, MaxTokens: 2048}}
	job, err := st.CreateJob(ctx, store.NewJob{ModelID: m.ID, Filter: store.PromptFilter{Tag: tag}, Params: params})
	if err != nil {
		return nil, err
	}
	tasks, err := st.PendingTasks(ctx, job)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, t := range tasks {
		text := fmt.Sprintf("Answer %d/%d (%s).\n\n%s", t.PromptID, t.Slot, phase, long)
		if err := st.SaveResponse(ctx, store.Response{PromptID: t.PromptID, ModelID: m.ID, JobID: job.ID, Slot: t.Slot, Params: params[t.Slot], Text: text, Tokens: 1500}); err != nil {
			return nil, err
		}
		if t.Slot == 0 {
			paths = append(paths, fmt.Sprintf("/annotate/%d/%d", job.ID, t.PromptID))
		}
	}
	return paths, nil
}

// visit serves the pages from a fresh server (an empty render cache) and returns their server times.
func visit(st *store.Store, dir string, paths []string) ([]time.Duration, error) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := live.NewHub(16)
	app := handlers.New(logger, st, generation.New(st, nil, hub, logger, 1), hub, render.New(), handlers.Config{DataDir: dir})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: app}
	go srv.Serve(ln)
	defer srv.Close()
	cookie, err := session(st)
	if err != nil {
		return nil, err
	}
	var times []time.Duration
	for _, p := range paths {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+p, nil)
		req.Header.Set("Cookie", "rx_session="+cookie)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: status %d", p, res.StatusCode)
		}
		var ms float64
		if _, err := fmt.Sscanf(res.Header.Get("Server-Timing"), "app;dur=%g", &ms); err != nil {
			return nil, fmt.Errorf("Server-Timing %q: %v", res.Header.Get("Server-Timing"), err)
		}
		times = append(times, time.Duration(ms*float64(time.Millisecond)))
		time.Sleep(200 * time.Millisecond)
	}
	return times, nil
}

func session(st *store.Store) (string, error) {
	ctx := context.Background()
	name := fmt.Sprintf("annotator%d", time.Now().UnixNano())
	u, err := st.CreateUser(ctx, name, "benchmark-password", store.RoleAnnotator)
	if err != nil {
		return "", err
	}
	return st.CreateSession(ctx, u.ID, time.Hour)
}

func report(name string, times []time.Duration) {
	first := times[0]
	rest := slices.Clone(times[1:])
	slices.Sort(rest)
	q := func(p float64) time.Duration { return rest[min(len(rest)-1, int(p*float64(len(rest))))] }
	fmt.Printf("%-15s first page %6.2f ms; the other %d: p50 %6.2f ms  p90 %6.2f ms  max %6.2f ms  (target <= 15 ms)\n",
		name, ms(first), len(rest), ms(q(0.5)), ms(q(0.9)), ms(rest[len(rest)-1]))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
