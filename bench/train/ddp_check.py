"""Data-parallel check: the worker's loss curve on 2 GPUs (torchrun) against the same run on 1 GPU.

Both runs see the same global batch at every step (1 GPU: 8 rows a step; 2 GPUs: 4 rows on each),
the same data order, seed and learning-rate schedule, LoRA dropout 0 (so no random masks differ
between the layouts). The curves should agree up to floating-point noise of the gradient all-reduce.

    python3 bench/train/ddp_check.py --work DIR --dataset SFT.jsonl [--steps 40] [--json OUT]

Uses a randomly initialised Llama (hidden 512, 8 layers) with SmolLM2's tokenizer; needs 2 CUDA GPUs.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TRAINING = os.path.join(ROOT, "training")
sys.path.insert(0, TRAINING)


def build_model(path):
    if os.path.isfile(os.path.join(path, "config.json")):
        return
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from worker.tests import fixtures

    fixtures.write_tokenizer(path)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=49152, hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
                      num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=2048,
                      bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(path)


def run(work, name, dataset, steps, gpus):
    cfg = {"model": os.path.join(work, "model"), "dataset": dataset, "output_dir": os.path.join(work, name),
           "gpus": gpus, "lora": {"r": 16, "alpha": 32, "dropout": 0.0},
           "hyperparameters": {"max_steps": steps, "per_device_batch_size": 8 // gpus, "gradient_accumulation": 1,
                               "learning_rate": 5e-4, "warmup_ratio": 0.1, "max_length": 512, "logging_steps": 1,
                               "save_steps": 10**6, "seed": 42, "bf16": True, "gradient_checkpointing": False}}
    path = os.path.join(work, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    worker = ["-m", "worker", "sft", "--config", path]
    if gpus > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(gpus)] + worker
    else:
        cmd = [sys.executable] + worker
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    with open(os.path.join(work, name + ".log"), "w") as log:
        p = subprocess.run(cmd, cwd=TRAINING, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    losses = {e["step"]: e["metrics"]["loss"] for e in events if e["event"] == "metric" and "loss" in e["metrics"]}
    start = next((e for e in events if e["event"] == "start"), {})
    return {"exit": p.returncode, "processes": start.get("processes"), "losses": losses,
            "events": len(events), "error": next((e["message"] for e in events if e["event"] == "error"), None)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True)
    ap.add_argument("--dataset", required=True, help="an SFT JSONL file (our format)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    build_model(os.path.join(a.work, "model"))
    one = run(a.work, "gpu1", os.path.abspath(a.dataset), a.steps, 1)
    two = run(a.work, "gpu2", os.path.abspath(a.dataset), a.steps, 2)
    steps = sorted(set(one["losses"]) & set(two["losses"]))
    diffs = [abs(one["losses"][s] - two["losses"][s]) for s in steps]
    rel = [d / abs(one["losses"][s]) for d, s in zip(diffs, steps)]
    summary = {"steps_compared": len(steps), "max_abs_diff": max(diffs, default=None),
               "max_rel_diff": max(rel, default=None), "mean_abs_diff": sum(diffs) / len(diffs) if diffs else None,
               "one_gpu": {k: v for k, v in one.items() if k != "losses"},
               "two_gpus": {k: v for k, v in two.items() if k != "losses"},
               "curve": [[s, one["losses"][s], two["losses"][s]] for s in steps]}
    print(json.dumps(summary, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
