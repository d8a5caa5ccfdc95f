"""`glm batch --output`: resumed after SIGKILL, a torn last line redone, --retry-failed;
and the pure parts (pacing, reorder, lines, records)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import orjson

from glm_cli.core.batch_lines import BadLine, Line, SeenIds, parse_line
from glm_cli.core.batch_pace import Aimd, Bucket, Reorder
from glm_cli.core.batch_records import read_record
from tests.fake_service import FakeService
from tests.fake_service.scenarios import answer, latency, prompt_of
from tests.fake_service.steps import Incoming, Status, Step
from tests.helpers import glm_command
from tests.test_batch import batch, prompts, records, sent_prompts, write_input


def test_sigkilled_batch_resumes_with_one_record_per_id_and_nothing_sent_twice(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    service.responder = latency(0.03)
    source = write_input(tmp_path, prompts(60))
    output = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        glm_command("batch", "-j", "4", "--output", str(output), str(source)),
        env=glm_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert service.wait_for_requests(20, timeout=20)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    data = output.read_bytes()
    kept = {r["id"] for r in records(data[: data.rfind(b"\n") + 1])}
    assert 0 < len(kept) < 60
    service.reset()
    service.responder = latency(0.0)
    done = subprocess.run(
        glm_command("batch", "-j", "4", "--output", str(output), str(source)),
        env=glm_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    final = records(output.read_bytes())
    assert sorted(r["id"] for r in final) == list(range(1, 61))
    resent = set(sent_prompts(service))
    assert not resent & {f"p{i - 1}" for i in kept}  # nothing recorded was sent again
    assert len(resent) == len(service.requests) == 60 - len(kept)


def test_a_torn_last_line_is_cut_off_and_redone(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    service.responder = latency(0.0)
    source = write_input(tmp_path, prompts(4))
    output = tmp_path / "out.jsonl"
    assert batch("-o", str(output), str(source)).exit_code == 0
    lines = output.read_bytes().splitlines(keepends=True)
    output.write_bytes(b"".join(lines[:2]) + lines[2][:17])  # a crash mid-write of line 3
    service.reset()
    service.responder = latency(0.0)
    run = batch("-o", str(output), str(source))
    assert run.exit_code == 0, run.stderr
    assert "torn last line" in run.stderr
    assert [r["id"] for r in records(output.read_bytes())] == [1, 2, 3, 4]
    assert sorted(sent_prompts(service)) == ["p2", "p3"]
    assert "2 already recorded" in run.stderr


def test_retry_failed_redoes_only_the_error_records_in_place(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    def respond(incoming: Incoming) -> Step:
        return Status(500) if prompt_of(incoming) in ("p1", "p3") else answer(incoming)

    service.responder = respond
    source = write_input(tmp_path, prompts(5))
    output = tmp_path / "out.jsonl"
    run = batch("--retries", "0", "-o", str(output), str(source))
    assert run.exit_code == 7
    assert [r["error"] is not None for r in records(output.read_bytes())] == [
        False,
        True,
        False,
        True,
        False,
    ]
    inode = output.stat().st_ino
    service.reset()
    service.responder = latency(0.0)
    plain = batch("-o", str(output), str(source))  # errors count as done without the flag
    assert plain.exit_code == 0 and service.requests == []
    run = batch("--retry-failed", "-o", str(output), str(source))
    assert run.exit_code == 0, run.stderr
    final = records(output.read_bytes())
    assert sorted(r["id"] for r in final) == [1, 2, 3, 4, 5]
    assert all(r["error"] is None for r in final)
    assert sorted(sent_prompts(service)) == ["p1", "p3"]
    assert output.stat().st_ino != inode  # rewritten through a temporary file and a rename
    assert oct(output.stat().st_mode & 0o777) == oct(0o600)


def test_an_output_symlink_is_refused(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    link = tmp_path / "out.jsonl"
    os.symlink(target, link)
    run = batch("-o", str(link), str(write_input(tmp_path, ["x"])))
    assert run.exit_code == 2 and "symbolic link" in run.stderr
    assert service.requests == []


def test_bucket_spreads_with_a_burst_of_two() -> None:
    bucket = Bucket(60)  # one a second
    assert bucket.take(0.0) == 0 and bucket.take(0.0) == 0
    assert bucket.take(0.0) == 1.0
    assert bucket.take(0.5) == 0.5
    assert bucket.take(1.0) == 0
    assert bucket.take(100.0) == 0 and bucket.take(100.0) == 0 and bucket.take(100.0) > 0


def test_aimd_halves_and_regains_a_step_per_window() -> None:
    aimd = Aimd(8)
    aimd.slow_down()
    assert aimd.limit == 4
    aimd.slow_down()
    aimd.slow_down()
    aimd.slow_down()
    assert aimd.limit == 1
    aimd.success()
    assert aimd.limit == 2
    aimd.success()
    assert aimd.limit == 2
    aimd.success()
    assert aimd.limit == 3


def test_reorder_releases_in_order() -> None:
    reorder: Reorder[str] = Reorder()
    assert reorder.add(1, "b") == []
    assert reorder.add(2, None) == []
    assert reorder.add(0, "a") == ["a", "b", None]
    assert len(reorder) == 0


def test_line_shapes() -> None:
    line = parse_line(b'{"id": "x", "prompt": "hi", "max-tokens": 5}\n', 0)
    assert isinstance(line, Line) and line.id == "x" and line.settings == {"max_tokens": 5}
    assert parse_line(b"   \n", 3) is None
    bad = parse_line(b'{"prompt": "a", "messages": []}', 2)
    assert isinstance(bad, BadLine) and bad.id == 3
    openai = parse_line(
        orjson.dumps(
            {"custom_id": "c", "method": "GET", "url": "/v1/chat/completions", "body": {}}
        ),
        0,
    )
    assert isinstance(openai, BadLine) and "POST" in openai.message
    assert isinstance(parse_line(b"\xff", 0), BadLine)


def test_seen_ids_refuse_a_repeat_across_default_and_explicit_ids() -> None:
    seen = SeenIds()
    assert seen.add(1, 0)
    assert not seen.add(1, 5)  # line 6 says id 1: line 1's default
    assert seen.add("1", 6)
    assert not seen.add("1", 7)
    assert seen.add(20, 8)
    assert not seen.add(20, 19)  # line 20's default id is taken


def test_read_record_reads_both_shapes() -> None:
    assert read_record(b'{"id": 3, "error": null}\n') == (b"3", False)
    assert read_record(b'{"id": "batch_req_0", "custom_id": "c", "error": {"code": "1"}}') == (
        b'"c"',
        True,
    )
    assert read_record(b"[1]") is None and read_record(b"{torn") is None
