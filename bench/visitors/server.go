package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is the app running in its own process on a free loopback port.
type server struct {
	cmd  *exec.Cmd
	base string
	dir  string // its fresh data folder
	done chan struct{}

	mu       sync.Mutex
	heapMB   float64 // Go heap live after the last collection, from gctrace
	gcs      int     // collections so far
	gcCPU    float64 // percent of the CPU time since the start spent collecting, as gctrace says
	warnings problems
	tail     []string // the last lines of the log other than gctrace's

	stopOnce sync.Once
	stopErr  error
}

// startServer runs bin serve --public (with the extra flags and environment) on a fresh data folder
// and waits for its /healthz.
func startServer(ctx context.Context, bin, models string, extra, env []string) (*server, error) {
	dir, err := os.MkdirTemp("", "bench-visitors-data-")
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--public", "--data", dir, "--models", models, "--addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), env...), "GODEBUG="+withGCTrace(os.Getenv("GODEBUG")))
	logR, logW := io.Pipe()
	cmd.Stderr = logW
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &server{cmd: cmd, dir: dir, done: make(chan struct{}), warnings: newProblems()}
	urls := make(chan string, 1)
	go s.readLog(logR, urls)
	go func() {
		cmd.Wait() // returns once the log is copied, which readLog keeps reading
		logW.Close()
		close(s.done)
	}()
	if err := s.awaitStart(ctx, urls); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func withGCTrace(godebug string) string {
	if godebug == "" {
		return "gctrace=1"
	}
	return godebug + ",gctrace=1"
}

// awaitStart waits for the "serving" line's address and then for /healthz to answer 200.
func (s *server) awaitStart(ctx context.Context, urls <-chan string) error {
	timeout := time.After(2 * time.Minute)
	select {
	case s.base = <-urls:
	case <-s.done:
		return fmt.Errorf("the server exited before serving; its log ends:\n%s", s.logTail())
	case <-timeout:
		return errors.New("the server did not print its address within 2 minutes")
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		res, err := http.Get(s.base + "/healthz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-timeout:
			return fmt.Errorf("%s/healthz did not answer 200 within 2 minutes", s.base)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

var (
	servingURL = regexp.MustCompile(`msg=serving url=(http://\S+)`)
	gcLine     = regexp.MustCompile(`^gc (\d+) @\S+ (\d+)%: .* (\d+)->(\d+)->(\d+) MB`)
	logLevel   = regexp.MustCompile(`level=(WARN|ERROR)`)
)

// readLog follows the server's standard error: its address, the Go heap after each collection,
// and its warnings and errors (the rest of the log goes nowhere).
func (s *server) readLog(r io.Reader, urls chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := gcLine.FindStringSubmatch(line); m != nil {
			s.mu.Lock()
			s.gcs, _ = strconv.Atoi(m[1])
			s.gcCPU, _ = strconv.ParseFloat(m[2], 64)
			s.heapMB, _ = strconv.ParseFloat(m[5], 64)
			s.mu.Unlock()
			continue
		}
		if m := servingURL.FindStringSubmatch(line); m != nil {
			select {
			case urls <- m[1]:
			default:
			}
			continue
		}
		s.mu.Lock()
		s.tail = append(s.tail[max(0, len(s.tail)-19):], line)
		if m := logLevel.FindStringSubmatch(line); m != nil {
			s.warnings.add(m[1], line)
		}
		s.mu.Unlock()
	}
	io.Copy(io.Discard, r)
}

func (s *server) logTail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.tail, "\n")
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// gc is the Go heap live after the last collection in MB (0 before the first), the collections so
// far and the share of CPU time they took.
func (s *server) gc() (heapMB float64, gcs int, gcCPU float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heapMB, s.gcs, s.gcCPU
}

// logs are the server's warnings and errors so far.
func (s *server) logs() problems {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.warnings.clone()
}

// stop shuts the server down (SIGTERM, SIGKILL after 20 s), waits for it and removes its data folder.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
			s.stopErr = errors.New("the server did not stop within 20 s of SIGTERM; killed")
		}
		os.RemoveAll(s.dir)
	})
	return s.stopErr
}

// memSample is the server's memory at one moment.
type memSample struct {
	at      time.Time
	rssMiB  float64 // VmRSS: everything resident, the memory-mapped model weights included
	anonMiB float64 // RssAnon: resident memory not backed by a file (heap, stacks, caches)
	heapMB  float64 // Go heap live after the last collection
	gcs     int     // collections so far
	gcCPU   float64 // percent of CPU time in collections since the start
}

// sampler reads the server's memory every second until stopped.
type sampler struct {
	quit chan struct{}
	once sync.Once
	done chan []memSample
}

func startSampler(s *server) *sampler {
	sm := &sampler{quit: make(chan struct{}), done: make(chan []memSample, 1)}
	go func() {
		var out []memSample
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if m, err := readMemory(s.pid()); err == nil {
				m.heapMB, m.gcs, m.gcCPU = s.gc()
				out = append(out, m)
			}
			select {
			case <-tick.C:
			case <-sm.quit:
				sm.done <- out
				return
			}
		}
	}()
	return sm
}

// stop ends the sampling and returns the samples (nil on later calls).
func (sm *sampler) stop() []memSample {
	var out []memSample
	sm.once.Do(func() {
		close(sm.quit)
		out = <-sm.done
	})
	return out
}

// readMemory reads VmRSS and RssAnon of a process from /proc/PID/status.
func readMemory(pid int) (memSample, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return memSample{}, err
	}
	m := memSample{at: time.Now()}
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "RssAnon") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			return memSample{}, fmt.Errorf("%s: %s: %q is not a number of kB", path, key, value)
		}
		if key == "VmRSS" {
			m.rssMiB = kb / 1024
		} else {
			m.anonMiB = kb / 1024
		}
		found++
	}
	if found != 2 {
		return memSample{}, fmt.Errorf("%s: no VmRSS or RssAnon line", path)
	}
	return m, nil
}
