"""The JSON-lines event channel on stdout."""

import json
import math
import os
import sys
import threading


def clean(value):
    """Returns value with non-finite floats turned into None so that it is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return clean(value.item())
        except (TypeError, ValueError):
            return str(value)
    return value


class Events:
    """Writes one JSON object per line to a private stream and flushes each line."""

    def __init__(self, stream, prefix=""):
        self.stream = stream
        self.prefix = prefix
        self.lock = threading.Lock()

    def emit(self, event, **fields):
        """Sends {"event": event, **fields}."""
        line = json.dumps({"event": event, **clean(fields)}, allow_nan=False, ensure_ascii=False)
        with self.lock:
            self.stream.write(self.prefix + line + "\n")
            self.stream.flush()

    def error(self, message, **fields):
        """Sends an error event."""
        self.emit("error", message=message, **fields)


def rank():
    """This process's rank when torchrun started several (one per GPU), else 0."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def take_stdout():
    """Moves everything that writes to stdout (Python and C libraries alike) onto stderr and
    returns an Events bound to the original stdout, so that stdout carries events only.
    Under torchrun only rank 0 speaks the protocol; the other ranks' events go to stderr."""
    sys.stdout.flush()
    if rank() != 0:
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        return Events(sys.stderr, prefix=f"[rank {rank()}] ")
    private = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return Events(os.fdopen(private, "w", buffering=1, encoding="utf-8"))
