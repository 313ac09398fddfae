"""A TrainerCallback that turns Trainer events into protocol events, watches the loss
and stops cleanly on SIGTERM."""

import math
import os

from transformers import TrainerCallback

LN2 = math.log(2)
SANITY_TOLERANCE = 0.01


class Protocol(TrainerCallback):
    """Emits start/metric/checkpoint events and records why training stopped.

    failure is set (to a message) when the loss turns NaN/inf or the first DPO loss is not
    ln 2; interrupted is set when SIGTERM arrived and a checkpoint was requested."""

    def __init__(self, events, kind, start_info, check_first_loss):
        self.events = events
        self.kind = kind
        self.start_info = start_info
        self.check_first_loss = check_first_loss
        self.first_step = None
        self.failure = None
        self.term = False
        self.interrupted = False
        self.last_checkpoint = None
        self.last_metrics = {}

    def on_sigterm(self, signum, frame):
        """Signal handler: asks for a checkpoint and a stop at the end of the current step."""
        self.term = True

    def on_train_begin(self, args, state, control, **kwargs):
        self.first_step = state.global_step
        self.events.emit("start", kind=self.kind, max_steps=state.max_steps, resumed_at_step=state.global_step,
                         **self.start_info)

    def on_step_end(self, args, state, control, **kwargs):
        if self.term and not self.interrupted:
            self.interrupted = True
            control.should_save = True
            control.should_training_stop = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        event = {"step": state.global_step, "epoch": state.epoch, "metrics": logs}
        loss = logs.get("loss", logs.get("eval_loss"))
        bad = [k for k in ("loss", "eval_loss", "grad_norm") if k in logs and not finite(logs[k])]
        if bad:
            self.fail(f"{bad[0]} is {logs[bad[0]]} at step {state.global_step}; training stopped, "
                      f"last good checkpoint: {self.last_checkpoint or 'none'}", control)
        elif "loss" in logs and self.check_first_loss and state.global_step == self.first_step + 1 == 1:
            event["sanity"] = {"first_loss": loss, "ln2": round(LN2, 4)}
            if abs(loss - LN2) > SANITY_TOLERANCE:
                self.fail(f"first DPO loss is {loss:.4f}, expected ln 2 = {LN2:.4f} (policy must equal the "
                          "reference at step 0): the reference or the adapter is set up wrongly", control)
        if "loss" in logs or any(k.startswith("eval_") for k in logs):
            self.last_metrics.update(logs)
        self.events.emit("metric", **event)

    def fail(self, message, control):
        if self.failure is None:
            self.failure = message
        control.should_training_stop = True
        control.should_save = False
        control.should_evaluate = False

    def on_save(self, args, state, control, **kwargs):
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.last_checkpoint = path
        self.events.emit("checkpoint", step=state.global_step, path=path)


def finite(v):
    """Reports whether v is a finite number (None counts as not finite)."""
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
