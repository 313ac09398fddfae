package tensor

// spinPause waits a moment in a spinning loop without calling the scheduler.
//
//go:noescape
func spinPause()
