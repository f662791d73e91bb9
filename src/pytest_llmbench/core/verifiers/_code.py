"""Code extraction from model answers, shared by the code-executing verifiers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from .base import Verdict

# ```lang  ...  ``` ; tolerates ~~~ fences, trailing spaces and a missing final newline.
_FENCE = re.compile(
    r"(?P<fence>```|~~~)[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)(?:\n)?(?P=fence)[ \t]*(?:\n|$)",
    re.DOTALL,
)

ALIASES = {
    "py": "python",
    "python3": "python",
    "py3": "python",
    "js": "javascript",
    "node": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "ts": "typescript",
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
    "console": "bash",
    "rs": "rust",
    "golang": "go",
    "c++": "cpp",
    "cxx": "cpp",
    "patch": "diff",
    "udiff": "diff",
}


def norm_lang(info: str) -> str:
    word = info.strip().split()[0].lower() if info.strip() else ""
    word = word.strip("{}.")
    return ALIASES.get(word, word)


@dataclass
class CodeBlock:
    language: str  # normalised fence language, "" when the fence names none
    code: str
    start: int  # offset in the answer, to keep order


class NoCode(ValueError):  # noqa: N818 - reads better in messages
    """The answer holds no code block of the wanted language (failure mode ``no_code``)."""


def code_blocks(text: str) -> list[CodeBlock]:
    return [
        CodeBlock(norm_lang(m.group("info")), m.group("body"), m.start())
        for m in _FENCE.finditer(text or "")
    ]


def extract_code(
    text: str,
    language: str,
    *,
    allow_unfenced: bool = True,
    join: bool = False,
) -> str:
    """The code of ``language`` in an answer.

    Fenced blocks tagged with the language win; then untagged fences; with several
    blocks the longest is taken (models often add a short usage example), or all are
    joined when ``join``. An answer without any fence counts as code only when
    ``allow_unfenced`` and it does not read like prose. Raises :class:`NoCode`."""
    want = ALIASES.get(language.lower(), language.lower())
    blocks = code_blocks(text)
    tagged = [b for b in blocks if b.language == want]
    untagged = [b for b in blocks if b.language == ""]
    chosen = tagged or untagged
    if chosen:
        if join:
            return "\n\n".join(b.code for b in sorted(chosen, key=lambda b: b.start))
        return max(chosen, key=lambda b: len(b.code)).code
    if blocks:
        langs = sorted({b.language or "untagged" for b in blocks})
        raise NoCode(f"no {want} code block (found {', '.join(langs)})")
    body = (text or "").strip()
    if allow_unfenced and body and not _reads_like_prose(body):
        return body
    raise NoCode(f"no {want} code in the answer" + (" (empty answer)" if not body else ""))


def _reads_like_prose(text: str) -> bool:
    """Unfenced answers: code has symbols and indentation, prose has sentences."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return True
    codeish = sum(
        1
        for ln in lines
        if re.search(
            r"[;{}()\[\]=:#<>]|^\s{2,}|^(def|class|import|from|function|const|let|"
            r"var|fn|func|package|return|if|for|while)\b",
            ln,
        )
    )
    return codeish / len(lines) < 0.5


class Strict(BaseModel):
    """Arguments of a code verifier: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def no_sandbox() -> Verdict:
    return Verdict.fail(
        "this verifier runs code and was given no sandbox (pass --llm-sandbox, or "
        "--sandbox NAME to the selfcheck)",
        "no_sandbox",
    )


def tail(text: str, n: int = 300) -> str:
    """The end of a long output, where the error usually is."""
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]
