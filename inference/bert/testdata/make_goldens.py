"""Goldens for the Go BERT embedder: token ids and sentence-transformers
embeddings of all-MiniLM-L6-v2 for a set of varied texts.

Run (CPU, needs sentence-transformers, torch and transformers):

    python3 inference/bert/testdata/make_goldens.py models/embedder

It writes inference/bert/testdata/goldens.jsonl, one JSON object per text:
{"text", "ids" (input ids as sentence-transformers feeds them to the model,
[CLS] ... [SEP], truncated to max_seq_length), "embedding" (the normalized
384-dimensional sentence embedding)}, and goldens.meta.json with the library
versions that made them.
"""
import json
import os
import sys

import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer

RUST_DOC = (
    "A contiguous growable array type, written as Vec<T>, short for 'vector'. "
    "Vectors have O(1) indexing, amortized O(1) push (to the end) and O(1) pop "
    "(from the end). Vectors ensure they never allocate more than isize::MAX bytes. "
    "The vec! macro is provided for convenient initialization. "
)

TEXTS = [
    "How do I fix error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable?",
    'fn main() { let mut v = vec![1, 2, 3]; for x in &mut v { *x += 1; } println!("{:?}", v); }',
    "impl<T: Clone + Send + 'static> Iterator for Foo<T> { type Item = Arc<Mutex<T>>; fn next(&mut self) -> Option<Self::Item> { None } }",
    "error[E0382]: borrow of moved value: `s`",
    "The borrow checker ensures that references never outlive the data they point to.",
    "Café, naïve, résumé, Ångström, Straße, façade, coöperate",
    "Rust 是一种系统编程语言。所有权和借用是它的核心概念。",
    "所有権システムはメモリ安全性を保証します",
    "러스트 프로그래밍 언어는 안전합니다",
    "I ❤️ Rust 🦀!! 👍🏽",
    "",
    "   \t\n  ",
    "tab\there\x00null\u200bzero-width\ufeffbom\x0bvt\x85nel\ue000private\ufffdreplacement",
    "a" * 150 + " short " + "b" * 100,
    "HELLO WORLD, THIS IS SHOUTING ABOUT LIFETIMES",
    "What does [MASK] mean? [SEP] and [CLS] are special; [unk] and [PAD] too.",
    "3.14159 1,000,000 0x1F 1e-9 u64::MAX -42 +7 1_000_i32",
    "std::collections::HashMap<String, Vec<u8>>::entry(key).or_insert_with(Vec::new)",
    "ΟΔΥΣΣΕΥΣ Ελληνικά γλώσσα",
    "Привет, мир! Ржавчина — язык программирования.",
    "مرحبا بالعالم",
    "İstanbul ıspanak ŞEHİR",
    "## Examples\n```rust\nlet x = 5;\nassert_eq!(x, 5);\n```",
    "https://doc.rust-lang.org/std/vec/struct.Vec.html#method.push",
    "!!!???...,,,;;;:::'''\"\"\"((([[[{{{}}}]]])))",
    "a+b=c; x<y>z; ^~|`$ € £ ¥ © ® ™ ° ± × ÷ ¿¡ «»",
    "ＲＵＳＴ　ｌａｎｇｕａｇｅ",
    "e\u0301 a\u0308 n\u0303 combining accents",
    "non\u00a0breaking\u2003em\u3000ideographic\u2028line separator",
    "fn longest<'a>(x: &'a str, y: &'a str) -> &'a str { if x.len() > y.len() { x } else { y } }",
    "macro_rules! square { ($x:expr) => { $x * $x }; }",
    "warning: unused variable: `x`\n --> src/main.rs:2:9\n  |\n2 |     let x = 5;\n  |         ^ help: if this is intentional, prefix it with an underscore: `_x`",
    "What is the difference between Box<dyn Trait> and impl Trait?",
    '[dependencies]\nserde = { version = "1.0", features = ["derive"] }\ntokio = "1"',
    "a",
    "?",
    "unbelievablenessitude antidisestablishmentarianism",
    "ภาษาไทยเป็นภาษาที่สวยงาม",
    "नमस्ते दुनिया",
    "thread 'main' panicked at 'called `Option::unwrap()` on a `None` value', src/main.rs:4:37",
    RUST_DOC * 6,
    "中文" * 200,
]


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/embedder"
    out_dir = os.path.dirname(os.path.abspath(__file__))
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model = SentenceTransformer(model_dir, device="cpu")
    emb = model.encode(TEXTS, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    with open(os.path.join(out_dir, "goldens.jsonl"), "w", encoding="utf-8") as f:
        for text, e in zip(TEXTS, emb):
            ids = model.tokenize([text])["input_ids"][0].tolist()
            rec = {"text": text, "ids": ids, "embedding": [float("%.8g" % v) for v in e]}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    meta = {
        "model": "all-MiniLM-L6-v2",
        "max_seq_length": model.max_seq_length,
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "torch": torch.__version__,
    }
    with open(os.path.join(out_dir, "goldens.meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print("wrote", len(TEXTS), "goldens;", meta)


if __name__ == "__main__":
    main()
