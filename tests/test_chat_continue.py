"""Issue 14, `glm chat --continue/-c` and `glm chat --fork NAME --session NEW`, against the
fake service: which session `-c` continues, what a fork copies (and never changes),
and that every refused combination is exit 2 with nothing sent."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.fake_service import FakeService, Reply, Status
from tests.helpers import assert_usage_error, run_in_process
from tests.test_chat import chat, exchange, messages, ok, show, store_path


def names() -> list[str]:
    return [line.split("\t")[0] for line in ok("--list").stdout.splitlines()]


# --- --continue -----------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--continue", "-c"])
def test_continue_picks_the_session_used_last(
    glm_env: dict[str, str], service: FakeService, flag: str
) -> None:
    ok("--session", "alpha", "in alpha")
    ok("--session", "beta", "in beta")
    ok("--session", "alpha", "alpha again")  # alpha is now the one used last
    ok(flag, "go on")
    assert messages(service) == [
        *exchange("in alpha"),
        *exchange("alpha again"),
        {"role": "user", "content": "go on"},
    ]
    assert show("alpha")[-2:] == exchange("go on")
    assert len(show("beta")) == 2


def test_continue_follows_last_used_over_seconds(
    glm_env: dict[str, str], service: FakeService
) -> None:
    """The order of --list's LAST_USED decides, not the order sessions were made in."""
    ok("--session", "old", "one")
    ok("--session", "new", "two")
    with sqlite3.connect(store_path(glm_env)) as db:
        db.execute("UPDATE sessions SET last_used = '2099-01-01T00:00:00Z' WHERE name = 'old'")
    db.close()
    ok("-c", "three")
    assert messages(service)[0] == {"role": "user", "content": "one"}


def test_continue_keeps_the_stored_system_prompt(
    glm_env: dict[str, str], service: FakeService
) -> None:
    ok("--session", "s", "--system", "Be terse.", "hi")
    ok("-c", "more")
    assert messages(service)[0] == {"role": "system", "content": "Be terse."}


def test_continue_with_no_session_is_exit_2(glm_env: dict[str, str], service: FakeService) -> None:
    run = chat("-c", "hello")
    assert_usage_error(run, service, "--continue", "no session to continue")
    assert not store_path(glm_env).exists()
    # a store holding only the log of exchanges has no session either
    ok_ask = run_in_process(["ask", "hi"])
    assert ok_ask.exit_code == 0, ok_ask.stderr
    service.reset()
    assert_usage_error(chat("-c", "hello"), service, "no session to continue")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-c", "--session", "a", "hi"], "--continue and --session"),
        (["--continue", "--file", "t.jsonl", "hi"], "--continue and --file"),
        (["-c", "--fork", "a", "--session", "b"], "--continue and "),
        (["--list", "-c"], "--list cannot be combined with --continue"),
        (["--show", "a", "--fork", "a"], "--show cannot be combined with --fork"),
    ],
)
def test_continue_conflicts_are_exit_2(
    glm_env: dict[str, str], service: FakeService, args: list[str], fragment: str
) -> None:
    ok("--session", "a", "hi")
    service.reset()
    assert_usage_error(chat(*args), service, fragment)


# --- --fork --------------------------------------------------------------------------------


def test_fork_copies_and_leaves_the_source_unchanged(
    glm_env: dict[str, str], service: FakeService
) -> None:
    ok("--session", "main", "--system", "Be terse.", "one")
    ok("--session", "main", "two")
    before = show("main")
    service.script(Reply(content="forked answer"))
    assert ok("--fork", "main", "--session", "side", "three").stdout == "forked answer\n"
    assert messages(service) == [
        {"role": "system", "content": "Be terse."},
        *exchange("one"),
        *exchange("two"),
        {"role": "user", "content": "three"},
    ]
    assert show("main") == before
    assert show("side") == [*before, *exchange("three", "forked answer")]
    # the copy goes on by itself
    ok("--session", "side", "four")
    assert messages(service)[-1] == {"role": "user", "content": "four"}
    assert len(messages(service)) == 1 + 6 + 1
    assert show("main") == before


def test_fork_without_a_prompt_only_copies(glm_env: dict[str, str], service: FakeService) -> None:
    ok("--session", "main", "--system", "S", "one")
    run = ok("--fork", "main", "--session", "copy")
    assert run.stdout == "" and run.stderr == ""
    assert len(service.requests) == 1
    assert show("copy") == show("main")
    assert names() == ["copy", "main"]
    # a fork counts as a use: --continue goes on with the copy
    ok("-c", "two")
    assert show("copy")[-2:] == exchange("two")
    assert len(show("main")) == 3


def test_a_system_given_to_a_fork_is_the_copys_own(
    glm_env: dict[str, str], service: FakeService
) -> None:
    ok("--session", "main", "--system", "Old.", "one")
    ok("--fork", "main", "--session", "copy", "--system", "New.", "two")
    assert messages(service)[0] == {"role": "system", "content": "New."}
    assert show("copy")[0] == {"role": "system", "content": "New."}
    assert show("main")[0] == {"role": "system", "content": "Old."}


def test_a_forked_session_round_trips_through_show_ndjson(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    ok("--session", "main", "--system", "Be terse.", "one")
    ok("--fork", "main", "--session", "copy", "two")
    dump = ok("--show", "copy", "--ndjson").out
    path = tmp_path / "copy.jsonl"
    path.write_bytes(dump)
    ok("--file", str(path), "three")
    assert messages(service) == [
        {"role": "system", "content": "Be terse."},
        *exchange("one"),
        *exchange("two"),
        {"role": "user", "content": "three"},
    ]
    assert path.read_bytes().startswith(dump)


def test_a_failed_fork_exchange_leaves_no_copy(
    glm_env: dict[str, str], service: FakeService
) -> None:
    ok("--session", "main", "one")
    service.script(Status(500), Status(500), Status(500))
    run = chat("--retries", "0", "--fork", "main", "--session", "copy", "two")
    assert run.exit_code == 5, run.stderr
    assert names() == ["main"]
    service.script(Reply(content="now"))
    assert ok("--fork", "main", "--session", "copy", "two").stdout == "now\n"
    assert show("copy") == [*exchange("one"), *exchange("two", "now")]


def test_a_dry_run_fork_sends_the_source_and_writes_nothing(
    glm_env: dict[str, str], service: FakeService
) -> None:
    ok("--session", "main", "one")
    run = ok("--dry-run", "--fork", "main", "--session", "copy", "two")
    assert json.loads(run.stdout)["body"]["messages"] == [
        *exchange("one"),
        {"role": "user", "content": "two"},
    ]
    assert names() == ["main"]
    assert ok("--dry-run", "--fork", "main", "--session", "copy").stdout == ""
    assert names() == ["main"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--fork", "nope", "--session", "copy", "hi"], "--fork 'nope': no such session"),
        (["--fork", "nope", "--session", "copy"], "no such session"),
        (["--fork", "main", "--session", "other", "hi"], "--session 'other': the session exists"),
        (["--fork", "main", "--session", "main", "hi"], "the session exists"),
        (["--fork", "main", "hi"], "--fork NAME needs --session NEW"),
        (["--fork", "main", "--file", "t.jsonl", "hi"], "--fork copies a session"),
        (["--fork", "main", "--session", "b", "--file", "t.jsonl"], "--session and --file"),
        (["--fork", "main", "--session", "b", "--reset"], "--fork and --reset"),
        (["--fork", "", "--session", "b", "hi"], "--fork"),
    ],
)
def test_fork_errors_are_exit_2_with_nothing_sent(
    glm_env: dict[str, str], service: FakeService, args: list[str], fragment: str
) -> None:
    ok("--session", "main", "one")
    ok("--session", "other", "two")
    before = {name: show(name) for name in ("main", "other")}
    service.reset()
    assert_usage_error(chat(*args), service, fragment)
    assert names() == ["main", "other"]
    assert {name: show(name) for name in ("main", "other")} == before


def test_fork_with_no_store_is_exit_2_and_makes_none(
    glm_env: dict[str, str], service: FakeService
) -> None:
    assert_usage_error(
        chat("--fork", "main", "--session", "copy", "hi"), service, "no such session"
    )
    assert not store_path(glm_env).exists()
