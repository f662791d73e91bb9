"""The fake environments behind agent scenarios: each tool behaves like the real thing."""

from __future__ import annotations

import pytest

from pytest_llmbench.core.envs import TOOL_SCHEMAS, Environment, EnvSpec, ToolError, parse_args
from pytest_llmbench.core.envs.artifacts import ArtifactStore
from pytest_llmbench.core.envs.jobs import Scheduler, check_cron
from pytest_llmbench.core.envs.memory import MemoryStore
from pytest_llmbench.core.envs.vfs import VirtualFS
from pytest_llmbench.core.envs.web import CannedSearch, FixtureSite


def test_vfs_edit_applies_in_order_and_is_atomic() -> None:
    fs = VirtualFS({"a.py": "x = 1\ny = 2\n"})
    fs.edit_file(
        {
            "path": "a.py",
            "edits": [{"old": "x = 1", "new": "x = 10"}, {"old": "x = 10\n", "new": "x = 11\n"}],
        }
    )
    assert fs.files["a.py"] == "x = 11\ny = 2\n"
    with pytest.raises(ToolError, match="edit 2: old text not found"):
        fs.edit_file(
            {"path": "a.py", "edits": [{"old": "y = 2", "new": "y = 3"}, {"old": "zzz", "new": ""}]}
        )
    assert fs.files["a.py"] == "x = 11\ny = 2\n"  # nothing applied


def test_vfs_edit_rejects_ambiguous_and_empty() -> None:
    fs = VirtualFS({"a.txt": "aa aa"})
    with pytest.raises(ToolError, match="occurs 2 times"):
        fs.edit_file({"path": "a.txt", "edits": [{"old": "aa", "new": "b"}]})
    with pytest.raises(ToolError, match="non-empty array"):
        fs.edit_file({"path": "a.txt", "edits": []})
    with pytest.raises(ToolError, match="file not found: b.txt"):
        fs.read_file({"path": "./b.txt"})


def test_vfs_protected_search_list_delete() -> None:
    fs = VirtualFS(
        {"vendor/x.py": "A\n", "src/m.py": "import a\nIMPORT b\n"}, protected=["vendor/*"]
    )
    with pytest.raises(ToolError, match="permission denied"):
        fs.write_file({"path": "vendor/x.py", "content": "B"})
    hits = fs.search_code({"query": "import", "path": "src"})
    assert [h["line"] for h in hits["matches"]] == [1, 2]
    assert fs.list_files({"path": "src"}) == {"files": ["src/m.py"]}
    fs.delete_file({"path": "/src/m.py"})
    assert fs.snapshot() == {"vendor/x.py": "A\n"}


def test_memory_store() -> None:
    m = MemoryStore({"user.city": "Lyon"})
    assert m.save({"key": "user.city", "value": "Porto"})["replaced"] is True
    assert m.search({"query": "which city?"})["results"] == [{"key": "user.city", "value": "Porto"}]
    with pytest.raises(ToolError, match="no memory"):
        m.get({"key": "nope"})
    m.delete({"key": "user.city"})
    assert m.snapshot() == {}


def test_scheduler_cron_and_at() -> None:
    assert check_cron("30  8 * * 1") == "30 8 * * 1"
    for bad in ("8 30 * * 1", "* * *", "0 0 32 * *"):
        with pytest.raises(ToolError):
            check_cron(bad)
    s = Scheduler([{"name": "old", "cron": "0 1 * * *", "action": "x"}], now="2025-03-10T09:00")
    with pytest.raises(ToolError, match="in the past"):
        s.schedule({"name": "r", "action": "a", "at": "2025-03-09T10:00"})
    with pytest.raises(ToolError, match="exactly one"):
        s.schedule({"name": "r", "action": "a"})
    job = s.schedule({"name": "r", "action": "a", "at": "2025-03-11 17:00"})
    assert job["id"] == "job-2" and job["at"] == "2025-03-11T17:00"
    s.cancel({"id": "job-1"})
    assert [j["name"] for j in s.snapshot()] == ["r"]


def test_artifacts() -> None:
    a = ArtifactStore({})
    a.create({"name": "n", "content": "c", "kind": "csv"})
    with pytest.raises(ToolError, match="exists"):
        a.create({"name": "n", "content": "d"})
    a.update({"name": "n", "content": "d"})
    assert a.snapshot() == {"n": {"kind": "csv", "content": "d"}}


def test_site_and_search() -> None:
    site = FixtureSite("https://intra.example", {"/": "see [docs](/docs)", "/docs": "hello"})
    page = site.fetch({"url": "https://intra.example/"})
    assert page["links"] == ["/docs"]
    assert site.fetch({"url": "/docs/"})["content"] == "hello"
    with pytest.raises(ToolError, match="404"):
        site.fetch({"url": "/nope"})
    with pytest.raises(ToolError, match="cannot reach"):
        site.fetch({"url": "https://evil.example/"})
    assert site.snapshot() == ["/", "/docs"]
    search = CannedSearch(
        [
            {"match": ["node"], "results": [{"title": "A"}]},
            {"match": ["node", "lts"], "results": [{"title": "B"}]},
        ]
    )
    assert search.search({"query": "Node LTS"})["results"] == [{"title": "B"}]
    assert search.search({"query": "rust"})["results"] == []


def test_environment_checks_schema_and_snapshots() -> None:
    spec = EnvSpec.model_validate({"files": {"a": "x"}, "memory": {}})
    env = Environment(spec, [TOOL_SCHEMAS["edit_file"], TOOL_SCHEMAS["memory_save"]])
    with pytest.raises(ToolError, match="schema error at edits"):
        env.call("edit_file", {"path": "a", "edits": []})
    env.call("memory_save", {"key": "k", "value": "v"})
    assert env.snapshot() == {"files": {"a": "x"}, "memory": {"k": "v"}}


def test_spec_rejects_unknown_service_and_bad_now() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        EnvSpec.model_validate({"type": "ftp"})
    with pytest.raises(ValueError, match="ISO"):
        EnvSpec.model_validate({"jobs": [], "now": "tomorrow"})
    assert EnvSpec.model_validate({"type": ["vfs", "search"]}).enabled() == ["vfs", "search"]


def test_parse_args() -> None:
    assert parse_args('{"a": 1}') == ({"a": 1}, None)
    assert parse_args("") == ({}, None)
    assert parse_args("[1]")[1] == "arguments must be a JSON object, got a list"
    assert "not valid JSON" in (parse_args('{"a": "x')[1] or "")
