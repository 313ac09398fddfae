"""Stopping with the app.

The app's runner starts the worker with RUSTEXPERT_STOP_ON_STDIN_EOF=1 and its stdin a pipe that
only the app holds open. The end of stdin therefore means the app is gone (killed, crashed):
nobody reads the events any more and nobody records a checkpoint, and a restarted app may resume
the run in the same output folder. The worker then kills its whole process group at once (under
torchrun each rank runs in a session of its own and does the same), so no orphan keeps the GPU
or writes into the run folder. A graceful stop is SIGTERM, never the end of stdin.
"""

import os
import signal
import threading

ENV = "RUSTEXPERT_STOP_ON_STDIN_EOF"


def watch(fd=0, on_gone=None):
    """Starts a daemon thread that waits for the end of fd and then calls on_gone (default:
    kill_group). Does nothing unless the environment asks for it; returns the thread or None."""
    if os.environ.get(ENV) != "1":
        return None
    thread = threading.Thread(target=_wait_for_end, args=(fd, on_gone or kill_group), name="stop-with-app", daemon=True)
    thread.start()
    return thread


def _wait_for_end(fd, on_gone):
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass
    on_gone()


def kill_group():
    """SIGKILLs this process's group, this process included."""
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    finally:
        os.kill(os.getpid(), signal.SIGKILL)
