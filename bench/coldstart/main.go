// Command coldstart measures the first answer after `serve` starts: the time from sending the first
// streamed /v1/chat/completions request to its first content delta, with the bundled models loaded
// at start (serve's default --preload) and with each model loaded on first use (--preload none),
// alternating, each round a fresh process and data folder. The request goes out -after the server
// prints its address (a user opening the page and typing), so the preloading has that long.
//
// Run from the repository root: go run -tags sqlite_fts5 ./bench/coldstart [-rounds 5 -after 2s]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"rustexpert/bench/internal/appbin"
)

type options struct {
	bin, models, model string
	rounds, maxTokens  int
	after              time.Duration
	promptWords        int
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "the app's binary (default: built from the current folder)")
	flag.StringVar(&o.models, "models", "models", "folder of the bundled models")
	flag.StringVar(&o.model, "model", "base", "the model asked")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds; each starts a server with and one without preloading, in turn")
	flag.IntVar(&o.maxTokens, "max-tokens", 8, "tokens each answer may have")
	flag.IntVar(&o.promptWords, "prompt-words", 120, "words of the question (about 1.6 tokens each)")
	flag.DurationVar(&o.after, "after", 2*time.Second, "wait between the server's address and the request")
	flag.Parse()
	ctx := context.Background()
	bin, cleanup, err := appbin.Binary(ctx, o.bin)
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()
	o.bin = bin
	results := map[string][]time.Duration{}
	modes := []string{"none", "default"}
	for r := range o.rounds {
		for i := range modes {
			mode := modes[(r+i)%2]
			d, err := round(ctx, o, mode)
			if err != nil {
				log.Fatalf("round %d, --preload %s: %v", r+1, mode, err)
			}
			fmt.Printf("round %d  --preload %-7s  first token %7.1f ms\n", r+1, mode, ms(d))
			results[mode] = append(results[mode], d)
		}
	}
	fmt.Println()
	for _, mode := range modes {
		fmt.Printf("--preload %-7s  %s\n", mode, summary(results[mode]))
	}
	fmt.Printf("ratio of means (preloaded / on first use): %.2f\n", mean(results["default"])/mean(results["none"]))
}

// round starts a server with --preload mode on a fresh data folder and times its first answer.
func round(ctx context.Context, o options, preload string) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "bench-coldstart-data-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	key, err := exec.CommandContext(ctx, o.bin, "keys", "add", "bench", "--data", dir, "--models", o.models).Output()
	if err != nil {
		return 0, fmt.Errorf("keys add: %w", err)
	}
	args := []string{"serve", "--data", dir, "--models", o.models, "--addr", "127.0.0.1:0"}
	if preload == "none" {
		args = append(args, "--preload", "none")
	}
	cmd := exec.CommandContext(ctx, o.bin, args...)
	logs, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	base, err := address(logs)
	if err != nil {
		return 0, err
	}
	go io.Copy(io.Discard, logs)
	time.Sleep(o.after)
	return firstToken(ctx, base, strings.TrimSpace(string(key)), o)
}

var servingURL = regexp.MustCompile(`msg=serving url=(\S+)`)

// address reads the server's log up to its "serving" line and returns its URL.
func address(logs io.Reader) (string, error) {
	sc := bufio.NewScanner(logs)
	for sc.Scan() {
		if m := servingURL.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("the server exited before printing its address")
}

// firstToken sends one streamed chat request and returns the time to its first content delta.
func firstToken(ctx context.Context, base, key string, o options) (time.Duration, error) {
	body, _ := json.Marshal(map[string]any{
		"model": o.model, "stream": true, "max_tokens": o.maxTokens, "temperature": 0,
		"messages": []map[string]string{{"role": "user", "content": question(o.promptWords)}},
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(res.Body)
		return 0, fmt.Errorf("%s: %s", res.Status, msg)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"content":"`) {
			d := time.Since(start)
			io.Copy(io.Discard, res.Body)
			return d, nil
		}
	}
	return 0, fmt.Errorf("the stream ended without content")
}

// question is a Rust question of about n words.
func question(n int) string {
	words := strings.Fields("Explain how the borrow checker decides whether this function compiles, " +
		"which lifetimes it infers for the references, and how to fix the error it reports when a " +
		"mutable borrow of a vector overlaps a shared borrow of one of its elements inside a loop.")
	var b strings.Builder
	for i := range n {
		b.WriteString(words[i%len(words)])
		b.WriteByte(' ')
	}
	return b.String()
}

func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("first token: mean %.1f ms, min %.1f, median %.1f, max %.1f (%d rounds)",
		mean(s), ms(s[0]), ms(s[len(s)/2]), ms(s[len(s)-1]), len(s))
}

func mean(ds []time.Duration) float64 {
	var sum float64
	for _, d := range ds {
		sum += ms(d)
	}
	return sum / float64(len(ds))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
