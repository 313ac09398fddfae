"""A tiny random BERT sentence embedder for the Go tests, with goldens.

Run (CPU, needs torch, transformers and tokenizers):

    python3 inference/bert/testdata/make_tiny.py

It writes inference/bert/testdata/tiny/: config.json, model.safetensors
(random weights, hidden size 32, 2 layers, 4 heads), tokenizer.json (a small
WordPiece vocabulary with the BERT normalizer, pre-tokenizer and [CLS] ...
[SEP] template), sentence_bert_config.json, modules.json,
1_Pooling/config.json, and goldens.jsonl: {"text", "ids", "embedding"} with
the embedding computed as sentence-transformers does (mean of the last
hidden states over the tokens, L2-normalized).
"""
import json
import os

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny")
MAX_SEQ = 12

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "borrow", "check", "##er", "##s", "rust",
         "vec", "<", ">", "t", "error", "[", "]", ":", "e", "##05", "##02", "cannot", "mut", "##able",
         "im", "cafe", "!", ",", ".", "中", "文", "fn", "main", "(", ")", "{", "}", "let", "x", "=", "5", ";"]

TEXTS = [
    "The borrow checker",
    "error[E0502]: cannot borrow",
    "Vec<T> is mutable, immutable!",
    "Café 中文 rust",
    "fn main() { let x = 5; }",
    "",
    "unknown words here",
    "borrow borrow borrow borrow borrow borrow borrow borrow borrow borrow borrow borrow borrow",
    "the [MASK] checkers.",
]


def tokenizer():
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]",
                                     max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.enable_truncation(MAX_SEQ)
    return tok


def main():
    os.makedirs(os.path.join(OUT, "1_Pooling"), exist_ok=True)
    torch.manual_seed(1)
    cfg = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=16, type_vocab_size=2, layer_norm_eps=1e-5,
                     hidden_act="gelu")
    model = BertModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    model.save_pretrained(OUT, safe_serialization=True)
    tok = tokenizer()
    tok.save(os.path.join(OUT, "tokenizer.json"))
    json.dump({"max_seq_length": MAX_SEQ, "do_lower_case": False}, open(os.path.join(OUT, "sentence_bert_config.json"), "w"))
    json.dump([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], open(os.path.join(OUT, "modules.json"), "w"), indent=1)
    json.dump({"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
               "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False},
              open(os.path.join(OUT, "1_Pooling", "config.json"), "w"), indent=1)
    with open(os.path.join(OUT, "goldens.jsonl"), "w", encoding="utf-8") as f:
        for text in TEXTS:
            ids = tok.encode(text).ids
            with torch.no_grad():
                h = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
            e = torch.nn.functional.normalize(h.mean(0), dim=0)
            f.write(json.dumps({"text": text, "ids": ids, "embedding": [float("%.8g" % v) for v in e.tolist()]},
                               ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
