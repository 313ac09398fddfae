#!/usr/bin/env python3
"""Writes spm_vocab.json and goldens_spm.jsonl: a SentencePiece-style vocabulary
(GGUF tokenizer.ggml.model "llama", as in Llama 2, Mistral 7B, CodeLlama) and
llama.cpp's own tokenization of every line of corpus.txt and of a few edge
cases with it, for TestSPMGoldens.

The vocabulary is trained here, BPE-style, on corpus.txt: every character of
the corpus seen at least twice is a piece, then the most frequent adjacent
pair is merged into a new piece, 1,200 times, each new piece scored below the
last ("▁" stands for spaces, and every word starts with one; pieces that look
like chat markers are left out, since llama.cpp turns those into control
tokens); the 256
<0xXX> byte tokens, <unk>, <s>, </s> and a user-defined token complete it.
llama.cpp tokenizes through llama-cpp-python, loading only the vocabulary
(vocab_only) of a GGUF file that holds it.

Run from this directory:

    pip install numpy gguf llama-cpp-python
    python3 make_spm_goldens.py
"""
import collections
import json
import pathlib
import tempfile

import llama_cpp
from gguf import GGUFWriter

HERE = pathlib.Path(__file__).resolve().parent
SPACE = "\u2581"
MERGES = 1200
EDGE_CASES = [
    "",
    " ",
    "  two leading spaces",
    "trailing spaces   ",
    "tabs\tand\nnewlines\n\n",
    "émigré café naïve — 日本語 😀 🦀",
    "<s>[INST] What is a crate? [/INST]",
    "text</s><s>more",
    "a <unk> inside",
    "<|user-token|>user defined<|user-token|>",
    "fn main() { println!(\"{}\", 1 + 2); }",
    "x" * 300,
    "\u0000\u0001 control bytes",
]


def train(corpus: str):
    """Pieces by score: the frequent characters, then MERGES merged pairs."""
    words = collections.Counter(SPACE + w for w in corpus.replace("\n", " ").split(" ") if w)
    chars = collections.Counter()
    for w, c in words.items():
        for ch in w:
            chars[ch] += c
    pieces = [ch for ch, c in chars.most_common() if c >= 2]
    known = set(pieces)
    split = {w: [ch if ch in known else None for ch in w] for w in words}
    merged = []
    for _ in range(MERGES):
        pairs = collections.Counter()
        for w, syms in split.items():
            for a, b in zip(syms, syms[1:]):
                if a is not None and b is not None:
                    pairs[a, b] += words[w]
        if not pairs:
            break
        (a, b), _ = pairs.most_common(1)[0]
        new = a + b
        merged.append(new)
        for w, syms in split.items():
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            split[w] = out
    return pieces, merged


def vocabulary(corpus: str):
    pieces, merged = train(corpus)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["<|user-token|>"]
    types = [2, 3, 3] + [6] * 256 + [4]
    scores = [0.0] * len(tokens)
    seen = set(tokens)
    # merged pieces score by merge order (earlier is higher), characters below them all; pieces that
    # look like chat markers ("<|im_end|>") are left out: llama.cpp makes such pieces control tokens
    for i, p in enumerate(merged):
        if p not in seen and not ("<|" in p or "|>" in p):
            tokens.append(p), types.append(1), scores.append(-float(i)), seen.add(p)
    for i, p in enumerate(pieces):
        if p not in seen:
            tokens.append(p), types.append(1), scores.append(-float(MERGES + i)), seen.add(p)
    return {"tokens": tokens, "types": types, "scores": scores, "bos": 1, "eos": 2, "unk": 0}


def write_gguf(path: pathlib.Path, v: dict) -> None:
    w = GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(v["tokens"]))
    w.add_tokenizer_model("llama")
    w.add_token_list(v["tokens"])
    w.add_token_scores(v["scores"])
    w.add_token_types(v["types"])
    w.add_bos_token_id(v["bos"])
    w.add_eos_token_id(v["eos"])
    w.add_unk_token_id(v["unk"])
    w.add_add_bos_token(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    corpus = (HERE / "corpus.txt").read_text(encoding="utf-8")
    v = vocabulary(corpus)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "spm.gguf"
        write_gguf(path, v)
        llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        lines = corpus.split("\n") + EDGE_CASES
        goldens = []
        for text in lines:
            data = text.encode("utf-8")
            goldens.append({"text": text,
                            "special": llm.tokenize(data, add_bos=False, special=True),
                            "plain": llm.tokenize(data, add_bos=False, special=False)})
    v["llama_cpp_python"] = llama_cpp.__version__
    with open(HERE / "spm_vocab.json", "w", encoding="utf-8") as f:
        json.dump(v, f, ensure_ascii=False)
        f.write("\n")
    with open(HERE / "goldens_spm.jsonl", "w", encoding="utf-8") as f:
        for g in goldens:
            f.write(json.dumps(g, ensure_ascii=False) + "\n")
    print(len(v["tokens"]), "tokens,", len(goldens), "texts")


if __name__ == "__main__":
    main()
