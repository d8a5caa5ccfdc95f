"""`glm batch` with the log and the cache (SPEC §6, §7): every line is a row, written
in small groups from the workers, and with `--cache` a rerun sends nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from glm_cli.settings.config import store_path
from tests.fake_service import FakeService
from tests.fake_service.scenarios import answer, latency
from tests.fake_service.steps import Incoming, Status, Step
from tests.helpers import SECRET, run_in_process
from tests.test_batch import batch, prompts, records, write_input


def rows(glm_env: dict[str, str]) -> list[dict[str, Any]]:
    """Every row of the log, as `glm logs --json` lists them."""
    run = run_in_process(["logs", "-n", "0", "--json"])
    assert run.exit_code == 0, run.stderr
    listed: list[dict[str, Any]] = json.loads(run.out)
    return listed


def test_every_line_is_one_log_row_with_its_own_status(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    def respond(incoming: Incoming) -> Step:
        if incoming.body["messages"][-1]["content"] == "p3":
            return Status(400)
        return answer(incoming)

    service.responder = respond
    run = batch("-j", "8", str(write_input(tmp_path, prompts(40))))
    assert run.exit_code == 7, run.stderr
    logged = rows(glm_env)
    assert len(logged) == 40
    assert {row["command"] for row in logged} == {"batch"}
    assert sorted(str(row["prompt"]) for row in logged) == sorted(prompts(40))
    failed = [row for row in logged if row["exit_status"] != 0]
    assert [(row["prompt"], row["exit_status"]) for row in failed] == [("p3", 2)]
    by_prompt = {row["prompt"]: row for row in logged}
    assert by_prompt["p7"]["answer"] == "answer to p7"
    assert SECRET.encode() not in store_path(glm_env).read_bytes()


def test_no_log_writes_no_row(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    service.responder = latency(0.0)
    run = batch("--no-log", str(write_input(tmp_path, prompts(5))))
    assert run.exit_code == 0, run.stderr
    assert not store_path(glm_env).exists()


def test_a_rerun_of_a_finished_batch_with_cache_sends_nothing(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    service.responder = latency(0.0)
    source = write_input(tmp_path, prompts(30))
    first = batch("--cache", "-j", "4", str(source))
    assert first.exit_code == 0, first.stderr
    assert len(service.requests) == 30
    service.reset()
    second = batch("--cache", "-j", "4", str(source))
    assert second.exit_code == 0, second.stderr
    assert service.requests == []
    strip = ("elapsed_s", "attempts")
    again = [{k: v for k, v in r.items() if k not in strip} for r in records(second.out)]
    before = [{k: v for k, v in r.items() if k not in strip} for r in records(first.out)]
    assert again == before
    hits = [row for row in rows(glm_env) if row["cached"]]
    assert len(hits) == 30


def test_without_cache_a_rerun_sends_again(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    service.responder = latency(0.0)
    source = write_input(tmp_path, prompts(6))
    assert batch("--cache", str(source)).exit_code == 0
    service.reset()
    service.responder = latency(0.0)
    assert batch("--no-cache", str(source)).exit_code == 0
    assert len(service.requests) == 6


def test_twenty_processes_and_a_batch_at_j64_lose_no_row(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    """SPEC §7.1: twenty `glm ask` processes and a batch at -j 64 write at once; no row
    is lost and none of them says "database is locked"."""
    import subprocess
    import sys

    service.responder = latency(0.01)
    source = write_input(tmp_path, prompts(200))
    glm = [sys.executable, "-m", "glm_cli"]
    pipes = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    batch_run = subprocess.Popen(
        [*glm, "batch", "-q", "-j", "64", str(source)], env=glm_env, **pipes
    )
    asks = [
        subprocess.Popen([*glm, "ask", "--no-stream", f"ask {n}"], env=glm_env, **pipes)
        for n in range(20)
    ]
    errors = [p.communicate(timeout=120)[1] for p in [batch_run, *asks]]
    assert [p.returncode for p in [batch_run, *asks]] == [0] * 21, errors
    assert not any(b"locked" in error for error in errors), errors
    logged = rows(glm_env)
    assert len(logged) == 220
    assert sum(row["command"] == "batch" for row in logged) == 200
