#!/usr/bin/env python3
"""Reference goldens for the built-in CPU engine (package inference/llama).

How to run (CPU is enough, takes a minute or two):

    pip install torch transformers peft gguf safetensors numpy
    cd inference/llama/testdata
    python3 make_goldens.py [--gguf path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
    python3 make_goldens.py --only tiny-qwen3 tiny-llama3   # those folders alone

The GGUF defaults to $RUSTEXPERT_TEST_GGUF, then to
models/base/SmolLM2-135M-Instruct.Q4_1.gguf at the repository root; without
it the smollm2/ goldens are left as they are.

It writes, next to this script:

  tiny-llama/       LlamaForCausalLM, random init, float32, two shards with
                    model.safetensors.index.json, tied embeddings, GQA.
  tiny-llama-lora/  a PEFT LoRA adapter for tiny-llama (r=8, alpha=16, all
                    seven projections, random A and B) and the goldens of
                    tiny-llama with the adapter applied.
  tiny-qwen2/       Qwen2ForCausalLM, random init (q/k/v bias), bfloat16,
                    untied embeddings, rope_theta 1e6.
  tiny-mistral/     MistralForCausalLM, random init, float16, no sliding window.
  tiny-qwen3/       Qwen3ForCausalLM, random init (RMSNorm of each head's
                    queries and keys), bfloat16, untied embeddings, head size
                    32 (heads × head size ≠ hidden size).
  tiny-llama3/      LlamaForCausalLM with Llama 3.1's scaled RoPE (rope_type
                    llama3, factor 8, original context 64: its head size 16
                    has frequencies in all three of the scaling's ranges),
                    float32, tied embeddings.
  smollm2/          goldens of the bundled GGUF as transformers loads it
                    (dequantized to float32), with chat-template prompts.
  tiny-kquants/<f>/ goldens of tiny-kquants/<f>.gguf (llama.cpp's quantizer's
                    Q4_K_M, Q3_K_M, Q2_K, Q5_0, Q5_1, IQ4_NL, IQ4_XS files,
                    make_kquants.py)
                    as transformers loads them.

Each golden folder has cases.json, a list of
  {"prompt": [ids], "greedy": [64 ids], "logits": "logits_<i>.f32",
   "logits_all": "logits_all_<i>.f32" (length-7 case only),
   "min_gap": smallest top-1 minus top-2 logit along the greedy path}
where logits_<i>.f32 holds the last prompt position's logits and
logits_all_<i>.f32 every prompt position's (row-major, positions x vocab),
both raw little-endian float32. The greedy ids ignore end-of-sequence tokens
(always 64 new ids). The reference runs in float32 (half-precision
weights are upcast exactly), eval mode, eager attention, and the greedy ids
come from a plain argmax loop that re-runs the whole sequence each step.
Each tiny-* folder's probe.json maps every stored tensor's name to its dtype,
shape and first four values, to check a safetensors reader against.
"""

import argparse
import datetime
import json
import os
import pathlib
import shutil
import sys

import numpy as np
import torch
import transformers
from transformers import (AutoModelForCausalLM, AutoTokenizer, LlamaConfig,
                          MistralConfig, Qwen2Config, Qwen3Config)

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
PROMPT_LENGTHS = [1, 7, 33, 100]
ALL_POSITIONS_LENGTH = 7
NEW_TOKENS = 64
VOCAB = 2048
SMOL_PROMPTS = [
    "Write a Rust function that reverses a string.",
    "What does the borrow checker do?",
    "Explain Option<T> in one sentence.",
]

COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    rms_norm_eps=1e-6,
    initializer_range=0.2,
    bos_token_id=1,
    eos_token_id=2,
)


def fresh(name):
    """Empties and returns the output folder name."""
    d = HERE / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir()
    return d


def randomize_extras(model, seed):
    """Gives norm weights and biases random values, which the default init
    leaves at one and zero, so that loading them wrongly changes the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            elif "norm" in name:
                p.copy_(1 + torch.randn(p.shape, generator=g) * 0.2)


def build(cls_config, seed, **extra):
    """A randomly initialised causal LM in float32."""
    torch.manual_seed(seed)
    config = cls_config(**COMMON, **extra)
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    randomize_extras(model, seed + 1)
    return model.eval()


def load(path, **kw):
    """Loads a saved model back in float32 with eager attention."""
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager", **kw)
    return model.eval()


def prompts():
    """The random-token prompts shared by all tiny models."""
    rng = np.random.default_rng(1234)
    return [rng.integers(3, VOCAB, size=n).tolist() for n in PROMPT_LENGTHS]


@torch.no_grad()
def logits_of(model, ids):
    """All positions' logits for one sequence, shape [len, vocab]."""
    out = model(input_ids=torch.tensor([ids]), use_cache=False)
    return out.logits[0].float()


@torch.no_grad()
def greedy(model, ids, n):
    """n argmax continuations, re-running the whole sequence each step, and
    the smallest gap between the top two logits on the way."""
    seq = list(ids)
    gap = float("inf")
    for _ in range(n):
        last = logits_of(model, seq)[-1]
        top = torch.topk(last, 2)
        gap = min(gap, (top.values[0] - top.values[1]).item())
        seq.append(int(torch.argmax(last)))
    return seq[len(ids):], gap


def write_f32(path, t):
    """Writes a tensor as raw little-endian float32."""
    t.detach().cpu().numpy().astype("<f4").tofile(path)


def goldens(model, out, prompt_list, all_positions_length=ALL_POSITIONS_LENGTH):
    """Writes cases.json and the logits files for model into out."""
    cases = []
    for i, ids in enumerate(prompt_list):
        logits = logits_of(model, ids)
        case = {"prompt": ids}
        case["logits"] = f"logits_{i}.f32"
        write_f32(out / case["logits"], logits[-1])
        if len(ids) == all_positions_length:
            case["logits_all"] = f"logits_all_{i}.f32"
            write_f32(out / case["logits_all"], logits)
        case["greedy"], case["min_gap"] = greedy(model, ids, NEW_TOKENS)
        cases.append(case)
        print(f"{out.name} case {i}: {len(ids)} prompt ids, min top-2 gap {case['min_gap']:.4g}, "
              f"greedy starts {case['greedy'][:8]}")
    with open(out / "cases.json", "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    return cases


def tiny_llama(prompt_list):
    out = fresh("tiny-llama")
    model = build(LlamaConfig, 10, tie_word_embeddings=True, rope_theta=10000.0)
    model.save_pretrained(out, max_shard_size="600KB")
    shards = sorted(p.name for p in out.glob("*.safetensors"))
    if len(shards) != 2 or not (out / "model.safetensors.index.json").exists():
        sys.exit(f"tiny-llama: want two shards with an index, got {shards}")
    write_probe(out)
    goldens(load(out), out, prompt_list)
    tiny_llama_lora(out, prompt_list)


def write_probe(out):
    """probe.json: for every tensor in the folder's safetensors files, its
    dtype, shape and first four values (flattened row-major, upcast to float)."""
    from safetensors import safe_open
    probe = {}
    for path in sorted(out.glob("*.safetensors")):
        with safe_open(path, framework="pt") as f:
            for name in sorted(f.keys()):
                t = f.get_tensor(name)
                probe[name] = {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
                               "first": t.float().flatten()[:4].tolist()}
    with open(out / "probe.json", "w") as f:
        json.dump(probe, f, indent=1)
        f.write("\n")


def tiny_llama_lora(base_dir, prompt_list):
    from peft import LoraConfig, PeftModel, get_peft_model
    out = fresh("tiny-llama-lora")
    torch.manual_seed(20)
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, init_lora_weights=False, task_type="CAUSAL_LM",
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    peft_model = get_peft_model(load(base_dir), config)
    peft_model.save_pretrained(out)
    cfg_path = out / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = "tiny-llama"
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    write_probe(out)
    readme = out / "README.md"
    if readme.exists():
        readme.unlink()
    ref = PeftModel.from_pretrained(load(base_dir), out).eval()
    cases = goldens(ref, out, prompt_list)
    base = json.loads((base_dir / "cases.json").read_text())
    if all(a["greedy"] == b["greedy"] for a, b in zip(cases, base)):
        sys.exit("tiny-llama-lora: the adapter does not change any greedy continuation")


def tiny_qwen2(prompt_list):
    out = fresh("tiny-qwen2")
    model = build(Qwen2Config, 30, tie_word_embeddings=False, rope_theta=1e6, use_sliding_window=False)
    model.to(torch.bfloat16).save_pretrained(out)
    write_probe(out)
    goldens(load(out), out, prompt_list)


def tiny_mistral(prompt_list):
    out = fresh("tiny-mistral")
    model = build(MistralConfig, 40, tie_word_embeddings=False, rope_theta=10000.0, sliding_window=None,
                  head_dim=16)
    model.to(torch.float16).save_pretrained(out)
    write_probe(out)
    goldens(load(out), out, prompt_list)


def tiny_qwen3(prompt_list):
    out = fresh("tiny-qwen3")
    model = build(Qwen3Config, 50, tie_word_embeddings=False, rope_theta=1e6, head_dim=32, attention_bias=False,
                  use_sliding_window=False)
    model.to(torch.bfloat16).save_pretrained(out)
    write_probe(out)
    goldens(load(out), out, prompt_list)


def tiny_llama3(prompt_list):
    out = fresh("tiny-llama3")
    rope = dict(rope_type="llama3", rope_theta=10000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                original_max_position_embeddings=64)
    model = build(LlamaConfig, 60, tie_word_embeddings=True, rope_parameters=rope)
    model.save_pretrained(out)
    write_probe(out)
    goldens(load(out), out, prompt_list)


def smollm2(gguf):
    out = fresh("smollm2")
    folder, name = str(gguf.parent), gguf.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = load(folder, gguf_file=name)
    texts, prompt_list = [], []
    for p in SMOL_PROMPTS:
        text = tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        texts.append(text)
        prompt_list.append(ids)
    cases = goldens(model, out, prompt_list, all_positions_length=-1)
    for case, question, text in zip(cases, SMOL_PROMPTS, texts):
        case["question"] = question
        case["text"] = text
        case["answer"] = tok.decode(case["greedy"])
    with open(out / "cases.json", "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")


KQUANT_PROMPTS = [[256, 72, 101, 108, 108, 111], [256] + list(range(97, 97 + 40)), [258, 259, 32, 10, 200, 13, 7]]


def kquants():
    """Goldens of the files in tiny-kquants/ (make_kquants.py) as transformers
    loads them (dequantized to float32 by gguf-py), in tiny-kquants/<name>/."""
    folder = HERE / "tiny-kquants"
    for path in sorted(folder.glob("*.gguf")):
        model = load(str(folder), gguf_file=path.name)
        out = folder / path.stem
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        goldens(model, out, KQUANT_PROMPTS, all_positions_length=len(KQUANT_PROMPTS[2]))


def find_gguf(arg):
    for p in [arg, os.environ.get("RUSTEXPERT_TEST_GGUF"), REPO / "models/base/SmolLM2-135M-Instruct.Q4_1.gguf"]:
        if p and pathlib.Path(p).is_file():
            return pathlib.Path(p).resolve()
    return None


def write_readme(with_smollm2):
    import gguf as gguf_pkg
    import peft
    import safetensors
    versions = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "gguf": getattr(gguf_pkg, "__version__", None) or _dist_version("gguf"),
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }
    lines = [
        "# Reference goldens for the CPU engine",
        "",
        "Made by `make_goldens.py` in this folder (its header explains every file):",
        "",
        "    cd inference/llama/testdata",
        "    python3 make_goldens.py --gguf path/to/SmolLM2-135M-Instruct.Q4_1.gguf",
        "",
        f"Generated on {datetime.date.today().isoformat()} on CPU with:",
        "",
    ]
    lines += [f"- {k} {v}" for k, v in versions.items()]
    if not with_smollm2:
        lines += ["", "smollm2/ was not regenerated in this run (no GGUF found)."]
    (HERE / "README.md").write_text("\n".join(lines) + "\n")


def _dist_version(name):
    from importlib.metadata import version
    return version(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", help="SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--kquants-only", action="store_true", help="only the goldens of tiny-kquants/*.gguf")
    ap.add_argument("--only", nargs="+", choices=["tiny-qwen3", "tiny-llama3"], help="only these folders")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.only:
        for name in args.only:
            {"tiny-qwen3": tiny_qwen3, "tiny-llama3": tiny_llama3}[name](prompts())
        return
    kquants()
    if args.kquants_only:
        return
    prompt_list = prompts()
    tiny_llama(prompt_list)
    tiny_qwen2(prompt_list)
    tiny_mistral(prompt_list)
    tiny_qwen3(prompt_list)
    tiny_llama3(prompt_list)
    gguf = find_gguf(args.gguf)
    if gguf:
        smollm2(gguf)
    else:
        print("no GGUF found: smollm2/ left as it is")
    write_readme(gguf is not None)


if __name__ == "__main__":
    main()
