#!/usr/bin/env python3
"""Writes quant_golden.json: reference quantized bytes and dequantized values
from the `gguf` Python package (llama.cpp's gguf-py), for TestQuantGolden.

The formats gguf-py quantizes get the shared input quantized; the K formats
and the IQ ones (which it only reads) get random blocks whose float16 scale fields are set
to chosen values (ordinary, zero, negative, subnormal, large), under
"blocks", with their dequantized values.

Run from this directory with the gguf package importable:

    pip install gguf numpy
    python3 gen_quant_golden.py
"""
import json
import math

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants


def inputs() -> np.ndarray:
    x = np.zeros(6 * 32, dtype=np.float32)
    for i in range(32):
        x[i] = math.sin(i * 0.7) * 1.5                # ordinary weights
        x[32 + i] = 0.0                                # all-zero block (d = 0)
        x[64 + i] = (i - 16) * 37.25                   # large values
        x[96 + i] = (i % 7 - 3) * 1e-6                 # tiny values (subnormal fp16 scales)
        x[128 + i] = -2.0 if i == 5 else 0.25 * (i % 3)  # negative extreme
        x[160 + i] = 1.0 + i / 2048.0                  # fp16 ties near 1.0
    return x


# name, type, byte offsets of the block's float16 scale fields
K_FORMATS = [
    ("Q2_K", T.Q2_K, [80, 82]),
    ("Q3_K", T.Q3_K, [108]),
    ("Q4_K", T.Q4_K, [0, 2]),
    ("Q5_K", T.Q5_K, [0, 2]),
    ("Q6_K", T.Q6_K, [208]),
    ("IQ4_NL", T.IQ4_NL, [0]),
    ("IQ4_XS", T.IQ4_XS, [0]),
    ("IQ2_XXS", T.IQ2_XXS, [0]),
    ("IQ2_XS", T.IQ2_XS, [0]),
    ("IQ2_S", T.IQ2_S, [0]),
    ("IQ3_XXS", T.IQ3_XXS, [0]),
    ("IQ3_S", T.IQ3_S, [0]),
    ("IQ1_S", T.IQ1_S, [0]),
    ("IQ1_M", T.IQ1_M, []),  # its scale is in the top nibbles of the last 8 bytes (iq1m_scale)
]
SCALES = np.array([0.0123, 0.5, 0.0, -0.031, 3e-6, 40.0], dtype=np.float16)


def k_blocks(t, offsets) -> np.ndarray:
    """Six random blocks of type t, block i's scale fields set from SCALES."""
    size = quants.GGML_QUANT_SIZES[t][1]
    rng = np.random.default_rng(int(t))
    q = rng.integers(0, 256, size=(len(SCALES), size), dtype=np.uint8)
    for i, v in enumerate(SCALES):
        for k, off in enumerate(offsets):
            q[i, off:off + 2] = np.frombuffer(SCALES[(i + k) % len(SCALES)].tobytes(), dtype=np.uint8)
        if t == T.IQ1_M:
            iq1m_scale(q[i], int(SCALES[i].view(np.uint16)))
    return q.reshape(-1)


def iq1m_scale(block, bits) -> None:
    """Puts float16 bits into an IQ1_M block: nibble w in the top of scale word w."""
    words = block[-8:].view(np.uint16)
    for w in range(4):
        words[w] = (words[w] & 0x0FFF) | (((bits >> (4 * w)) & 0xF) << 12)


def main() -> None:
    x = inputs()
    out = {"input": [int(v) for v in x.view(np.uint32)], "types": {}}
    for name, t in [("F16", T.F16), ("BF16", T.BF16), ("Q4_0", T.Q4_0), ("Q4_1", T.Q4_1), ("Q8_0", T.Q8_0),
                    ("Q5_0", T.Q5_0), ("Q5_1", T.Q5_1)]:
        q = quants.quantize(x.reshape(1, -1), t).reshape(-1)
        d = quants.dequantize(q, t).astype(np.float32).reshape(-1)
        out["types"][name] = {
            "bytes": bytes(q.view(np.uint8)).hex(),
            "dequant": [int(v) for v in d.view(np.uint32)],
        }
    out["blocks"] = {}
    for name, t, scales in K_FORMATS:
        q = k_blocks(t, scales)
        d = quants.dequantize(q, t).astype(np.float32).reshape(-1)
        out["blocks"][name] = {
            "bytes": bytes(q).hex(),
            "dequant": [int(v) for v in d.view(np.uint32)],
        }
    with open("quant_golden.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
