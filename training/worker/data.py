"""Reading and checking our JSONL datasets before any model is loaded.

DPO rows: {"prompt", "chosen", "rejected"} as plain strings or as chat messages
(prompt: user/system turns, chosen/rejected: assistant turns). SFT rows: {"messages": [...]}
ending with an assistant turn, {"prompt", "completion"}, or {"text"}. Extra fields such as
prompt_id or category are allowed and dropped before training.
"""

import json
import random

ROLES = ("system", "user", "assistant")


class DataError(ValueError):
    """A dataset that cannot be trained on; the message names the file, line and field."""


def load(path, kind):
    """Reads and checks the JSONL file at path and returns rows in the shape TRL reads.
    SFT chat rows become conversational prompt/completion rows so that TRL puts the loss
    on the last assistant turn only."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    rows.append(check_line(line, n, path, kind))
    except OSError as e:
        raise DataError(f"dataset {path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"dataset {path}: not UTF-8 at byte {e.start}") from None
    if not rows:
        raise DataError(f"dataset {path}: no rows")
    shapes = {shape_of(r) for r in rows}
    if len(shapes) > 1:
        raise DataError(f"dataset {path}: rows mix shapes ({', '.join(sorted(shapes))}); use one shape per file")
    return rows


def shape_of(row):
    keys = "+".join(sorted(row))
    first = next(iter(row.values()))
    return keys + (" messages" if isinstance(first, list) else " strings")


def check_line(line, n, path, kind):
    where = f"dataset {path} line {n}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{where}: invalid JSON at column {e.colno}: {e.msg}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: a row must be a JSON object")
    return check_dpo(obj, where) if kind == "dpo" else check_sft(obj, where)


def check_dpo(obj, where):
    for name in ("prompt", "chosen", "rejected"):
        if name not in obj:
            raise DataError(f"{where}: field {name} is missing")
    p, c, r = obj["prompt"], obj["chosen"], obj["rejected"]
    if isinstance(p, str):
        for name, v in (("prompt", p), ("chosen", c), ("rejected", r)):
            text(v, where, name)
    else:
        messages(p, where, "prompt", ("system", "user", "assistant"))
        if p[-1]["role"] == "assistant":
            raise DataError(f"{where}: field prompt must end with a user turn")
        messages(c, where, "chosen", ("assistant",))
        messages(r, where, "rejected", ("assistant",))
    if c == r:
        raise DataError(f"{where}: fields chosen and rejected are identical")
    return {"prompt": p, "chosen": c, "rejected": r}


def check_sft(obj, where):
    if "messages" in obj:
        m = messages(obj["messages"], where, "messages", ROLES)
        if m[-1]["role"] != "assistant":
            raise DataError(f"{where}: field messages must end with an assistant turn")
        if len(m) < 2:
            raise DataError(f"{where}: field messages needs a prompt turn before the assistant turn")
        return {"prompt": m[:-1], "completion": m[-1:]}
    if "prompt" in obj or "completion" in obj:
        return {"prompt": text(obj.get("prompt"), where, "prompt"),
                "completion": text(obj.get("completion"), where, "completion")}
    if "text" in obj:
        return {"text": text(obj["text"], where, "text")}
    raise DataError(f"{where}: field messages is missing (or use prompt+completion, or text)")


def text(v, where, name):
    if not isinstance(v, str):
        raise DataError(f"{where}: field {name} must be a string")
    if not v.strip():
        raise DataError(f"{where}: field {name} is empty")
    return v


def messages(v, where, name, roles):
    if not isinstance(v, list) or not v:
        raise DataError(f"{where}: field {name} must be a non-empty list of messages")
    out = []
    for i, m in enumerate(v):
        at = f"{where}: field {name}[{i}]"
        if not isinstance(m, dict):
            raise DataError(f"{at} must be an object with role and content")
        if m.get("role") not in roles:
            raise DataError(f"{at}.role must be one of {', '.join(roles)}, got {json.dumps(m.get('role'))}")
        c = m.get("content")
        if not isinstance(c, str) or not c.strip():
            raise DataError(f"{at}.content must be a non-empty string")
        out.append({"role": m["role"], "content": c})
    return out


def split(rows, fraction, seed):
    """Splits rows into (train, eval) with a seeded shuffle; eval is empty when fraction
    yields less than one row."""
    n_eval = int(len(rows) * fraction)
    if n_eval < 1:
        return rows, []
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = set(order[:n_eval])
    return [r for i, r in enumerate(rows) if i not in held], [rows[i] for i in sorted(held)]
