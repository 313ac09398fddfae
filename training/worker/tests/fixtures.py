"""Test fixtures: a tiny random Llama with SmolLM2's real tokenizer and ChatML template, and
small SFT/DPO datasets in our JSONL formats.

    python3 -m worker.tests.fixtures DIR    # run from training/; writes DIR/model, DIR/sft.jsonl, DIR/dpo.jsonl
"""

import gzip
import json
import os
import shutil
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TOKENIZER_GZ = os.path.join(ROOT, "inference", "tokenizer", "testdata", "smollm2_tokenizer.json.gz")
TEMPLATE = os.path.join(ROOT, "inference", "chat", "testdata", "smollm2.jinja")

TOPICS = [
    ("How do I borrow a String as &str?", "Write `&s` or `s.as_str()`.", "Call `s.clone()` first."),
    ("What does `?` do in Rust?", "It returns early with the error, converting it via `From`.", "It ignores errors."),
    ("How do I iterate with an index?", "Use `for (i, x) in xs.iter().enumerate()`.", "Use a C-style for loop."),
    ("How do I read a file to a string?", "`std::fs::read_to_string(path)?`", "Use `File::open` and read bytes by hand."),
    ("What is `Box<dyn Error>`?", "A heap-allocated trait object for any error type.", "A special integer."),
    ("How do I sort a Vec<f64>?", "`v.sort_by(|a, b| a.total_cmp(b))`", "`v.sort()` works for floats."),
    ("How do I share data between threads?", "Wrap it in `Arc<Mutex<T>>`.", "Use a global `static mut`."),
    ("What does `impl Trait` in argument position mean?", "A generic parameter bounded by the trait.", "Dynamic dispatch."),
]


def write_tokenizer(out):
    """Writes SmolLM2's tokenizer.json and a tokenizer_config.json with its ChatML template to out."""
    os.makedirs(out, exist_ok=True)
    with gzip.open(TOKENIZER_GZ, "rb") as src, open(os.path.join(out, "tokenizer.json"), "wb") as dst:
        shutil.copyfileobj(src, dst)
    with open(TEMPLATE, encoding="utf-8") as f:
        template = f.read()
    tok_cfg = {
        "tokenizer_class": "GPT2Tokenizer", "model_max_length": 2048, "chat_template": template,
        "bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
        "unk_token": "<|endoftext|>", "add_prefix_space": False, "clean_up_tokenization_spaces": False,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tok_cfg, f, indent=1)


def write_model(out):
    """Writes a random LlamaForCausalLM (hidden 32, 2 layers) and SmolLM2's tokenizer to out."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    write_tokenizer(out)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=49152, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(out)


def write_adapter(model_dir, out):
    """Writes a LoRA adapter with random (non-zero) A and B for the model in model_dir."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(model, cfg).save_pretrained(out)


def sft_rows(n=16):
    """n chat rows in the shape dataset.SFTRow writes."""
    rows = []
    for i in range(n):
        q, good, _ = TOPICS[i % len(TOPICS)]
        rows.append({"messages": [{"role": "system", "content": "You are a senior Rust engineer."},
                                  {"role": "user", "content": q}, {"role": "assistant", "content": good}],
                     "prompt_id": f"p{i}", "model": "m", "category": "basics"})
    return rows


def dpo_rows(n=16):
    """n conversational preference rows in the shape dataset.DPORow writes."""
    rows = []
    for i in range(n):
        q, good, bad = TOPICS[i % len(TOPICS)]
        rows.append({"prompt": [{"role": "user", "content": q}], "chosen": [{"role": "assistant", "content": good}],
                     "rejected": [{"role": "assistant", "content": bad}], "prompt_id": f"p{i}",
                     "chosen_model": "a", "rejected_model": "b", "annotator": "alice", "category": "basics"})
    return rows


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def write_all(out):
    """Writes out/model, out/sft.jsonl and out/dpo.jsonl."""
    write_model(os.path.join(out, "model"))
    write_jsonl(os.path.join(out, "sft.jsonl"), sft_rows())
    write_jsonl(os.path.join(out, "dpo.jsonl"), dpo_rows())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 -m worker.tests.fixtures DIR")
    write_all(sys.argv[1])
