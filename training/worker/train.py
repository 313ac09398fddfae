"""Building TRL's SFTTrainer / DPOTrainer from a Config and running it."""

import dataclasses
import importlib
import os
import shutil
import signal
import sys
import tempfile

import torch
import transformers
import trl
import peft
from datasets import Dataset
from peft import LoraConfig, PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.trainer_utils import get_last_checkpoint

from . import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from . import data
from .callbacks import Protocol
from .config import ConfigError


def device_info(use_bf16):
    """Facts about the machine and library versions for the start event."""
    info = {
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "gpus": torch.cuda.device_count(),
        "processes": int(os.environ.get("WORLD_SIZE", "1")),
        "bf16": use_bf16,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "peft": peft.__version__,
    }
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info["gpu_name"] = p.name
        info["gpu_memory_gib"] = round(p.total_memory / 2**30, 1)
    return info


def want_bf16(setting):
    """bf16 "auto" means: on when a CUDA GPU supports it, never on CPU."""
    if setting == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if setting and not torch.cuda.is_available():
        return False
    return bool(setting)


def common_args(cfg, use_bf16, has_eval):
    """TrainingArguments fields shared by SFTConfig and DPOConfig."""
    h = cfg.hyper
    args = dict(
        output_dir=cfg.output_dir,
        learning_rate=h.learning_rate,
        num_train_epochs=h.epochs,
        max_steps=h.max_steps,
        per_device_train_batch_size=h.per_device_batch_size,
        per_device_eval_batch_size=h.per_device_batch_size,
        gradient_accumulation_steps=h.gradient_accumulation,
        warmup_steps=h.warmup_ratio,
        lr_scheduler_type=h.lr_scheduler,
        max_length=h.max_length,
        logging_steps=h.logging_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,
        save_strategy="steps",
        save_steps=h.save_steps,
        save_total_limit=h.save_total_limit,
        seed=h.seed,
        bf16=use_bf16,
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        gradient_checkpointing=h.gradient_checkpointing,
    )
    if has_eval:
        args.update(eval_strategy="steps", eval_steps=h.eval_steps or h.logging_steps)
    return args


def pretrained_source(path):
    """from_pretrained arguments for path: a folder or hub id as is; a GGUF file as its folder
    plus gguf_file (transformers dequantizes it, with the gguf package)."""
    if path.endswith(".gguf") and os.path.isfile(path):
        return os.path.dirname(os.path.abspath(path)), {"gguf_file": os.path.basename(path)}
    return path, {}


def dense_after_gguf(model):
    """transformers dequantizes a GGUF file into ordinary dense weights but keeps the file's
    quantizer on the model, and the Trainer refuses to train a model marked quantized. The
    weights are dense, so the mark goes."""
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def load_tokenizer(cfg):
    """The tokenizer of cfg.tokenizer, else of the model (a folder, hub id or GGUF file)."""
    source, extra = pretrained_source(cfg.tokenizer or cfg.model)
    return AutoTokenizer.from_pretrained(source, **extra)


def load_model(cfg, use_bf16):
    """Loads the base model (in 4-bit for QLoRA) and, when init_adapter is set, that adapter as
    the trainable start."""
    dtype = torch.bfloat16 if use_bf16 else torch.float32
    source, extra = pretrained_source(cfg.model)
    if cfg.hyper.attn_implementation:
        extra["attn_implementation"] = cfg.hyper.attn_implementation
    if cfg.lora.quantization != "none":
        model = load_quantized(cfg, source, extra, dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **extra)
        if "gguf_file" in extra:
            dense_after_gguf(model)
    if cfg.init_adapter:
        model = PeftModel.from_pretrained(model, cfg.init_adapter, is_trainable=True)
    return model


def check_quantization(cfg):
    """QLoRA needs the bitsandbytes package; refused before anything loads when it is missing."""
    if cfg.lora.quantization == "none":
        return
    try:
        importlib.import_module("bitsandbytes")
    except ImportError:
        raise ConfigError(
            f"config {cfg.path}: field lora.quantization is {cfg.lora.quantization} (4-bit QLoRA), which needs the "
            f"bitsandbytes package, not installed for {sys.executable}: pip install bitsandbytes "
            "(or set lora.quantization to none)") from None


def bnb_config(cfg, dtype):
    """4-bit NormalFloat with double quantization, computing in the training dtype (QLoRA's recipe)."""
    return transformers.BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=cfg.lora.quantization, bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype)


def load_quantized(cfg, source, extra, dtype):
    """The base with its linear layers in 4 bits. transformers cannot quantize while reading a
    GGUF file, so a GGUF base is dequantized, written as safetensors next to the output and
    read again from there."""
    q = bnb_config(cfg, dtype)
    if "gguf_file" not in extra:
        return AutoModelForCausalLM.from_pretrained(source, dtype=dtype, quantization_config=q, **extra)
    dense = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **extra)
    dense_after_gguf(dense)
    os.makedirs(cfg.output_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".dense-base-", dir=cfg.output_dir)
    try:
        dense.save_pretrained(tmp)
        del dense
        rest = {k: v for k, v in extra.items() if k != "gguf_file"}
        return AutoModelForCausalLM.from_pretrained(tmp, dtype=dtype, quantization_config=q, **rest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def count_4bit(model):
    """How many linear layers of the base hold 4-bit weights (0 without QLoRA)."""
    return sum(1 for m in model.modules() if type(m).__name__ == "Linear4bit")


def lora_config(cfg):
    """The LoRA config for a fresh adapter; None when training continues an existing one."""
    if cfg.init_adapter:
        return None
    lo = cfg.lora
    return LoraConfig(r=lo.r, lora_alpha=lo.alpha, lora_dropout=lo.dropout,
                      target_modules=lo.target_modules, task_type="CAUSAL_LM")


def build_trainer(cfg, model, tokenizer, train_rows, eval_rows, callback, use_bf16):
    """Configures TRL's trainer for cfg.kind."""
    base = common_args(cfg, use_bf16, bool(eval_rows))
    train_ds = Dataset.from_list(train_rows)
    eval_ds = Dataset.from_list(eval_rows) if eval_rows else None
    if cfg.kind == "dpo":
        base.update(beta=cfg.hyper.beta, loss_type=[cfg.hyper.loss_type])
        config_cls, cls = trl.DPOConfig, trl.DPOTrainer
    else:
        config_cls, cls = trl.SFTConfig, trl.SFTTrainer
    base.update(checked_trainer_args(cfg, config_cls))
    args = config_cls(**base)
    trainer = cls(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                  processing_class=tokenizer, peft_config=lora_config(cfg), callbacks=[callback])
    if cfg.hyper.compile_layers:
        compile_layers(trainer.model, same_rounding=cfg.kind == "dpo")
    return trainer


def compile_layers(model, same_rounding=False):
    """Compiles every decoder layer in place and returns how many. Unlike torch_compile, which
    compiles the policy's whole forward, the layers stay the model's own modules, so DPO's
    reference forward (adapter off) runs through the same compiled code as the policy.
    same_rounding makes the compiler round to bf16 where eager code would: the reference's
    forward (no gradients) and the policy's (with) are fused differently, and without it
    their log-probabilities part by ~0.7 nats over 1,024 tokens, so DPO's first loss is not ln 2."""
    if same_rounding:
        import torch._inductor.config as inductor
        inductor.emulate_precision_casts = True
    n = 0
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) and all(
                type(m).__name__.endswith("DecoderLayer") for m in module):
            for layer in module:
                layer.compile()
                n += 1
    if n == 0:
        raise ConfigError("hyperparameters.compile_layers: the model has no list of decoder layers to compile")
    return n


def checked_trainer_args(cfg, config_cls):
    """cfg.trainer_args, refused when a key is not a field of TRL's config class."""
    known = {f.name for f in dataclasses.fields(config_cls)}
    for key in cfg.trainer_args:
        if key not in known:
            raise ConfigError(f"config {cfg.path}: field trainer_args.{key} is not a {config_cls.__name__} field")
        if key in ("output_dir", "report_to"):
            raise ConfigError(f"config {cfg.path}: field trainer_args.{key} is set by the worker")
    return cfg.trainer_args


def check_processes(cfg):
    """gpus > 1 needs one worker process per GPU, as torchrun starts them."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if cfg.gpus > 1 and world != cfg.gpus:
        raise ConfigError(f"config {cfg.path}: gpus is {cfg.gpus} but the worker runs as {world} process(es): "
                          f"start it with python3 -m torch.distributed.run --nproc_per_node {cfg.gpus} -m worker ...")
    if cfg.gpus > torch.cuda.device_count() > 0 or (cfg.gpus > 1 and not torch.cuda.is_available()):
        raise ConfigError(f"config {cfg.path}: gpus is {cfg.gpus} but {torch.cuda.device_count()} CUDA GPU(s) are visible")


def resume_path(cfg):
    """The checkpoint to resume from: a path, the latest in output_dir for true, or None."""
    if cfg.resume_from is True:
        last = get_last_checkpoint(cfg.output_dir) if os.path.isdir(cfg.output_dir) else None
        if last is None:
            raise data.DataError(f"config {cfg.path}: resume_from is true but {cfg.output_dir} has no checkpoint")
        return last
    if isinstance(cfg.resume_from, str):
        if not os.path.isfile(os.path.join(cfg.resume_from, "trainer_state.json")):
            raise data.DataError(f"config {cfg.path}: resume_from {cfg.resume_from} is not a checkpoint "
                                 "(no trainer_state.json)")
        return cfg.resume_from
    return None


def run(cfg, events):
    """Checks the data, trains, saves the adapter and reports; returns the exit code."""
    rows = data.load(cfg.dataset, cfg.kind)
    train_rows, eval_rows = data.split(rows, cfg.eval_fraction, cfg.hyper.seed)
    resume = resume_path(cfg)
    check_processes(cfg)
    check_quantization(cfg)
    checked_trainer_args(cfg, trl.DPOConfig if cfg.kind == "dpo" else trl.SFTConfig)
    use_bf16 = want_bf16(cfg.hyper.bf16)
    info = device_info(use_bf16)
    info.update(train_rows=len(train_rows), eval_rows=len(eval_rows), output_dir=cfg.output_dir,
                quantization=cfg.lora.quantization)
    callback = Protocol(events, cfg.kind, info, check_first_loss=cfg.kind == "dpo")
    previous = signal.signal(signal.SIGTERM, callback.on_sigterm)
    try:
        tokenizer = load_tokenizer(cfg)
        model = load_model(cfg, use_bf16)
        info.update(base_4bit_layers=count_4bit(model))
        trainer = build_trainer(cfg, model, tokenizer, train_rows, eval_rows, callback, use_bf16)
        result = trainer.train(resume_from_checkpoint=resume)
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        return finish(cfg, trainer, result, callback, events)
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def finish(cfg, trainer, result, callback, events):
    """Sends the closing event and saves the final adapter when training completed."""
    step = trainer.state.global_step
    if callback.failure:
        events.error(callback.failure, step=step, checkpoint=callback.last_checkpoint)
        return EXIT_ERROR
    if callback.interrupted:
        events.emit("interrupted", step=step, checkpoint=callback.last_checkpoint)
        return EXIT_INTERRUPTED
    trainer.save_model(cfg.output_dir)
    metrics = dict(callback.last_metrics)
    metrics.update(result.metrics)
    if torch.cuda.is_available():
        metrics["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    events.emit("done", output=cfg.output_dir, step=step, metrics=metrics)
    return EXIT_OK
