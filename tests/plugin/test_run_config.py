"""RunConfig: every ``--llm-*`` option and ``llm_*`` ini key is read once, in options.py."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

import pytest_llmbench
from pytest_llmbench.options import RunConfig

SRC = Path(pytest_llmbench.__file__).parent
# raw reads of the plugin's options: attribute, getattr, getoption, getvalue and getini
RAW_READ = re.compile(
    r"option\.llm_|getini\(\s*['\"]llm_|getattr\(\s*[\w.]*opt(?:ion)?\s*,\s*['\"]llm_"
    r"|get(?:option|value)\(\s*['\"](?:--)?llm"
)


def test_only_options_py_reads_the_options_raw() -> None:
    offenders = []
    seen = 0
    for path in sorted(SRC.rglob("*.py")):
        seen += 1
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if RAW_READ.search(line) and path.name != "options.py":
                offenders.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    assert not offenders, "read them through RunConfig (session.cfg):\n" + "\n".join(offenders)
    assert seen > 20  # the scan saw the package
    # the pattern does find raw reads (options.py is where they belong)
    assert RAW_READ.search((SRC / "options.py").read_text(encoding="utf-8"))


def test_the_pattern_catches_every_spelling() -> None:
    for line in (
        "x = config.option.llm_log",
        'config.getini("llm_endpoint")',
        "getattr(opt, 'llm_' + k)",
        'config.getoption("--llm-log")',
        "config.getvalue('llm_log')",
    ):
        assert RAW_READ.search(line), line
    assert not RAW_READ.search("self.cfg.log")
    assert not RAW_READ.search('getattr(exc, "llm_where", "")')  # not an option


def _cfg(pytester: pytest.Pytester, *args: str) -> RunConfig:
    return RunConfig.from_pytest(pytester.parseconfig(*args))


def test_run_config_is_frozen_with_read_only_mappings(pytester: pytest.Pytester) -> None:
    cfg = _cfg(
        pytester,
        "--llm-model=a=http://127.0.0.1:9",
        "--llm-model=b=http://127.0.0.1:8",
        "--llm-model-size=a=4.5",
        "--llm-fail-under=toolcall=80",
        "--llm-temperature=0.5",
        "--llm-pack=toolcall",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.timeout_s = 3.0  # type: ignore[misc]
    for mapping in (cfg.model_urls, cfg.model_sizes, cfg.fail_under, cfg.sampling):
        with pytest.raises(TypeError):
            mapping["x"] = 1  # type: ignore[index]
    assert cfg.model_labels == ("a", "b")
    assert dict(cfg.model_urls) == {"a": "http://127.0.0.1:9", "b": "http://127.0.0.1:8"}
    assert dict(cfg.model_sizes) == {"a": 4.5}
    assert dict(cfg.fail_under) == {"toolcall": 80.0}
    assert cfg.packs_filter == ("toolcall",)
    assert cfg.sampling_mode == "custom" and dict(cfg.sampling) == {"temperature": 0.5}
    assert cfg.active and cfg.has_gates
    assert cfg.endpoint_label == "a=http://127.0.0.1:9,b=http://127.0.0.1:8"


def test_defaults_and_derived_fields(pytester: pytest.Pytester) -> None:
    cfg = _cfg(pytester, "--llm-endpoint=reference", "--llm-thinking=off")
    assert cfg.endpoint_specs == ("reference",)
    assert cfg.thinking is False and cfg.thinking_option == "off"
    assert cfg.concurrency == 4 and cfg.repeat == 1 and cfg.give_up == 5
    assert cfg.sampling_mode == "canonical" and not cfg.has_gates
    assert cfg.model is None and cfg.model_labels == ()
    assert cfg.invocation_dir == Path(pytester.path)
    assert not _cfg(pytester).active  # nothing asked: nothing collected


def test_ini_keys_are_read_there_too(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_endpoint = junk\nllm_model = m1\nllm_log = out/run.json\n")
    cfg = _cfg(pytester)
    assert cfg.endpoint_specs == ("junk",) and cfg.model == "m1" and cfg.log == "out/run.json"
    # the command line wins over the ini file
    cfg = _cfg(pytester, "--llm-endpoint=reference", "--llm-log=x.json")
    assert cfg.endpoint_specs == ("reference",) and cfg.log == "x.json"


def test_baseline_is_read_once_and_kept_read_only(pytester: pytest.Pytester) -> None:
    base = {"format": "pytest-llmbench/baseline@1", "model": "m", "packs": {}}
    path = pytester.path / "base.json"
    path.write_text(json.dumps(base))
    cfg = _cfg(pytester, "--llm-endpoint=reference", f"--llm-baseline={path}")
    assert cfg.baseline is not None and cfg.baseline["model"] == "m"
    assert cfg.baseline["sampling"] == {"tag": "canonical"}  # load_baseline's default
    path.unlink()  # read once, at start: the run does not read it again
    with pytest.raises(TypeError):
        cfg.baseline["model"] = "other"  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--llm-endpoint=reference", "--llm-replay=log.json"],
            "--llm-replay answers from a run log: drop --llm-endpoint",
        ),
        (["--llm-replay=nope.json"], "--llm-replay: no such run log: nope.json"),
        (
            ["--llm-endpoint=reference", "--llm-endpoint=http://127.0.0.1:9"],
            "--llm-endpoint reference cannot be combined with other endpoints",
        ),
        (
            ["--llm-endpoint=reference", "--llm-model=a", "--llm-model=a"],
            "--llm-model: names must be unique: ['a', 'a']",
        ),
        (
            ["--llm-model=a", "--llm-model=b"],
            "--llm-model NAME needs --llm-endpoint (or give NAME=URL for each model)",
        ),
        (
            ["--llm-endpoint=reference", "--llm-model=a", "--llm-model=b", "--llm-model-size=c=1"],
            "--llm-model-size: c is not one of the --llm-model names (a, b)",
        ),
        (
            ["--llm-endpoint=reference", "--llm-oracle=x"],
            "--llm-oracle 'x' is not one of the --llm-model names (none)",
        ),
        (
            ["--llm-endpoint=reference", "--llm-resume=gone.json"],
            "--llm-resume: no such run log or journal: gone.json",
        ),
        (
            ["--llm-endpoint=reference", "--llm-sampling-from-server", "--llm-top-k=4"],
            "--llm-sampling-from-server sends no sampling fields: drop --llm-top-k",
        ),
        (
            ["--llm-endpoint=reference", "--llm-max-drop=2"],
            "--llm-max-drop needs --llm-baseline FILE to compare with",
        ),
        (
            ["--llm-endpoint=reference", "--llm-baseline=gone.json"],
            "--llm-baseline: baseline gone.json: no such file",
        ),
    ],
)
def test_cross_checks_are_one_line_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    (pytester.path / "log.json").write_text("{}")
    with pytest.raises(pytest.UsageError) as info:
        _cfg(pytester, *args)
    assert str(info.value) == message
    # and through pytest: exit status 4, that one line, no traceback
    res = pytester.runpytest_inprocess(*args, "-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = [ln for ln in res.stderr.lines if ln.strip()]
    assert err == [f"ERROR: {message}"], err


def test_bad_ini_endpoint_names_the_ini_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_endpoint = ftp://x\n")
    with pytest.raises(pytest.UsageError, match=r"^ini llm_endpoint: .*not an http\(s\) URL"):
        _cfg(pytester)
