"""Exporting a model as a complete Hugging Face folder, ready for upload to the hub.

    python3 -m worker export --config export.json

export.json: {"model": base folder, hub id or GGUF file, "adapter": PEFT folder or null,
"output_dir": new folder, "merged": true|false, "card": Markdown file for README.md,
"dtype": "bfloat16"|"float16"|"float32"}.

merged: the adapter is merged into the base weights (W + (α/r)·B·A) and the folder holds a
plain transformers model (config.json, model.safetensors, tokenizer). Otherwise the folder
holds the adapter (adapter_config.json, adapter_model.safetensors) plus the tokenizer, with
base_model in the card. A GGUF base is dequantized by transformers on loading.
"""

import json
import os
import shutil

from .config import ConfigError, read_object

FIELDS = {"model", "adapter", "output_dir", "merged", "card", "dtype", "base_model_id"}
DTYPES = ("bfloat16", "float16", "float32")


def load(path):
    """Reads and checks export.json."""
    raw = read_object(path, FIELDS)
    for name in ("model", "output_dir"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise ConfigError(f"config {path}: field {name} is required and must be a non-empty string")
    if raw.get("dtype", "bfloat16") not in DTYPES:
        raise ConfigError(f"config {path}: field dtype must be one of {', '.join(DTYPES)}")
    if raw.get("merged") and not raw.get("adapter"):
        raise ConfigError(f"config {path}: field merged needs an adapter to merge")
    if raw.get("adapter") and not os.path.isfile(os.path.join(raw["adapter"], "adapter_config.json")):
        raise ConfigError(f"config {path}: field adapter: {raw['adapter']} has no adapter_config.json")
    if os.path.exists(raw["output_dir"]) and os.listdir(raw["output_dir"]):
        raise ConfigError(f"config {path}: field output_dir: {raw['output_dir']} exists and is not empty")
    return raw


def run(cfg, events):
    """Writes the folder into a temporary sibling and renames it into place when complete."""
    import torch
    from peft import PeftModel

    from . import train

    events.emit("start", kind="export", merged=bool(cfg.get("merged")), output_dir=cfg["output_dir"])
    dtype = getattr(torch, cfg.get("dtype", "bfloat16"))
    tmp = cfg["output_dir"].rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    source, extra = train.pretrained_source(cfg["model"])
    tokenizer = train.AutoTokenizer.from_pretrained(source, **extra)
    if cfg.get("merged") or not cfg.get("adapter"):
        model = train.AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **extra)
        if "gguf_file" in extra:
            train.dense_after_gguf(model)
        if cfg.get("adapter"):
            model = PeftModel.from_pretrained(model, cfg["adapter"]).merge_and_unload()
        model.save_pretrained(tmp, safe_serialization=True)
    else:
        os.makedirs(tmp)
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copy(os.path.join(cfg["adapter"], name), os.path.join(tmp, name))
        set_base_model(os.path.join(tmp, "adapter_config.json"), cfg.get("base_model_id"))
    tokenizer.save_pretrained(tmp)
    if cfg.get("card"):
        shutil.copy(cfg["card"], os.path.join(tmp, "README.md"))
    if os.path.exists(cfg["output_dir"]):
        move_into(tmp, cfg["output_dir"])
    else:
        os.replace(tmp, cfg["output_dir"])
    files = sorted(os.listdir(cfg["output_dir"]))
    events.emit("done", output=cfg["output_dir"], files=files)
    return 0


def set_base_model(path, base_id):
    """Points the adapter at base_id (a hub id) instead of a local path."""
    if not base_id:
        return
    with open(path, encoding="utf-8") as f:
        ac = json.load(f)
    ac["base_model_name_or_path"] = base_id
    with open(path, "w", encoding="utf-8") as f:
        json.dump(ac, f, indent=2)


def move_into(src, dst):
    """Moves the files of src into the existing empty folder dst."""
    for name in os.listdir(src):
        os.replace(os.path.join(src, name), os.path.join(dst, name))
    os.rmdir(src)
