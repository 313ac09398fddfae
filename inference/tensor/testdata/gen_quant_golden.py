#!/usr/bin/env python3
"""Writes quant_golden.json: reference quantized bytes and dequantized values
from the `gguf` Python package (llama.cpp's gguf-py), for TestQuantGolden.

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


def main() -> None:
    x = inputs()
    out = {"input": [int(v) for v in x.view(np.uint32)], "types": {}}
    for name, t in [("F16", T.F16), ("BF16", T.BF16), ("Q4_0", T.Q4_0), ("Q4_1", T.Q4_1), ("Q8_0", T.Q8_0)]:
        q = quants.quantize(x.reshape(1, -1), t).reshape(-1)
        d = quants.dequantize(q, t).astype(np.float32).reshape(-1)
        out["types"][name] = {
            "bytes": bytes(q.view(np.uint8)).hex(),
            "dequant": [int(v) for v in d.view(np.uint32)],
        }
    with open("quant_golden.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
