#!/usr/bin/env python3
"""Prints the reference values hard-coded in TestBundledModel
(model_test.go): dequantized rows of SmolLM2-135M-Instruct.Q4_1.gguf as read
by the `gguf` Python package (llama.cpp's gguf-py).

    pip install gguf numpy
    python3 model_reference.py path/to/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def main() -> None:
    r = GGUFReader(sys.argv[1])
    tensors = {t.name: t for t in r.tensors}
    for name, rows in [("token_embd.weight", [0, 1, 1234, 49151]), ("blk.0.attn_q.weight", [5])]:
        t = tensors[name]
        d = dequantize(t.data, t.tensor_type).astype(np.float32)
        for row in rows:
            v = d[row]
            head = ", ".join(hex(x) for x in v[:6].view(np.uint32))
            tail = ", ".join(hex(x) for x in v[-2:].view(np.uint32))
            print(f"{name} row {row}: first [{head}] last [{tail}] sum {float(v.astype(np.float64).sum())!r}")


if __name__ == "__main__":
    main()
