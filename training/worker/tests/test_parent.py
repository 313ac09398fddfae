"""The worker stops with the app: the end of its stdin (a pipe only the app holds) kills its
process group when RUSTEXPERT_STOP_ON_STDIN_EOF=1. Needs no torch.

Run from training/:  python3 -m unittest discover -s worker/tests -t .
"""

import os
import signal
import subprocess
import sys
import time
import unittest

from worker import parent

TRAINING_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# A stand-in for the worker: a helper process in its group (as a data loader's), then the watch
# that __main__.main starts, then a long "training" sleep.
CHILD = """
import subprocess, sys, time
from worker import parent
helper = subprocess.Popen(["sleep", "60"])
print(helper.pid, flush=True)
parent.watch()
time.sleep(60)
print("still here", flush=True)
"""


def gone(pid, within=10.0):
    """Waits until pid no longer exists (or is a zombie); reports whether it went."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


def start(env_value):
    env = dict(os.environ, PYTHONPATH=TRAINING_DIR)
    env.pop(parent.ENV, None)
    if env_value is not None:
        env[parent.ENV] = env_value
    # A session of its own, as the app's runner gives the worker a process group of its own.
    return subprocess.Popen([sys.executable, "-c", CHILD], cwd=TRAINING_DIR, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)


class StopWithApp(unittest.TestCase):
    def test_end_of_stdin_kills_the_whole_group(self):
        p = start("1")
        try:
            helper = int(p.stdout.readline())
            time.sleep(0.2)
            self.assertIsNone(p.poll(), "the worker stopped while its stdin was open")
            p.stdin.close()  # the app is gone
            rc = p.wait(timeout=10)
            self.assertEqual(rc, -signal.SIGKILL)
            self.assertTrue(gone(helper), f"helper {helper} of the worker's group outlived the app")
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            p.stdout.close()

    def test_without_the_variable_stdin_is_left_alone(self):
        p = start(None)
        try:
            helper = int(p.stdout.readline())
            p.stdin.close()
            time.sleep(0.5)
            self.assertIsNone(p.poll(), "the worker stopped at the end of stdin without being asked to")
        finally:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            p.stdout.close()
        self.assertTrue(gone(helper))

    def test_watch_calls_back_at_the_end(self):
        r, w = os.pipe()
        called = []
        old = os.environ.get(parent.ENV)
        os.environ[parent.ENV] = "1"
        try:
            thread = parent.watch(r, lambda: called.append(True))
        finally:
            if old is None:
                os.environ.pop(parent.ENV)
            else:
                os.environ[parent.ENV] = old
        os.write(w, b"anything written is ignored\n")
        time.sleep(0.05)
        self.assertEqual(called, [])
        os.close(w)
        thread.join(timeout=5)
        os.close(r)
        self.assertEqual(called, [True])


if __name__ == "__main__":
    unittest.main()
