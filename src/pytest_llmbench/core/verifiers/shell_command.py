"""The ``shell`` verifier's command screening: the pack's tool allowlist, the tools a
command names outside it, and the command found in an answer."""

from __future__ import annotations

import re

from ._code import NoCode, code_blocks, extract_code
from ._text import short

# The pack's allowlist: coreutils-level tools, text tools, archives. No interpreter
# or shell is here: one on PATH would turn every task into a scripting task.
CLI_TOOLS = [
    "awk",
    "base64",
    "basename",
    "cat",
    "chmod",
    "cmp",
    "comm",
    "cp",
    "csplit",
    "cut",
    "date",
    "diff",
    "dirname",
    "du",
    "expand",
    "expr",
    "false",
    "find",
    "fold",
    "grep",
    "gunzip",
    "gzip",
    "head",
    "join",
    "ln",
    "ls",
    "md5sum",
    "mkdir",
    "mktemp",
    "mv",
    "nl",
    "od",
    "paste",
    "printf",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "sed",
    "seq",
    "sha1sum",
    "sha256sum",
    "shuf",
    "sleep",
    "sort",
    "split",
    "stat",
    "tac",
    "tail",
    "tar",
    "tee",
    "test",
    "touch",
    "tr",
    "true",
    "truncate",
    "uniq",
    "wc",
    "xargs",
    "zcat",
]

DENIED = re.compile(
    r"^(python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|node(js)?|deno|bun|ruby[0-9.]*|irb|php[0-9.]*|"
    r"lua[0-9.]*|luajit|tclsh[0-9.]*|wish|java|jshell|gcc(-[0-9]+)?|g\+\+|cc|c99|clang|tcc|"
    r"go|rustc|cargo|bash|sh|dash|zsh|ksh|mksh|csh|tcsh|fish|busybox|env|sudo|su|"
    r"gdb|expect|socat|nc|ncat|curl|wget|ssh)$"
)
_QUOTED = re.compile(r"'[^']*'|\"(?:\\.|[^\"\\])*\"")
_WORD_SEP = re.compile(r"[\s|;&()<>`$={}\\!]+")
_BIN_PATH = re.compile(r"(/(?:[\w.+-]+/)*(?:s?bin|libexec)/+([^\s'\"|;&()<>`/\\]+))")
_SNEAKY = re.compile(r"\b(command\s+-p|hash\s+-p|enable\s+-f|exec\s+-a|BASH_ENV|PATH\s*\+?=)")


def disallowed_tools(command: str, allowed: list[str]) -> list[str]:
    """Interpreters or tools outside the allowlist the command names. PATH holds only
    the allowlist at run time; this catches absolute paths and PATH tricks that
    would step around it, and names interpreters in the verdict."""
    hits: list[str] = []
    bare = _QUOTED.sub(" ", command)
    for word in _WORD_SEP.split(bare):
        base = word.rsplit("/", 1)[-1]
        if base and DENIED.match(base) and base not in hits:
            hits.append(base)
    for full, base in _BIN_PATH.findall(command):
        if (base not in allowed or DENIED.match(base)) and full not in hits:
            hits.append(full)
    for m in _SNEAKY.finditer(command):
        hits.append(m.group(1))
    for m in _QUOTED.finditer(command):
        for word in _WORD_SEP.split(m.group(0).strip("'\"")):
            base = word.rsplit("/", 1)[-1]
            if "/" in word and base and DENIED.match(base) and word not in hits:
                hits.append(word)
    return hits


_SHELL_WORDS = {
    "cd",
    "echo",
    "printf",
    "for",
    "while",
    "if",
    "test",
    "[",
    "[[",
    "read",
    "set",
    "export",
    "unset",
    "local",
    "shopt",
    "(",
    "{",
    "!",
    "until",
    "case",
}


def extract_command(text: str, tools: list[str]) -> str:
    """A ```bash / ```sh block (several are joined), or an unfenced single line that
    starts like a command."""
    blocks = code_blocks(text)
    if blocks:
        return extract_code(text, "bash", join=True)
    body = (text or "").strip()
    if body.startswith("`") and body.endswith("`") and "\n" not in body:
        body = body.strip("`").strip()
    body = re.sub(r"^\$\s+", "", body)
    if not body:
        raise NoCode("no bash command in the answer (empty answer)")
    if "\n" in body:
        raise NoCode("no bash code block, and the unfenced answer is more than one line")
    first = re.split(r"[\s;|&<>]", body, maxsplit=1)[0]
    if (
        first in tools
        or first in _SHELL_WORDS
        or re.match(r"^[A-Za-z_]\w*=", first)
        or DENIED.match(first)
    ):
        return body
    raise NoCode(
        f"no bash code block, and the answer does not start with a command: {short(body, 50)}"
    )
