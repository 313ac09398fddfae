#!/usr/bin/env python3
"""Test models in the GGUF formats people download (Q4_K_M and the like),
made by llama.cpp's own quantizer, with llama.cpp's logits for them.

How to run (CPU; llama-cpp-python compiles llama.cpp when installed):

    pip install numpy gguf llama-cpp-python
    cd inference/llama/testdata
    python3 make_kquants.py [NAME ...]

With names (of FTYPES or IQ_FILES), it makes only those files and keeps the
others' entries in llamacpp.json. It writes, in tiny-kquants/ next to this
script:

  f32.gguf         a random-initialized Llama (hidden 256, the K formats'
                   block; 2 layers, 4 heads, 2 KV heads, FFN 512, untied
                   output head) in float32, with a byte-level BPE vocabulary
                   of 260 tokens. Not kept (it is the quantizer's input);
                   the Go tests make their own float32 model from the
                   quantized files' values.
  <ftype>.gguf     f32.gguf quantized by llama_model_quantize for each ftype
                   in FTYPES (llama.cpp picks each tensor's format the way
                   its llama-quantize tool does).
  IQ1_IQ3.gguf     the same model with its matrices in the 1- to 3-bit IQ
                   formats (IQ_FILES), which llama_model_quantize makes only
                   with an importance matrix: each quantized by ggml's own
                   quantizer (ggml_quantize_chunk, through ctypes) with
                   uniform importances.
  llamacpp.json    per file: the tensor formats in it, and llama.cpp's
                   logits (last position) and 32 greedy tokens for each
                   prompt in PROMPTS, with the top-1 minus top-2 logit at
                   each greedy step ("gaps").

The Go tests (TestKQuantFiles) load each file, compare the built-in engine's
logits with a float32 model of the same dequantized weights (same order of
operations: within float32 rounding) and with llama.cpp's (which quantizes
the activations to 8 bits for these formats, so within that error).
"""

import ctypes
import json
import pathlib
import sys

import numpy as np
from gguf import GGML_QUANT_SIZES, GGUFReader, GGUFWriter, GGMLQuantizationType

import llama_cpp

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "tiny-kquants"
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 256, 2, 4, 2, 512
HEAD_DIM = HIDDEN // HEADS
CONTEXT = 512
FTYPES = {  # llama.cpp's LLAMA_FTYPE_MOSTLY_* values
    "Q4_K_M": 15,
    "Q3_K_M": 12,
    "Q2_K": 10,
    "Q5_0": 8,
    "Q5_1": 9,
    "IQ4_NL": 25,
    "IQ4_XS": 30,
}
Q = GGMLQuantizationType
IQ_FILES = {  # name → format of each matrix (by tensor name suffix)
    "IQ1_IQ3": {"token_embd.weight": Q.IQ3_XXS, "output.weight": Q.IQ3_S, "attn_q.weight": Q.IQ2_XXS,
                "attn_k.weight": Q.IQ2_XS, "attn_v.weight": Q.IQ2_S, "attn_output.weight": Q.IQ3_XXS,
                "ffn_gate.weight": Q.IQ3_S, "ffn_up.weight": Q.IQ1_S, "ffn_down.weight": Q.IQ1_M},
}
PROMPTS = [[256, 72, 101, 108, 108, 111], [256] + list(range(97, 97 + 40)), [258, 259, 32, 10, 200, 13, 7]]


def byte_chars() -> list[str]:
    """GPT-2's printable character for each byte (bytes_to_unicode)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, n = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    return [chars[b] for b in range(256)]


def write_f32(path: pathlib.Path, formats: dict | None = None) -> None:
    """Writes the model; formats, when given, maps tensor name suffixes to the
    formats ggml_quantize_chunk gives those tensors."""
    rng = np.random.default_rng(20261128)
    chars = byte_chars()
    tokens = chars + ["<|bos|>", "<|eos|>", "ab", "cd"]
    types = [1] * 256 + [3, 3, 1, 1]
    w = GGUFWriter(str(path), "llama")
    w.add_name("tiny-kquants")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(len(tokens))
    w.add_file_type(0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(["a b", "c d"])
    w.add_bos_token_id(256)
    w.add_eos_token_id(257)
    w.add_add_bos_token(False)

    def mat(rows, cols, std):
        return (rng.standard_normal((rows, cols)) * std).astype(np.float32)

    add = w.add_tensor

    def add_tensor(name, x):
        t = next((t for suffix, t in (formats or {}).items() if name.endswith(suffix)), None)
        if t is None:
            add(name, x)
        else:
            add(name, ggml_quantize(x, t), raw_dtype=t)

    w.add_tensor = add_tensor
    w.add_tensor("token_embd.weight", mat(len(tokens), HIDDEN, 1.0))
    w.add_tensor("output_norm.weight", (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32))
    w.add_tensor("output.weight", mat(len(tokens), HIDDEN, 0.08))
    kv = KV_HEADS * HEAD_DIM
    for l in range(LAYERS):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32))
        w.add_tensor(p + "attn_q.weight", mat(HIDDEN, HIDDEN, 0.08))
        w.add_tensor(p + "attn_k.weight", mat(kv, HIDDEN, 0.08))
        w.add_tensor(p + "attn_v.weight", mat(kv, HIDDEN, 0.08))
        w.add_tensor(p + "attn_output.weight", mat(HIDDEN, HIDDEN, 0.06))
        w.add_tensor(p + "ffn_norm.weight", (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32))
        w.add_tensor(p + "ffn_gate.weight", mat(FFN, HIDDEN, 0.08))
        w.add_tensor(p + "ffn_up.weight", mat(FFN, HIDDEN, 0.08))
        w.add_tensor(p + "ffn_down.weight", mat(HIDDEN, FFN, 0.05))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def ggml_quantize(x: np.ndarray, t: GGMLQuantizationType) -> np.ndarray:
    """x's rows quantized to t by ggml's quantizer, every column of equal importance."""
    lib = ctypes.CDLL(str(pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    rows, cols = x.shape
    block, size = GGML_QUANT_SIZES[t]
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.zeros((rows, cols // block * size), dtype=np.uint8)
    importance = np.ones(cols, dtype=np.float32)
    n = lib.ggml_quantize_chunk(int(t), x.ctypes.data, out.ctypes.data, 0, rows, cols, importance.ctypes.data)
    if n != out.size:
        sys.exit(f"ggml_quantize_chunk {t.name}: {n} bytes, want {out.size}")
    return out


def quantize(src: pathlib.Path, dst: pathlib.Path, ftype: int) -> None:
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        sys.exit(f"llama_model_quantize {dst.name}: {rc}")


def formats(path: pathlib.Path) -> dict[str, str]:
    return {t.name: GGMLQuantizationType(t.tensor_type).name for t in GGUFReader(str(path)).tensors}


def reference(path: pathlib.Path) -> list[dict]:
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=CONTEXT, n_threads=2, logits_all=True, verbose=False, seed=0)
    cases = []
    for prompt in PROMPTS:
        llm.reset()
        llm.eval(prompt)
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        greedy, gaps = [], []
        for _ in range(32):
            row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            tok = int(np.argmax(row))
            top2 = np.sort(row)[-2:]
            greedy.append(tok)
            gaps.append(float(top2[1] - top2[0]))
            llm.eval([tok])
        cases.append({"prompt": prompt, "logits": [float(v) for v in logits], "greedy": greedy, "gaps": gaps})
    return cases


def main() -> None:
    OUT.mkdir(exist_ok=True)
    wanted = sys.argv[1:] or list(FTYPES) + list(IQ_FILES)
    unknown = [n for n in wanted if n not in FTYPES and n not in IQ_FILES]
    if unknown:
        sys.exit(f"unknown names {unknown}: want some of {list(FTYPES) + list(IQ_FILES)}")
    src = OUT / "f32.gguf"
    write_f32(src)
    refs = {"llama_cpp_python": llama_cpp.__version__, "files": {}}
    if sys.argv[1:] and (OUT / "llamacpp.json").exists():
        refs["files"] = json.loads((OUT / "llamacpp.json").read_text())["files"]
    for name in wanted:
        dst = OUT / f"{name}.gguf"
        if name in FTYPES:
            quantize(src, dst, FTYPES[name])
        else:
            write_f32(dst, IQ_FILES[name])
        refs["files"][dst.name] = {"formats": formats(dst), "cases": reference(dst)}
        print(dst.name, dst.stat().st_size, sorted(set(refs["files"][dst.name]["formats"].values())))
    src.unlink()
    with open(OUT / "llamacpp.json", "w") as f:
        json.dump(refs, f)
        f.write("\n")


if __name__ == "__main__":
    main()
