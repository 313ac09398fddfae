"""Reference side of bench/embed: sentence-transformers on the CPU.

Run by `go run ./bench/embed -python python3` (needs sentence-transformers,
torch and transformers). It talks in lines of JSON. The first line from
stdin is the request {"model": folder, "chunks": [...], "query": "...",
"queries": n, "threads": n}; once the model is loaded and warm it answers
{"ready": true}. Then each line "round" embeds the chunks once and answers
{"chunks_per_s": x}, and the line "finish" times the single query and
answers with the latencies in milliseconds, the torch version and threads
and the chunk embeddings of the last round.
"""
import json
import sys
import time


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    req = json.loads(sys.stdin.readline())
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(req["threads"])
    model = SentenceTransformer(req["model"], device="cpu")
    chunks = req["chunks"]
    model.encode(chunks[:8], batch_size=32)
    answer({"ready": True})
    emb = None
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "round":
            start = time.perf_counter()
            emb = model.encode(chunks, batch_size=32, convert_to_numpy=True)
            answer({"chunks_per_s": len(chunks) / (time.perf_counter() - start)})
        elif cmd == "finish":
            if emb is None:
                emb = model.encode(chunks, batch_size=32, convert_to_numpy=True)
            lat = []
            for _ in range(req["queries"]):
                t0 = time.perf_counter()
                model.encode([req["query"]])
                lat.append((time.perf_counter() - t0) * 1000)
            answer({
                "latency_ms": lat,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "embeddings": emb.tolist(),
            })
            return
        else:
            sys.exit("st_bench.py: unknown command %r" % cmd)


if __name__ == "__main__":
    main()
