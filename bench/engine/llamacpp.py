"""Reference timings from llama.cpp (through llama-cpp-python) for bench/engine.

Reads a JSON request on stdin: {"model": path, "prompt": [ids], "decode": n, "threads": t}
and prints {"prefill_s": ..., "decode_tps": ..., "tokens": [...]} on stdout. Install with
`pip install llama-cpp-python` (it compiles llama.cpp for this CPU).
"""
import json
import sys
import time

from llama_cpp import Llama

req = json.load(sys.stdin)
llm = Llama(model_path=req["model"], n_ctx=2048, n_threads=req["threads"], n_threads_batch=req["threads"],
            n_batch=512, verbose=False)
prompt = req["prompt"]

def run():
    llm.reset()
    start = time.perf_counter()
    llm.eval(prompt)
    first = int(llm._scores[llm.n_tokens - 1].argmax()) if hasattr(llm, "_scores") else None
    prefill = time.perf_counter() - start
    tokens = []
    tok = first
    start = time.perf_counter()
    for _ in range(req["decode"]):
        llm.eval([tok])
        tokens.append(tok)
        tok = int(llm._scores[llm.n_tokens - 1].argmax())
    decode = time.perf_counter() - start
    return prefill, req["decode"] / decode, tokens

run()  # warm-up
best = None
for _ in range(req.get("repeats", 3)):
    r = run()
    if best is None or r[1] > best[1]:
        best = r
print(json.dumps({"prefill_s": best[0], "decode_tps": best[1], "tokens": best[2]}))
