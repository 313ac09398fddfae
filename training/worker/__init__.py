"""Training worker: LoRA SFT and DPO on Hugging Face TRL, driven by a JSON config and
reporting progress as JSON lines on stdout.

Run it from the `training/` folder (or with that folder on PYTHONPATH):

    python3 -m worker sft --config run.json
    python3 -m worker dpo --config run.json
    python3 -m worker export --config export.json   # a Hugging Face folder (worker/export.py)
    python3 -m worker serve --config serve.json     # OpenAI-compatible server, base + adapters (worker/serve.py)

stdout carries only protocol events, one JSON object per line:

    {"event":"start", ...device and run facts}
    {"event":"metric","step":N,"metrics":{...TRL's names...}}
    {"event":"checkpoint","step":N,"path":"..."}
    {"event":"done","output":"...","metrics":{...}}
    {"event":"interrupted","step":N,"checkpoint":"..."}
    {"event":"error","message":"..."}

Everything else (library logs, warnings) goes to stderr. Exit codes are listed in
`EXIT_CODES`. With RUSTEXPERT_STOP_ON_STDIN_EOF=1 (the app's runner sets it) the end of stdin
means the app is gone and the worker kills its process group at once (`parent.py`).
"""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_MISSING_PACKAGE = 3
EXIT_INTERRUPTED = 4

EXIT_CODES = {
    EXIT_OK: "training finished; the adapter is in output_dir (a done event was sent)",
    EXIT_ERROR: "training failed: NaN/inf loss, failed sanity check or a library error (an error event was sent)",
    EXIT_BAD_INPUT: "the config or the dataset was refused before training (an error event was sent)",
    EXIT_MISSING_PACKAGE: "a required Python package is missing or broken (an error event was sent)",
    EXIT_INTERRUPTED: "SIGTERM: a checkpoint was saved and reported, then the worker stopped (an interrupted event was sent)",
}
