#!/usr/bin/env python3
"""Writes the vLLM and Ollama wire fixtures from those servers' documented formats.

Usage: python3 scripts/write_documented_fixtures.py

Neither server runs on a machine without a GPU (vLLM) or without Ollama's
binary, so unlike inference/testdata/wire/llamacpp/ (recorded by
scripts/record-wire-fixtures.sh) these answers are built here, field by
field, after the servers' documentation and the code that writes their
answers: vLLM's vllm/entrypoints/openai (protocol models, serving_chat,
serving_completion of recent versions, plus the error shape of older
ones) and Ollama's openai/openai.go and middleware/openai.go. The answer
texts are made up. The fixtures use the format of record_wire_fixtures.py,
whose parser also works out each case's "want".
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record_wire_fixtures import PROMPT, QUESTION, SYSTEM, parse_answer  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "inference", "testdata", "wire")
CREATED = 1767225600
ANSWERS = [
    "```rust\nfn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```",
    "Use `i32::wrapping_add` if overflow must not panic:\n\n```rust\nfn add(a: i32, b: i32) -> i32 {\n    a.wrapping_add(b)\n}\n```",
]
COMPLETIONS = ["\n    a + b\n}\n", "\n    a.checked_add(b).expect(\"overflow\")\n}\n"]


def tokens(text):
    """Splits text into token-like pieces that join back to it."""
    return re.findall(r"\s*\S+|\s+", text)


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def go_json(value):
    """What Go's encoding/json writes: compact, with <, > and & escaped."""
    return compact(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def sse(chunks, done=True, encode=compact):
    body = "".join(f"data: {encode(c)}\n\n" for c in chunks)
    return body + ("data: [DONE]\n\n" if done else "")


def usage(prompt, completion, order=("prompt_tokens", "total_tokens", "completion_tokens")):
    values = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return {key: values[key] for key in order}


def chat_body(model, **extra):
    body = {"model": model, "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
            "temperature": 0.7, "seed": 42, "max_tokens": 200, "n": 1}
    body.update(extra)
    return body


def completion_body(model, **extra):
    body = {"model": model, "prompt": PROMPT, "temperature": 0.7, "seed": 42, "max_tokens": 64, "n": 1}
    body.update(extra)
    return body


STREAM = {"stream": True, "stream_options": {"include_usage": True}}
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream; charset=utf-8"


class Writer:
    def __init__(self, server, note):
        self.dir = os.path.join(ROOT, server)
        self.note = note
        os.makedirs(self.dir, exist_ok=True)
        for name in os.listdir(self.dir):
            if name.endswith(".txt"):
                os.remove(os.path.join(self.dir, name))

    def case(self, name, note, path, body, exchanges):
        """exchanges: (status, content type, answer) for the request and the requests that follow it."""
        want, choices = {}, []
        for number, (status, content_type, answer) in enumerate(exchanges):
            part, part_choices = parse_answer(status, content_type, answer.encode())
            if number == 0:
                want, choices = part, part_choices
                continue
            choices.append(dict(part_choices[0], index=number))
            want["usage"] = {k: want["usage"][k] + part["usage"][k] for k in want["usage"]}
        if choices:
            want["choices"] = choices
        if want.get("usage") is None:
            want.pop("usage", None)
        for number, (status, content_type, answer) in enumerate(exchanges):
            request = body if number == 0 else dict(body, n=1, seed=body["seed"] + number)
            lines = [f"# server: {self.note}", f"# case: {note}" + (": the request that fills the missing answer" if number else ""),
                     f"# request: {'GET' if body is None else 'POST'} /v1{path}"]
            if request is not None:
                lines.append("# body: " + (request if isinstance(request, str) else json.dumps(request)))
            if number == 0:
                lines.append("# want: " + json.dumps(want, ensure_ascii=False))
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
            lines += [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", "", ""]
            file = name + (f".{number + 1}" if number else "") + ".txt"
            with open(os.path.join(self.dir, file), "wb") as out:
                out.write("\n".join(lines).encode() + answer.encode())


# vLLM ------------------------------------------------------------------------

VLLM_MODEL = "Qwen/Qwen2.5-Coder-7B-Instruct"


def vllm_chat(texts, finish, prompt=38, stop_reason=None):
    choices = [{"index": i, "message": {"role": "assistant", "content": t, "refusal": None, "annotations": None,
                                        "audio": None, "function_call": None, "tool_calls": [], "reasoning_content": None},
                "logprobs": None, "finish_reason": finish, "stop_reason": stop_reason} for i, t in enumerate(texts)]
    completion = sum(len(tokens(t)) for t in texts)
    return json.dumps({"id": "chatcmpl-b2f1c0de9a6e4c4f8e1f2a3b4c5d6e7f", "object": "chat.completion", "created": CREATED,
                       "model": VLLM_MODEL, "choices": choices, "service_tier": None, "system_fingerprint": None,
                       "usage": dict(usage(prompt, completion), prompt_tokens_details=None),
                       "prompt_logprobs": None, "kv_transfer_params": None}, separators=(",", ":"))


def vllm_stream(texts, finish, prompt=38, kind="chat", continuous=False, stop_reason=None, fail_after=None):
    """Chunks as vLLM streams them: a role chunk per choice (chat), the pieces of
    the choices interleaved, the last piece carrying finish_reason, then one
    usage chunk with no choices."""
    obj = "chat.completion.chunk" if kind == "chat" else "text_completion"
    head = {"id": ("chatcmpl-" if kind == "chat" else "cmpl-") + "5e0d8f7a6b5c4d3e2f1a0b9c8d7e6f5a",
            "object": obj, "created": CREATED, "model": VLLM_MODEL}
    pieces = [tokens(t) for t in texts]
    chunks, produced = [], [0] * len(texts)

    def counted(chunk, i):
        if continuous:
            chunk["usage"] = usage(prompt, produced[i])
        return chunk

    if kind == "chat":
        for i in range(len(texts)):
            chunks.append(counted(dict(head, choices=[{"index": i, "delta": {"role": "assistant", "content": ""},
                                                       "logprobs": None, "finish_reason": None}]), i))
    for step in range(max(len(p) for p in pieces)):
        for i, piece_list in enumerate(pieces):
            if step >= len(piece_list):
                continue
            produced[i] += 1
            last = step == len(piece_list) - 1
            choice = {"index": i}
            if kind == "chat":
                choice["delta"] = {"content": piece_list[step]}
            else:
                choice["text"] = piece_list[step]
            choice["logprobs"] = None
            choice["finish_reason"] = finish if last else None
            if last or kind != "chat":
                choice["stop_reason"] = stop_reason if last else None
            if kind != "chat":
                choice["prompt_token_ids"] = None
                choice["token_ids"] = None
            chunks.append(counted(dict(head, choices=[choice]), i))
            if fail_after is not None and sum(produced) == fail_after:
                error = {"error": {"message": "The engine stopped: CUDA error: an illegal memory access was encountered",
                                   "type": "InternalServerError", "param": None, "code": 500}}
                return sse(chunks, done=False) + sse([error])
    chunks.append(dict(head, choices=[], usage=usage(prompt, sum(produced))))
    return sse(chunks)


def vllm_completion(texts, finish, prompt=14):
    choices = [{"index": i, "text": t, "logprobs": None, "finish_reason": finish, "stop_reason": None,
                "prompt_logprobs": None} for i, t in enumerate(texts)]
    completion = sum(len(tokens(t)) for t in texts)
    return json.dumps({"id": "cmpl-0a1b2c3d4e5f60718293a4b5c6d7e8f9", "object": "text_completion", "created": CREATED,
                       "model": VLLM_MODEL, "choices": choices, "service_tier": None, "system_fingerprint": None,
                       "usage": dict(usage(prompt, completion), prompt_tokens_details=None), "kv_transfer_params": None},
                      separators=(",", ":"))


def write_vllm():
    w = Writer("vllm", "vLLM (OpenAI-compatible server, recent versions unless a case says otherwise); "
                       "written from documentation and source, not recorded")
    models = {"object": "list", "data": [{"id": VLLM_MODEL, "object": "model", "created": CREATED, "owned_by": "vllm",
                                          "root": VLLM_MODEL, "parent": None, "max_model_len": 32768, "permission": [
                                              {"id": "modelperm-4f3e2d1c0b0a49f8a7b6c5d4e3f2a1b0", "object": "model_permission",
                                               "created": CREATED, "allow_create_engine": False, "allow_sampling": True,
                                               "allow_logprobs": True, "allow_search_indices": False, "allow_view": True,
                                               "allow_fine_tuning": False, "organization": "*", "group": None,
                                               "is_blocking": False}]}]}
    w.case("models", "the model list", "/models", None, [(200, JSON_TYPE, json.dumps(models, separators=(",", ":")))])
    w.case("chat", "a plain chat completion", "/chat/completions", chat_body(VLLM_MODEL),
           [(200, JSON_TYPE, vllm_chat(ANSWERS[:1], "stop"))])
    w.case("chat-stream-usage", "a stream with include_usage: role chunk, pieces, the last with finish_reason, usage chunk",
           "/chat/completions", chat_body(VLLM_MODEL, **STREAM), [(200, SSE_TYPE, vllm_stream(ANSWERS[:1], "stop"))])
    w.case("chat-stream-continuous-usage", "stream_options.continuous_usage_stats: usage in every chunk",
           "/chat/completions", chat_body(VLLM_MODEL, **STREAM),
           [(200, SSE_TYPE, vllm_stream(ANSWERS[:1], "stop", continuous=True))])
    w.case("chat-n2", "n=2 honoured", "/chat/completions", chat_body(VLLM_MODEL, n=2),
           [(200, JSON_TYPE, vllm_chat(ANSWERS, "stop"))])
    w.case("chat-n2-stream", "n=2 streamed: the choices' chunks interleave", "/chat/completions",
           chat_body(VLLM_MODEL, n=2, **STREAM), [(200, SSE_TYPE, vllm_stream(ANSWERS, "stop"))])
    w.case("chat-stop", "a stop string: finish_reason stop, stop_reason names it", "/chat/completions",
           chat_body(VLLM_MODEL, stop=["\n"]), [(200, JSON_TYPE, vllm_chat(["```rust"], "stop", stop_reason="\n"))])
    w.case("chat-length", "max_tokens reached", "/chat/completions", chat_body(VLLM_MODEL, max_tokens=4),
           [(200, JSON_TYPE, vllm_chat(["```rust\nfn add(a:"], "length"))])
    w.case("chat-length-stream", "max_tokens reached while streaming", "/chat/completions",
           chat_body(VLLM_MODEL, max_tokens=4, **STREAM), [(200, SSE_TYPE, vllm_stream(["```rust\nfn add(a:"], "length"))])
    w.case("completion", "a plain completion", "/completions", completion_body(VLLM_MODEL),
           [(200, JSON_TYPE, vllm_completion(COMPLETIONS[:1], "stop"))])
    w.case("completion-stream", "a streamed plain completion", "/completions", completion_body(VLLM_MODEL, **STREAM),
           [(200, SSE_TYPE, vllm_stream(COMPLETIONS[:1], "stop", prompt=14, kind="completion"))])
    w.case("completion-n2", "n=2 on plain completions", "/completions", completion_body(VLLM_MODEL, n=2),
           [(200, JSON_TYPE, vllm_completion(COMPLETIONS, "stop"))])
    not_found = "The model `no-such-model` does not exist."
    w.case("error-model", "an unknown model: 404 with {\"error\":{...}}", "/chat/completions",
           chat_body("no-such-model"), [(404, JSON_TYPE, json.dumps({"error": {
               "message": not_found, "type": "NotFoundError", "param": "model", "code": 404}}))])
    w.case("error-model-old", "an unknown model, older vLLM: {\"object\":\"error\",\"message\":...}", "/chat/completions",
           chat_body("no-such-model"), [(404, JSON_TYPE, json.dumps({
               "object": "error", "message": not_found, "type": "NotFoundError", "param": None, "code": 404}))])
    too_long = ("This model's maximum context length is 32768 tokens. However, you requested 33000 tokens "
                "(32800 in the messages, 200 in the completion). Please reduce the length of the messages or completion.")
    w.case("error-context", "a prompt longer than the context", "/chat/completions", chat_body(VLLM_MODEL),
           [(400, JSON_TYPE, json.dumps({"error": {"message": too_long, "type": "BadRequestError",
                                                   "param": None, "code": 400}}))])
    w.case("error-stream", "a failure mid-stream: data: {\"error\":...}, then [DONE]", "/chat/completions",
           chat_body(VLLM_MODEL, **STREAM), [(200, SSE_TYPE, vllm_stream(ANSWERS[:1], "stop", fail_after=3))])
    old = {"error": {"object": "error", "message": "Sampling failed: probability tensor contains nan",
                     "type": "BadRequestError", "param": None, "code": 400}}
    head = {"id": "chatcmpl-5e0d8f7a6b5c4d3e2f1a0b9c8d7e6f5a", "object": "chat.completion.chunk", "created": CREATED,
            "model": VLLM_MODEL}
    role = dict(head, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                "finish_reason": None}])
    w.case("error-stream-old", "a failure mid-stream, older vLLM: the error object also carries object: error",
           "/chat/completions", chat_body(VLLM_MODEL, **STREAM), [(200, SSE_TYPE, sse([role, old]))])


# Ollama ----------------------------------------------------------------------

OLLAMA_MODEL = "qwen2.5-coder:7b"


def ollama_json(value):
    """Go's json.Encoder: as go_json, with a trailing newline."""
    return go_json(value) + "\n"


def ollama_chat(text, finish, prompt=38, seed_id=417):
    return ollama_json({"id": f"chatcmpl-{seed_id}", "object": "chat.completion", "created": CREATED,
                        "model": OLLAMA_MODEL, "system_fingerprint": "fp_ollama",
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                     "finish_reason": finish}],
                        "usage": usage(prompt, len(tokens(text)), ("prompt_tokens", "completion_tokens", "total_tokens"))})


def ollama_stream(text, finish, include_usage, prompt=38, kind="chat", cut=False, seed_id=417):
    """Chunks as Ollama's /v1 middleware writes them: one choice, index 0, the
    role repeated in every delta, the finish reason in a last chunk with empty
    content, then (only with include_usage) a usage chunk with no choices."""
    order = ("prompt_tokens", "completion_tokens", "total_tokens")
    chunks = []
    pieces = tokens(text) + [""]
    if cut:
        pieces = tokens(text)[:3]
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1 and not cut
        reason = finish if last else None
        if kind == "chat":
            chunk = {"id": f"chatcmpl-{seed_id}", "object": "chat.completion.chunk", "created": CREATED,
                     "model": OLLAMA_MODEL, "system_fingerprint": "fp_ollama",
                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": reason}]}
        else:
            chunk = {"id": f"cmpl-{seed_id}", "object": "text_completion", "created": CREATED,
                     "choices": [{"text": piece, "index": 0, "finish_reason": reason}],
                     "model": OLLAMA_MODEL, "system_fingerprint": "fp_ollama"}
            if include_usage:
                chunk["usage"] = usage(0, 0, order)
        chunks.append(chunk)
    if cut:
        # A failure after the stream began: the middleware turns the
        # {"error":...} line into a chunk with empty content and ends.
        chunks.append(dict(chunks[-1], choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                 "finish_reason": None}]))
        return sse(chunks, done=False, encode=go_json)
    if include_usage:
        chunks.append(dict(chunks[-1], choices=[], usage=usage(prompt, len(tokens(text)), order)))
    return sse(chunks, encode=go_json)


def ollama_error(message, kind):
    return ollama_json({"error": {"message": message, "type": kind, "param": None, "code": None}})


def write_ollama():
    w = Writer("ollama", "Ollama /v1 (OpenAI compatibility, recent versions); written from documentation and source, not recorded")
    models = {"object": "list", "data": [{"id": OLLAMA_MODEL, "object": "model", "created": CREATED, "owned_by": "library"},
                                         {"id": "llama3.2:latest", "object": "model", "created": CREATED, "owned_by": "library"}]}
    sse_type = "text/event-stream"
    w.case("models", "the model list", "/models", None, [(200, JSON_TYPE, ollama_json(models))])
    w.case("chat", "a plain chat completion", "/chat/completions", chat_body(OLLAMA_MODEL),
           [(200, JSON_TYPE, ollama_chat(ANSWERS[0], "stop"))])
    w.case("chat-stream", "a stream without stream_options: no usage", "/chat/completions",
           chat_body(OLLAMA_MODEL, stream=True), [(200, sse_type, ollama_stream(ANSWERS[0], "stop", False))])
    w.case("chat-stream-usage", "a stream with include_usage: usage in a last chunk with no choices",
           "/chat/completions", chat_body(OLLAMA_MODEL, **STREAM), [(200, sse_type, ollama_stream(ANSWERS[0], "stop", True))])
    w.case("chat-n2", "n is ignored: one choice, the second asked for separately", "/chat/completions",
           chat_body(OLLAMA_MODEL, n=2), [(200, JSON_TYPE, ollama_chat(ANSWERS[0], "stop")),
                                          (200, JSON_TYPE, ollama_chat(ANSWERS[1], "stop", seed_id=88))])
    w.case("chat-n2-stream", "n is ignored while streaming too", "/chat/completions",
           chat_body(OLLAMA_MODEL, n=2, **STREAM), [(200, sse_type, ollama_stream(ANSWERS[0], "stop", True)),
                                                    (200, sse_type, ollama_stream(ANSWERS[1], "stop", True, seed_id=88))])
    w.case("chat-length", "max_tokens reached: done_reason length becomes finish_reason length", "/chat/completions",
           chat_body(OLLAMA_MODEL, max_tokens=4), [(200, JSON_TYPE, ollama_chat("```rust\nfn add(a:", "length"))])
    w.case("completion", "a plain completion", "/completions", completion_body(OLLAMA_MODEL),
           [(200, JSON_TYPE, ollama_json({"id": "cmpl-23", "object": "text_completion", "created": CREATED,
                                          "model": OLLAMA_MODEL, "system_fingerprint": "fp_ollama",
                                          "choices": [{"text": COMPLETIONS[0], "index": 0, "finish_reason": "stop"}],
                                          "usage": usage(14, len(tokens(COMPLETIONS[0])),
                                                         ("prompt_tokens", "completion_tokens", "total_tokens"))}))])
    w.case("completion-stream", "a streamed plain completion: zero usage in every chunk, the real one at the end",
           "/completions", completion_body(OLLAMA_MODEL, **STREAM),
           [(200, sse_type, ollama_stream(COMPLETIONS[0], "stop", True, prompt=14, kind="completion", seed_id=23))])
    w.case("error-model", "an unknown model", "/chat/completions", chat_body("no-such-model"),
           [(404, JSON_TYPE, ollama_error('model "no-such-model" not found, try pulling it first', "not_found_error"))])
    w.case("error-json", "a body that is not JSON", "/chat/completions", '{"model": "qwen2.5-coder:7b", "messages": [',
           [(400, JSON_TYPE, ollama_error("unexpected EOF", "invalid_request_error").rstrip("\n"))])
    w.case("stream-cut", "a failure mid-stream: the stream ends without finish_reason or [DONE]", "/chat/completions",
           chat_body(OLLAMA_MODEL, **STREAM), [(200, sse_type, ollama_stream(ANSWERS[0], "stop", True, cut=True))])


if __name__ == "__main__":
    write_vllm()
    write_ollama()
