package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"rustexpert/eval"
)

// baselineTimeout bounds one baseline process, so a hanging answer cannot stall the benchmark.
const baselineTimeout = 120 * time.Second

// toolchain is a rustc and a cargo.
type toolchain struct {
	rustc, cargo string
}

// findToolchains returns the plain one (rustc and cargo as found on PATH, usually rustup's proxies, which
// find the toolchain and start its binary) and the active toolchain's own binaries in its sysroot (which
// the eval package calls).
func findToolchains() (plain, sysroot toolchain, err error) {
	if plain.rustc, err = exec.LookPath("rustc"); err != nil {
		return plain, sysroot, fmt.Errorf("toolchain: %w", err)
	}
	if plain.cargo, err = exec.LookPath("cargo"); err != nil {
		return plain, sysroot, fmt.Errorf("toolchain: %w", err)
	}
	out, err := exec.Command(plain.rustc, "--print", "sysroot").Output()
	if err != nil {
		return plain, sysroot, fmt.Errorf("asking rustc for its sysroot: %w", err)
	}
	bin := filepath.Join(strings.TrimSpace(string(out)), "bin")
	sysroot = toolchain{rustc: filepath.Join(bin, "rustc"), cargo: filepath.Join(bin, "cargo")}
	for _, path := range []string{sysroot.rustc, sysroot.cargo} {
		if _, err := os.Stat(path); err != nil {
			return plain, sysroot, fmt.Errorf("toolchain: %w", err)
		}
	}
	return plain, sysroot, nil
}

// program is an answer's code as the checker sees it.
type program struct {
	eval.Program
	ok bool // the answer holds Rust code
}

// extract joins an answer's Rust blocks into a program, as the background checker does.
func extract(text string) program {
	p, ok := eval.NewProgram(eval.Extract(text))
	return program{Program: p, ok: ok}
}

// baselineRustc compiles every answer with code as a library with full code generation, one rustc at a
// time, each in a fresh folder, nothing cached.
func baselineRustc(ctx context.Context, tc toolchain, tmp string, answers []answer) ([]verdict, error) {
	verdicts := make([]verdict, len(answers))
	for i, a := range answers {
		p := extract(a.text)
		if !p.ok {
			verdicts[i] = verdict{status: "no code"}
			continue
		}
		ok, err := rustcOnce(ctx, tc, tmp, p.Source)
		if err != nil {
			return nil, fmt.Errorf("answer %d: %w", i, err)
		}
		verdicts[i] = compileVerdict(ok)
	}
	return verdicts, nil
}

func rustcOnce(ctx context.Context, tc toolchain, tmp, source string) (bool, error) {
	dir, err := os.MkdirTemp(tmp, "baseline-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.rs"), []byte(source), 0o600); err != nil {
		return false, err
	}
	return runPlain(ctx, dir, nil, tc.rustc, "--edition", "2021", "--crate-type", "lib", "-o", filepath.Join(dir, "out.rlib"), "main.rs")
}

// baselineCargo runs one plain `cargo test` per answer with code, one at a time, each in a fresh copy of
// the exercise (Cargo.toml, tests/, the answer as src/lib.rs).
func baselineCargo(ctx context.Context, tc toolchain, tmp string, bench eval.Bench, answers []answer) ([]verdict, error) {
	verdicts := make([]verdict, len(answers))
	for i, a := range answers {
		p := extract(a.text)
		problem, found := bench.Problem(a.exercise)
		if !p.ok || !found {
			verdicts[i] = verdict{status: "no code"}
			continue
		}
		ok, err := cargoOnce(ctx, tc, tmp, problem.Dir, p.Source)
		if err != nil {
			return nil, fmt.Errorf("answer %d (%s): %w", i, a.exercise, err)
		}
		verdicts[i] = verdict{ok: ok, status: map[bool]string{true: "pass", false: "fail"}[ok]}
	}
	return verdicts, nil
}

func cargoOnce(ctx context.Context, tc toolchain, tmp, exercise, code string) (bool, error) {
	dir, err := os.MkdirTemp(tmp, "baseline-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	if err := copyExercise(exercise, dir, code); err != nil {
		return false, fmt.Errorf("copying %s: %w", exercise, err)
	}
	return runPlain(ctx, dir, tc.cargoEnvironment(), tc.cargo, "test", "--offline", "-q", "--", "--include-ignored")
}

// cargoEnvironment is the caller's environment, with RUSTC naming the toolchain's rustc when it is not the
// one on PATH (else cargo would call the rustc on PATH, the proxy, for every compilation).
func (tc toolchain) cargoEnvironment() []string {
	env := os.Environ()
	if onPath, err := exec.LookPath("rustc"); err != nil || onPath != tc.rustc {
		env = append(env, "RUSTC="+tc.rustc)
	}
	return env
}

// copyExercise writes Cargo.toml, the tests/ tree and src/lib.rs holding code into dst.
func copyExercise(src, dst, code string) error {
	if err := os.MkdirAll(filepath.Join(dst, "src"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dst, "src", "lib.rs"), []byte(code), 0o600); err != nil {
		return err
	}
	manifest, err := os.ReadFile(filepath.Join(src, "Cargo.toml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dst, "Cargo.toml"), manifest, 0o600); err != nil {
		return err
	}
	return filepath.WalkDir(filepath.Join(src, "tests"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
}

// runPlain runs a command in dir with env (nil: the caller's environment), its output discarded, and
// reports whether it exited with status 0. Only a command that cannot start is an error.
func runPlain(ctx context.Context, dir string, env []string, binary string, args ...string) (bool, error) {
	runCtx, cancel := context.WithTimeout(ctx, baselineTimeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, binary, args...)
	cmd.Dir = dir
	cmd.Env = env
	err := cmd.Run()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exitErr): // a failure, or killed at the timeout
		return false, nil
	}
	return false, fmt.Errorf("running %s: %w", filepath.Base(binary), err)
}
