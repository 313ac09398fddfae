package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits bound one process run by a Sandbox. Zero values leave that limit off, except Timeout.
type Limits struct {
	Timeout  time.Duration // wall clock; the process group is killed when it passes (required)
	CPU      time.Duration // RLIMIT_CPU of each process, rounded up to whole seconds
	Memory   int64         // RLIMIT_AS (address space) of each process, in bytes
	FileSize int64         // RLIMIT_FSIZE: the largest file a process may write, in bytes
	Output   int           // stdout and stderr together; past it the run is killed
}

// Outcome is what a sandboxed process did.
type Outcome struct {
	ExitCode       int            // -1 when it was killed by a signal or the sandbox
	Signal         syscall.Signal // the signal that ended it, 0 when it exited
	TimedOut       bool           // the wall-clock limit killed it
	OutputExceeded bool           // it wrote more than Limits.Output and was killed
	Output         []byte         // stdout and stderr interleaved, at most Limits.Output bytes
	Duration       time.Duration
}

// Sandbox runs untrusted programs: each in its own process group (killed on timeout, on too much output
// and after it exits, so no child outlives it), under resource limits set by prlimit (or the shell's
// ulimit when prlimit is missing), and — where the kernel permits — in fresh network and PID namespaces
// through unshare, so the program has no network and every process it starts dies with it. It is safe for
// concurrent use.
type Sandbox struct {
	unshare []string // unshare and its flags; nil when namespaces are not permitted
	pidNS   bool     // the namespace has its own PIDs: a shell is its init and reports signals as 128+n
	prlimit string   // path of prlimit, "" to use ulimit
}

// unshareChoices are the namespace setups tried in order: as root, then as a user mapped to root.
var unshareChoices = [][]string{
	{"-n", "-p", "-f", "--kill-child"},
	{"-r", "-n", "-p", "-f", "--kill-child"},
	{"-n"},
	{"-r", "-n"},
}

// NewSandbox finds unshare and prlimit and probes which namespaces this process may create.
func NewSandbox() *Sandbox {
	s := &Sandbox{}
	s.prlimit, _ = exec.LookPath("prlimit")
	path, err := exec.LookPath("unshare")
	if err != nil {
		return s
	}
	for _, flags := range unshareChoices {
		probe := exec.Command(path, append(append([]string(nil), flags...), "--", "true")...)
		if probe.Run() == nil {
			s.unshare = append([]string{path}, flags...)
			s.pidNS = strings.Contains(strings.Join(flags, " "), "-p")
			return s
		}
	}
	return s
}

// Isolation says what the sandbox adds to process groups and limits, for reports.
func (s *Sandbox) Isolation() string {
	switch {
	case s.unshare == nil:
		return "process group and rlimits only (unshare not permitted: the network is reachable)"
	case s.pidNS:
		return "network and PID namespaces (unshare), process group, rlimits"
	default:
		return "network namespace (unshare), process group, rlimits"
	}
}

// NetworkIsolated reports whether programs run without network access.
func (s *Sandbox) NetworkIsolated() bool { return s.unshare != nil }

// command builds the argument list that runs argv under the limits: unshare (when permitted), then a
// shell that sets the limits and runs the program. In a PID namespace the shell stays as the namespace's
// init (the kernel ignores many signals sent to an init, which would change how the program dies); when it
// exits, every process left in the namespace is killed.
func (s *Sandbox) command(limits Limits, argv []string) []string {
	var script strings.Builder
	if s.prlimit == "" {
		// The hard CPU limit is a second above the soft one, so the soft one's SIGXCPU comes first.
		if v := cpuSeconds(limits.CPU); v > 0 {
			fmt.Fprintf(&script, "ulimit -S -t %d && ulimit -H -t %d && ", v, v+1)
		}
		for _, l := range []struct {
			flag  string
			value int64
		}{{"-v", limits.Memory / 1024}, {"-f", limits.FileSize / 512}} {
			if l.value > 0 {
				fmt.Fprintf(&script, "ulimit %s %d && ", l.flag, l.value)
			}
		}
	}
	if !s.pidNS {
		script.WriteString("exec ")
	}
	if s.prlimit != "" {
		script.WriteString(`"$0" `)
	}
	script.WriteString(`"$@"`)
	out := append([]string(nil), s.unshare...)
	if out != nil {
		out = append(out, "--")
	}
	out = append(out, "sh", "-c", script.String())
	if s.prlimit != "" {
		out = append(out, s.prlimit)
		if v := cpuSeconds(limits.CPU); v > 0 {
			out = append(out, fmt.Sprintf("--cpu=%d:%d", v, v+1))
		}
		if limits.Memory > 0 {
			out = append(out, "--as="+strconv.FormatInt(limits.Memory, 10))
		}
		if limits.FileSize > 0 {
			out = append(out, "--fsize="+strconv.FormatInt(limits.FileSize, 10))
		}
		out = append(out, "--")
	} else {
		out = append(out, "sh")
	}
	return append(out, argv...)
}

func cpuSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// Run runs argv in dir with exactly env as its environment. The error is only for failures of the sandbox
// itself (no such program, ctx ending); a program that fails, crashes or passes a limit is an Outcome.
func (s *Sandbox) Run(ctx context.Context, dir string, env []string, limits Limits, argv ...string) (Outcome, error) {
	if limits.Timeout <= 0 {
		return Outcome{}, errors.New("eval: sandbox run without a timeout")
	}
	if len(argv) == 0 {
		return Outcome{}, errors.New("eval: sandbox run without a program")
	}
	runCtx, cancel := context.WithTimeout(ctx, limits.Timeout)
	defer cancel()
	full := s.command(limits, argv)
	cmd := exec.CommandContext(runCtx, full[0], full[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	output := &killingBuffer{limit: limits.Output, kill: cancel}
	cmd.Stdout, cmd.Stderr = output, output

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Outcome{}, fmt.Errorf("eval: starting %s: %w", argv[0], err)
	}
	waitErr := cmd.Wait()
	// Whatever the program left running in its group goes with it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	out := Outcome{Duration: time.Since(start), Output: output.bytes(), OutputExceeded: output.exceeded()}
	if ctx.Err() != nil {
		return Outcome{}, fmt.Errorf("eval: run of %s cancelled: %w", argv[0], ctx.Err())
	}
	out.TimedOut = runCtx.Err() != nil && !out.OutputExceeded
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		out.ExitCode, out.Signal = s.exitOf(exitErr)
	case out.TimedOut || out.OutputExceeded:
		out.ExitCode = -1
	default:
		return Outcome{}, fmt.Errorf("eval: running %s: %w", argv[0], waitErr)
	}
	return out, nil
}

// exitOf reads an exit status; in a PID namespace the shell reports a signal n as status 128+n.
func (s *Sandbox) exitOf(exitErr *exec.ExitError) (int, syscall.Signal) {
	status, ok := exitErr.Sys().(syscall.WaitStatus)
	if ok && status.Signaled() {
		return -1, status.Signal()
	}
	code := exitErr.ExitCode()
	if s.pidNS && code > 128 && code <= 128+64 {
		return -1, syscall.Signal(code - 128)
	}
	return code, 0
}

// killingBuffer keeps what a process writes up to limit bytes; the first write past the limit calls kill,
// so a program printing without end is stopped at once instead of at its timeout. A zero limit keeps all.
type killingBuffer struct {
	mu    sync.Mutex
	limit int
	kill  func()
	data  bytes.Buffer
	over  bool
}

func (b *killingBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return len(p), nil
	}
	if b.limit > 0 && b.data.Len()+len(p) > b.limit {
		b.data.Write(p[:b.limit-b.data.Len()])
		b.over = true
		b.kill()
		return len(p), nil
	}
	b.data.Write(p)
	return len(p), nil
}

func (b *killingBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.data.Bytes())
}

func (b *killingBuffer) exceeded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}
