"""SPEC §7.1, `glm logs`: every field recorded, the key in no byte of the store, search,
filters, relative times, --id-gt, -r, show, rm, usage, prune, migrations, refusals, and
twenty writers at once."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from glm_cli.history.schema import SCHEMA_VERSION
from glm_cli.settings.config import store_path
from tests.fake_service import FakeService, Reply, Status
from tests.helpers import SECRET, Run, run_in_process

FIXTURE = Path(__file__).parent / "data" / "glm-v1.db"


def glm(*args: str, stdin: bytes = b"") -> Run:
    return run_in_process(list(args), stdin=stdin)


def rows() -> list[dict[str, object]]:
    run = glm("logs", "-n", "0", "--json")
    assert run.exit_code == 0, run.stderr
    result: list[dict[str, object]] = json.loads(run.out)
    return result


def test_every_field_is_recorded_and_the_key_is_in_no_byte(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="Paris.", reasoning="geography", model="glm-5.2-answered"))
    assert (
        glm("ask", "--no-stream", "--request-id", "req-123456", "capital of France?").exit_code == 0
    )
    [row] = rows()
    assert row["command"] == "ask"
    assert row["provider"] == "evolink"
    assert row["host"] == "127.0.0.1"
    assert row["model"] == "glm-5.2"
    assert row["answered_model"] == "glm-5.2-answered"
    assert row["prompt"] == "capital of France?"
    assert row["answer"] == "Paris."
    assert row["reasoning"] == "geography"
    assert row["finish_reason"] == "stop"
    assert row["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 34,
        "reasoning_tokens": 5,
        "cached_tokens": 2,
        "total_tokens": 46,
    }
    assert isinstance(row["duration_s"], float)
    assert row["exit_status"] == 0 and row["error"] is None
    assert (
        row["request_id"] == "req-123456" and row["cached"] is False and isinstance(row["id"], int)
    )
    assert isinstance(row["body"], dict) and row["body"]["messages"]
    assert str(row["time"]).endswith("Z")
    for file in store_path(glm_env).parent.iterdir():
        assert SECRET.encode() not in file.read_bytes(), file


def test_json_raw_chat_and_failures_are_recorded(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        Reply(content='{"a": 1}'),
        Reply(content="raw"),
        Reply(content="chat"),
        Status(401),
    )
    assert glm("json", "give json").exit_code == 0
    assert glm("raw", "hi").exit_code == 0
    assert glm("chat", "--session", "s1", "hello").exit_code == 0
    assert glm("ask", "fail").exit_code == 3
    got = rows()
    assert [r["command"] for r in got] == ["json", "raw", "chat", "ask"]
    assert got[2]["session"] == "s1"
    assert got[3]["exit_status"] == 3 and got[3]["error"]


def test_tool_calls_are_recorded(glm_env: dict[str, str], service: FakeService) -> None:
    call = {"id": "c1", "name": "f", "arguments": '{"x": 12345678901234567890}'}
    service.script(Reply(content="", tool_calls=[call], finish_reason="tool_calls"))
    assert glm("ask", "call").exit_code == 0
    [row] = rows()
    assert b"12345678901234567890" in json.dumps(row["tool_calls"]).encode()


@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_logging_can_be_turned_off(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    args = ["ask", "hi"]
    if how == "flag":
        args.insert(1, "--no-log")
    elif how == "env":
        monkeypatch.setenv("GLM_NO_LOG", "1")
    else:
        config = Path(glm_env["XDG_CONFIG_HOME"]) / "glm" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text("log = false\n")
    assert glm(*args).exit_code == 0
    assert not store_path(glm_env).exists()


def test_a_logging_failure_is_a_warning(glm_env: dict[str, str], service: FakeService) -> None:
    path = store_path(glm_env)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database" * 100)
    before = path.read_bytes()
    run = glm("ask", "hi")
    assert run.exit_code == 0
    assert "glm: warning: the exchange was not logged" in run.stderr
    assert path.read_bytes() == before


def _three(service: FakeService) -> None:
    service.script(
        Reply(content="apples are red"),
        Reply(content="bananas are yellow, bananas bananas"),
        Reply(content="cherries"),
    )
    assert glm("ask", "fruit one").exit_code == 0
    assert glm("ask", "-m", "other-model", "bananas?").exit_code == 0
    assert glm("json", "cherry").exit_code == 6


def test_search_ranks_and_filters(glm_env: dict[str, str], service: FakeService) -> None:
    _three(service)
    run = glm("logs", "-q", "bananas", "--ndjson")
    found = [json.loads(line) for line in run.out.splitlines()]
    assert [r["answer"] for r in found] == ["bananas are yellow, bananas bananas"]
    assert len(json.loads(glm("logs", "--model", "other-model", "--json").out)) == 1
    assert len(json.loads(glm("logs", "--command", "json", "--json").out)) == 1
    failed = json.loads(glm("logs", "--failed", "--json").out)
    assert [r["command"] for r in failed] == ["json"]
    assert len(json.loads(glm("logs", "--since", "1h", "--json").out)) == 3
    assert json.loads(glm("logs", "--until", "2h", "--json").out) == []
    assert len(json.loads(glm("logs", "--since", "2000-01-01", "--json").out)) == 3
    assert json.loads(glm("logs", "--since", "2999-01-01T00:00:00Z", "--json").out) == []
    assert glm("logs", "--since", "yesterday").exit_code == 2


def test_like_fallback_finds_the_same(glm_env: dict[str, str], service: FakeService) -> None:
    from glm_cli.history import search as log

    _three(service)
    db = sqlite3.connect(store_path(glm_env))
    found = log.select(db, log.Filters(), limit=10, query="bananas", fts=False)
    assert [r["prompt"] for r in found] == ["bananas?"]
    db.close()


def test_id_gt_n_and_order(glm_env: dict[str, str], service: FakeService) -> None:
    _three(service)
    ids = [r["id"] for r in rows()]
    assert ids == sorted(ids)
    newer = json.loads(glm("logs", "--id-gt", str(ids[0]), "--json").out)
    assert [r["id"] for r in newer] == ids[1:]
    assert [r["id"] for r in json.loads(glm("logs", "-n", "1", "--json").out)] == ids[-1:]
    text = glm("logs").stdout
    assert f"#{ids[0]} " in text and "> bananas?" in text


def test_r_is_what_stdout_showed(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="no newline"), Reply(content='{ "a" : [1, 2] }'))
    shown = glm("ask", "hi").out
    assert glm("logs", "-r").out == shown
    shown_json = glm("json", "j").out
    assert glm("logs", "-r").out == shown_json
    assert glm("logs", "-r", "--command", "ask").out == shown


def test_show_and_rm(glm_env: dict[str, str], service: FakeService) -> None:
    _three(service)
    ids = [r["id"] for r in rows()]
    run = glm("logs", "show", str(ids[1]), "--json")
    assert json.loads(run.out)["prompt"] == "bananas?"
    assert glm("logs", "show", "999").exit_code == 2
    assert glm("logs", "rm", str(ids[0]), "999").exit_code == 2
    assert len(rows()) == 3  # nothing deleted
    assert glm("logs", "rm", str(ids[0]), str(ids[2])).exit_code == 0
    assert [r["id"] for r in rows()] == [ids[1]]
    assert glm("logs", "-q", "apples", "--json").out.strip() == b"[]"


def test_usage_sums_the_services_usage(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(), Reply(usage={"prompt_tokens": 100, "total_tokens": 150}))
    glm("ask", "one")
    glm("ask", "two")
    totals = json.loads(glm("logs", "--usage", "--json").out)
    assert len(totals) == 1
    assert totals[0]["prompt_tokens"] == 112 and totals[0]["total_tokens"] == 196
    assert totals[0]["requests"] == 2 and totals[0]["model"] == "glm-5.2"
    by = json.loads(glm("logs", "--usage", "--by", "command", "--json").out)
    assert by == [
        {**{k: v for k, v in totals[0].items() if k not in ("day", "model")}, "command": "ask"}
    ]
    text = glm("logs", "--usage", "--since", "7d").stdout.splitlines()
    assert text[0].startswith("DAY\tMODEL\tPROMPT_TOKENS")
    assert glm("logs", "--usage", "--by", "week").exit_code == 2


def test_prune_deletes_old_rows_and_vacuums(glm_env: dict[str, str], service: FakeService) -> None:
    _three(service)
    db = sqlite3.connect(store_path(glm_env))
    db.execute("UPDATE exchanges SET time = '2000-01-01T00:00:00Z' WHERE prompt != 'cherry'")
    db.commit()
    db.close()
    assert glm("logs", "--prune", "30").exit_code == 0
    assert [r["prompt"] for r in rows()] == ["cherry"]
    assert glm("logs", "-q", "bananas", "--json").out.strip() == b"[]"


def test_path(glm_env: dict[str, str]) -> None:
    assert glm("logs", "--path").stdout == str(store_path(glm_env)) + "\n"
    assert glm("logs").out == b""
    assert not store_path(glm_env).exists()


def test_a_store_of_the_previous_release_is_migrated(
    glm_env: dict[str, str], service: FakeService
) -> None:
    path = store_path(glm_env)
    path.parent.mkdir(parents=True)
    shutil.copy(FIXTURE, path)
    run = glm("chat", "--show", "default")
    assert run.exit_code == 0 and "Hi there." in run.stdout
    assert glm("ask", "hi").exit_code == 0
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "schema_version" not in tables and {"sessions", "exchanges", "cache"} <= tables
    assert db.execute("SELECT count(*) FROM messages").fetchone() == (4,)
    db.close()
    assert len(rows()) == 1


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()


def _newer(path: Path) -> None:
    shutil.copy(FIXTURE, path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()


@pytest.mark.parametrize("kind", ["newer", "foreign", "corrupt"])
def test_a_store_to_refuse_is_exit_2_and_untouched(
    glm_env: dict[str, str], service: FakeService, kind: str
) -> None:
    path = store_path(glm_env)
    path.parent.mkdir(parents=True)
    if kind == "newer":
        _newer(path)
    elif kind == "foreign":
        _foreign(path)
    else:
        path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    before = path.read_bytes()
    for args in (["logs"], ["logs", "--usage"], ["chat", "--session", "x", "hi"]):
        run = glm(*args)
        assert run.exit_code == 2, (args, run.stderr)
    assert glm("ask", "hi").exit_code == 0  # answered; not logged (a warning)
    assert path.read_bytes() == before


WRITER = """
import sys
from tests.helpers import run_glm
"""


def test_twenty_processes_lose_no_row(glm_env: dict[str, str], service: FakeService) -> None:
    command = [sys.executable, "-m", "glm_cli", "ask", "--no-stream", "hi"]
    processes = [
        subprocess.Popen(command, env=glm_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(20)
    ]
    errors = [p.communicate(timeout=120)[1] for p in processes]
    assert all(p.returncode == 0 for p in processes), errors
    assert not any(b"locked" in e for e in errors)
    assert len(rows()) == 20


def test_a_recorder_from_64_threads_loses_no_row(tmp_path: Path) -> None:
    import threading

    from glm_cli.history.log import Entry, Recorder

    warnings: list[str] = []
    recorder = Recorder(tmp_path / "glm.db", warnings.append, group=8)

    def work(n: int) -> None:
        for i in range(20):
            recorder.add(Entry(command="batch", time="2026-01-01T00:00:00Z", prompt=f"{n}-{i}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    assert warnings == []
    db = sqlite3.connect(tmp_path / "glm.db")
    assert db.execute("SELECT count(DISTINCT prompt) FROM exchanges").fetchone() == (1280,)
    db.close()


def test_a_run_with_no_log_and_no_cache_loads_no_sqlite(
    glm_env: dict[str, str], service: FakeService
) -> None:
    """Logging costs nothing when it is off: the store's modules are never imported."""
    code = (
        "import sys, runpy\n"
        "sys.argv = ['glm', 'ask', '--no-stream', 'hi']\n"
        "try:\n"
        "    runpy.run_module('glm_cli', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in ('sqlite3', 'glm_cli.history.store') if m in sys.modules]\n"
        "sys.stderr.write('LOADED=%s\\n' % ','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**glm_env, "GLM_NO_LOG": "1"},
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert done.stdout == b"Hello from the fake service.\n", done.stderr
    assert b"LOADED=\n" in done.stderr, done.stderr


FIXTURE_V2 = Path(__file__).parent / "data" / "glm-v2.db"
"""A store of the release before the running usage totals: five exchanges of one day."""


def _scanned(path: Path) -> list[tuple[object, ...]]:
    """The usage totals computed from every row, as the totals table must hold them."""
    db = sqlite3.connect(path)
    try:
        return db.execute(
            "SELECT substr(time, 1, 10), coalesce(answered_model, model, ''), command, count(*),"
            " coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),"
            " coalesce(sum(reasoning_tokens), 0), coalesce(sum(cached_tokens), 0),"
            " coalesce(sum(total_tokens), 0) FROM exchanges WHERE cached = 0"
            " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).fetchall()
    finally:
        db.close()


def _kept(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT * FROM usage_totals ORDER BY 1, 2, 3").fetchall()
    finally:
        db.close()


def test_the_running_usage_totals_follow_every_insert_and_delete(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        Reply(usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}),
        Reply(model="glm-5.2-answered"),
        Reply(status=Status(500)),
    )
    glm("ask", "one")
    glm("ask", "two")
    glm("ask", "--retries", "0", "three")
    glm("json", "four")
    glm("ask", "--cache", "five")
    glm("ask", "--cache", "five")  # a hit: logged, costs nothing, not in --usage
    path = store_path(glm_env)
    assert [r["cached"] for r in rows()][-2:] == [False, True]
    assert len(_kept(path)) >= 2 and _kept(path) == _scanned(path)
    db = sqlite3.connect(path)
    db.execute("UPDATE exchanges SET time = '2000-01-01T00:00:00Z' WHERE prompt = 'one'")
    db.commit()
    db.close()  # an edited row: the totals are kept by insert and delete only
    ids = [r["id"] for r in rows()]
    assert glm("logs", "rm", str(ids[1])).exit_code == 0
    assert glm("logs", "--prune", "30").exit_code == 0
    assert [r["prompt"] for r in rows()] == ["three", "four", "five", "five"]
    assert _kept(path) == _scanned(path)
    whole = json.loads(glm("logs", "--usage", "--json").out)
    assert sum(group["requests"] for group in whole) == 3
    scanned = json.loads(glm("logs", "--usage", "--json", "--since", "2001-01-01").out)
    assert scanned == whole
    by_command = json.loads(glm("logs", "--usage", "--command", "json", "--json").out)
    assert [group["requests"] for group in by_command] == [1]


def test_a_store_of_the_release_before_the_totals_is_migrated_with_them(
    glm_env: dict[str, str], service: FakeService
) -> None:
    path = store_path(glm_env)
    path.parent.mkdir(parents=True)
    shutil.copy(FIXTURE_V2, path)
    before = json.loads(glm("logs", "--usage", "--json", "--since", "2000-01-01").out)
    assert [group["requests"] for group in before] == [5]
    assert json.loads(glm("logs", "--usage", "--json").out) == before
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()
    assert _kept(path) == _scanned(path)
    assert glm("ask", "hi").exit_code == 0
    assert _kept(path) == _scanned(path)
    assert sum(group["requests"] for group in json.loads(glm("logs", "--usage", "--json").out)) == 6


def test_a_row_is_written_with_every_column_of_the_schema() -> None:
    from dataclasses import fields

    from glm_cli.history.log import Entry
    from glm_cli.history.schema import EXCHANGE_COLUMNS, USAGE_COLUMNS

    written = [f.name for f in fields(Entry) if f.name != "usage"] + list(USAGE_COLUMNS)
    assert written == list(EXCHANGE_COLUMNS)


def test_glm_logs_imports_neither_typer_nor_httpx(
    glm_env: dict[str, str], service: FakeService
) -> None:
    """Start-up is part of the product: a plain `glm logs` line is read without typer,
    and text output needs no orjson."""
    _three(service)
    code = (
        "import sys, runpy\n"
        "sys.argv = ['glm', 'logs', '-q', 'bananas']\n"
        "try:\n    runpy.run_module('glm_cli', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'typer' not in sys.modules and 'httpx' not in sys.modules\n"
        "assert 'orjson' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], env=glm_env, capture_output=True)
    assert run.returncode == 0, run.stderr
    assert b"bananas?" in run.stdout
