"""An OpenAI-compatible server on the GPU: one base model, several named LoRA adapters.

    python3 -m worker serve --config serve.json

serve.json: {"model": base folder, hub id or GGUF file, "adapters": {"v1": folder, ...},
"host": "127.0.0.1", "port": 8011, "dtype": "bfloat16", "max_batch": 32, "batch_wait_ms": 20}.

GET /v1/models lists "base" and the adapters' names; POST /v1/chat/completions answers
{model, messages, n, temperature, top_p, max_tokens, stop, seed} without streaming (clients
that ask for a stream get the plain JSON answer, which OpenAI clients accept). Requests that
arrive together and share the model, n, top_p, max_tokens and stop strings run as one batch,
each row with its own temperature (a generation job's answer slots differ in temperature only):
a job with many answers in flight keeps the GPU busy. Temperature 0 is greedy. A batch is seeded
by its first request's seed, so a seed makes a request repeatable only when it runs alone.
"""

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .config import ConfigError, read_object

FIELDS = {"model", "adapters", "host", "port", "dtype", "max_batch", "batch_wait_ms"}


def load(path):
    """Reads and checks serve.json."""
    raw = read_object(path, FIELDS)
    if not isinstance(raw.get("model"), str) or not raw["model"]:
        raise ConfigError(f"config {path}: field model is required and must be a non-empty string")
    adapters = raw.get("adapters", {})
    if not isinstance(adapters, dict) or "base" in adapters:
        raise ConfigError(f"config {path}: field adapters must map names (not \"base\") to adapter folders")
    return {"model": raw["model"], "adapters": adapters, "host": raw.get("host", "127.0.0.1"),
            "port": int(raw.get("port", 8011)), "dtype": raw.get("dtype", "bfloat16"),
            "max_batch": int(raw.get("max_batch", 128)), "batch_wait_ms": int(raw.get("batch_wait_ms", 20))}


class BadRequest(Exception):
    """A request the server refuses; the message names the field."""


class Engine:
    """The model with its adapters and a batcher thread that owns the GPU."""

    def __init__(self, cfg):
        import torch
        from peft import PeftModel

        from . import train

        self.torch = torch
        source, extra = train.pretrained_source(cfg["model"])
        self.tokenizer = train.AutoTokenizer.from_pretrained(source, **extra)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = getattr(torch, cfg["dtype"]) if device == "cuda" else torch.float32
        model = train.AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **extra)
        if "gguf_file" in extra:
            train.dense_after_gguf(model)
        self.names = ["base"] + sorted(cfg["adapters"])
        for i, name in enumerate(sorted(cfg["adapters"])):
            path = cfg["adapters"][name]
            if i == 0:
                model = PeftModel.from_pretrained(model, path, adapter_name=name)
            else:
                model.load_adapter(path, adapter_name=name)
        self.model = model.to(device).eval()
        self.device = device
        self.max_batch, self.wait = cfg["max_batch"], cfg["batch_wait_ms"] / 1000
        self.jobs = queue.Queue()
        threading.Thread(target=self.loop, daemon=True).start()

    def answer(self, body):
        """Queues one request and waits for its choices."""
        job = {"body": checked(body, self.names), "done": threading.Event()}
        self.jobs.put(job)
        job["done"].wait()
        if "error" in job:
            raise job["error"]
        return job["result"]

    def loop(self):
        while True:
            first = self.jobs.get()
            batch, deadline = [first], time.monotonic() + self.wait
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.jobs.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            groups = {}
            for job in batch:
                groups.setdefault(group_key(job["body"]), []).append(job)
            for jobs in groups.values():
                self.run_group(jobs)

    def run_group(self, jobs):
        try:
            results = self.generate([j["body"] for j in jobs])
            for job, result in zip(jobs, results):
                job["result"] = result
        except Exception as e:  # the request fails, the server keeps going
            for job in jobs:
                job["error"] = e
        for job in jobs:
            job["done"].set()

    def generate(self, bodies):
        """One padded batch: every request's prompt, n sequences each."""
        torch, b0 = self.torch, bodies[0]
        texts = [self.tokenizer.apply_chat_template(b["messages"], tokenize=False, add_generation_prompt=True)
                 for b in bodies]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        n = b0["n"]
        kwargs = dict(max_new_tokens=b0["max_tokens"], num_return_sequences=n, pad_token_id=self.tokenizer.pad_token_id)
        temps = [b["temperature"] for b in bodies]
        if all(t == 0 for t in temps):
            kwargs.update(do_sample=False)
        else:
            rows = torch.tensor([max(t, 1e-5) for t in temps for _ in range(n)], device=self.device).unsqueeze(1)
            kwargs.update(do_sample=True, temperature=1.0, top_p=b0["top_p"],
                          logits_processor=[RowTemperature(rows)])
        if b0["stop"]:
            kwargs.update(stop_strings=b0["stop"], tokenizer=self.tokenizer)
        if b0.get("seed") is not None:
            torch.manual_seed(b0["seed"])
        with torch.no_grad(), self.adapter(b0["model"]):
            out = self.model.generate(**enc, **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        results = []
        for i, b in enumerate(bodies):
            choices, completion_tokens = [], 0
            for j in range(n):
                ids = out[i * n + j][prompt_len:].tolist()
                text, finish, used = self.decode(ids, b)
                completion_tokens += used
                choices.append({"index": j, "message": {"role": "assistant", "content": text}, "finish_reason": finish})
            prompt_tokens = int(enc["attention_mask"][i].sum())
            results.append({"choices": choices, "usage": {"prompt_tokens": prompt_tokens,
                                                          "completion_tokens": completion_tokens,
                                                          "total_tokens": prompt_tokens + completion_tokens}})
        return results

    def decode(self, ids, body):
        """Text up to the end token or a stop string, its finish reason and tokens used."""
        eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        used = next((k for k, t in enumerate(ids) if t in eos), None)
        finish = "stop" if used is not None else "length"
        ids = ids if used is None else ids[:used]
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        for s in body["stop"]:
            if s in text:
                text, finish = text[:text.index(s)], "stop"
        return text, finish, len(ids) if used is None else used + 1

    def adapter(self, name):
        """The context in which the model answers as name."""
        import contextlib
        if name == "base":
            return self.model.disable_adapter() if hasattr(self.model, "disable_adapter") else contextlib.nullcontext()
        self.model.set_adapter(name)
        return contextlib.nullcontext()


class RowTemperature:
    """A logits processor dividing each row's scores by that row's temperature (HF's own
    temperature is one number for the whole batch)."""

    def __init__(self, temps):
        self.temps = temps

    def __call__(self, input_ids, scores):
        return scores / self.temps.to(scores.dtype)


def group_key(b):
    return (b["model"], b["n"], b["top_p"], b["max_tokens"], tuple(b["stop"]))


def checked(body, names):
    """The request's fields with defaults; BadRequest names a wrong field."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if body.get("model") not in names:
        raise BadRequest(f"model: {body.get('model')!r} is not served here (served: {', '.join(names)})")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") in ("system", "user", "assistant")
            for m in msgs):
        raise BadRequest("messages: want a non-empty list of {role, content}")
    stop = body.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    out = {"model": body["model"], "messages": msgs, "n": body.get("n") or 1,
           "temperature": float(body.get("temperature", 1.0)), "top_p": float(body.get("top_p") or 1.0),
           "max_tokens": body.get("max_tokens") or 256, "stop": [s for s in stop if s], "seed": body.get("seed")}
    if not isinstance(out["n"], int) or not 1 <= out["n"] <= 16:
        raise BadRequest("n: want an integer from 1 to 16")
    if not isinstance(out["max_tokens"], int) or not 1 <= out["max_tokens"] <= 8192:
        raise BadRequest("max_tokens: want an integer from 1 to 8192")
    if out["temperature"] < 0 or not 0 < out["top_p"] <= 1:
        raise BadRequest("temperature must be >= 0 and top_p in (0, 1]")
    return out


def handler(engine):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # stderr is the log
            import sys
            sys.stderr.write("serve: " + fmt % args + "\n")

        def send(self, status, obj):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def fail(self, status, message, kind):
            self.send(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                return self.send(200, {"object": "list", "data": [
                    {"id": n, "object": "model", "created": 0, "owned_by": "rustexpert-worker"} for n in engine.names]})
            self.fail(404, f"no route {self.path}", "not_found")

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self.fail(404, f"no route {self.path}", "not_found")
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                result = engine.answer(body)
            except (BadRequest, json.JSONDecodeError, ValueError, TypeError) as e:
                return self.fail(400, str(e), "invalid_request_error")
            except Exception as e:
                return self.fail(500, f"{type(e).__name__}: {e}", "server_error")
            self.send(200, {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
                            "model": body["model"], **result})

    return Handler


def run(cfg, events):
    """Loads the model, then serves until killed."""
    engine = Engine(cfg)
    server = ThreadingHTTPServer((cfg["host"], cfg["port"]), handler(engine))
    events.emit("start", kind="serve", url=f"http://{cfg['host']}:{server.server_address[1]}/v1",
                models=engine.names, device=engine.device)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
