"""Requantizes a GGUF file with llama.cpp's quantizer (llama-cpp-python), to
measure the engine on the formats people download (Q4_K_M and the like) when
only another quantization of a model is at hand:

    python3 bench/engine/requantize.py models/base/SmolLM2-135M-Instruct.Q4_1.gguf /tmp/smol-Q4_K_M.gguf Q4_K_M

(The weights are quantized twice, which costs accuracy; it is for speed
figures. llama.cpp keeps to the K formats' 256-value blocks, so a model
whose rows are not a multiple of 256 — SmolLM2's 576 — gets its fallback
formats for those: Q5_0 for Q4_K, Q8_0 for Q6_K.) Prints the tensor formats
of the result.
"""
import collections
import sys

import llama_cpp
from gguf import GGMLQuantizationType, GGUFReader

FTYPES = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_M": 12,
          "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18, "IQ3_XXS": 23, "IQ4_NL": 25, "IQ3_S": 26, "IQ3_M": 27,
          "IQ4_XS": 30}


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[3] not in FTYPES:
        sys.exit(f"usage: requantize.py IN.gguf OUT.gguf {'|'.join(FTYPES)}")
    src, dst, name = sys.argv[1:]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[name]
    params.nthread = 2
    params.allow_requantize = True
    if llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params) != 0:
        sys.exit(f"llama_model_quantize failed for {dst}")
    counts = collections.Counter(GGMLQuantizationType(t.tensor_type).name for t in GGUFReader(dst).tensors)
    print(dst, dict(counts))


if __name__ == "__main__":
    main()
