#!/usr/bin/env python3
"""Records what an OpenAI-compatible server sends back, as wire fixtures.

Usage (normally through scripts/record-wire-fixtures.sh, which starts the
server first):

    python3 scripts/record_wire_fixtures.py BASE_URL OUT_DIR "SERVER DESCRIPTION"

BASE_URL is the API root (http://127.0.0.1:8088/v1). Each case becomes
OUT_DIR/NAME.txt: a header of "# " lines naming the server, the request that
was sent and the result a client must make of the answer ("# want: " JSON),
then the answer as it came: status line, Content-Type and the body bytes
unchanged (chunked transfer decoded). When a server returns fewer choices than
n asked for, the single-answer requests a client sends to fill the gap
(n=1, seed shifted by the index) are recorded too, as NAME.2.txt, NAME.3.txt.

The "want" is worked out here from the raw answer, independently of the Go
client, which the replay test in inference/ then checks against it.
Standard library only.
"""

import http.client
import json
import os
import sys
import urllib.parse

SYSTEM = "You are a Rust expert. Answer briefly."
QUESTION = "Write a Rust function that adds two i32 numbers."
PROMPT = "// Adds two numbers.\nfn add(a: i32, b: i32) -> i32 {"


def chat(**extra):
    body = {
        "model": "smollm2",
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTION},
        ],
        "temperature": 0.7,
        "seed": 42,
        "max_tokens": 40,
        "n": 1,
    }
    body.update(extra)
    return body


def completion(**extra):
    body = {"model": "smollm2", "prompt": PROMPT, "temperature": 0.7, "seed": 42, "max_tokens": 32, "n": 1}
    body.update(extra)
    return body


USAGE = {"include_usage": True}

# name, method, path, body (dict, raw str, or None), what the case shows
CASES = [
    ("models", "GET", "/models", None, "the model list"),
    ("chat", "POST", "/chat/completions", chat(), "a plain chat completion"),
    ("chat-stream", "POST", "/chat/completions", chat(stream=True), "a stream without stream_options"),
    ("chat-stream-usage", "POST", "/chat/completions", chat(stream=True, stream_options=USAGE),
     "a stream with stream_options.include_usage"),
    ("chat-n2", "POST", "/chat/completions", chat(n=2), "n=2, not streamed"),
    ("chat-n2-stream", "POST", "/chat/completions", chat(n=2, stream=True, stream_options=USAGE), "n=2, streamed"),
    ("chat-stop", "POST", "/chat/completions", chat(stop=["\n"], max_tokens=60), "a stop string that ends the answer"),
    ("chat-seed", "POST", "/chat/completions", chat(seed=1234, temperature=1.0), "a seed at temperature 1"),
    ("chat-length", "POST", "/chat/completions", chat(max_tokens=5), "max_tokens reached"),
    ("chat-length-stream", "POST", "/chat/completions", chat(max_tokens=5, stream=True, stream_options=USAGE),
     "max_tokens reached while streaming"),
    ("completion", "POST", "/completions", completion(), "a plain completion"),
    ("completion-stream", "POST", "/completions", completion(stream=True, stream_options=USAGE),
     "a streamed plain completion"),
    ("completion-n2", "POST", "/completions", completion(n=2), "n=2 on plain completions"),
    ("completion-n2-stream", "POST", "/completions", completion(n=2, stream=True, stream_options=USAGE),
     "n=2 on plain completions, streamed"),
    ("unknown-model", "POST", "/chat/completions", chat(model="no-such-model"), "a model name the server does not have"),
    ("error-json", "POST", "/chat/completions", '{"model": "smollm2", "messages": [', "a body that is not JSON"),
    ("error-context", "POST", "/chat/completions",
     chat(messages=[{"role": "user", "content": "word " * 2500}]), "a prompt longer than the context"),
    ("error-context-stream", "POST", "/chat/completions",
     chat(messages=[{"role": "user", "content": "word " * 2500}], stream=True, stream_options=USAGE),
     "a prompt longer than the context, streamed"),
]


def send(base, method, path, body):
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    raw = None
    headers = {}
    if body is not None:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, url.path.rstrip("/") + path, body=raw, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.reason, resp.getheader("Content-Type", ""), resp.getheader("Retry-After"), data


def error_message(raw):
    """The explanation a client shows for an error body."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()
    if not isinstance(body, dict):
        return raw.decode(errors="replace").strip()
    for key in ("error", "message", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if key != "message" and isinstance(value, dict) and value.get("message"):
            return value["message"]
    return raw.decode(errors="replace").strip()


def choice_text(choice, streamed):
    if streamed:
        delta = choice.get("delta") or {}
        if delta.get("content"):
            return delta["content"]
    else:
        message = choice.get("message") or {}
        if message.get("content"):
            return message["content"]
    return choice.get("text") or ""


def usage_of(value):
    if not isinstance(value, dict):
        return None
    usage = {k: value.get(k, 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    details = value.get("prompt_tokens_details")
    if isinstance(details, dict) and "cached_tokens" in details:
        usage["prompt_tokens_details"] = {"cached_tokens": details["cached_tokens"]}
    return usage


def cached_of(usage):
    return (usage.get("prompt_tokens_details") or {}).get("cached_tokens")


def with_cached(usage, cached):
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return usage


def is_error(obj):
    return isinstance(obj, dict) and (obj.get("error") is not None or obj.get("object") == "error")


def parse_answer(status, content_type, data):
    """Returns (want, choices) for one answer; want holds error or usage."""
    if status < 200 or status > 299:
        return {"error": {"status": status, "message": error_message(data)}}, []
    if not content_type.startswith("text/event-stream"):
        body = json.loads(data)
        if "data" in body and "choices" not in body:
            return {"models": [m["id"] for m in body["data"]]}, []
        if is_error(body):
            return {"error": {"status": 0, "message": error_message(data)}}, []
        choices = [{"index": c.get("index", 0), "text": choice_text(c, False),
                    "finish_reason": c.get("finish_reason") or ""} for c in body.get("choices", [])]
        return {"usage": usage_of(body.get("usage"))}, choices
    texts, finish, done = {}, {}, False
    # Usage on a chunk without choices is a final report (one per answer from
    # llama.cpp's server when n > 1); usage on a chunk with choices is the
    # answer's count so far, of which the last one stands.
    final_usage, answer_usage = [], {}
    for event in data.decode().replace("\r\n", "\n").split("\n\n"):
        lines = [line[5:].lstrip(" ") if line.startswith("data:") else None for line in event.split("\n")]
        if any(line.startswith("error:") for line in event.split("\n")):
            return {"error": {"status": 0, "message": error_message(event.split("error:", 1)[1].strip().encode())}}, []
        payload = "\n".join(line for line in lines if line is not None)
        if not payload:
            continue
        if payload == "[DONE]":
            done = True
            break
        chunk = json.loads(payload)
        if is_error(chunk):
            return {"error": {"status": 0, "message": error_message(payload.encode())}}, []
        for c in chunk.get("choices") or []:
            index = c.get("index", 0)
            texts[index] = texts.get(index, "") + choice_text(c, True)
            if c.get("finish_reason"):
                finish[index] = c["finish_reason"]
        if chunk.get("usage") is not None:
            if chunk.get("choices"):
                answer_usage[chunk["choices"][0].get("index", 0)] = usage_of(chunk["usage"])
            else:
                final_usage.append(usage_of(chunk["usage"]))
    if not done and (not texts or len(finish) != len(texts)):
        return {"error": {"status": 0, "message": "stream ended early"}}, []
    choices = [{"index": i, "text": texts[i], "finish_reason": finish.get(i, "")} for i in sorted(texts)]
    return {"usage": combine_usage(final_usage or list(answer_usage.values()))}, choices


def combine_usage(reports):
    """One request's usage from reports per answer: the completions add up, the
    prompt they share counts once."""
    if len(reports) <= 1:
        return reports[0] if reports else None
    prompt = max(r["prompt_tokens"] for r in reports)
    completion = sum(r["completion_tokens"] for r in reports)
    cached = [c for c in map(cached_of, reports) if c is not None]
    return with_cached({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
                       max(cached) if cached else None)


def add_usage(a, b):
    if a is None:
        return b
    if b is None:
        return a
    cached = [c for c in (cached_of(a), cached_of(b)) if c is not None]
    return with_cached({k: a[k] + b[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
                       sum(cached) if cached else None)


def write_fixture(path, server, note, method, api_path, body, answer, want=None):
    status, reason, content_type, retry_after, data = answer
    lines = [f"# server: {server}", f"# case: {note}", f"# request: {method} /v1{api_path}"]
    if body is not None:
        lines.append("# body: " + (body if isinstance(body, str) else json.dumps(body)))
    if want is not None:
        lines.append("# want: " + json.dumps(want, ensure_ascii=False))
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
    if retry_after:
        head.append(f"Retry-After: {retry_after}")
    with open(path, "wb") as out:
        out.write(("\n".join(lines + head) + "\n\n").encode())
        out.write(data)


def record(base, out_dir, server, case):
    name, method, path, body, note = case
    answer = send(base, method, path, body)
    want, choices = parse_answer(answer[0], answer[2], answer[4])
    extras = []
    wanted = body.get("n", 1) if isinstance(body, dict) else 1
    if "error" not in want and "models" not in want and len(choices) < wanted:
        have = {c["index"] for c in choices}
        for index in range(wanted):
            if index in have:
                continue
            single = dict(body, n=1, seed=body["seed"] + index)
            extra = send(base, method, path, single)
            extra_want, extra_choices = parse_answer(extra[0], extra[2], extra[4])
            if "error" in extra_want or not extra_choices:
                raise SystemExit(f"{name}: filling answer {index} failed: {extra_want}")
            choices.append(dict(extra_choices[0], index=index))
            want["usage"] = add_usage(want.get("usage"), extra_want.get("usage"))
            extras.append((single, extra))
        choices.sort(key=lambda c: c["index"])
    if choices:
        want["choices"] = choices
    if want.get("usage") is None:
        want.pop("usage", None)
    write_fixture(os.path.join(out_dir, name + ".txt"), server, note, method, path, body, answer, want)
    for number, (single, extra) in enumerate(extras, start=2):
        write_fixture(os.path.join(out_dir, f"{name}.{number}.txt"), server,
                      f"{note}: the request that fills the missing answer", method, path, single, extra)
    return want


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    base, out_dir, server = sys.argv[1:]
    os.makedirs(out_dir, exist_ok=True)
    results = {}
    for case in CASES:
        results[case[0]] = record(base, out_dir, server, case)
        print(f"{case[0]}: {json.dumps(results[case[0]], ensure_ascii=False)[:160]}", file=sys.stderr)
    seed_body = next(case[3] for case in CASES if case[0] == "chat-seed")
    again = parse_answer(*[send(base, "POST", "/chat/completions", seed_body)[i] for i in (0, 2, 4)])[1]
    same = again[:1] == results["chat-seed"].get("choices", [])[:1]
    print(f"chat-seed sent twice gives the same text: {same}", file=sys.stderr)


if __name__ == "__main__":
    main()
