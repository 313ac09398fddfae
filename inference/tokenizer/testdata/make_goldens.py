#!/usr/bin/env python3
"""Regenerates the reference data used by the tokenizer and chat tests.

Run from the repository root (needs transformers, tokenizers, gguf, regex, jinja2):

    python3 inference/tokenizer/testdata/make_goldens.py path/to/SmolLM2-135M-Instruct.Q4_1.gguf

If the `gguf` package is not installed, point PYTHONPATH at llama.cpp's gguf-py.

What it writes:

inference/tokenizer/testdata/
  smollm2_tokenizer.json.gz  tokenizer.json that transformers builds from the GGUF
                             (see the note on the pre-tokenizer below), gzipped
  goldens.jsonl              {"text", "ids"}: SmolLM2 encodings of corpus.txt lines,
                             8-line chunks, the whole corpus and hand-made edge cases
  splits.jsonl               {"text", "gpt2", "llama3", "qwen2"}: pieces of the three
                             pre-tokenizer regexes, from Python's `regex` module,
                             cross-checked with the `tokenizers` Split pre-tokenizer
  behaviors.jsonl            pieces of the Split pre-tokenizer for every behavior, with
                             and without invert, and of the Digits pre-tokenizer
  llama3_style.json          small byte-level BPE trained here with the Llama-3
                             pre-tokenizer, ignore_merges, a BOS template and added
                             tokens (special, non-special, lstrip/rstrip); merges as pairs
  qwen2_style.json           same with the Qwen2 regex and an NFC normalizer;
                             merges as "a b" strings
  ignore_merges.json         hand-made vocabulary where ignore_merges changes the result
  goldens_<name>.jsonl       {"text", "ids"} for each of the three files above

inference/chat/testdata/
  *.jinja                    chat templates: SmolLM2 (read from the GGUF) and the
                             published templates of Qwen2, Qwen2.5, ChatML, Llama 3,
                             Llama 3.1, Llama 3.2, Llama 2 and Mistral Instruct
  goldens.jsonl              {"template", "messages", "add_generation_prompt", "text"}
                             rendered by transformers' apply_chat_template, or
                             "error" when the template raises

Note on the SmolLM2 pre-tokenizer: the GGUF says tokenizer.ggml.pre = "smollm", which
llama.cpp (and the original SmolLM2 tokenizer.json) implement as "split every digit,
then the GPT-2 byte-level regex". transformers' GGUF loader ignores that key and emits a
plain ByteLevel pre-tokenizer, which tokenizes runs of spaces before digits differently.
The script replaces the pre-tokenizer with Sequence[Digits(individual), ByteLevel] so the
goldens follow the model, and prints how many cases the unpatched loader gets wrong.
"""

import gzip
import json
import os
import sys
import tempfile

import regex
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
CHAT = os.path.join(HERE, "..", "..", "chat", "testdata")

GPT2_PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# Hand-made cases the corpus file cannot hold well (CR, odd whitespace, decomposed marks).
EXTRA = [
    "",
    " ",
    "  ",
    "\n",
    "\n\n\n",
    "\t",
    "a",
    " a",
    "  a",
    "a ",
    "a  ",
    "hello world",
    "hello  world",
    "hello   world",
    "line one\r\nline two\r\n",
    "\r\n\r\n  \r\n",
    "x\r\ry",
    "tab\tand\t\ttabs",
    "vertical\x0btab and form\x0cfeed",
    "nbsp\u00a0here and narrow\u202fnbsp and ideographic\u3000space",
    "line\u2028separator and paragraph\u2029separator",
    "next\u0085line",
    "zero\u200bwidth and joiner\u200dhere and bom\ufeffx",
    "info\x1fsep and group\x1dsep",
    "control\x00char and bell\x07",
    "e\u0301 n\u0303 s\u0323\u0307 A\u030a",
    "\u00e9 \u00f1 \u1e69 \u00c5",
    "12345",
    " 12345",
    "  12345",
    "x  12345",
    "3.14",
    "1,234,567.89",
    "\uff11\uff12\uff13 and \u2167 and \u00b2\u00b3 and \u0663\u0664",
    "don't I'll we've they're it's I'm she'd",
    "DON'T I'LL WE'VE THEY'RE IT'S I'M SHE'D",
    "'s 't 're 've 'm 'll 'd",
    "'S 'T 'RE 'VE 'M 'LL 'D",
    "x's y'S z'\u017f",
    "''s '''t",
    "fn f<'s>(x: &'s str) -> &'s str { x }",
    "!!!abc ...def ???123",
    "a\n\nb",
    "a \n b",
    "a\n \nb",
    "   \n\n   x",
    "x   \n\n   ",
    "trailing   ",
    "<|im_start|>",
    "<|im_start|>user\nhi<|im_end|>\n",
    "<|im_start|><|im_end|><|endoftext|>",
    "a<|im_start|>b",
    " <|im_start|> ",
    "<|im_start|<|im_start|>>",
    "<repo_name>x<file_sep>y<filename>z",
    "\U0001f980\U0001f980 \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3002",
    "\uc548\ub155\ud558\uc138\uc694",
    "mixed\u65e5\u672cwords\ud55c\uad6d",
    "\u0645\u0631\u062d\u0628\u0627",
    "a" * 300,
    " " * 40 + "x",
    "\n" * 20,
    "ab" * 100,
    "\u4e2d" * 64,
]

# Cases for the regex splitters: EXTRA plus a few that stress the Llama-3/Qwen2 branches.
SPLIT_EXTRA = [
    "Hello, world! How's it going? I'M FINE.",
    "  leading spaces and trailing  ",
    "a\r\n\r\nb",
    " \r\n x",
    "abc\n\n\ndef",
    "  \n  \n  ",
    "12 123 1234 12345 123456",
    "x1y22z333",
    "price: $100.00!!\n\nnext",
    "...\n\n",
    " ...\n\n",
    "\t\tindented\n\t\tcode",
    "foo(bar)  {\n    baz;\n}\n",
    "'hello' \"world\"",
    "it's 'S 'LL I'Ve",
    "\u00a0\u00a0x",
    "x\u00a0\u00a0",
    "\u3000\u3000\u65e5\u672c",
    "-\u65e5\u672c +abc 1abc",
    "\u2167\u2167\u2167\u2167",
    "\u0663\u0664\u0665\u0666",
]


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def corpus_cases():
    with open(os.path.join(HERE, "corpus.txt"), encoding="utf-8") as f:
        corpus = f.read()
    lines = corpus.split("\n")
    cases = list(lines)
    for i in range(0, len(lines), 8):
        cases.append("\n".join(lines[i:i + 8]) + "\n")
    cases.append(corpus)
    cases.extend(EXTRA)
    return cases, corpus


def smollm_pre_tokenizer():
    return {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ],
    }


def smollm2(gguf_path, cases):
    directory, name = os.path.split(os.path.abspath(gguf_path))
    hf = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        with open(os.path.join(tmp, "tokenizer.json"), encoding="utf-8") as f:
            data = json.load(f)
    data["pre_tokenizer"] = smollm_pre_tokenizer()
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(HERE, "smollm2_tokenizer.json.gz"), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
            gz.write(text.encode("utf-8"))
    tok = Tokenizer.from_str(text)
    rows, differ = [], 0
    for case in cases:
        ids = tok.encode(case).ids
        if hf(case)["input_ids"] != ids:
            differ += 1
        if tok.decode(ids, skip_special_tokens=False) != case:
            # The vocabulary lacks a few control bytes (0x04, 0x1d, ...); BPE drops them.
            print(f"smollm2: decode does not round-trip {case!r}")
        rows.append({"text": case, "ids": ids})
    write_jsonl(os.path.join(HERE, "goldens.jsonl"), rows)
    print(f"smollm2: {len(rows)} cases; the unpatched GGUF loader differs on {differ}")
    return hf


def splits(cases):
    rows = []
    for case in cases:
        row = {"text": case}
        for key, pat in (("gpt2", GPT2_PAT), ("llama3", LLAMA3_PAT), ("qwen2", QWEN2_PAT)):
            pieces = regex.findall(pat, case)
            hf = [p for p, _ in pre_tokenizers.Split(Regex(pat), "isolated").pre_tokenize_str(case)]
            if pieces != hf:
                raise SystemExit(f"regex and tokenizers disagree on {key} for {case!r}: {pieces} {hf}")
            row[key] = pieces
        rows.append(row)
    write_jsonl(os.path.join(HERE, "splits.jsonl"), rows)
    print(f"splits: {len(rows)} cases")


BEHAVIOR_CASES = ["a-b--c", "-a-", "--", "x 12 345 y6", "  two  spaces ", "\u3000ideo\u00a0nbsp\u2003em",
                  "tab\tnew\nline", "", "no match here", "\u0663\u0664 and \uff11\uff12"]
BEHAVIOR_PATTERNS = [("String", "-"), ("Regex", r"\d+"), ("Regex", r"\s"), ("Regex", r"\s+"), ("Regex", r"[^\s\w]+"),
                     ("Regex", r"\w+"), ("Regex", r"\p{N}{1,2}")]


def behaviors():
    rows = []
    for kind, pat in BEHAVIOR_PATTERNS:
        pattern = Regex(pat) if kind == "Regex" else pat
        for behavior in ("removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"):
            for invert in (False, True):
                split = pre_tokenizers.Split(pattern, behavior, invert=invert)
                for case in BEHAVIOR_CASES:
                    pieces = [p for p, _ in split.pre_tokenize_str(case)]
                    rows.append({"kind": kind, "pattern": pat, "behavior": behavior, "invert": invert,
                                 "text": case, "pieces": pieces})
    for individual in (False, True):
        for case in BEHAVIOR_CASES + SPLIT_EXTRA:
            pieces = [p for p, _ in pre_tokenizers.Digits(individual_digits=individual).pre_tokenize_str(case)]
            rows.append({"kind": "Digits", "individual": individual, "text": case, "pieces": pieces})
    write_jsonl(os.path.join(HERE, "behaviors.jsonl"), rows)
    print(f"behaviors: {len(rows)} cases")


def train(pattern, normalizer, corpus, ignore_merges):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=900,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
        show_progress=False,
    )
    tok.train_from_iterator([corpus] * 3, trainer=trainer)
    tok.add_special_tokens([
        AddedToken("<|eot_id|>", special=True, normalized=False),
        AddedToken("<|start_header_id|>", special=True, normalized=False),
        AddedToken("<|end_header_id|>", special=True, normalized=False),
        AddedToken("<mask>", special=True, normalized=False, lstrip=True, rstrip=True),
    ])
    tok.add_tokens([
        AddedToken("rustexpert", special=False, normalized=True),
        AddedToken("[[sep]]", special=False, normalized=False, single_word=True),
    ])
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(
            single="<|begin_of_text|> $A",
            pair="<|begin_of_text|> $A <|begin_of_text|> $B",
            special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))],
        ),
    ])
    return tok


def merges_as_strings(text):
    data = json.loads(text)
    data["model"]["merges"] = [" ".join(pair) for pair in data["model"]["merges"]]
    return json.dumps(data, ensure_ascii=False, indent=1)


def styled(name, tok, cases, string_merges):
    text = tok.to_str()
    if string_merges:
        text = merges_as_strings(text)
    else:
        text = json.dumps(json.loads(text), ensure_ascii=False, indent=1)
    with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
        f.write(text)
    tok = Tokenizer.from_str(text)
    rows = [{"text": c, "ids": tok.encode(c).ids} for c in cases]
    write_jsonl(os.path.join(HERE, "goldens_" + name + ".jsonl"), rows)
    print(f"{name}: {len(rows)} cases, {os.path.getsize(os.path.join(HERE, name + '.json'))} bytes")


def ignore_merges_tokenizer():
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    extra = ["bc", "ab", "abc", "abcd", "cd", "bcd", "Ġa", "Ġab"]
    for t in extra:
        vocab[t] = len(vocab)
    merges = [("b", "c"), ("a", "b"), ("c", "d"), ("b", "cd"), ("Ġ", "a"), ("Ġa", "b")]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
            "vocab": vocab, "merges": [list(m) for m in merges],
        },
    }


def ignore_merges_goldens():
    text = json.dumps(ignore_merges_tokenizer(), ensure_ascii=False)
    with open(os.path.join(HERE, "ignore_merges.json"), "w", encoding="utf-8") as f:
        f.write(text)
    tok = Tokenizer.from_str(text)
    cases = ["abc", "abcd", "bcd", "abcabc", "ab abc abcd", " abc", "xabcx", "cd bc ab"]
    rows = [{"text": c, "ids": tok.encode(c).ids} for c in cases]
    write_jsonl(os.path.join(HERE, "goldens_ignore_merges.jsonl"), rows)
    print(f"ignore_merges: {len(rows)} cases")


# ---- chat templates -------------------------------------------------------------

QWEN2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

QWEN25 = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

LLAMA31_HEAD = r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
"""

LLAMA31_DATE = r"""{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
"""

LLAMA32_DATE = r"""{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
"""

LLAMA31_BODY = r"""{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)

def llama32_body():
    """Llama 3.2 dropped the builtin_tools lines of the Llama 3.1 template."""
    body = LLAMA31_BODY.replace("{#- System message + builtin tools #}", "{#- System message #}")
    body = body.replace("{%- if builtin_tools is defined or tools is not none %}", "{%- if tools is not none %}")
    start = body.index("{%- if builtin_tools is defined %}")
    end = body.index("{{- \"Cutting Knowledge")
    return body[:start] + body[end:]


MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

MISTRAL_V01 = MISTRAL.replace("message['content'] + eos_token}}", "message['content'] + eos_token + ' ' }}")

# file name -> (template, bos_token, eos_token, extra template variables)
TEMPLATES = {
    "qwen2.jinja": (QWEN2, "<|im_start|>", "<|im_end|>", {}),
    "qwen2_5.jinja": (QWEN25, "", "<|im_end|>", {}),
    "chatml.jinja": (CHATML, "<s>", "</s>", {}),
    "llama3.jinja": (LLAMA3, "<|begin_of_text|>", "<|eot_id|>", {}),
    "llama3_1.jinja": (LLAMA31_HEAD + "\n" + LLAMA31_DATE + LLAMA31_BODY, "<|begin_of_text|>", "<|eot_id|>", {}),
    "llama3_2.jinja": (LLAMA31_HEAD + LLAMA32_DATE + llama32_body(), "<|begin_of_text|>", "<|eot_id|>",
                       {"date_string": "26 Jul 2024"}),
    "llama2.jinja": (LLAMA2, "<s>", "</s>", {}),
    "mistral.jinja": (MISTRAL, "<s>", "</s>", {}),
    "mistral_v0_1.jinja": (MISTRAL_V01, "<s>", "</s>", {}),
}


def m(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = [
    [m("user", "Hello!")],
    [m("system", "You are a Rust expert."), m("user", "What is a lifetime?")],
    [m("user", "Write hello world in Rust."), m("assistant", "fn main() { println!(\"Hello, world!\"); }"),
     m("user", "Now make it print twice.")],
    [m("system", "  Be brief.\n"), m("user", "  padded question?  \n\n"), m("assistant", "\tanswer with tabs\t"),
     m("user", "next")],
    [m("user", "Unicode: \u65e5\u672c\u8a9e \U0001f980 caf\u00e9\nsecond line\n\nthird"),
     m("assistant", ""), m("user", "<|im_start|> and [INST] inside text")],
    [m("user", "\u3000\u00a0 wide spaces \u2028\x1c"), m("assistant", " \x1f ok \u3000")],
    [m("user", "first"), m("system", "late system"), m("user", "second")],
    [m("system", "only a system message")],
    [m("assistant", "I speak first."), m("user", "ok")],
    [m("user", "a"), m("user", "b")],
    [m("system", "sys"), m("user", "u1"), m("assistant", "a1"), m("user", "u2"), m("assistant", "a2")],
    [m("user", "call a tool"), m("assistant", "calling"), m("tool", "{\"temp\": 21}"), m("tool", "second result"),
     m("user", "thanks")],
    [m("user", "q"), m("ipython", "  result  ")],
    [m("user", "q"), m("tool", "a<b & c \"quoted\" \\ back\ttab\x01\x7f caf\u00e9 \u2028 \U0001f980")],
    [m("user", "It's \"quoted\" {{ not jinja }} {% raw %}")],
]


def render(hf, template, bos, eos, extra, conv, gen):
    try:
        return {"text": hf.apply_chat_template(conv, chat_template=template, tokenize=False,
                                                add_generation_prompt=gen, bos_token=bos, eos_token=eos, **extra)}
    except Exception as e:  # the templates raise for conversations they do not accept
        return {"error": str(e)}


def chat(hf, gguf_template):
    os.makedirs(CHAT, exist_ok=True)
    templates = dict(TEMPLATES)
    templates["smollm2.jinja"] = (gguf_template, "<|im_start|>", "<|im_end|>", {})
    rows = []
    for name in sorted(templates):
        template, bos, eos, extra = templates[name]
        with open(os.path.join(CHAT, name), "w", encoding="utf-8") as f:
            f.write(template)
        for conv in CONVERSATIONS:
            for gen in (False, True):
                row = {"template": name, "bos_token": bos, "eos_token": eos, "vars": extra,
                       "messages": conv, "add_generation_prompt": gen}
                row.update(render(hf, template, bos, eos, extra, conv, gen))
                rows.append(row)
    write_jsonl(os.path.join(CHAT, "goldens.jsonl"), rows)
    print(f"chat: {len(rows)} renderings, {sum('error' in r for r in rows)} errors")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_goldens.py path/to/SmolLM2-135M-Instruct.Q4_1.gguf")
    cases, corpus = corpus_cases()
    hf = smollm2(sys.argv[1], cases)
    splits(cases + SPLIT_EXTRA)
    behaviors()
    small_cases = cases + SPLIT_EXTRA + [
        "<mask>", "a <mask> b", "a<mask>b", "  <mask>  x", "rustexpert rocks", "xrustexpertx",
        "[[sep]] a[[sep]]b c [[sep]]", "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi",
        "Cafe\u0301 and Caf\u00e9", "rustexpe\u0301rt",
    ]
    styled("llama3_style", train(LLAMA3_PAT, None, corpus, True), small_cases, False)
    styled("qwen2_style", train(QWEN2_PAT, normalizers.NFC(), corpus, False), small_cases, True)
    ignore_merges_goldens()
    chat(hf, hf.chat_template)


if __name__ == "__main__":
    main()
