"""``shell``: a fixture directory is written into the sandbox, the model's command runs
there under bash with a PATH holding only the allowlisted tools, and the resulting tree
and stdout are checked on the host.

A missing command is the failure category ``no_code``; sandbox failure modes
(``exec_timeout``, ``oom``, ``output_limit``, ``killed``) become the category too.
"""

from __future__ import annotations

import base64
import io
import posixpath
import re
import secrets
import tarfile
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from ..output import Output
from ._code import NoCode, Strict, no_sandbox, tail
from ._text import short
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext
from .pyremote import PYTHON
from .runners import source
from .shell_command import CLI_TOOLS, DENIED, disallowed_tools, extract_command

if TYPE_CHECKING:
    from ..sandbox.interface import Sandbox


class FileExpect(Strict):
    """What one path must look like after the command (relative to the fixture dir)."""

    path: str
    exists: bool = True
    is_dir: bool = False
    content: str | None = None  # exact, ignoring trailing whitespace at line ends
    lines: list[str] | None = None
    sorted_lines: list[str] | None = None  # same lines, any order
    contains: list[str] = Field(default_factory=list)
    not_contains: list[str] = Field(default_factory=list)
    executable: bool | None = None
    unchanged: bool = False  # same content as in the fixture
    gzip_of: str | None = None  # gzip stream whose content is this text
    is_gzip: bool | None = None  # starts with the gzip magic bytes
    members: list[str] | None = None  # tar archive (any compression) holding exactly these files
    symlink_to: str | None = None

    @field_validator("path")
    @classmethod
    def _rel(cls, v: str) -> str:
        n = posixpath.normpath(v)
        if posixpath.isabs(v) or n.startswith(".."):
            raise ValueError(f"expected path must be relative inside the fixture: {v!r}")
        return n


class StdoutExpect(Strict):
    equals: str | None = None  # ignoring trailing whitespace at line ends / the end
    lines: list[str] | None = None
    sorted_lines: list[str] | None = None
    contains: list[str] = Field(default_factory=list)
    regex: str | None = None

    @model_validator(mode="after")
    def _some(self) -> StdoutExpect:
        if (
            self.equals is None
            and self.lines is None
            and self.sorted_lines is None
            and not self.contains
            and self.regex is None
        ):
            raise ValueError(
                "stdout: give at least one of equals, lines, sorted_lines, contains, regex"
            )
        if self.equals is not None and not self.equals.strip():
            raise ValueError("stdout.equals: empty output would match a command that does nothing")
        return self


class ShellArgs(Strict):
    files: dict[str, str] = Field(default_factory=dict)
    expect: list[FileExpect] = Field(default_factory=list)
    stdout: StdoutExpect | None = None
    exit_zero: bool = True
    # Files of the fixture not named in ``expect`` must keep their content, and no
    # other file may appear: a command must do what was asked and nothing more.
    strict_tree: bool = True
    tools: list[str] | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _check(self) -> ShellArgs:
        if not self.expect and self.stdout is None:
            raise ValueError("give expect (files) or stdout: something must be checked")
        for t in self.tools or []:
            if DENIED.match(t) or t not in CLI_TOOLS:
                raise ValueError(f"tool {t!r} is not allowed (allowlist: CLI_TOOLS)")
        for name in self.files:
            n = posixpath.normpath(name)
            if posixpath.isabs(name) or n.startswith(".."):
                raise ValueError(f"fixture path must be relative: {name!r}")
        return self


def _norm_text(s: str) -> str:
    return "\n".join(ln.rstrip() for ln in s.rstrip().splitlines())


def _lines(s: str) -> list[str]:
    return [ln.rstrip() for ln in s.rstrip("\n").splitlines()] if s.strip() else []


class _Tree:
    """The fixture dir after the command, read from a tar in memory (never extracted)."""

    def __init__(self, data: bytes):
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, int] = {}
        self.dirs: set[str] = set()
        self.links: dict[str, str] = {}
        self.error = ""
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                for m in tf:
                    name = posixpath.normpath(m.name)
                    if name == ".":
                        continue
                    if m.isdir():
                        self.dirs.add(name)
                    elif m.issym() or m.islnk():
                        self.links[name] = m.linkname
                    elif m.isfile():
                        fh = tf.extractfile(m)
                        self.files[name] = fh.read() if fh else b""
                        self.modes[name] = m.mode
        except (tarfile.TarError, EOFError, OSError) as exc:
            self.error = f"could not read the directory tree back: {exc}"

    def text(self, path: str) -> str | None:
        raw = self.files.get(path)
        return None if raw is None else raw.decode("utf-8", errors="replace")


def _tar_members(raw: bytes) -> list[str] | None:
    try:
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            return sorted(posixpath.normpath(m.name) for m in tf if m.isfile())
    except (tarfile.TarError, EOFError, OSError):
        return None


def _gunzip(raw: bytes) -> str | None:
    import gzip

    try:
        return gzip.decompress(raw).decode("utf-8", errors="replace")
    except (OSError, EOFError, ValueError):
        return None


def _file_checks(e: FileExpect, tree: _Tree, fixture: dict[str, str]) -> list[Check]:
    p = e.path
    exists = p in tree.files or p in tree.dirs or p in tree.links
    if not e.exists:
        return [Check(f"{p} removed", not exists, "still there" if exists else "", "absent")]
    if not exists:
        return [Check(f"{p} exists", False, "missing", "present")]
    if e.is_dir:
        return [Check(f"{p} is a directory", p in tree.dirs, "not a directory", "directory")]
    if e.symlink_to is not None:
        got = tree.links.get(p)
        return [Check(f"{p} links to {e.symlink_to}", got == e.symlink_to, repr(got))]
    if p not in tree.files:
        return [Check(f"{p} is a file", False, "a directory or link", "regular file")]
    text = tree.text(p) or ""
    out: list[Check] = []
    if e.content is not None:
        ok = _norm_text(text) == _norm_text(e.content)
        out.append(Check(f"{p} content", ok, "" if ok else short(text, 70), short(e.content, 70)))
    if e.lines is not None:
        ok = _lines(text) == e.lines
        out.append(
            Check(f"{p} lines", ok, "" if ok else short(text, 70), short("\n".join(e.lines), 70))
        )
    if e.sorted_lines is not None:
        ok = sorted(_lines(text)) == sorted(e.sorted_lines)
        out.append(
            Check(
                f"{p} lines (any order)",
                ok,
                "" if ok else short(text, 70),
                short("\n".join(e.sorted_lines), 70),
            )
        )
    for s in e.contains:
        out.append(Check(f"{p} contains {s!r}", s in text, "absent" if s not in text else ""))
    for s in e.not_contains:
        out.append(Check(f"{p} lacks {s!r}", s not in text, "present" if s in text else ""))
    if e.executable is not None:
        ex = bool(tree.modes.get(p, 0) & 0o100)
        out.append(
            Check(f"{p} executable={e.executable}", ex == e.executable, oct(tree.modes.get(p, 0)))
        )
    if e.unchanged:
        ok = text == fixture.get(p)
        out.append(Check(f"{p} unchanged", ok, "" if ok else short(text, 70)))
    if e.gzip_of is not None:
        got = _gunzip(tree.files[p])
        ok = got is not None and _norm_text(got) == _norm_text(e.gzip_of)
        out.append(
            Check(
                f"{p} is gzip of the expected text",
                ok,
                "not gzip" if got is None else ("" if ok else short(got, 60)),
            )
        )
    if e.is_gzip is not None:
        gz = tree.files[p][:2] == b"\x1f\x8b"
        out.append(
            Check(
                f"{p} gzip-compressed={e.is_gzip}",
                gz == e.is_gzip,
                "" if gz == e.is_gzip else repr(tree.files[p][:8]),
            )
        )
    if e.members is not None:
        mem = _tar_members(tree.files[p])
        want = sorted(posixpath.normpath(m) for m in e.members)
        out.append(
            Check(
                f"{p} archive members",
                mem == want,
                "not a tar archive" if mem is None else ", ".join(mem),
                ", ".join(want),
            )
        )
    if not out:
        out.append(Check(f"{p} exists", True))
    return out


def _stdout_checks(s: StdoutExpect, out: str) -> list[Check]:
    checks: list[Check] = []
    if s.equals is not None:
        ok = _norm_text(out) == _norm_text(s.equals)
        checks.append(Check("stdout", ok, "" if ok else short(out, 70), short(s.equals, 70)))
    if s.lines is not None:
        ok = _lines(out) == s.lines
        checks.append(
            Check("stdout lines", ok, "" if ok else short(out, 70), short("\n".join(s.lines), 70))
        )
    if s.sorted_lines is not None:
        ok = sorted(_lines(out)) == sorted(s.sorted_lines)
        checks.append(
            Check(
                "stdout lines (any order)",
                ok,
                "" if ok else short(out, 70),
                short("\n".join(s.sorted_lines), 70),
            )
        )
    for c in s.contains:
        checks.append(Check(f"stdout contains {c!r}", c in out, "" if c in out else short(out, 60)))
    if s.regex is not None:
        ok = re.search(s.regex, out, re.MULTILINE) is not None
        checks.append(Check(f"stdout matches /{s.regex}/", ok, "" if ok else short(out, 60)))
    return checks


@register("shell")
class Shell(Verifier):
    """The model's shell command, run on a fixture dir with only allowlisted tools on
    PATH; the resulting files and stdout are checked."""

    Args = ShellArgs
    needs_sandbox = True

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: ShellArgs = self.args  # type: ignore[assignment]
        tools = list(a.tools or CLI_TOOLS)
        try:
            command = extract_command(output.text, tools)
        except NoCode as exc:
            return Verdict.fail(str(exc), "no_code")
        bad = disallowed_tools(command, tools)
        if bad:
            return Verdict.fail(
                f"the command uses tools outside the allowlist: {', '.join(bad)}",
                "disallowed_tool",
                checks=[Check("only allowlisted tools", False, ", ".join(bad), "allowlist")],
            )
        if ctx.sandbox is None:
            return no_sandbox()
        return run_shell(ctx.sandbox, a, command, tools)


def run_shell(sandbox: Sandbox, a: ShellArgs, command: str, tools: list[str]) -> Verdict:
    from ..sandbox import Limits

    nonce = secrets.token_hex(12)
    files: dict[str, str] = {f"data/{k}": v for k, v in a.files.items()}
    # runners/shell_run.py: the command's processes are all dead, and never saw the
    # nonce, when the results are printed (see its docstring).
    files["_shell.py"] = source("shell_run.py")
    files[".cmd.sh"] = "readonly PATH\n" + command + "\n"
    res = sandbox.run(
        files=files,
        cmd=[PYTHON, "-I", "-S", "_shell.py", *tools],
        stdin=nonce + "\n",
        timeout_s=a.timeout_s,
        limits=Limits(memory_mb=256, pids=32, output_bytes=2_000_000, disk_mb=64),
    )
    parts = res.stdout.split("\n" + nonce)
    if res.failure_mode or len(parts) != 4:
        mode = res.failure_mode or "crashed"
        why = {
            "exec_timeout": f"the command timed out after {a.timeout_s:g} s",
            "oom": "the command ran out of memory",
            "output_limit": "the command produced more output than the limit",
            "killed": "the command was killed",
        }.get(mode, f"the run ended without results (exit {res.exit_code})")
        err = tail(res.stderr)
        return Verdict.fail(why + (f"; stderr: {err}" if err else ""), mode)
    head, out_b64, tree_b64, err = parts
    try:
        rc = int(out_b64.split("\n", 1)[0].strip())
        out = base64.b64decode(out_b64.split("\n", 1)[1].strip() or b"").decode(
            "utf-8", errors="replace"
        )
        tree = _Tree(base64.b64decode(tree_b64.strip()))
    except (ValueError, IndexError):
        return Verdict.fail("the shell runner printed unreadable results", "crashed")
    err = err.strip()
    checks: list[Check] = []
    if a.exit_zero:
        checks.append(
            Check(
                "exit status 0",
                rc == 0,
                f"{rc}" + (f" ({short(err, 80)})" if err and rc else ""),
                "0",
            )
        )
    if tree.error:
        checks.append(Check("directory readable", False, tree.error))
    for e in a.expect:
        checks += _file_checks(e, tree, a.files)
    if a.stdout is not None:
        checks += _stdout_checks(a.stdout, out)
    if a.strict_tree and not tree.error:
        named = {e.path for e in a.expect}
        touched = [
            p
            for p, txt in a.files.items()
            if posixpath.normpath(p) not in named and tree.text(posixpath.normpath(p)) != txt
        ]
        extra = [
            p
            for p in sorted(tree.files) + sorted(tree.links)
            if p not in named and p not in {posixpath.normpath(k) for k in a.files}
        ]
        checks.append(Check("other fixture files untouched", not touched, ", ".join(touched[:5])))
        checks.append(Check("no unexpected files", not extra, ", ".join(extra[:5])))
    for c in checks:
        if c.passed:  # a passing line needs no found/wanted
            c.found = c.wanted = ""
    verdict = Verdict.from_checks(checks, category="checks_failed")
    verdict.data = {
        "command": command[:2000],
        "exit_code": rc,
        "stdout": out[:1000],
        "stderr": err[:1000],
    }
    return verdict
