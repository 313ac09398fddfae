package training

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// gpuLockName is the file in the data folder that the process whose worker uses the GPU holds an
// exclusive flock on, so a server and a command line on the same data folder never train (or
// estimate) at once. The kernel drops the lock when the process dies, so it never goes stale.
const gpuLockName = "gpu.lock"

// lockGPUFile takes the data folder's GPU lock without waiting: ErrBusy when another process holds it.
func lockGPUFile(dataDir string) (release func(), err error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("gpu lock: %w", err)
	}
	path := filepath.Join(dataDir, gpuLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("gpu lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: another rustexpert process is training on this data folder (%s is held)", ErrBusy, path)
		}
		return nil, fmt.Errorf("gpu lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
