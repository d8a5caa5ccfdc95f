"""Tools are contained (SPEC §3.2): each `--tool-cmd` process runs in its own process
group; a tool is done when its own process exits, whatever its descendants still
hold; `--tool-timeout` kills the whole group and never waits on pipes held by
descendants; glm's own end by a signal (SIGHUP included) ends the group; at most
32 calls run per round (more: exit 6, nothing started).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_service import FakeService, Reply
from tests.helpers import (
    assert_one_error,
    finish,
    kill_group,
    read_stderr_until,
    run_in_process,
    start_glm,
)

SPAWN_TOOL = Path(__file__).parent / "tools" / "spawn_tool.py"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {}},
    },
}


def spawn(mode: str) -> str:
    return shlex.join([sys.executable, str(SPAWN_TOOL), mode])


def asks(count: int) -> Reply:
    calls = [{"id": f"c{i}", "name": "get_weather", "arguments": "{}"} for i in range(count)]
    return Reply(content="", reasoning=None, tool_calls=calls, finish_reason="tool_calls")


def results(service: FakeService) -> list[str]:
    return [m["content"] for m in service.requests[1].json["messages"] if m["role"] == "tool"]


@pytest.fixture
def tools(tmp_path: Path) -> list[str]:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([WEATHER]))
    return ["--tool", str(path)]


@pytest.fixture
def left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where the tool writes the pid of each child it leaves; each is ended afterwards."""
    path = tmp_path / "pids"
    monkeypatch.setenv("SPAWN_TOOL_PIDS", str(path))
    yield path
    for pid in path.read_text().split() if path.exists() else []:
        with contextlib.suppress(OSError):
            os.kill(int(pid), signal.SIGKILL)


def test_a_tool_that_exited_is_done_though_a_child_holds_its_stdout(
    glm_env: dict[str, str], service: FakeService, tools: list[str], left_behind: Path
) -> None:
    service.script(asks(1), Reply(content="Done."))
    started = time.monotonic()
    result = run_in_process(
        [
            "ask",
            *tools,
            "--tool-timeout",
            "20",
            "--tool-cmd",
            f"get_weather={spawn('background')}",
            "hi",
        ]
    )
    assert time.monotonic() - started < 8  # not the 20 s timeout, not the child's 60 s
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Done.\n"
    assert results(service) == ["ok\n"]  # its good output, not "timed out"
    assert "warning" not in result.stderr
    assert left_behind.read_text().strip()  # it did leave a child behind


def test_a_timeout_does_not_wait_on_a_pipe_held_out_of_the_group(
    glm_env: dict[str, str], service: FakeService, tools: list[str], left_behind: Path
) -> None:
    service.script(asks(1), Reply(content="Too slow."))
    started = time.monotonic()
    result = run_in_process(
        [
            "ask",
            *tools,
            "--tool-timeout",
            "0.5",
            "--tool-cmd",
            f"get_weather={spawn('escape')}",
            "hi",
        ]
    )
    assert time.monotonic() - started < 8  # the escaped child sleeps 60 s holding stdout
    assert result.exit_code == 0, result.stderr
    assert results(service) == ["error: timed out after 0.5 s (--tool-timeout)"]


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"]
)
def test_glm_ended_by_a_signal_ends_the_tool_group(
    glm_env: dict[str, str],
    service: FakeService,
    tools: list[str],
    left_behind: Path,
    signum: int,
) -> None:
    service.script(asks(1), Reply(content="never"))
    proc = start_glm(
        {**glm_env, "SPAWN_TOOL_PIDS": str(left_behind)},
        "ask",
        *tools,
        "--tool-cmd",
        f"get_weather={spawn('ready')}",
        "hi",
    )
    group: int | None = None
    try:
        seen = read_stderr_until(proc, b"tool-ready ", whole_line=True)
        group = int(seen.split(b"tool-ready ")[1].split()[0])
        proc.send_signal(signum)
        # glm's stderr reaches its end only when every process holding it is gone:
        # glm, the tool and the child the tool left asleep
        status, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if group is not None:
            kill_group(group)
    assert status == -signum
    assert out == b""
    assert b"Traceback" not in err
    assert len(service.requests) == 1


def test_more_than_32_calls_in_a_round_is_exit_6_and_runs_nothing(
    glm_env: dict[str, str], service: FakeService, tools: list[str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    service.script(asks(33), Reply(content="never"))
    result = run_in_process(
        ["ask", *tools, "--tool-cmd", f"get_weather=touch {shlex.quote(str(marker))}", "hi"]
    )
    assert result.exit_code == 6
    assert_one_error(result.stderr, "33 tool calls", "at most 32")
    assert not marker.exists()
    assert len(service.requests) == 1


def test_32_calls_in_a_round_all_run(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    service.script(asks(32), Reply(content="All done."))
    result = run_in_process(["ask", *tools, "--tool-cmd", "get_weather=echo hi", "hi"])
    assert result.exit_code == 0, result.stderr
    assert results(service) == ["hi\n"] * 32


def test_a_tool_that_does_not_read_a_big_stdin_still_gives_its_output(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    big = json.dumps({"text": "x" * 300_000})
    calls: list[dict[str, Any]] = [{"id": "c1", "name": "get_weather", "arguments": big}]
    service.script(
        Reply(content="", reasoning=None, tool_calls=calls, finish_reason="tool_calls"),
        Reply(content="Fine."),
    )
    result = run_in_process(["ask", *tools, "--tool-cmd", "get_weather=echo done", "hi"])
    assert result.exit_code == 0, result.stderr
    assert results(service) == ["done\n"]
