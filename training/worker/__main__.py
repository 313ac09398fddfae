"""Command line: python3 -m worker sft|dpo --config run.json"""

import argparse
import importlib
import os
import sys

from . import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_MISSING_PACKAGE, parent
from .protocol import take_stdout

REQUIRED = ("torch", "transformers", "trl", "peft", "datasets", "accelerate")
INSTALL_HINT = "install them with scripts/install-train-deps.sh or pip install -r training/worker/requirements.txt"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python3 -m worker", description="LoRA SFT/DPO on TRL with JSON-lines events")
    p.add_argument("kind", choices=("sft", "dpo", "export", "serve"))
    p.add_argument("--config", required=True, help="path of run.json")
    return p.parse_args(argv)


def missing_packages():
    """Returns (name, reason) for each required package that cannot be imported."""
    missing = []
    for name in REQUIRED:
        try:
            importlib.import_module(name)
        except ImportError as e:
            missing.append((name, str(e)))
    return missing


def one_gpu_unless_distributed():
    """A worker started alone trains on one GPU (the first visible one): TRL's trainers refuse
    the single-process DataParallel that transformers would use with several GPUs visible.
    Several GPUs train through torchrun, one worker process each."""
    if "WORLD_SIZE" in os.environ:
        return
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = "0" if visible is None else visible.split(",")[0]


def main(argv=None):
    args = parse_args(argv)
    parent.watch()
    one_gpu_unless_distributed()
    events = take_stdout()
    missing = missing_packages()
    if missing:
        names = ", ".join(n for n, _ in missing)
        events.error(f"missing Python packages: {names} ({missing[0][1]}); {INSTALL_HINT}",
                     missing=[n for n, _ in missing])
        return EXIT_MISSING_PACKAGE
    from . import config, data, train
    try:
        if args.kind == "export":
            from . import export
            return export.run(export.load(args.config), events)
        if args.kind == "serve":
            from . import serve
            return serve.run(serve.load(args.config), events)
        cfg = config.load(args.config, args.kind)
        return train.run(cfg, events)
    except (config.ConfigError, data.DataError) as e:
        events.error(str(e))
        return EXIT_BAD_INPUT
    except Exception as e:  # report every failure on the protocol channel, trace on stderr
        import traceback
        traceback.print_exc()
        events.error(f"{args.kind} failed: {type(e).__name__}: {e}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
