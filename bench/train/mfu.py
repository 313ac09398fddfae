"""Training throughput of the worker on a Llama-2-7B-shaped model: tokens/s, peak GPU memory and MFU.

Runs `python3 -m worker sft|dpo` (training/worker) for a few steps per variant on a randomly
initialised model with Llama-2-7B's layers (32 × hidden 4096, 32 heads, MLP 11008) and SmolLM2's
49,152-token vocabulary, bf16, LoRA r=16 on every linear projection, sequences of exactly 1,024
tokens (every example is longer and truncated), 8 × 1,024 tokens per optimizer step for SFT and
4 pairs (8 sequences of 1,024) for DPO. Each variant is one worker run; "default" keeps TRL's
defaults for the batch layout (per-device batch 8, gradient checkpointing on), the others are our
settings. Needs a CUDA GPU, torch, transformers, peft, trl and datasets.

    python3 bench/train/mfu.py --work DIR [--steps 12] [--variants sft-default,sft-tuned,...] [--json OUT]

FLOPs per token (model FLOPs, no recomputation counted; N = parameters of the matrix multiplies,
embedding lookup excluded, LM head included; L layers, d hidden, T sequence length):
  forward                        2N + 2·L·d·T    (causal attention: QKᵀ and AV over half the square)
  backward, frozen base + LoRA   2N + 4·L·d·T    (gradients of the activations only; LoRA's own
                                                  weight gradients are < 1% and not counted)
  SFT step  = forward + backward = 4N + 6·L·d·T
  DPO step  = SFT step + the reference forward (adapter off, no gradient) = 6N + 8·L·d·T
MFU = tokens/s × FLOPs per token / peak, peak = 989.4 TFLOP/s (H100 SXM dense bf16).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TRAINING = os.path.join(ROOT, "training")
sys.path.insert(0, TRAINING)

LAYERS, HIDDEN, FFN, HEADS, VOCAB, SEQ = 32, 4096, 11008, 32, 49152, 1024
PEAK = 989.4e12

VARIANTS = {
    # TRL's defaults for the batch layout: 8 sequences a device, gradient checkpointing on.
    "sft-default": dict(kind="sft", batch=8, accum=1, ckpt=True),
    # Ours: no recomputation; the step's 8 sequences in micro-batches that fit in memory.
    "sft-tuned": dict(kind="sft", batch=4, accum=2, ckpt=False),
    "sft-tuned-b2": dict(kind="sft", batch=2, accum=4, ckpt=False),
    "dpo-default": dict(kind="dpo", batch=8, accum=1, ckpt=True),
    "dpo-tuned": dict(kind="dpo", batch=2, accum=2, ckpt=False),
    "dpo-tuned-b1": dict(kind="dpo", batch=1, accum=4, ckpt=False),
    # LoRA dropout 0: PEFT skips the dropout, so q/k/v (and gate/up) adapters read the same input.
    "sft-nodrop": dict(kind="sft", batch=4, accum=2, ckpt=False, dropout=0.0),
    "dpo-nodrop": dict(kind="dpo", batch=2, accum=2, ckpt=False, dropout=0.0),
    # Liger's Triton kernels (RMSNorm, SwiGLU, RoPE, and the LM head fused with the loss: no logits tensor).
    "sft-liger": dict(kind="sft", batch=4, accum=2, ckpt=False, dropout=0.0,
                      trainer_args={"use_liger_kernel": True}),
    "sft-liger-b8": dict(kind="sft", batch=8, accum=1, ckpt=False, dropout=0.0,
                         trainer_args={"use_liger_kernel": True}),
    "dpo-liger": dict(kind="dpo", batch=2, accum=2, ckpt=False, dropout=0.0,
                      trainer_args={"use_liger_kernel": True}),
    # torch.compile of the model (fuses the element-wise work between the matrix multiplies).
    "sft-compile": dict(kind="sft", batch=4, accum=2, ckpt=False, dropout=0.0,
                        trainer_args={"torch_compile": True}),
    "sft-compile-liger": dict(kind="sft", batch=4, accum=2, ckpt=False, dropout=0.0,
                              trainer_args={"torch_compile": True, "use_liger_kernel": True}),
    "dpo-liger-b4": dict(kind="dpo", batch=4, accum=1, ckpt=False, dropout=0.0,
                         trainer_args={"use_liger_kernel": True}),
    "dpo-compile": dict(kind="dpo", batch=2, accum=2, ckpt=False, dropout=0.0,
                        trainer_args={"torch_compile": True}),
    # Compiled, with only Liger's fused LM head + loss (no 49,152-wide logits tensor); the other
    # Liger kernels would replace what the compiler fuses.
    "sft-compile-flce": dict(kind="sft", batch=4, accum=2, ckpt=False, dropout=0.0,
                             trainer_args={"torch_compile": True, "use_liger_kernel": True, "liger_kernel_config": {
                                 "fused_linear_cross_entropy": True, "cross_entropy": False, "rms_norm": False,
                                 "swiglu": False, "rope": False}}),
    "sft-compile-b8": dict(kind="sft", batch=8, accum=1, ckpt=False, dropout=0.0,
                           trainer_args={"torch_compile": True}),
    # Four pairs a micro-batch with the activations kept in host memory until the backward pass.
    "dpo-liger-b4-offload": dict(kind="dpo", batch=4, accum=1, ckpt=False, dropout=0.0,
                                 trainer_args={"use_liger_kernel": True, "activation_offloading": True}),
    "dpo-liger-b4-offload-compile": dict(kind="dpo", batch=4, accum=1, ckpt=False, dropout=0.0,
                                         trainer_args={"use_liger_kernel": True, "activation_offloading": True,
                                                       "torch_compile": True}),
    # Each decoder layer compiled in place (hyperparameters.compile_layers): DPO's reference forward
    # goes through the same compiled layers as the policy, which whole-model torch_compile breaks.
    "sft-compile-layers": dict(kind="sft", batch=4, accum=2, ckpt=False, dropout=0.0, hyper={"compile_layers": True}),
    "dpo-compile-layers": dict(kind="dpo", batch=2, accum=2, ckpt=False, dropout=0.0, hyper={"compile_layers": True}),
    "dpo-compile-layers-liger": dict(kind="dpo", batch=2, accum=2, ckpt=False, dropout=0.0,
                                     hyper={"compile_layers": True}, trainer_args={"use_liger_kernel": True}),
    # Liger's RMSNorm (and RoPE) kernels, the rest of each layer compiled: the compiled RMSNorm
    # rounds differently in the reference's and the policy's forward.
    "dpo-compile-layers-liger-norm": dict(kind="dpo", batch=2, accum=2, ckpt=False, dropout=0.0,
                                          hyper={"compile_layers": True},
                                          trainer_args={"use_liger_kernel": True, "liger_kernel_config": {
                                              "rms_norm": True, "swiglu": False, "rope": False}}),
    "dpo-compile-layers-liger-norm-rope": dict(kind="dpo", batch=2, accum=2, ckpt=False, dropout=0.0,
                                               hyper={"compile_layers": True},
                                               trainer_args={"use_liger_kernel": True, "liger_kernel_config": {
                                                   "rms_norm": True, "swiglu": False, "rope": True}}),
    "sft-compile-autotune": dict(kind="sft", batch=4, accum=2, ckpt=False, dropout=0.0,
                                 trainer_args={"torch_compile": True,
                                               "torch_compile_mode": "max-autotune-no-cudagraphs"}),
    # QLoRA: the frozen base in 4-bit NF4 (bitsandbytes), computing in bf16.
    "sft-qlora": dict(kind="sft", batch=4, accum=2, ckpt=False, dropout=0.0, quantization="nf4"),
    "dpo-qlora": dict(kind="dpo", batch=2, accum=2, ckpt=False, dropout=0.0, quantization="nf4"),
}


def matmul_params(layers=LAYERS, d=HIDDEN, ffn=FFN, vocab=VOCAB):
    """Parameters that take part in matrix multiplies: attention and MLP projections, LM head."""
    return layers * (4 * d * d + 3 * d * ffn) + d * vocab


def flops_per_token(kind, layers=LAYERS, d=HIDDEN, seq=SEQ):
    n, attn = matmul_params(layers, d), layers * d * seq
    if kind == "dpo":
        return 6 * n + 8 * attn
    return 4 * n + 6 * attn


def build_model(path, layers):
    """Writes a random bf16 Llama-2-7B-shaped model with SmolLM2's tokenizer to path."""
    if os.path.isfile(os.path.join(path, "config.json")):
        return
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from worker.tests import fixtures

    fixtures.write_tokenizer(path)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=layers,
                      num_attention_heads=HEADS, num_key_value_heads=HEADS, max_position_embeddings=4096,
                      rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=False)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    model.save_pretrained(path)
    del model
    torch.cuda.empty_cache()


def words(rng, n):
    vocab = ("borrow lifetime trait impl struct enum match iterator closure vector string slice mutex arc "
             "async await future tokio channel error result option unwrap macro generic where clause").split()
    return " ".join(rng.choice(vocab) + str(rng.randrange(1000)) for _ in range(n))


def write_datasets(work, rows=96):
    """SFT and DPO JSONL files whose every sequence is longer than 1,024 tokens."""
    rng = random.Random(0)
    with open(os.path.join(work, "sft.jsonl"), "w") as f:
        for i in range(rows):
            msgs = [{"role": "user", "content": words(rng, 120)}, {"role": "assistant", "content": words(rng, 900)}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    with open(os.path.join(work, "dpo.jsonl"), "w") as f:
        for i in range(rows):
            row = {"prompt": [{"role": "user", "content": words(rng, 120)}],
                   "chosen": [{"role": "assistant", "content": words(rng, 900)}],
                   "rejected": [{"role": "assistant", "content": words(rng, 900)}]}
            f.write(json.dumps(row) + "\n")


def write_config(work, name, v, steps):
    cfg = {
        "model": os.path.join(work, "model"),
        "dataset": os.path.join(work, v["kind"] + ".jsonl"),
        "output_dir": os.path.join(work, "out-" + name),
        "lora": {"r": 16, "alpha": 32, "dropout": v.get("dropout", 0.05), "quantization": v.get("quantization", "none")},
        "hyperparameters": {"max_steps": steps, "per_device_batch_size": v["batch"],
                            "gradient_accumulation": v["accum"], "gradient_checkpointing": v["ckpt"],
                            "max_length": SEQ, "logging_steps": 1, "save_steps": 10**6, "bf16": True,
                            **v.get("hyper", {})},
        "trainer_args": v.get("trainer_args", {}),
    }
    path = os.path.join(work, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def run_variant(work, name, v, steps, layers):
    """Runs one worker; times the metric events as they arrive."""
    cmd = [sys.executable, "-m", "worker", v["kind"], "--config", write_config(work, name, v, steps)]
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    log = open(os.path.join(work, name + ".log"), "w")
    p = subprocess.Popen(cmd, cwd=TRAINING, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    arrivals, done, error = {}, None, None
    for line in p.stdout:
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            continue
        if ev.get("event") == "metric" and "loss" in ev.get("metrics", {}):
            arrivals[ev["step"]] = (time.monotonic(), ev["metrics"])
        elif ev.get("event") == "done":
            done = ev
        elif ev.get("event") == "error":
            error = ev.get("message")
    p.wait()
    return summarize(name, v, arrivals, done, error or (None if p.returncode == 0 else f"exit {p.returncode}"), layers)


def summarize(name, v, arrivals, done, error, layers):
    out = {"variant": name, **{k: v[k] for k in ("kind", "batch", "accum", "ckpt")},
           "dropout": v.get("dropout", 0.05), "quantization": v.get("quantization", "none"), "hyper": v.get("hyper", {}),
           "trainer_args": v.get("trainer_args", {}), "error": error}
    steps = sorted(arrivals)
    if len(steps) < 4:
        return out
    first, last = steps[2], steps[-1]  # steps 1-2 warm up (allocator, kernels)
    seconds = arrivals[last][0] - arrivals[first][0]
    seqs = v["batch"] * v["accum"] * (2 if v["kind"] == "dpo" else 1)
    tokens = (last - first) * seqs * SEQ
    tps = tokens / seconds
    out.update(steps_timed=last - first, seconds=round(seconds, 2), tokens_per_s=round(tps),
               mfu=round(tps * flops_per_token(v["kind"], layers) / PEAK, 4),
               first_loss=arrivals[steps[0]][1].get("loss"), last_loss=arrivals[last][1].get("loss"))
    if v["kind"] == "sft" and "num_tokens" in arrivals[last][1]:
        out["num_tokens_per_step"] = (arrivals[last][1]["num_tokens"] - arrivals[first][1]["num_tokens"]) / (last - first)
    if done:
        out["peak_memory_gib"] = done["metrics"].get("peak_memory_gib")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="folder for the model, data and run outputs")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--layers", type=int, default=LAYERS, help="fewer layers for a quick check")
    ap.add_argument("--variants", default="sft-default,sft-tuned,dpo-default,dpo-tuned")
    ap.add_argument("--json", help="write the results here too")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    t = time.monotonic()
    build_model(os.path.join(a.work, "model"), a.layers)
    write_datasets(a.work)
    print(json.dumps({"setup_s": round(time.monotonic() - t, 1), "matmul_params": matmul_params(a.layers),
                      "flops_per_token": {k: flops_per_token(k, a.layers) for k in ("sft", "dpo")}}), flush=True)
    results = []
    for name in a.variants.split(","):
        r = run_variant(a.work, name, VARIANTS[name], a.steps, a.layers)
        print(json.dumps(r), flush=True)
        results.append(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
