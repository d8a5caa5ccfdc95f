"""Signals, pipes and big inputs with glm as a real process (issue 7, SPEC §3).

glm dies by the signal that ended it (SPEC §3): seen from Popen the return code is
-2, -15, -1 (SIGINT, SIGTERM, SIGHUP) or -13 (a closed stdout); a shell reports
130, 143, 129 or 141, and a shell loop around glm stops at Ctrl-C.

tests/test_process.py already proves, for `glm ask` mid-stream: a closed stdout
ends quietly by SIGPIPE and the service sees the connection close; SIGINT with
whole pieces flushed; SIGTERM without a traceback. This module covers the other
moments and modes: a real `| head -c 1` in every output mode, a reader gone before
the first byte and during one big write, every signal while waiting for the
service and while waiting to retry, a real `bash` loop stopped by Ctrl-C; then a
10 MB prompt on stdin and the memory of a 200,000-chunk stream.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_service import FakeService, RawResponse, Reply, Stall, Status
from tests.helpers import (
    WAIT,
    finish,
    glm_command,
    kill_group,
    read_stderr_until,
    run_glm,
    start_glm,
)

PIECES = [f"p{i:03d} " for i in range(400)]  # 8 s in all at 20 ms a piece
NOISE = (b"Traceback", b"Exception ignored", b"BrokenPipe", b"KeyboardInterrupt", b"Error")


def no_noise(stderr: bytes) -> None:
    for word in NOISE:
        assert word not in stderr, stderr.decode(errors="replace")


# ---------------------------------------------------------------------------
# A closed stdout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["ask"],
        ["ask", "--ndjson"],
        ["raw", "--stream"],
        ["chat", "--session", "piped"],
    ],
    ids=" ".join,
)
def test_head_c_1_ends_glm_at_once_with_141(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, args: list[str]
) -> None:
    service.script(Reply(content=PIECES, reasoning=None, chunk_delay=0.02))
    errors = tmp_path / "stderr"
    pipeline = (
        f'{shlex.join(glm_command(*args, "hi"))} 2>"$1" | head -c 1 >/dev/null; '
        'echo "${PIPESTATUS[0]}"'
    )
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", pipeline, "bash", str(errors)],
        env=glm_env,
        capture_output=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    assert done.stdout.strip() == b"141", (done.stdout, errors.read_bytes())
    assert errors.read_bytes() == b""
    assert elapsed < 4, elapsed  # the whole stream takes 8 s: glm stopped reading it
    assert service.disconnected.wait(2)
    if args[0] == "chat":  # an interrupted exchange is not kept
        listed = run_glm(["chat", "--list"], glm_env)
        assert b"piped" not in listed.stdout


def test_reader_gone_before_the_first_byte(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Stall(10))
    proc = start_glm(glm_env, "ask", "hi")
    assert proc.stdout is not None
    assert service.wait_for_requests(1)
    proc.stdout.close()  # the reader leaves while glm still waits for the service
    service.reset()  # the stalled answer now comes, to no one
    code, _, stderr = finish(proc)
    assert code == -signal.SIGPIPE
    assert stderr == b""


def test_reader_gone_during_one_big_write(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="x" * (1 << 20), reasoning=None))
    errors_read = subprocess.run(
        [
            "bash",
            "-c",
            f"{shlex.join(glm_command('ask', '--no-stream', 'hi'))} | head -c 1 "
            '>/dev/null; echo "${PIPESTATUS[0]}"',
        ],
        env=glm_env,
        capture_output=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
    )
    assert errors_read.stdout.strip() == b"141"
    no_noise(errors_read.stderr)
    assert errors_read.stderr == b""


# ---------------------------------------------------------------------------
# SIGINT, SIGTERM and SIGHUP while waiting
# ---------------------------------------------------------------------------

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
SIGNAL_IDS = ["SIGINT", "SIGTERM", "SIGHUP"]


@pytest.mark.parametrize("signum", SIGNALS, ids=SIGNAL_IDS)
def test_signal_while_waiting_for_the_service(
    glm_env: dict[str, str], service: FakeService, signum: int
) -> None:
    service.script(Stall(10))
    proc = start_glm(glm_env, "ask", "hi")
    assert service.wait_for_requests(1)
    started = time.monotonic()
    proc.send_signal(signum)
    status, out, err = finish(proc)
    assert status == -signum  # died by the signal itself, not exit(128 + signum)
    assert time.monotonic() - started < 3
    assert out == b""
    no_noise(err)
    assert service.disconnected.wait(2)  # the connection was closed, not left open


@pytest.mark.parametrize("signum", SIGNALS, ids=SIGNAL_IDS)
def test_signal_while_waiting_to_retry(
    glm_env: dict[str, str], service: FakeService, signum: int
) -> None:
    service.script(Status(503, headers={"Retry-After": "30"}), Reply())
    proc = start_glm(glm_env, "ask", "--verbose", "hi")
    read_stderr_until(proc, b"retrying in")
    started = time.monotonic()
    proc.send_signal(signum)
    status, out, err = finish(proc)
    assert status == -signum
    assert time.monotonic() - started < 3  # not after the 30 s wait
    assert out == b""
    no_noise(err)
    assert len(service.requests) == 1


def start_in_bash(env: dict[str, str], script: str, *args: str) -> subprocess.Popen[bytes]:
    """`bash -c SCRIPT` with glm's command line as "$@", in a process group of its own
    (so a signal sent to that group reaches bash and glm, as Ctrl-C at a terminal does)."""
    return subprocess.Popen(
        ["bash", "-c", script, "bash", *glm_command(*args)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_ctrl_c_stops_a_shell_loop_around_glm(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Stall(30), Reply(), Reply())
    loop = 'for i in 1 2 3; do "$@"; echo "next $?"; done; echo end'
    proc = start_in_bash(glm_env, loop, "ask", "hi")
    try:
        assert service.wait_for_requests(1)  # the first glm waits for its answer
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        status, out, err = finish(proc)
    finally:
        kill_group(proc.pid)
    assert out == b"", out  # no "next": bash saw glm die by SIGINT and stopped too
    assert status == -signal.SIGINT
    no_noise(err)
    assert len(service.requests) == 1


def child_of(pid: int) -> int:
    """The one child process of `pid` (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if not children.exists():
        pytest.skip("needs /proc/PID/task/PID/children")
    found = children.read_text().split()
    assert len(found) == 1, found
    return int(found[0])


@pytest.mark.parametrize(
    ("signum", "shown"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=SIGNAL_IDS,
)
def test_a_shell_sees_128_plus_the_signal(
    glm_env: dict[str, str], service: FakeService, signum: int, shown: int
) -> None:
    service.script(Stall(30))
    proc = start_in_bash(glm_env, '"$@"; echo "status $? $(kill -l $?)"', "ask", "hi")
    try:
        assert service.wait_for_requests(1)
        os.kill(child_of(proc.pid), signum)  # glm alone: bash goes on to report
        status, out, err = finish(proc)
    finally:
        kill_group(proc.pid)
    name = signal.Signals(signum).name.removeprefix("SIG")
    assert out == f"status {shown} {name}\n".encode()
    assert status == 0
    no_noise(err)


def test_sigint_mid_stream_leaves_whole_ndjson_lines(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=PIECES, reasoning=None, chunk_delay=0.02))
    proc = start_glm(glm_env, "ask", "--ndjson", "hi")
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    status, rest, err = finish(proc)
    assert status == -signal.SIGINT
    no_noise(err)
    lines = (first + rest).decode().splitlines()
    assert lines and all(json.loads(line)["type"] == "content" for line in lines)
    text = "".join(json.loads(line)["text"] for line in lines)
    assert "".join(PIECES).startswith(text) and len(text) < len("".join(PIECES))
    assert service.disconnected.wait(2)


# ---------------------------------------------------------------------------
# A 10 MB prompt on stdin
# ---------------------------------------------------------------------------


def test_a_10_mb_prompt_on_stdin_is_read_once_and_sent_intact(
    glm_env: dict[str, str], service: FakeService
) -> None:
    line = "line of the prompt, héllo 世界 🌍\n"
    text = line * ((10 << 20) // len(line.encode()))
    started = time.monotonic()
    done = run_glm(["ask", "--no-stream", "summarise:"], glm_env, input=text.encode())
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert len(service.requests) == 1
    sent = service.requests[0].json["messages"][-1]["content"]
    assert sent == "summarise:\n\n" + text.rstrip("\n")
    assert elapsed < 10, elapsed  # a quadratic read of 10 MB would take minutes


# ---------------------------------------------------------------------------
# Memory: a 200,000-chunk stream
# ---------------------------------------------------------------------------

# The peak RSS of glm, from os.wait4 in a small launcher process. Measured from the
# test process itself, a forked child's peak would include this (large) process's
# memory, copied by fork before the exec.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "glm_cli", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"maxrss={usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def sse_body(chunks: int) -> bytes:
    piece = b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'
    final = b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    return piece * chunks + final + b"data: [DONE]\n\n"


def peak_kib(env: dict[str, str], service: FakeService, chunks: int) -> int:
    service.reset()
    service.script(RawResponse(200, sse_body(chunks), content_type="text/event-stream"))
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, "ask", "hi"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"x" * chunks + b"\n"
    report = done.stderr.decode().strip()
    assert report.startswith("maxrss="), report
    return int(report.removeprefix("maxrss="))


def test_a_200000_chunk_stream_keeps_memory_flat(
    glm_env: dict[str, str], service: FakeService
) -> None:
    short = peak_kib(glm_env, service, 10)
    long = peak_kib(glm_env, service, 200_000)
    # The answer is 200 KB of text; keeping every delta as its own string (~70 bytes
    # each) would add 14 MB. A generous ceiling that still catches that:
    assert long - short < 5 * 1024, (short, long)
