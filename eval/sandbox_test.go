package eval

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sandboxes are the setups a machine may give: the probed one, and prlimit or ulimit without namespaces.
func sandboxes(t *testing.T) map[string]*Sandbox {
	t.Helper()
	out := map[string]*Sandbox{"probed": NewSandbox(), "ulimit": {}}
	if path, err := exec.LookPath("prlimit"); err == nil {
		out["prlimit"] = &Sandbox{prlimit: path}
	}
	return out
}

func TestSandboxOutcomes(t *testing.T) {
	env := []string{"PATH=/usr/bin:/bin"}
	for name, s := range sandboxes(t) {
		t.Run(name, func(t *testing.T) {
			run := func(limits Limits, script string) Outcome {
				t.Helper()
				out, err := s.Run(t.Context(), t.TempDir(), env, limits, "sh", "-c", script)
				if err != nil {
					t.Fatalf("%q: %v", script, err)
				}
				return out
			}
			if o := run(Limits{Timeout: 5 * time.Second}, "echo hello; exit 3"); o.ExitCode != 3 || o.Signal != 0 || string(o.Output) != "hello\n" {
				t.Errorf("exit 3: %+v", o)
			}
			if o := run(Limits{Timeout: 5 * time.Second}, "kill -SEGV $$"); o.Signal != syscall.SIGSEGV || o.ExitCode != -1 {
				t.Errorf("segfault: %+v", o)
			}
			if o := run(Limits{Timeout: 300 * time.Millisecond}, "sleep 5"); !o.TimedOut || o.Duration > 3*time.Second {
				t.Errorf("sleep past the timeout: %+v", o)
			}
			if o := run(Limits{Timeout: 5 * time.Second, Output: 1000}, "yes"); !o.OutputExceeded || o.TimedOut || len(o.Output) != 1000 {
				t.Errorf("endless output: exceeded %v, timed out %v, %d bytes", o.OutputExceeded, o.TimedOut, len(o.Output))
			}
			if o := run(Limits{Timeout: 10 * time.Second, CPU: time.Second}, "while :; do :; done"); o.Signal != syscall.SIGXCPU || o.TimedOut {
				t.Errorf("busy loop past the CPU limit: %+v", o)
			}
			if o := run(Limits{Timeout: 5 * time.Second, FileSize: 4096}, "head -c 100000 /dev/zero > big"); o.Signal != syscall.SIGXFSZ && o.ExitCode == 0 {
				t.Errorf("file past the size limit: %+v", o)
			}
		})
	}
}

func TestSandboxRefusesRunsWithoutLimits(t *testing.T) {
	s := NewSandbox()
	if _, err := s.Run(t.Context(), t.TempDir(), nil, Limits{}, "true"); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("no timeout: %v", err)
	}
	if _, err := s.Run(t.Context(), t.TempDir(), nil, Limits{Timeout: time.Second}); err == nil {
		t.Error("no program, no error")
	}
}
