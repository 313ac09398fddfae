"""Reading and checking run.json."""

import json
import math
import os
from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the field."""


TOP_FIELDS = {
    "model", "tokenizer", "dataset", "eval_fraction", "output_dir", "lora", "hyperparameters",
    "resume_from", "init_adapter", "ref_adapter", "trainer_args", "gpus",
}
LORA_FIELDS = {"r", "alpha", "dropout", "target_modules", "quantization"}
QUANTIZATIONS = ("none", "nf4")
HYPER_FIELDS = {
    "learning_rate", "epochs", "max_steps", "per_device_batch_size", "gradient_accumulation",
    "warmup_ratio", "lr_scheduler", "max_length", "beta", "loss_type", "logging_steps", "save_steps",
    "save_total_limit", "eval_steps", "seed", "bf16", "gradient_checkpointing", "attn_implementation",
    "compile_layers",
}


@dataclass
class Lora:
    """LoRA settings; target_modules "all-linear" means every linear projection but the LM head."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: object = "all-linear"
    # "nf4" loads the frozen base in 4-bit NormalFloat with bitsandbytes (QLoRA); "none" keeps
    # it in bf16/fp32.
    quantization: str = "none"


@dataclass
class Hyper:
    """Optimisation settings, mapped onto TRL's SFTConfig / DPOConfig."""

    learning_rate: float | None = None
    epochs: float = 1.0
    max_steps: int = -1
    per_device_batch_size: int = 2
    gradient_accumulation: int = 1
    warmup_ratio: float = 0.0
    lr_scheduler: str = "cosine"
    max_length: int = 1024
    beta: float = 0.1
    loss_type: str = "sigmoid"
    logging_steps: int = 10
    save_steps: int = 100
    save_total_limit: int | None = None
    eval_steps: int | None = None
    seed: int = 42
    bf16: object = "auto"
    gradient_checkpointing: bool = True
    attn_implementation: str | None = None
    # torch.compile of each decoder layer in place (regional compilation): the policy's and, for
    # DPO, the reference's forward run through the same compiled layers.
    compile_layers: bool = False


@dataclass
class Config:
    """One run: what to train, on what, and where to write."""

    kind: str
    path: str
    model: str
    dataset: str
    output_dir: str
    tokenizer: str | None = None
    eval_fraction: float = 0.0
    resume_from: object = None
    init_adapter: str | None = None
    ref_adapter: str | None = None
    lora: Lora = field(default_factory=Lora)
    hyper: Hyper = field(default_factory=Hyper)
    trainer_args: dict = field(default_factory=dict)
    gpus: int = 1


def read_object(path, allowed):
    """Reads the JSON object at path; ConfigError names the file, line and field."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as e:
        raise ConfigError(f"config {path}: cannot read: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"config {path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: top level must be a JSON object")
    check_keys(raw, allowed, path, "")
    return raw


def load(path, kind):
    """Reads and checks the config at path for a run of kind "sft" or "dpo"."""
    return parse(read_object(path, TOP_FIELDS), path, kind)


def parse(raw, path, kind):
    """Builds a Config from the decoded JSON object raw."""
    check_keys(raw, TOP_FIELDS, path, "")
    cfg = Config(
        kind=kind,
        path=path,
        model=need_str(raw, "model", path),
        dataset=need_str(raw, "dataset", path),
        output_dir=need_str(raw, "output_dir", path),
        tokenizer=opt_str(raw, "tokenizer", path),
        init_adapter=opt_str(raw, "init_adapter", path),
        ref_adapter=opt_str(raw, "ref_adapter", path),
        resume_from=raw.get("resume_from"),
    )
    cfg.eval_fraction = number(raw, "eval_fraction", path, 0.0, lo=0.0, hi=0.5)
    cfg.lora = parse_lora(raw.get("lora", {}), path)
    cfg.hyper = parse_hyper(raw.get("hyperparameters", {}), path, kind)
    cfg.gpus = integer(raw, "gpus", path, 1, lo=0) or 1
    cfg.trainer_args = raw.get("trainer_args", {})
    if not isinstance(cfg.trainer_args, dict):
        raise ConfigError(f"config {path}: field trainer_args must be an object of SFTConfig/DPOConfig fields")
    check_adapters(cfg)
    if cfg.resume_from is not None and not isinstance(cfg.resume_from, (str, bool)):
        raise ConfigError(f"config {path}: field resume_from must be a checkpoint path or true (latest in output_dir)")
    return cfg


def check_adapters(cfg):
    """DPO from an SFT adapter: the adapter is both the start and the reference, so a
    separate reference adapter is refused unless it is the same one."""
    if cfg.ref_adapter is None:
        return
    if cfg.init_adapter is None or norm(cfg.ref_adapter) != norm(cfg.init_adapter):
        raise ConfigError(
            f"config {cfg.path}: field ref_adapter must equal init_adapter: the adapter DPO starts from is "
            "also its reference (a frozen copy is kept); a different reference adapter is not supported")


def norm(p):
    return os.path.realpath(p)


def parse_lora(raw, path):
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: field lora must be an object")
    check_keys(raw, LORA_FIELDS, path, "lora.")
    lora = Lora()
    lora.r = integer(raw, "r", path, lora.r, lo=1, prefix="lora.")
    lora.alpha = number(raw, "alpha", path, lora.alpha, lo=0.0, prefix="lora.")
    lora.dropout = number(raw, "dropout", path, lora.dropout, lo=0.0, hi=0.9, prefix="lora.")
    tm = raw.get("target_modules", lora.target_modules)
    if not (tm == "all-linear" or (isinstance(tm, list) and tm and all(isinstance(t, str) and t for t in tm))):
        raise ConfigError(f"config {path}: field lora.target_modules must be \"all-linear\" or a list of module names")
    lora.target_modules = tm
    lora.quantization = choice(raw, "quantization", path, lora.quantization, QUANTIZATIONS, "lora.")
    return lora


def parse_hyper(raw, path, kind):
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: field hyperparameters must be an object")
    check_keys(raw, HYPER_FIELDS, path, "hyperparameters.")
    h, p = Hyper(), "hyperparameters."
    default_lr = 2e-4 if kind == "sft" else 5e-6
    h.learning_rate = number(raw, "learning_rate", path, default_lr, lo=0.0, prefix=p)
    h.epochs = number(raw, "epochs", path, h.epochs, lo=0.0, prefix=p)
    h.max_steps = integer(raw, "max_steps", path, h.max_steps, lo=-1, prefix=p)
    h.per_device_batch_size = integer(raw, "per_device_batch_size", path, h.per_device_batch_size, lo=1, prefix=p)
    h.gradient_accumulation = integer(raw, "gradient_accumulation", path, h.gradient_accumulation, lo=1, prefix=p)
    h.warmup_ratio = number(raw, "warmup_ratio", path, h.warmup_ratio, lo=0.0, hi=0.99, prefix=p)
    h.lr_scheduler = choice(raw, "lr_scheduler", path, h.lr_scheduler,
                            ("cosine", "linear", "constant", "constant_with_warmup"), p)
    h.max_length = integer(raw, "max_length", path, h.max_length, lo=16, prefix=p)
    h.beta = number(raw, "beta", path, h.beta, lo=0.0, prefix=p)
    h.loss_type = choice(raw, "loss_type", path, h.loss_type, ("sigmoid", "hinge", "ipo", "robust"), p)
    h.logging_steps = integer(raw, "logging_steps", path, h.logging_steps, lo=1, prefix=p)
    h.save_steps = integer(raw, "save_steps", path, h.save_steps, lo=1, prefix=p)
    if "save_total_limit" in raw:
        h.save_total_limit = integer(raw, "save_total_limit", path, 1, lo=1, prefix=p)
    if "eval_steps" in raw:
        h.eval_steps = integer(raw, "eval_steps", path, 1, lo=1, prefix=p)
    h.seed = integer(raw, "seed", path, h.seed, lo=0, prefix=p)
    h.bf16 = raw.get("bf16", "auto")
    if h.bf16 not in ("auto", True, False):
        raise ConfigError(f"config {path}: field {p}bf16 must be \"auto\", true or false")
    h.gradient_checkpointing = boolean(raw, "gradient_checkpointing", path, True, p)
    h.compile_layers = boolean(raw, "compile_layers", path, False, p)
    if "attn_implementation" in raw:
        h.attn_implementation = raw["attn_implementation"]
        if not isinstance(h.attn_implementation, str) or not h.attn_implementation:
            raise ConfigError(f"config {path}: field {p}attn_implementation must be a non-empty string "
                              "(sdpa, eager, flash_attention_2, ...)")
    if h.max_steps == 0 or (h.max_steps < 0 and h.epochs <= 0):
        raise ConfigError(f"config {path}: set {p}max_steps > 0 or {p}epochs > 0")
    return h


def check_keys(raw, allowed, path, prefix):
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"config {path}: unknown field {prefix}{unknown[0]} (known: {', '.join(sorted(allowed))})")


def need_str(raw, name, path):
    v = raw.get(name)
    if not isinstance(v, str) or not v:
        raise ConfigError(f"config {path}: field {name} is required and must be a non-empty string")
    return v


def opt_str(raw, name, path):
    v = raw.get(name)
    if v is None:
        return None
    if not isinstance(v, str) or not v:
        raise ConfigError(f"config {path}: field {name} must be a non-empty string")
    return v


def number(raw, name, path, default, lo=None, hi=None, prefix=""):
    v = raw.get(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"config {path}: field {prefix}{name} must be a number")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ConfigError(f"config {path}: field {prefix}{name} = {v} is outside [{lo}, {hi}]")
    return v


def integer(raw, name, path, default, lo=None, prefix=""):
    v = raw.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"config {path}: field {prefix}{name} must be an integer")
    if lo is not None and v < lo:
        raise ConfigError(f"config {path}: field {prefix}{name} = {v} must be >= {lo}")
    return v


def boolean(raw, name, path, default, prefix):
    v = raw.get(name, default)
    if not isinstance(v, bool):
        raise ConfigError(f"config {path}: field {prefix}{name} must be true or false")
    return v


def choice(raw, name, path, default, options, prefix):
    v = raw.get(name, default)
    if v not in options:
        raise ConfigError(f"config {path}: field {prefix}{name} must be one of {', '.join(options)}")
    return v
