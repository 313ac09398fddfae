// Package appbin gives the benchmarks that run the app in its own process its binary.
package appbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Binary returns the app to run: the one named, else one built from the current folder into a
// temporary folder (removed by cleanup), with GOEXPERIMENT=simd unless the environment sets it.
func Binary(ctx context.Context, named string) (string, func(), error) {
	if named != "" {
		return named, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "bench-app-bin-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	bin := filepath.Join(dir, "rustexpert")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "sqlite_fts5", "-o", bin, ".")
	cmd.Env = os.Environ()
	if os.Getenv("GOEXPERIMENT") == "" {
		cmd.Env = append(cmd.Env, "GOEXPERIMENT=simd")
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building the app (go build in the current folder, run from the repository root): %w", err)
	}
	return bin, cleanup, nil
}
