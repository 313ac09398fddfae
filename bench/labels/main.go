// Command labels measures label submission under many concurrent annotators on loopback: each
// annotator posts the focus view's form (best/worst/verdict) to POST /annotate/{job}/{prompt}, as the
// browser does, to the real app on a real SQLite file. The app runs in its own process (this program
// started again), as a server would, so the load generator's goroutines and garbage collector do not
// pause it. In the same run and on the same server it measures a trivial handler as the baseline.
// Loops are bounded in time and count and stop by themselves.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"rustexpert/generation"
	"rustexpert/handlers"
	"rustexpert/live"
	"rustexpert/render"
	"rustexpert/sheet"
	"rustexpert/store"
	"rustexpert/tuning"
)

type annotator struct {
	cookie string
	csrf   string
}

type item struct {
	job, prompt int64
	a, b        int64
}

func main() {
	users := flag.Int("annotators", 200, "concurrent annotators")
	prompts := flag.Int("prompts", 1000, "comparisons to label")
	duration := flag.Duration("duration", 10*time.Second, "how long each phase runs")
	maxRequests := flag.Int("max", 200_000, "upper bound on requests per phase")
	rate := flag.Float64("rate", 3000, "offered submissions per second, over all annotators, in the fixed-rate phases")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the server process to this file")
	rounds := flag.Int("rounds", 3, "rounds of the three saturation phases (trivial, /healthz, labels), interleaved")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the server process to this file")
	untuned := flag.Bool("untuned", false, "leave the server process on Go's default GOMAXPROCS and GC, instead of the tuning `serve` applies (tuning.Server)")
	labelsOnly := flag.Bool("labels-only", false, "run only the phases of label submission, fixed rate and saturation (for profiles and CPU per label)")
	flag.Parse()
	if dbPath := os.Getenv(serveEnv); dbPath != "" {
		if err := serve(dbPath, os.Getenv(profileEnv), os.Getenv(memProfileEnv)); err != nil {
			log.Fatal(err)
		}
		return
	}
	profilePath, memProfilePath = *cpuProfile, *memProfile
	if *untuned {
		serverTuning = "untuned"
	}
	if err := run(*users, *prompts, max(*rounds, 1), *duration, *maxRequests, *rate, *labelsOnly); err != nil {
		log.Fatal(err)
	}
}

func run(users, prompts, rounds int, duration time.Duration, maxRequests int, rate float64, labelsOnly bool) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bench-labels-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, "bench.db")
	anns, items, err := seed(ctx, dbPath, users, prompts)
	if err != nil {
		return err
	}
	base, pid, stop, err := startServerProcess(dbPath, profilePath, memProfilePath)
	if err != nil {
		return err
	}
	cpu := cpuMeter{server: pid}
	defer stop()
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConns: users * 2, MaxIdleConnsPerHost: users * 2, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	fmt.Printf("annotators=%d comparisons=%d duration=%s per phase\n", users, prompts, duration)
	// Fixed offered load: latency as annotators see it at a given rate, measured from each request's
	// scheduled time so that a slow answer also counts against the requests queued behind it.
	fmt.Printf("fixed rate: %.0f requests/s offered by %d annotators\n", rate, users)
	if !labelsOnly {
		report("trivial handler, fixed rate", paced(users, duration, rate, func(u, i int) error {
			return expect(client.Get(base + "/__trivial"))(http.StatusOK)
		}))
	}
	report("label submission, fixed rate", paced(users, duration, rate, func(u, i int) error {
		it := items[(u*13+i+500)%len(items)]
		return postLabel(client, base, anns[u], it, i)
	}))
	if labelsOnly {
		return labelRounds(client, base, cpu, anns, items, rounds, duration, maxRequests)
	}

	// Saturation: every annotator submits again as soon as the last answer arrives. The two cores
	// are shared with this load generator, so one phase can catch a burst of other work: the three
	// kinds of phase are interleaved over several rounds and the ratios' median is the figure.
	fmt.Printf("saturation: closed loops, no pause between requests; %d rounds of the three phases\n", rounds)
	var toTrivial, toHealth []float64
	for round := 1; round <= rounds; round++ {
		trivial := cpu.measured(func() result {
			return phase(users, duration, maxRequests, func(u, i int) error {
				return expect(client.Get(base + "/__trivial"))(http.StatusOK)
			})
		})
		report(fmt.Sprintf("trivial handler, round %d", round), trivial)
		// A second baseline: the app's own health check, behind the app's router and common
		// middleware (request logging, recovery, security headers, body limit) and one database ping.
		health := cpu.measured(func() result {
			return phase(users, duration, maxRequests, func(u, i int) error {
				return expect(client.Get(base + "/healthz"))(http.StatusOK)
			})
		})
		report(fmt.Sprintf("app /healthz, round %d", round), health)
		submit := cpu.measured(func() result {
			return phase(users, duration, maxRequests, func(u, i int) error {
				it := items[(u*7+i+round*131)%len(items)]
				return postLabel(client, base, anns[u], it, i)
			})
		})
		report(fmt.Sprintf("label submission, round %d", round), submit)
		toTrivial = append(toTrivial, submit.rate()/trivial.rate())
		toHealth = append(toHealth, submit.rate()/health.rate())
		fmt.Printf("round %d: ratio label/trivial throughput = %.2f, label//healthz = %.2f\n", round, toTrivial[round-1], toHealth[round-1])
	}
	fmt.Printf("ratio label/trivial throughput: median %.2f over %d rounds (%s; target >= 0.3); label//healthz: median %.2f (%s)\n",
		median(toTrivial), rounds, listRatios(toTrivial), median(toHealth), listRatios(toHealth))
	if err := stop(); err != nil {
		return err
	}
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer st.Close()
	labels, err := st.ListLabels(ctx, store.LabelFilter{})
	if err != nil {
		return err
	}
	fmt.Printf("labels stored: %d (unique annotator×comparison pairs submitted)\n", len(labels))
	return nil
}

// labelRounds runs only the saturation phases of label submission and reports each one's CPU per label.
func labelRounds(client *http.Client, base string, cpu cpuMeter, anns []annotator, items []item, rounds int, duration time.Duration, maxRequests int) error {
	users := len(anns)
	var perLabel []float64
	for round := 1; round <= rounds; round++ {
		submit := cpu.measured(func() result {
			return phase(users, duration, maxRequests, func(u, i int) error {
				it := items[(u*7+i+round*131)%len(items)]
				return postLabel(client, base, anns[u], it, i)
			})
		})
		report(fmt.Sprintf("label submission, round %d", round), submit)
		perLabel = append(perLabel, float64(submit.serverCPU.Nanoseconds())/1e3)
	}
	fmt.Printf("server CPU per label: median %.1f µs over %d rounds (%s)\n", median(perLabel), rounds, listRatios(perLabel))
	return nil
}

// profilePath and memProfilePath are where the server's CPU and allocation profiles go ("" for
// none); set once from the flags.
var profilePath, memProfilePath string

// serverTuning is "untuned" to leave the server process on Go's defaults; set once from the flags.
var serverTuning string

// The server process is this program, told by these variables what to serve.
const (
	serveEnv      = "BENCH_LABELS_SERVE"
	profileEnv    = "BENCH_LABELS_PROFILE"
	memProfileEnv = "BENCH_LABELS_MEMPROFILE"
	tuningEnv     = "BENCH_LABELS_TUNING"
)

// seed creates the annotators and comparisons in the database file.
func seed(ctx context.Context, dbPath string, users, prompts int) ([]annotator, []item, error) {
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	anns, err := seedAnnotators(ctx, st, users)
	if err != nil {
		return nil, nil, err
	}
	items, err := seedItems(ctx, st, prompts)
	return anns, items, err
}

// startServerProcess starts this program as the server and returns its base URL and a stop function
// that shuts it down and waits for it.
func startServerProcess(dbPath, profile, memProfile string) (string, int, func() error, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serveEnv+"="+dbPath, profileEnv+"="+profile, memProfileEnv+"="+memProfile, tuningEnv+"="+serverTuning)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", 0, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	base, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return "", 0, nil, fmt.Errorf("server did not start: %w", err)
	}
	var once sync.Once
	var waitErr error
	stop := func() error {
		once.Do(func() {
			stdin.Close()
			waitErr = cmd.Wait()
		})
		return waitErr
	}
	return strings.TrimSpace(base), cmd.Process.Pid, stop, nil
}

// cpuMeter reads the CPU time (user + system) the server process and this load generator have
// used, so a phase can report each one's CPU per request.
type cpuMeter struct{ server int }

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's CPU times (100 on every common
// kernel configuration).
const clockTicks = 100

func (c cpuMeter) sample() (server, client time.Duration) {
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.server)); err == nil {
		// Fields after the command name, which is in parentheses: utime and stime are the 12th and 13th.
		if i := strings.LastIndexByte(string(data), ')'); i >= 0 {
			f := strings.Fields(string(data[i+1:]))
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				server = time.Duration(ut+st) * time.Second / clockTicks
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return server, client
}

// measured runs a phase and adds the server's and this program's CPU per request to its result.
func (c cpuMeter) measured(run func() result) result {
	s0, c0 := c.sample()
	r := run()
	s1, c1 := c.sample()
	if n := len(r.latencies) + r.errors; n > 0 {
		r.serverCPU, r.clientCPU = (s1-s0)/time.Duration(n), (c1-c0)/time.Duration(n)
	}
	return r
}

// serve runs the app on the database until standard input closes (the server process).
func serve(dbPath, profile, memProfile string) error {
	if os.Getenv(tuningEnv) != "untuned" {
		procs, gc := tuning.Server(os.Getenv)
		fmt.Fprintf(os.Stderr, "server: GOMAXPROCS %d, GC percent %d (-2: GOGC kept)\n", procs, gc)
	} else {
		fmt.Fprintf(os.Stderr, "server: untuned, GOMAXPROCS %d\n", runtime.GOMAXPROCS(0))
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if memProfile != "" {
		defer writeAllocs(memProfile)
	}
	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		return err
	}
	defer st.Close()
	base, stop, err := startServer(st, filepath.Dir(dbPath))
	if err != nil {
		return err
	}
	defer stop()
	fmt.Println(base)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// writeAllocs writes the process's allocation profile (every allocation since the start) to path.
func writeAllocs(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "server: allocation profile: %v\n", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintf(os.Stderr, "server: allocation profile %s: %v\n", path, err)
	}
}

func postLabel(client *http.Client, base string, a annotator, it item, i int) error {
	form := url.Values{"csrf": {a.csrf}, "verdict": {"pair"}, "best": {strconv.FormatInt(it.a, 10)}, "worst": {strconv.FormatInt(it.b, 10)}, "ms_spent": {"4200"}}
	if i%2 == 1 {
		form.Set("best", strconv.FormatInt(it.b, 10))
		form.Set("worst", strconv.FormatInt(it.a, 10))
	}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/annotate/%d/%d", base, it.job, it.prompt), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "rx_session="+a.cookie)
	return expect(client.Do(req))(http.StatusSeeOther)
}

func expect(res *http.Response, err error) func(int) error {
	return func(want int) error {
		if err != nil {
			return err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			return fmt.Errorf("status %d, want %d", res.StatusCode, want)
		}
		return nil
	}
}

type result struct {
	latencies []time.Duration
	errors    int
	firstErr  error
	elapsed   time.Duration
	// CPU time per request of the server process and of the load generator (cpuMeter)
	serverCPU, clientCPU time.Duration
}

func (r result) rate() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

// recorder is what one annotator's loop measured.
type recorder struct {
	latencies []time.Duration
	errors    int
	firstErr  error
}

func (r *recorder) record(latency time.Duration, err error) {
	if err == nil {
		r.latencies = append(r.latencies, latency)
		return
	}
	r.errors++
	if r.firstErr == nil {
		r.firstErr = err
	}
}

// runUsers runs one loop per user at once and merges what they recorded.
func runUsers(users int, loop func(u int, rec *recorder)) result {
	recs := make([]recorder, users)
	var wg sync.WaitGroup
	start := time.Now()
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(u, &recs[u])
		}()
	}
	wg.Wait()
	res := result{elapsed: time.Since(start)}
	for _, r := range recs {
		res.latencies = append(res.latencies, r.latencies...)
		res.errors += r.errors
		if res.firstErr == nil {
			res.firstErr = r.firstErr
		}
	}
	return res
}

// phase runs one closed loop per user until the duration or the request bound is reached.
func phase(users int, duration time.Duration, maxRequests int, do func(u, i int) error) result {
	deadline := time.Now().Add(duration)
	perUser := maxRequests / users
	return runUsers(users, func(u int, rec *recorder) {
		for i := 0; i < perUser && time.Now().Before(deadline); i++ {
			t := time.Now()
			err := do(u, i)
			rec.record(time.Since(t), err)
		}
	})
}

// paced runs one loop per user, each sending at rate/users per second from a random phase, until
// the duration ends. Latency counts from the scheduled send time.
func paced(users int, duration time.Duration, rate float64, do func(u, i int) error) result {
	interval := time.Duration(float64(users) / rate * float64(time.Second))
	start := time.Now()
	end := start.Add(duration)
	return runUsers(users, func(u int, rec *recorder) {
		next := start.Add(time.Duration(rand.Int64N(int64(interval))))
		for i := 0; next.Before(end); i++ {
			time.Sleep(time.Until(next))
			err := do(u, i)
			rec.record(time.Since(next), err)
			next = next.Add(interval)
		}
	})
}

// median is the middle value of xs (the mean of the two middle ones for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return 0
	}
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

func listRatios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

func report(name string, r result) {
	slices.Sort(r.latencies)
	q := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	fmt.Printf("%-30s n=%d errors=%d  %.0f req/s  p50=%s p90=%s p99=%s max=%s\n", name, len(r.latencies), r.errors,
		r.rate(), q(0.50).Round(10*time.Microsecond), q(0.90).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond),
		q(1).Round(10*time.Microsecond))
	if r.serverCPU > 0 || r.clientCPU > 0 {
		fmt.Printf("  CPU per request: server %.1f µs, load generator %.1f µs\n",
			float64(r.serverCPU.Nanoseconds())/1e3, float64(r.clientCPU.Nanoseconds())/1e3)
	}
	if r.firstErr != nil {
		fmt.Printf("  first error: %v\n", r.firstErr)
	}
}

func startServer(st *store.Store, dir string) (string, func(), error) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := live.NewHub(16)
	runner := generation.New(st, nil, hub, logger, 1)
	app := handlers.New(logger, st, runner, hub, render.New(), handlers.Config{DataDir: dir})
	mux := http.NewServeMux()
	mux.HandleFunc("/__trivial", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.Handle("/", app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func seedAnnotators(ctx context.Context, st *store.Store, n int) ([]annotator, error) {
	out := make([]annotator, n)
	for i := range out {
		u, err := st.CreateUser(ctx, fmt.Sprintf("annotator%03d", i), "benchmark-password", store.RoleAnnotator)
		if err != nil {
			return nil, err
		}
		token, err := st.CreateSession(ctx, u.ID, time.Hour)
		if err != nil {
			return nil, err
		}
		sess, err := st.SessionByToken(ctx, token)
		if err != nil {
			return nil, err
		}
		out[i] = annotator{cookie: token, csrf: sess.CSRFToken}
	}
	return out, nil
}

func seedItems(ctx context.Context, st *store.Store, n int) ([]item, error) {
	rows := make([]sheet.Row, n)
	for i := range rows {
		rows[i] = sheet.Row{Line: i + 2, Text: fmt.Sprintf("Benchmark prompt %d: explain this borrow error", i), Split: "train"}
	}
	if _, err := st.ImportPrompts(ctx, rows, "bench", 0); err != nil {
		return nil, err
	}
	m, err := st.CreateModel(ctx, store.ModelInput{Name: "bench", Endpoint: "http://127.0.0.1:9/v1"})
	if err != nil {
		return nil, err
	}
	params := []store.Sampling{{Temperature: 0.2, TopP: 0.95, MaxTokens: 256}, {Temperature: 1, TopP: 0.95, MaxTokens: 256}}
	job, err := st.CreateJob(ctx, store.NewJob{ModelID: m.ID, Filter: store.PromptFilter{Query: "Benchmark"}, Params: params})
	if err != nil {
		return nil, err
	}
	tasks, err := st.PendingTasks(ctx, job)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if err := st.SaveResponse(ctx, store.Response{PromptID: t.PromptID, ModelID: m.ID, JobID: job.ID, Slot: t.Slot,
			Params: params[t.Slot], Text: fmt.Sprintf("Answer %d to prompt %d.\n\n```rust\nfn main() {}\n```", t.Slot, t.PromptID)}); err != nil {
			return nil, err
		}
	}
	items := make([]item, 0, n)
	for _, t := range tasks {
		if t.Slot != 0 {
			continue
		}
		resps, err := st.ItemResponses(ctx, job.ID, t.PromptID)
		if err != nil {
			return nil, err
		}
		items = append(items, item{job: job.ID, prompt: t.PromptID, a: resps[0].ID, b: resps[1].ID})
	}
	return items, nil
}
