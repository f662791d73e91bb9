"""A tiny random-weights llama GGUF that llama-server loads and serves.

Not a language model: a protocol fixture. It has what llama.cpp needs to serve chat
requests the way it serves a real Qwen3-style model:

- a GPT-2 byte-level BPE vocabulary with all 256 byte tokens (llama.cpp throws on a
  byte with no token) and a few merges;
- ChatML control tokens plus ``<think>`` / ``<tool_call>`` as user-defined tokens (so
  they appear in the text llama.cpp parses into reasoning and tool calls);
- a Qwen3-style Jinja chat template handling tools, tool results, reasoning_content
  and ``enable_thinking``; tool calls are rendered compactly (``<tool_call>{...}``)
  which lets grammar-constrained decoding reach them in few tokens;
- one embedding dimension held constant, so a column of the output matrix acts as a
  per-token bias: output favours printable ASCII and JSON punctuation over control
  bytes and invalid UTF-8.

Run ``python tests/engine/gguf_model.py OUT.gguf`` to write one by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

N_EMBD = 64
N_HEAD = 4
N_LAYER = 2
N_FF = 256
N_CTX = 32768

# Multi-byte tokens built by merges, in merge order (byte-level spelling, "Ġ" = space).
MERGES = [
    ("Ġ", "t"),
    ("h", "e"),
    ("Ġt", "he"),
    ("i", "n"),
    ("e", "r"),
    ("a", "n"),
    ("Ġ", "a"),
    ("o", "n"),
    ("{", '"'),
    ('"', ":"),
    ('"', ","),
    ("Ġ", '"'),
    ('"', "}"),
    ("Ċ", "Ċ"),
]
# Whole-word tokens for frequent words (with and without the leading space), so
# prompts cost about half as many tokens as byte by byte: prompt processing is most
# of the engine tests' time.
_WORD_TEXT = """
the and of to in is that for it with as on be by this are or from at an not your you
if each all any one two three four five six seven eight nine ten only must should
will can may more than then when where which what who how many much number numbers
answer reply write return list name names value values type types object string
integer boolean array null true false description properties required items line
lines word words text file files code function tool tools call calls date time
user data format following given after before into per total first last next
day days year years price cost order customer email address city weather use
please must need needs example output input result results count sum each other
def self import print let const var int str float bool
The A An In If Return Write Use Reply Answer Give List You Your Name Each What How
"""
WORDS = _WORD_TEXT.split()


def _word_merges() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for word in WORDS:
        for spelled in (word, "Ġ" + word):
            for i in range(1, len(spelled)):
                out.append((spelled[:i], spelled[i]))
    return out


SPECIALS = [
    ("<|endoftext|>", 3),
    ("<|im_start|>", 3),
    ("<|im_end|>", 3),
    ("<think>", 4),
    ("</think>", 4),
    ("<tool_call>", 4),
    ("</tool_call>", 4),
    ("<tool_response>", 4),
    ("</tool_response>", 4),
]

CHAT_TEMPLATE = """\
{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}
{{- '# Tools\\n\\nFunctions you may call, as JSON schemas inside <tools></tools>:\\n<tools>' }}
{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}
{{- '\\n</tools>\\n\\nTo call one, reply with <tool_call>{"name": <name>, "arguments": <object>}\
</tool_call> per call.<|im_end|>\\n' }}
{%- elif messages[0].role == 'system' %}
{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{%- set ns = namespace(last_user=messages|length - 1, tool_tail=true) %}
{%- for message in messages[::-1] %}
{%- if ns.tool_tail and message.role == 'user' %}
{%- set ns.tool_tail = false %}{%- set ns.last_user = (messages|length - 1) - loop.index0 %}
{%- endif %}
{%- endfor %}
{%- for message in messages %}
{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- elif message.role == 'assistant' %}
{%- set content = message.content if message.content is string else '' %}
{%- set reasoning = '' %}
{%- if message.reasoning_content is defined and message.reasoning_content is string %}
{%- set reasoning = message.reasoning_content %}
{%- elif '</think>' in content %}
{%- set reasoning = content.split('</think>')[0].split('<think>')[-1].strip('\\n') %}
{%- set content = content.split('</think>')[-1].lstrip('\\n') %}
{%- endif %}
{{- '<|im_start|>assistant\\n' }}
{%- if loop.index0 > ns.last_user and (loop.last or reasoning) %}
{{- '<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' }}
{%- endif %}
{{- content.lstrip('\\n') }}
{%- if message.tool_calls %}
{%- for tc in message.tool_calls %}
{%- set call = tc.function if tc.function else tc %}
{%- if content or not loop.first %}{{- '\\n' }}{%- endif %}
{{- '<tool_call>{"name": "' + call.name + '", "arguments": ' }}
{%- if call.arguments is string %}{{- call.arguments }}
{%- else %}{{- call.arguments | tojson }}{%- endif %}
{{- '}</tool_call>' }}
{%- endfor %}
{%- endif %}
{{- '<|im_end|>\\n' }}
{%- elif message.role == 'tool' %}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}
{{- '<|im_start|>user' }}{%- endif %}
{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\\n' }}
{%- if enable_thinking is defined and enable_thinking is false %}
{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}
{%- endif %}
"""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = list(keep)
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(keep, chars, strict=True)}


def vocabulary() -> tuple[list[str], list[int], list[str]]:
    """(tokens, token types, merges): byte tokens in byte order, merges, specials last."""
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    types = [1] * 256
    merges: list[tuple[str, str]] = []
    known = set(tokens)
    for a, b in MERGES + _word_merges():
        if (a, b) in merges or a not in known or b not in known:
            continue
        merges.append((a, b))
        if a + b not in known:
            known.add(a + b)
            tokens.append(a + b)
            types.append(1)
    for text, kind in SPECIALS:
        tokens.append(text)
        types.append(kind)
    return tokens, types, [f"{a} {b}" for a, b in merges]


def _favoured(token: str, kind: int, u2b: dict[str, int]) -> bool:
    """Printable ASCII, newline and JSON punctuation; never control bytes or stray UTF-8."""
    if kind != 1:
        return False
    try:
        raw = bytes(u2b[c] for c in token)
    except KeyError:
        return False
    return all(32 <= x < 127 or x == 10 for x in raw)


def write_model(path: Path | str, seed: int = 0) -> Path:
    """Write the model to ``path`` (about 1 MB, well under a second)."""
    import gguf

    path = Path(path)
    rng = np.random.default_rng(seed)
    tokens, types, merges = vocabulary()
    n_vocab = len(tokens)
    u2b = {c: b for b, c in bytes_to_unicode().items()}
    ids = {t: i for i, t in enumerate(tokens)}

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("llmbench-tiny-random")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(ids["<|endoftext|>"])
    w.add_eos_token_id(ids["<|im_end|>"])
    w.add_pad_token_id(ids["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    def rand(*shape: int, scale: float) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    # Dimension 0 of every embedding is a constant, so after the final RMS norm it is
    # a large steady input and output column 0 becomes a per-token logit bias.
    embd = rand(n_vocab, N_EMBD, scale=0.1)
    embd[:, 0] = 1.0
    w.add_tensor("token_embd.weight", embd)
    for i in range(N_LAYER):
        p = f"blk.{i}"
        w.add_tensor(f"{p}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v"):
            w.add_tensor(f"{p}.{name}.weight", rand(N_EMBD, N_EMBD, scale=0.2))
        # Small residual updates keep the constant dimension dominant.
        w.add_tensor(f"{p}.attn_output.weight", rand(N_EMBD, N_EMBD, scale=0.03))
        w.add_tensor(f"{p}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(f"{p}.ffn_gate.weight", rand(N_FF, N_EMBD, scale=0.2))
        w.add_tensor(f"{p}.ffn_up.weight", rand(N_FF, N_EMBD, scale=0.2))
        w.add_tensor(f"{p}.ffn_down.weight", rand(N_EMBD, N_FF, scale=0.005))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    out = rand(n_vocab, N_EMBD, scale=0.3)
    bias = np.array(
        [1.0 if _favoured(t, k, u2b) else -4.0 for t, k in zip(tokens, types, strict=True)],
        dtype=np.float32,
    )
    # End of turn a little above text: some answers stop on their own (the verifier
    # judges them), the rest run into max_tokens.
    bias[ids["<|im_end|>"]] = 3.0
    out[:, 0] = bias
    # A context-free end-of-turn logit: how often a turn ends depends on the bias alone.
    out[ids["<|im_end|>"], 1:] = 0.0
    w.add_tensor("output.weight", out)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


if __name__ == "__main__":
    target = write_model(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf")
    print(f"{target} ({target.stat().st_size} bytes)")
