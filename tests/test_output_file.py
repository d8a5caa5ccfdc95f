"""SPEC §8 `-o/--output FILE`: the output goes to a temporary beside FILE, renamed over
it only when the run succeeds; a failure, SIGINT, SIGKILL or a full disk leaves FILE
byte-identical, and a later run cleans what a killed one left."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.fake_service import FakeService, Reply, Status
from tests.helpers import WAIT, ask, assert_one_error, run_glm, run_in_process

OLD = b"the old contents, byte for byte\n"
PIECES = [f"p{i:03d} " for i in range(200)]


def temporaries(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def wait_for_temporary(folder: Path, proc: subprocess.Popen[bytes]) -> Path:
    """The temporary, once the answer's first pieces have reached it (the stream stalls
    after them): polled, with a deadline, never a fixed sleep."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for name in temporaries(folder):
            path = folder / name
            if path.stat().st_size > 0:
                return path
        time.sleep(0.01)
    raise AssertionError("no temporary with content appeared")


@pytest.fixture
def target(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "answer.txt"
    path.write_bytes(OLD)
    return path


def test_success_replaces_the_file_and_prints_nothing(
    glm_env: dict[str, str], service: FakeService, target: Path
) -> None:
    service.script(Reply(content=["new ", "answer"], reasoning=None))
    run = ask("-o", str(target))
    assert run.exit_code == 0, run.stderr
    assert run.out == b""
    assert target.read_bytes() == b"new answer\n"
    assert temporaries(target.parent) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["json", "give json"], b'{"a":1}\n'),
        (["raw", "--no-stream", "hi"], None),
        (["chat", "--session", "s", "hi"], b'{"a": 1}\n'),
        (["ask", "--ndjson", "hi"], None),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_every_command_writes_its_output_to_the_file(
    glm_env: dict[str, str],
    service: FakeService,
    target: Path,
    args: list[str],
    expected: bytes | None,
) -> None:
    service.script(Reply(content='{"a": 1}', reasoning=None))
    run = run_in_process([args[0], "-o", str(target), *args[1:]])
    assert run.exit_code == 0, run.stderr
    assert run.out == b""
    written = target.read_bytes()
    if expected is not None:
        assert written == expected
    else:  # raw's body or NDJSON lines: JSON each line
        assert all(json.loads(line) for line in written.splitlines())
    assert temporaries(target.parent) == []


def test_a_failed_run_leaves_the_file_byte_identical(
    glm_env: dict[str, str], service: FakeService, target: Path
) -> None:
    service.script(Status(400, {"error": {"message": "bad request", "code": "1214"}}))
    run = ask("-o", str(target))
    assert run.exit_code == 2
    assert target.read_bytes() == OLD
    assert temporaries(target.parent) == []


def test_an_unusable_answer_leaves_the_file_byte_identical(
    glm_env: dict[str, str], service: FakeService, target: Path
) -> None:
    service.script(Reply(content="not json at all", reasoning=None))
    run = run_in_process(["json", "-o", str(target), "give json"])
    assert run.exit_code == 6
    assert target.read_bytes() == OLD
    assert temporaries(target.parent) == []


def test_a_new_file_mode_follows_the_umask(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "new.txt"
    done = run_glm(["ask", "-o", str(path), "hi"], glm_env, preexec_fn=lambda: os.umask(0o027))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    done = run_glm(["ask", "-o", str(path), "hi"], glm_env, preexec_fn=lambda: os.umask(0o002))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a replaced file keeps its mode


def test_a_missing_folder_is_a_usage_error_before_anything_is_sent(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "a.txt"
    run = ask("-o", str(missing))
    assert run.exit_code == 2
    assert_one_error(run.stderr, "--output", "No such file or directory")
    assert service.requests == []


def test_a_symlink_at_the_target_is_replaced_not_written_through(
    glm_env: dict[str, str], service: FakeService, target: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(OLD)
    link = target.parent / "link.txt"
    link.symlink_to(victim)
    assert ask("-o", str(link)).exit_code == 0
    assert victim.read_bytes() == OLD
    assert not link.is_symlink()


def _start(env: dict[str, str], target: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "glm_cli", "ask", "-o", str(target), "hi"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigint_mid_stream_leaves_the_file_and_no_temporary(
    glm_env: dict[str, str], service: FakeService, target: Path
) -> None:
    service.script(Reply(content=PIECES, reasoning=None, stall_after=3, stall_seconds=60))
    proc = _start(glm_env, target)
    try:
        temporary = wait_for_temporary(target.parent, proc)
        streamed = temporary.read_bytes()  # it streams into the temporary
        assert "".join(PIECES).encode().startswith(streamed)
        assert target.read_bytes() == OLD
        proc.send_signal(signal.SIGINT)
        code = proc.wait(WAIT)
    finally:
        proc.kill()
        proc.wait()
    assert code == -signal.SIGINT
    assert target.read_bytes() == OLD
    assert temporaries(target.parent) == []


def test_after_sigkill_a_later_run_cleans_the_stale_temporary(
    glm_env: dict[str, str], service: FakeService, target: Path
) -> None:
    service.script(Reply(content=PIECES, reasoning=None, stall_after=3, stall_seconds=60))
    proc = _start(glm_env, target)
    try:
        temporary = wait_for_temporary(target.parent, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT)
    finally:
        proc.kill()
        proc.wait()
    assert target.read_bytes() == OLD
    assert temporary.name.startswith(".answer.txt.glm-")
    assert temporaries(target.parent) == [temporary.name]  # beside it, in the same folder
    service.reset()
    service.script(Reply(content="fresh", reasoning=None))
    done = run_glm(["ask", "-o", str(target), "hi"], glm_env)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == b"fresh\n"
    assert temporaries(target.parent) == []


def _file_size_limit(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_leaves_the_file_byte_identical(
    glm_env: dict[str, str], service: FakeService, target: Path
) -> None:
    service.script(Reply(content="x" * 5000, reasoning=None))
    done = run_glm(
        ["ask", "-o", str(target), "hi"], glm_env, preexec_fn=lambda: _file_size_limit(1000)
    )
    assert done.returncode == 1, done.stderr
    assert_one_error(done.stderr, f"cannot write to {target}: File too large")
    assert target.read_bytes() == OLD
    assert temporaries(target.parent) == []


def test_batch_keeps_its_own_output_file(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    records = tmp_path / "records.jsonl"
    run = run_in_process(["batch", "-o", str(records)], stdin=b'{"id": "a", "prompt": "hi"}\n')
    assert run.exit_code == 0, run.stderr
    assert json.loads(records.read_text().splitlines()[0])["id"] == "a"


def test_dash_is_stdout(glm_env: dict[str, str], service: FakeService, tmp_path: Path) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    run = run_glm(["ask", "-o", "-", "hi"], glm_env, cwd=folder)
    assert run.returncode == 0, run.stderr
    assert run.stdout == b"Hello from the fake service.\n"
    assert os.listdir(folder) == []  # no file named "-"


def test_a_device_is_written_to_not_replaced(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    """A link to /dev/null (as /dev/stdout is a link to the process's own stdout): the
    answer goes through it; a rename would have put a regular file in its place."""
    link = tmp_path / "sink"
    link.symlink_to(os.devnull)
    run = run_glm(["ask", "-o", str(link), "hi"], glm_env)
    assert run.returncode == 0, run.stderr
    assert link.is_symlink() and os.readlink(link) == os.devnull
    assert temporaries(tmp_path) == []


def test_a_fifo_is_written_to_as_a_redirection_would(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "glm_cli", "ask", "-o", str(fifo), "hi"],
        env=glm_env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as reader:  # blocks until a writer opens it
            received.append(reader.read())

    reading = threading.Thread(target=read, daemon=True)
    reading.start()
    status = proc.wait(timeout=WAIT)
    if reading.is_alive():  # glm never opened the FIFO: release the reader
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reading.join(timeout=WAIT)
    assert status == 0, proc.stderr.read() if proc.stderr else b""
    assert received == [b"Hello from the fake service.\n"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
