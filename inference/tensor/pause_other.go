//go:build !amd64

package tensor

// spinPause waits a moment in a spinning loop without calling the scheduler.
func spinPause() {}
