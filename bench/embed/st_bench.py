"""Reference side of bench/embed: sentence-transformers on the CPU.

Run by `go run ./bench/embed -python python3` (needs sentence-transformers,
torch and transformers). It reads a JSON request on stdin:
{"model": folder, "chunks": [...], "query": "...", "queries": n, "threads": n}
and writes one JSON object to stdout: chunk throughput, the single-query
latencies in milliseconds and the chunk embeddings.
"""
import json
import sys
import time


def main():
    req = json.load(sys.stdin)
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(req["threads"])
    model = SentenceTransformer(req["model"], device="cpu")
    chunks = req["chunks"]
    model.encode(chunks[:8], batch_size=32)
    start = time.perf_counter()
    emb = model.encode(chunks, batch_size=32, convert_to_numpy=True)
    elapsed = time.perf_counter() - start
    lat = []
    for _ in range(req["queries"]):
        t0 = time.perf_counter()
        model.encode([req["query"]])
        lat.append((time.perf_counter() - t0) * 1000)
    json.dump({
        "chunks_per_s": len(chunks) / elapsed,
        "latency_ms": lat,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "embeddings": emb.tolist(),
    }, sys.stdout)


if __name__ == "__main__":
    main()
