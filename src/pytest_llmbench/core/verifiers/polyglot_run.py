"""Running a ``polyglot`` scenario's hidden checks in the sandbox: the files and the
command per language (build, observation program, helpers) and the observations read
back into a :class:`TestRun`; the verdict is made in :mod:`.polyglot`."""

from __future__ import annotations

import json
import posixpath
import re
import weakref
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from .observe import judge, read_observations
from .pyhost import run_python_tests
from .ts_erase import TypeEraseError, TypeEraseUnsupported, erase_types

if TYPE_CHECKING:
    from ..sandbox.interface import Sandbox
    from .polyglot import PolyglotArgs


def _observer(name: str) -> str:
    return (resources.files(__package__) / "observers" / name).read_text(encoding="utf-8")


GO_MOD = "module solution\n\ngo 1.19\n"
BUILD_FAILED = 97

_GO_PACKAGE = re.compile(r"^package\s+(\w+)", re.M)


@dataclass
class TestRun:
    """The outcome of one hidden-test run."""

    names: list[str]
    results: dict[str, tuple[bool, str]] = field(default_factory=dict)
    build_error: str | None = None
    failure_mode: str | None = None
    needs_tool: str | None = None  # the code is fine; this sandbox cannot build it
    infra_error: str | None = None  # the sandbox could not run it at all
    stderr: str = ""
    duration_s: float = 0.0
    ran: bool = False  # anything at all came back from the program

    def passed(self, name: str) -> bool:
        return self.results.get(name, (False, ""))[0]


# Which sandboxes lack which tool (probed once, only after a run could not start it).
_MISSING: weakref.WeakKeyDictionary[Any, dict[str, bool]] = weakref.WeakKeyDictionary()


def tool_missing(sandbox: Sandbox, tool: str) -> bool:
    cache = _MISSING.setdefault(sandbox, {})
    if tool not in cache:
        res = sandbox.run({}, ["sh", "-c", f"command -v {tool} >/dev/null"], timeout_s=20.0)
        cache[tool] = res.exit_code != 0
    return cache[tool]


def _could_not_start(stderr: str, exit_code: int) -> bool:
    return exit_code == 127 or "execvp" in stderr or "executable file not found" in stderr


def _tsc_available(sandbox: Sandbox) -> bool:
    return not tool_missing(sandbox, "tsc")


def _tail(text: str, n: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


class Runner:
    """Builds the sandbox files and command for a language, then reads the results."""

    def __init__(self, args: PolyglotArgs, sandbox: Sandbox):
        self.a = args
        self.sandbox = sandbox
        self.tests_lang: str = args.runner_language()
        self.observed = args.observe is not None
        self.sources: dict[str, str] = {}

    def test_file(self) -> str:
        if self.a.test_file:
            return self.a.test_file
        if self.tests_lang == "javascript":
            # Observations of TypeScript import the compiled ES module; JavaScript ones
            # may require().
            return (
                "llmbench_observe.mjs" if self.a.language == "typescript" else "llmbench_observe.js"
            )
        return {
            "python": "llmbench_observations.py",
            "go": "llmbench_observe_test.go",
            "rust": "",
        }[self.tests_lang]

    def plan(self, files: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        a, lang = self.a, self.a.language
        files = dict(files)
        pre = ""
        if lang == "typescript":
            stem = posixpath.splitext(a.file)[0]
            if _tsc_available(self.sandbox):
                # tsc emits despite type errors (types are not graded); no JS means the
                # source does not parse. One call: --noCheck would need TypeScript 5.5+.
                out_js = f".tsout/{posixpath.basename(stem)}.js"
                pre = (
                    f"tsc --target es2022 --module es2022 --skipLibCheck --outDir .tsout "
                    f"{a.file} >build.log 2>&1; [ -f {out_js} ] || "
                    f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; cp {out_js} {stem}.mjs; "
                )
            else:
                try:
                    files[f"{stem}.mjs"] = erase_types(files[a.file])
                except TypeEraseUnsupported as exc:
                    raise _NeedsTsc(str(exc)) from None
                except TypeEraseError as exc:
                    raise _BuildError(f"TypeScript: {exc}") from None
        if lang == "rust" and self.tests_lang == "python":
            pre = (
                f"rustc --edition 2021 -o app {a.file} 2>build.log || "
                f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; "
            )
        tl = self.tests_lang
        if tl == "python" and self.observed:
            files[self.test_file()] = a.observe or ""
            files["llmbench_observe.py"] = _observer("helpers.py")
            run = f"python3 -E -s -S {self.test_file()}"
        elif tl == "javascript":
            tf = self.test_file()
            files[tf] = a.observe or ""
            files["_llmbench_run.mjs"] = _observer("run.mjs")
            run = f"node _llmbench_run.mjs {tf} {a.per_test_ms}"
        elif tl == "go":
            obs = a.observe or ""
            m = _GO_PACKAGE.search(obs)
            pkg = m.group(1) if m else "solution"
            files.setdefault("go.mod", GO_MOD)
            files[self.test_file()] = obs
            files["llmbench_helpers_test.go"] = f"package {pkg}\n\n" + _observer("helpers.go")
            run = (
                "go test -c -vet=off -o llmbench_obs.test . >build.log 2>&1 || "
                f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; ./llmbench_obs.test"
            )
        else:  # rust: the observation module goes into the same crate
            files[a.file] = (
                files[a.file].rstrip("\n")
                + "\n\n#[cfg(test)]\n#[allow(unused_imports, dead_code, unused_variables)]\n"
                "mod llmbench_observe {\n    use super::*;\n"
                + _observer("helpers.rs")
                + "\n"
                + (a.observe or "")
                + "\n    #[test]\n    fn llmbench_observations() {\n        observations();\n"
                "    }\n}\n"
            )
            run = (
                f"rustc --edition 2021 --test -o llmbench_obs {a.file} 2>build.log || "
                f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; "
                "./llmbench_obs --test-threads=1 --nocapture"
            )
        return files, ["sh", "-c", pre + run]

    def run(self, files: dict[str, str]) -> TestRun:
        from ..sandbox.interface import Limits

        tr = TestRun(self.a.test_list())
        self.sources = dict(files)
        if not self.observed:  # Python: tests run here against the answer in the sandbox
            run_python_tests(self.sandbox, self.a, files, tr)
            return tr
        try:
            sb_files, cmd = self.plan(files)
        except _BuildError as exc:
            tr.build_error = str(exc)
            return tr
        except _NeedsTsc as exc:
            tr.needs_tool = str(exc)
            return tr
        res = self.sandbox.run(
            files=sb_files,
            cmd=cmd,
            timeout_s=self.a.timeout_s,
            limits=Limits(memory_mb=self.a.memory_mb, pids=256),
        )
        tr.stderr, tr.duration_s, tr.failure_mode = res.stderr, res.duration_s, res.failure_mode
        if res.exit_code == BUILD_FAILED:
            tr.build_error = res.stderr.strip() or "build failed"
            return tr
        self._read_observations(res.stdout, res.stderr, res.exit_code, tr)
        if (
            not tr.ran
            and tr.build_error is None
            and res.exit_code != 0
            and not res.failure_mode
            and not _could_not_start(res.stderr, res.exit_code)
        ):
            tr.build_error = (res.stderr or res.stdout).strip()[-1500:] or (
                f"the test run exited with {res.exit_code} before any test"
            )
        return tr

    def _read_observations(self, stdout: str, stderr: str, code: int, tr: TestRun) -> None:
        seen = read_observations(stdout)
        tr.ran = bool(seen)
        for line in stdout.splitlines():
            if line.startswith('{"llmbench_load_error":') and not seen:
                try:
                    tr.build_error = "the code does not load: " + str(
                        json.loads(line)["llmbench_load_error"]
                    )
                except (ValueError, KeyError, TypeError):
                    tr.build_error = "the code does not load"
        tr.results = judge(self.a.expectations(), seen, self.sources)
        if tr.ran and (code != 0 or tr.failure_mode):
            # say why the missing keys are missing
            end = tr.failure_mode or f"exit {code}"
            err = _tail(stderr, 300)
            for name, (ok, why) in tr.results.items():
                if not ok and "not observed" in why:
                    tr.results[name] = (False, f"{why} (run ended: {end}; {err})")


class _BuildError(Exception):
    pass


class _NeedsTsc(Exception):
    pass
